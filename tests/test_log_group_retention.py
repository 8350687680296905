"""Scenarios of rules/log_group_retention.py (periodic), against the stand-in.

The read-only scenarios share one stand-in state (`scan`, built once per module): the
real handler runs once per sample event and the stored results (all pages) are read back
after each run. Scenarios that delete groups, inject errors or expect nothing stored get
a fresh stand-in. The stand-in provisions no log group of its own.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import fresh_standin, lambda_context, load_event
from faults import inject_error

from configguard.clients import default_factory
from configguard.parameters import InvalidRuleParametersError, LogGroupRetentionParameters
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module
from configguard_cli.scan import scan as configguard_scan

RULE = "log-group-retention"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
OUT_OF_SCOPE = ("NOT_APPLICABLE", "The log group is outside LogGroupNamePrefixes.")


def results(factory) -> dict[str, tuple[str, str]]:
    """Every stored result of the rule (all pages): resource id -> (verdict, note)."""
    config = factory.client("config")
    found: dict[str, tuple[str, str]] = {}
    kwargs: dict[str, Any] = {"ConfigRuleName": RULE, "Limit": 100}
    while True:
        page = config.get_compliance_details_by_config_rule(**kwargs)
        for r in page["EvaluationResults"]:
            qualifier = r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            assert qualifier["ResourceType"] == "AWS::Logs::LogGroup"
            found[qualifier["ResourceId"]] = (r["ComplianceType"], r.get("Annotation", ""))
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def scheduled(
    standin, relative: str = "scheduled.json", at: str | None = None, **params: str
) -> dict:
    """A real-shaped ScheduledNotification with a live result token (and `params` set)."""
    event = copy.deepcopy(load_event(f"log_group_retention/{relative}"))
    event["resultToken"] = standin.issue_result_token(RULE)
    if at:
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = at
        event["invokingEvent"] = json.dumps(invoking)
    if params:
        event["ruleParameters"] = json.dumps({**json.loads(event["ruleParameters"]), **params})
    return event


def log_group(factory, name: str, days: int | None = None) -> str:
    logs = factory.client("logs")
    logs.create_log_group(logGroupName=name)
    if days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    return name


GROUPS: dict[str, int | None] = {
    "/aws/lambda/long": 400,
    "/aws/lambda/short": 30,
    "/app/forever": None,
    "/app/decade": 3653,
    "/ecs/batch": 1,
}
BULK = [f"/app/bulk/g{i:02d}" for i in range(55)]  # 60 groups: two DescribeLogGroups pages


@dataclass
class Scan:
    runs: dict[str, dict[str, tuple[str, str]]]
    scan_calls: Counter[str]  # `configguard scan` of both log group rules
    scan_findings: dict[str, dict[str, str]]  # rule -> group -> verdict


@pytest.fixture(scope="module")
def scan(standin_server) -> Iterator[Scan]:
    with fresh_standin(standin_server):
        factory = default_factory()
        for name, days in GROUPS.items():
            log_group(factory, name, days)
        for name in BULK:
            log_group(factory, name, 731)
        runs: dict[str, dict[str, tuple[str, str]]] = {}
        for hour, run in enumerate(("scheduled", "scheduled-strict")):
            handler(scheduled(standin_server, f"{run}.json", f"2026-11-21T0{hour}:00:00Z"), CTX)
            runs[run] = results(factory)
        report = configguard_scan(factory, ["log-group-cmk-encrypted", RULE])
        findings: dict[str, dict[str, str]] = {}
        for f in report.findings:
            findings.setdefault(f.rule, {})[f.resource_id] = f.compliance
        yield Scan(runs, Counter(report.api_calls), findings)


def test_scheduled_events_are_real_shaped():
    for name in ("scheduled", "scheduled-strict"):
        event = load_event(f"log_group_retention/{name}.json")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE


def test_group_retaining_400_days_is_compliant(scan):
    assert scan.runs["scheduled"]["/aws/lambda/long"] == (
        "COMPLIANT",
        "Retention is 400 days (minimum 365).",
    )
    assert scan.runs["scheduled"]["/app/decade"][0] == "COMPLIANT"


def test_group_retaining_30_days_is_noncompliant(scan):
    assert scan.runs["scheduled"]["/aws/lambda/short"] == (
        "NON_COMPLIANT",
        "Retention is 30 days, below the minimum of 365 days. Fix: set a retention of at "
        "least 365 days (logs:PutRetentionPolicy).",
    )


def test_never_expiring_group_depends_on_never_expire_compliant(scan):
    assert scan.runs["scheduled"]["/app/forever"] == ("COMPLIANT", "Events never expire.")
    # scheduled-strict: NeverExpireCompliant "false"
    assert scan.runs["scheduled-strict"]["/app/forever"] == (
        "NON_COMPLIANT",
        "Events never expire and NeverExpireCompliant is false. Fix: set a retention of at "
        "least 731 days (logs:PutRetentionPolicy).",
    )


def test_min_retention_time_731_makes_400_days_noncompliant(scan):
    strict = scan.runs["scheduled-strict"]
    assert strict["/aws/lambda/long"][0] == "NON_COMPLIANT"
    assert strict["/aws/lambda/long"][1].startswith(
        "Retention is 400 days, below the minimum of 731 days."
    )
    assert strict["/app/decade"] == ("COMPLIANT", "Retention is 3653 days (minimum 731).")
    assert {strict[name][0] for name in BULK} == {"COMPLIANT"}


def test_groups_outside_the_prefixes_are_not_applicable(scan):
    # scheduled-strict: LogGroupNamePrefixes "/aws/lambda/,/app/"
    assert scan.runs["scheduled"]["/ecs/batch"][0] == "NON_COMPLIANT"
    assert scan.runs["scheduled-strict"]["/ecs/batch"] == OUT_OF_SCOPE
    assert len(scan.runs["scheduled-strict"]) == len(GROUPS) + len(BULK)


def test_a_scan_of_both_log_group_rules_sweeps_describe_log_groups_once(scan):
    assert scan.scan_calls == Counter({"logs:DescribeLogGroups": 2})  # 60 groups, 50 a page
    every = set(GROUPS) | set(BULK)
    assert set(scan.scan_findings[RULE]) == every
    assert set(scan.scan_findings["log-group-cmk-encrypted"]) == every
    assert scan.scan_findings[RULE]["/aws/lambda/short"] == "NON_COMPLIANT"


def test_invalid_min_retention_time_fails_and_stores_nothing(standin, factory):
    log_group(factory, "/app/short", 30)
    with pytest.raises(InvalidRuleParametersError, match="MinRetentionTime must be one of"):
        handler(scheduled(standin, MinRetentionTime="100"), CTX)
    assert results(factory) == {}


def test_group_deleted_since_the_previous_run_is_not_applicable(standin, factory):
    log_group(factory, "/app/keep", 400)
    log_group(factory, "/app/gone", 7)
    handler(scheduled(standin, at="2026-11-21T00:00:00Z"), CTX)
    assert results(factory)["/app/gone"][0] == "NON_COMPLIANT"
    factory.client("logs").delete_log_group(logGroupName="/app/gone")
    handler(scheduled(standin, at="2026-11-22T00:00:00Z"), CTX)
    found = results(factory)
    assert found["/app/gone"] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found["/app/keep"][0] == "COMPLIANT"


def test_describe_log_groups_failing_fails_visibly_and_stores_nothing(standin, factory):
    log_group(factory, "/app/short", 30)
    for code in ("AccessDeniedException", "ThrottlingException"):
        with (
            inject_error(factory.client("logs"), "DescribeLogGroups", code) as seen,
            pytest.raises(EvaluationError, match=f"{code} from DescribeLogGroups"),
        ):
            handler(scheduled(standin), CTX)
        assert seen == ["DescribeLogGroups"]
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


def params(**raw: str) -> LogGroupRetentionParameters:
    return module.LogGroupRetention().evaluate_parameters(raw)


def test_minimum_is_inclusive_and_defaults_to_365():
    assert module.verdict({"retentionInDays": 365}).compliance == "COMPLIANT"
    assert module.verdict({"retentionInDays": 180}).compliance == "NON_COMPLIANT"
    assert module.verdict({"retentionInDays": 1}, 1).compliance == "COMPLIANT"
    assert module.verdict({}, 3653, never_expire_compliant=True).compliance == "COMPLIANT"
    assert module.verdict({}, 1, never_expire_compliant=False).compliance == "NON_COMPLIANT"


def test_parameters_accept_only_valid_retention_values():
    assert params().min_retention_time == 365
    assert params(MinRetentionTime="545", NeverExpireCompliant="false").never_expire_compliant is (
        False
    )
    for bad in ("0", "100", "366", "forever"):
        with pytest.raises(InvalidRuleParametersError):
            params(MinRetentionTime=bad)


def test_verdicts_scope_by_prefix():
    groups = [{"logGroupName": "/a/x", "retentionInDays": 1}, {"logGroupName": "/b/y"}]
    found = dict(module.verdicts(groups, params(LogGroupNamePrefixes='["/b/"]')))
    assert found["/a/x"].compliance == "NOT_APPLICABLE"
    assert found["/b/y"].reason == "Events never expire."
    everything = dict(module.verdicts(groups, params()))
    assert everything["/a/x"].compliance == "NON_COMPLIANT"
