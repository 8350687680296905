"""Scenarios of rules/lambda_tracing_active.py, against the stand-in."""

from __future__ import annotations

import pytest
from conftest import (
    change_event,
    lambda_context,
    load_event,
    make_function,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "lambda-tracing-active"
TYPE = "AWS::Lambda::Function"
rule = rule_module(RULE)
handler = rule.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def run(standin, factory, item) -> tuple[str, str]:
    handler(change_event(standin, RULE, item), CTX)
    return results(factory)[item["resourceId"]]


def test_active_is_compliant_without_api_call(standin, factory, lambda_calls):
    make_function(factory, "payments", TracingConfig={"Mode": "Active"})
    lambda_calls.calls.clear()
    handler(with_token(standin, load_event("lambda_tracing_active/change-active.json")), CTX)
    assert lambda_calls.calls == []
    assert results(factory)["payments"] == ("COMPLIANT", "X-Ray tracing mode is Active.")


def test_passthrough_is_noncompliant(standin, factory):
    make_function(factory, "orders-api")
    handler(with_token(standin, load_event("lambda_tracing_active/change-passthrough.json")), CTX)
    compliance, note = results(factory)["orders-api"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("X-Ray tracing mode is PassThrough; set TracingConfig Mode=Active")


def test_ci_without_tracing_config_reads_get_function(standin, factory, lambda_calls):
    make_function(factory, "fn", TracingConfig={"Mode": "Active"})
    item = cibuilder.read(factory, TYPE, "fn")
    del item["configuration"]["tracingConfig"]
    lambda_calls.calls.clear()
    assert run(standin, factory, item)[0] == "COMPLIANT"
    assert lambda_calls.calls == ["GetFunction"]


def test_tracing_update_is_seen(standin, factory):
    make_function(factory, "fn")
    factory.client("lambda").update_function_configuration(
        FunctionName="fn", TracingConfig={"Mode": "Active"}
    )
    assert run(standin, factory, cibuilder.read(factory, TYPE, "fn"))[0] == "COMPLIANT"


def test_ci_without_tracing_for_a_vanished_function_is_not_applicable(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    item["configuration"]["tracingConfig"] = None
    factory.client("lambda").delete_function(FunctionName="fn")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The function no longer exists.")


def test_deleted_resource_is_not_applicable(standin, factory, lambda_calls):
    handler(with_token(standin, load_event("lambda_tracing_active/change-deleted.json")), CTX)
    assert results(factory)["payments"][0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []


def test_access_denied_on_get_function_fails_visibly(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    item["configuration"]["tracingConfig"] = {"mode": None}
    with (
        inject_error(factory.client("lambda"), "GetFunction", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetFunction"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


@pytest.mark.parametrize(
    ("configuration", "mode"),
    [
        ({"tracingConfig": {"mode": "Active"}}, "Active"),
        ({"tracingConfig": '{"mode": "PassThrough"}'}, "PassThrough"),
        ({"tracingConfig": {"mode": None}}, None),
        ({"tracingConfig": None}, None),
        ({}, None),
    ],
)
def test_mode_from_ci_tolerates_config_shapes(configuration, mode):
    assert rule.mode_from_ci({"configuration": configuration}) == mode
