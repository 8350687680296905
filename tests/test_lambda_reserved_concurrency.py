"""Scenarios of rules/lambda_reserved_concurrency.py, against the stand-in."""

from __future__ import annotations

import json

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
from configguard.parameters import InvalidRuleParametersError
from configguard.rulebase import EvaluationError, InvalidEventError
from configguard_cli.handlers import rule_module

RULE = "lambda-reserved-concurrency"
TYPE = "AWS::Lambda::Function"
handler = rule_module(RULE).lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def evaluate(standin, factory, name, **kwargs) -> tuple[str, str]:
    item = cibuilder.read(factory, TYPE, name)
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[name]


def test_ci_with_reserved_concurrency_is_compliant_without_api_call(standin, factory, lambda_calls):
    make_function(factory, "fn", reserved=10)
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    handler(change_event(standin, RULE, item), CTX)
    assert lambda_calls.calls == []
    assert results(factory)["fn"] == ("COMPLIANT", "Reserved concurrency is 10.")


def test_ci_without_concurrency_block_reads_the_api(standin, factory, lambda_calls):
    make_function(factory, "fn", reserved=20)
    item = cibuilder.read(factory, TYPE, "fn")
    del item["supplementaryConfiguration"]["Concurrency"]
    lambda_calls.calls.clear()
    handler(change_event(standin, RULE, item), CTX)
    assert lambda_calls.calls == ["GetFunctionConcurrency"]
    assert results(factory)["fn"][0] == "COMPLIANT"


def test_real_shaped_event_without_concurrency_is_noncompliant(standin, factory):
    make_function(factory, "orders-api")
    event = with_token(
        standin, load_event("lambda_reserved_concurrency/change-no-reserved-concurrency.json")
    )
    handler(event, CTX)
    compliance, note = results(factory)["orders-api"]
    assert compliance == "NON_COMPLIANT"
    assert note == "No function-level reserved concurrency is set."


def test_real_shaped_event_with_float_concurrency_is_compliant(standin, factory):
    make_function(factory, "payments", reserved=25)
    handler(
        with_token(
            standin, load_event("lambda_reserved_concurrency/change-reserved-concurrency-set.json")
        ),
        CTX,
    )
    assert results(factory)["payments"] == ("COMPLIANT", "Reserved concurrency is 25.")


def test_no_reserved_concurrency_is_noncompliant(standin, factory):
    make_function(factory, "fn")
    assert evaluate(standin, factory, "fn")[0] == "NON_COMPLIANT"


def test_above_high_bound_is_noncompliant(standin, factory):
    make_function(factory, "fn", reserved=100)
    params = {"ConcurrencyLimitLow": "5", "ConcurrencyLimitHigh": "50"}
    compliance, note = evaluate(standin, factory, "fn", rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert "above ConcurrencyLimitHigh 50" in note


def test_below_low_bound_is_noncompliant(standin, factory):
    make_function(factory, "fn", reserved=2)
    compliance, note = evaluate(
        standin, factory, "fn", rule_parameters={"ConcurrencyLimitLow": "5"}
    )
    assert compliance == "NON_COMPLIANT"
    assert "below ConcurrencyLimitLow 5" in note


def test_deleted_resource_is_not_applicable(standin, factory, lambda_calls):
    handler(with_token(standin, load_event("lambda_reserved_concurrency/change-deleted.json")), CTX)
    assert results(factory)["orders-api"][0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []


def test_event_left_scope_is_not_applicable(standin, factory):
    make_function(factory, "orders-api")
    handler(
        with_token(standin, load_event("lambda_reserved_concurrency/change-left-scope.json")), CTX
    )
    assert results(factory)["orders-api"][0] == "NOT_APPLICABLE"


def test_oversized_notification_reads_the_function(standin, factory, lambda_calls):
    make_function(factory, "orders-api", reserved=7)
    lambda_calls.calls.clear()
    handler(with_token(standin, load_event("lambda_reserved_concurrency/oversized.json")), CTX)
    assert lambda_calls.calls == ["GetFunction"]
    assert results(factory)["orders-api"] == ("COMPLIANT", "Reserved concurrency is 7.")


def test_oversized_notification_for_a_gone_function_is_not_applicable(standin, factory):
    handler(with_token(standin, load_event("lambda_reserved_concurrency/oversized.json")), CTX)
    compliance, note = results(factory)["orders-api"]
    assert compliance == "NOT_APPLICABLE"
    assert "no longer exists" in note


def test_other_resource_type_is_not_applicable(standin, factory):
    make_function(factory, "orders-api")
    event = load_event("lambda_reserved_concurrency/change-no-reserved-concurrency.json")
    event = with_token(standin, event)
    invoking = json.loads(event["invokingEvent"])
    invoking["configurationItem"]["resourceType"] = "AWS::S3::Bucket"
    event["invokingEvent"] = json.dumps(invoking)
    handler(event, CTX)
    assert results(factory)["orders-api"][0] == "NOT_APPLICABLE"


@pytest.mark.parametrize(
    "params",
    [
        {"ConcurrencyLimitLow": "50", "ConcurrencyLimitHigh": "5"},
        {"ConcurrencyLimitLwo": "5"},
        {"ConcurrencyLimitLow": "ten"},
    ],
)
def test_invalid_parameters_fail_clearly_and_report_nothing(standin, factory, params):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    with pytest.raises(InvalidRuleParametersError, match="invalid rule parameters"):
        handler(change_event(standin, RULE, item, rule_parameters=params), CTX)
    assert results(factory) == {}


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory, capfd, log_output):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    del item["supplementaryConfiguration"]["Concurrency"]
    with (
        inject_error(
            factory.client("lambda"), "GetFunctionConcurrency", "AccessDeniedException", 403
        ),
        pytest.raises(EvaluationError, match="AccessDeniedException"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}
    assert '"EvaluationErrors"' in capfd.readouterr().out  # EMF metric
    line = next(
        json.loads(raw) for raw in log_output.getvalue().splitlines() if "evaluation failed" in raw
    )
    assert line["level"] == "ERROR" and line["error_type"] == "EvaluationError"
    assert len(line["correlation_id"]) == 16


@pytest.mark.parametrize(
    "event",
    [
        None,
        "not an object",
        {"invokingEvent": "{not json", "resultToken": "t", "configRuleName": RULE},
        {"invokingEvent": "[]", "resultToken": "t", "configRuleName": RULE},
        {"invokingEvent": '{"messageType": "Bogus"}', "resultToken": "t", "configRuleName": RULE},
        {"resultToken": "t", "configRuleName": RULE},
        {
            "invokingEvent": '{"messageType": "ConfigurationItemChangeNotification"}',
            "resultToken": "t",
            "configRuleName": RULE,
        },
    ],
)
def test_malformed_events_raise_a_clear_error(standin, factory, event):
    with pytest.raises(InvalidEventError):
        handler(event, CTX)
    assert results(factory) == {}


def test_annotations_stay_within_256_characters(standin, factory):
    from configguard.verdict import annotation

    long = annotation("x" * 1000 + " AKIAABCDEFGHIJKLMNOP")
    assert len(long) <= 256
    assert "AKIA" not in annotation("key AKIAABCDEFGHIJKLMNOP leaked")
