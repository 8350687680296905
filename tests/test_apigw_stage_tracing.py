"""Scenarios of rules/apigw_stage_tracing.py, against the stand-in.

The stand-in is reset once for this module: every test creates its own REST API and
reads back only its own stage's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apigw_stages import REST, read_ci, rest_stage, run_rule
from conftest import (
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "apigw-stage-tracing"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


@pytest.fixture
def apigw_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("apigateway"))
    yield counter
    counter.close()


def without(item: dict[str, Any], key: str) -> dict[str, Any]:
    item["configuration"].pop(key, None)
    return item


def test_tracing_enabled_is_compliant_without_api_call(standin, factory, apigw_calls):
    item = read_ci(factory, REST, rest_stage(factory, "traced", ("/tracingEnabled", "true")))
    apigw_calls.calls.clear()
    assert run(standin, factory, item) == ("COMPLIANT", "X-Ray tracing is enabled on the stage.")
    assert apigw_calls.calls == []


def test_tracing_disabled_is_noncompliant(standin, factory):
    item = read_ci(factory, REST, rest_stage(factory, "untraced", ("/tracingEnabled", "false")))
    assert item["configuration"]["tracingEnabled"] is False
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert "tracingEnabled to true" in note


def test_ci_without_tracing_flag_reads_get_stage(standin, factory, apigw_calls):
    arn = rest_stage(factory, "flagless", ("/tracingEnabled", "true"))
    item = without(read_ci(factory, REST, arn), "tracingEnabled")
    apigw_calls.calls.clear()
    assert run(standin, factory, item)[0] == "COMPLIANT"
    assert apigw_calls.calls == ["GetStage"]


def test_never_set_flag_is_read_and_noncompliant(standin, factory):
    item = without(read_ci(factory, REST, rest_stage(factory, "never-set")), "tracingEnabled")
    assert run(standin, factory, item)[0] == "NON_COMPLIANT"


def test_ci_for_a_deleted_stage_is_not_applicable(standin, factory):
    arn = rest_stage(factory, "short-lived")
    item = without(read_ci(factory, REST, arn), "tracingEnabled")
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")


def test_resource_deleted_event_is_not_applicable(standin, factory, apigw_calls):
    event = with_token(standin, load_event("apigw_stage_tracing/change-deleted.json"))
    handler(event, CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/t7q2w9e4r1/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert apigw_calls.calls == []


def test_real_shaped_event_with_tracing_off_is_noncompliant(standin, factory):
    rest_stage(factory, "orders", api_id="k3x9p2m7q4")
    handler(with_token(standin, load_event("apigw_stage_tracing/change-tracing-off.json")), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/k3x9p2m7q4/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NON_COMPLIANT"


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory):
    item = without(read_ci(factory, REST, rest_stage(factory, "denied")), "tracingEnabled")
    with (
        inject_error(factory.client("apigateway"), "GetStage", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetStage"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), ("TRUE", True), (False, False), ("false", False), (None, False)],
)
def test_is_true_accepts_config_serialisations(value, expected):
    assert module.is_true(value) is expected


def test_judge_tracing_names_the_fix():
    assert module.judge_tracing(True).compliance == "COMPLIANT"
    assert "UpdateStage /tracingEnabled" in module.judge_tracing(False).reason
