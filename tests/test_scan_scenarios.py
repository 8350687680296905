"""`configguard scan` against the stand-in seeded with one function per rule scenario.

This is the Lambda family's acceptance test: every (rule, scenario function) pair
gets the expected verdict, configguard's own functions pass its own rules, and the
scan reads each function, policy and role once.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from test_cli import cli

from configguard import registry
from configguard_cli.local import scenarios
from configguard_cli.scan import scan

LAMBDA_RULES = sorted(n for n, s in registry.RULES.items() if registry.LAMBDA in s.resource_types)


@pytest.fixture
def seeded(standin, tmp_path):
    expect = tmp_path / "expected.json"
    cli("local", "seed", "--endpoint-url", standin.url, "--expect", str(expect))
    return json.loads(expect.read_text())


def test_every_scenario_gets_its_expected_verdict(standin, seeded, tmp_path):
    out = cli("scan", "--endpoint-url", standin.url, "--format", "json", "--stats")
    findings = json.loads(out.stdout)
    got: dict[str, dict[str, str]] = {}
    for f in findings:
        got.setdefault(f["rule"], {})[f["resource_id"]] = f["compliance"]
    assert sorted(seeded) == sorted(registry.RULES)
    mismatches = [
        f"{rule} {function}: expected {verdict}, got {got.get(rule, {}).get(function)}"
        for rule, expected in seeded.items()
        for function, verdict in expected.items()
        if got.get(rule, {}).get(function) != verdict
    ]
    assert not mismatches, "\n".join(mismatches)
    assert "ERROR" not in {f["compliance"] for f in findings}
    stats = json.loads(out.stderr[out.stderr.index("{") :])
    assert stats["errors"] == 0


def test_configguard_own_functions_pass_its_own_rules(standin, factory):
    report = scan(factory, LAMBDA_RULES)
    own = [f for f in report.findings if f.resource_id.startswith("configguard-")]
    assert {f.rule for f in own} == set(LAMBDA_RULES)
    failing = [
        f"{f.rule} {f.resource_id}: {f.compliance} {f.annotation}"
        for f in own
        if f.compliance not in {"COMPLIANT", "NOT_APPLICABLE"}
    ]
    assert not failing, "\n".join(failing)


def test_a_full_scan_reads_each_function_once(standin, factory, seeded):
    report = scan(factory, LAMBDA_RULES)
    functions = report.resources[registry.LAMBDA]
    calls = Counter(report.api_calls)
    assert calls["lambda:ListFunctions"] == 1
    # The listing carries the configuration: no GetFunction per function.
    assert calls["lambda:GetFunction"] == 0
    assert calls["lambda:GetFunctionConfiguration"] == 0  # served from the listing
    assert calls["lambda:GetFunctionConcurrency"] == functions
    assert calls["lambda:GetPolicy"] == functions
    assert calls["lambda:GetFunctionEventInvokeConfig"] <= functions
    roles = {f["Role"] for f in factory.client("lambda").list_functions()["Functions"]}
    assert calls["iam:ListAttachedRolePolicies"] == len(roles)
    # a deleted role stops after its first read
    assert calls["iam:ListRolePolicies"] == len(roles) - 1
    stats = report.stats()
    assert stats["api_calls_per_function"] == round(sum(calls.values()) / functions, 2)


def test_a_full_scan_reads_each_api_and_stage_once(standin, factory, seeded):
    report = scan(factory, sorted(registry.RULES))
    calls = Counter(report.api_calls)
    rest_apis = factory.client("apigateway").get_rest_apis()["items"]
    http_apis = factory.client("apigatewayv2").get_apis()["Items"]
    assert calls["apigateway:GetRestApis"] == 1 and calls["apigatewayv2:GetApis"] == 1
    assert calls["apigateway:GetStages"] == len(rest_apis)
    assert calls["apigatewayv2:GetStages"] == len(http_apis)
    assert calls["apigateway:GetStage"] == 0 and calls["apigatewayv2:GetStage"] == 0
    assert calls["apigateway:GetResources"] == len(rest_apis)
    assert calls["apigatewayv2:GetRoutes"] == len(http_apis)


def test_scan_reports_an_error_finding_not_a_verdict(standin, factory):
    from faults import inject_error

    scenarios.seed_all(factory)
    with inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException"):
        report = scan(factory, ["lambda-public-access-prohibited", "lambda-tracing-active"])
    public = [f for f in report.findings if f.rule == "lambda-public-access-prohibited"]
    assert public and {f.compliance for f in public} == {"ERROR"}
    assert all("AccessDeniedException from GetPolicy" in f.annotation for f in public)
    tracing = [f for f in report.findings if f.rule == "lambda-tracing-active"]
    assert "ERROR" not in {f.compliance for f in tracing}
