"""Scenarios of rules/apigw_stage_execution_logging.py, against the stand-in.

The stand-in is reset once for this module: every test creates its own APIs and reads
back only its own stage's result.
"""

from __future__ import annotations

import pytest
from apigw_stages import REST, V2, read_ci, rest_stage, run_rule, v2_stage
from conftest import (
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

RULE = "apigw-stage-execution-logging"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
LEVELS = ("ERROR", "INFO")


# ---------------------------------------------------------------- REST stages


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


def test_rest_stage_logging_errors_everywhere_is_compliant_without_api_call(
    standin, factory, api_calls
):
    item = read_ci(factory, REST, rest_stage(factory, "logged", ("/*/*/logging/loglevel", "ERROR")))
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert compliance == "COMPLIANT"
    assert "*/* at ERROR" in note
    assert api_calls.calls == []


def test_method_override_with_off_is_noncompliant_naming_the_method(standin, factory):
    arn = rest_stage(
        factory,
        "quiet-orders",
        ("/*/*/logging/loglevel", "ERROR"),
        ("/~1orders/GET/logging/loglevel", "OFF"),
    )
    compliance, note = run(standin, factory, read_ci(factory, REST, arn))
    assert compliance == "NON_COMPLIANT"
    assert "GET /orders (OFF)" in note


def test_method_override_without_a_level_inherits_the_stage_level(standin, factory):
    arn = rest_stage(
        factory,
        "cached-orders",
        ("/*/*/logging/loglevel", "INFO"),
        ("/~1orders/GET/caching/enabled", "true"),
    )
    item = read_ci(factory, REST, arn)
    assert "loggingLevel" not in item["configuration"]["methodSettings"]["~1orders/GET"]
    compliance, note = run(standin, factory, item)
    assert compliance == "COMPLIANT"
    assert "1 method override(s)" in note


def test_no_stage_wide_level_is_noncompliant_even_with_method_overrides(standin, factory):
    arn = rest_stage(factory, "overrides-only", ("/~1orders/GET/logging/loglevel", "INFO"))
    compliance, note = run(standin, factory, read_ci(factory, REST, arn))
    assert compliance == "NON_COMPLIANT"
    assert "is not set (API Gateway's default is OFF)" in note


def test_level_outside_logging_levels_is_noncompliant(standin, factory):
    arn = rest_stage(factory, "errors-only", ("/*/*/logging/loglevel", "ERROR"))
    params = {"LoggingLevels": "info"}
    compliance, note = run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert "is ERROR; set /*/*/logging/loglevel to INFO" in note


def test_rest_ci_without_method_settings_for_a_deleted_stage_is_not_applicable(
    standin, factory, api_calls
):
    arn = rest_stage(factory, "short-lived", ("/*/*/logging/loglevel", "ERROR"))
    item = read_ci(factory, REST, arn)
    del item["configuration"]["methodSettings"]
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    api_calls.clear()
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")
    assert api_calls.calls == ["GetStage"]


def test_real_shaped_event_with_method_logging_off_is_noncompliant(standin, factory):
    rest_stage(factory, "orders", api_id="p5o7r9d1s3")
    event = load_event("apigw_stage_execution_logging/change-method-logging-off.json")
    handler(with_token(standin, event), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/p5o7r9d1s3/stages/prod"
    compliance, note = stored_results(factory, RULE)[arn]
    assert compliance == "NON_COMPLIANT"
    assert "GET /orders/{id} (OFF)" in note


# ------------------------------------------------------------------ v2 stages


def test_websocket_stage_logging_info_is_compliant(standin, factory, api_calls):
    arn = v2_stage(factory, "chat", "WEBSOCKET", DefaultRouteSettings={"LoggingLevel": "INFO"})
    item = read_ci(factory, V2, arn)
    api_calls.clear()
    assert run(standin, factory, item)[0] == "COMPLIANT"
    assert api_calls.calls == ["GetApi"]  # the protocol is not in the stage CI


def test_websocket_route_override_with_off_is_noncompliant_naming_the_route(standin, factory):
    arn = v2_stage(
        factory,
        "chat-quiet-connect",
        "WEBSOCKET",
        DefaultRouteSettings={"LoggingLevel": "ERROR"},
        RouteSettings={"$connect": {"LoggingLevel": "OFF"}, "sendmessage": {}},
    )
    compliance, note = run(standin, factory, read_ci(factory, V2, arn))
    assert compliance == "NON_COMPLIANT"
    assert "$connect (OFF)" in note
    assert "sendmessage" not in note


def test_websocket_stage_without_default_level_is_noncompliant(standin, factory):
    arn = v2_stage(factory, "chat-silent", "WEBSOCKET")
    compliance, note = run(standin, factory, read_ci(factory, V2, arn))
    assert compliance == "NON_COMPLIANT"
    assert "Default route execution logging is OFF" in note


def test_http_api_stage_is_not_applicable(standin, factory):
    arn = v2_stage(
        factory,
        "items",
        "HTTP",
        AccessLogSettings={"DestinationArn": "arn:x", "Format": "$context.requestId"},
    )
    compliance, note = run(standin, factory, read_ci(factory, V2, arn))
    assert compliance == "NOT_APPLICABLE"
    assert note.startswith("HTTP APIs have no execution logging")


def test_v2_stage_whose_api_is_gone_is_not_applicable(standin, factory):
    arn = v2_stage(factory, "chat-gone", "WEBSOCKET", DefaultRouteSettings={"LoggingLevel": "INFO"})
    item = read_ci(factory, V2, arn)
    factory.client("apigatewayv2").delete_api(ApiId=item["configuration"]["apiId"])
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The API no longer exists.")


def test_resource_deleted_event_is_not_applicable(standin, factory, api_calls):
    event = load_event("apigw_stage_execution_logging/change-deleted.json")
    handler(with_token(standin, event), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/e4x6l8g2n0/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert api_calls.calls == []


def test_access_denied_on_get_api_fails_visibly_and_reports_nothing(standin, factory):
    arn = v2_stage(
        factory, "chat-denied", "WEBSOCKET", DefaultRouteSettings={"LoggingLevel": "INFO"}
    )
    item = read_ci(factory, V2, arn)
    with (
        inject_error(factory.client("apigatewayv2"), "GetApi", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetApi"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


# ------------------------------------------------------------ pure semantics


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("*/*", "stage-wide */*"),
        ("~1orders/GET", "GET /orders"),
        ("~1orders~1{id}/PUT", "PUT /orders/{id}"),
        ("~1/GET", "GET /"),
        ("~1a~0b~01/POST", "POST /a~b~1"),
    ],
)
def test_method_label_decodes_json_pointer_escapes(key, label):
    assert module.method_label(key) == label


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"*/*": {"loggingLevel": "INFO"}}, "COMPLIANT"),
        ({"*/*": {"loggingLevel": "info"}}, "COMPLIANT"),
        ({"*/*": {"loggingLevel": "ERROR"}, "~1a/GET": {"loggingLevel": "INFO"}}, "COMPLIANT"),
        ({"*/*": {"loggingLevel": "ERROR"}, "~1a/GET": {"cachingEnabled": True}}, "COMPLIANT"),
        ({"*/*": {"loggingLevel": "ERROR"}, "~1a/GET": {"loggingLevel": "OFF"}}, "NON_COMPLIANT"),
        ({"*/*": {"loggingLevel": "OFF"}, "~1a/GET": {"loggingLevel": "INFO"}}, "NON_COMPLIANT"),
        ({"*/*": {"metricsEnabled": True}}, "NON_COMPLIANT"),
        ({"~1a/GET": {"loggingLevel": "INFO"}}, "NON_COMPLIANT"),
        ({}, "NON_COMPLIANT"),
        (None, "NON_COMPLIANT"),
    ],
)
def test_judge_rest_override_combinations(settings, expected):
    assert module.judge_rest(settings, LEVELS).compliance == expected


def test_judge_rest_names_every_failing_method_and_bounds_the_list():
    settings = {"*/*": {"loggingLevel": "INFO"}}
    settings |= {f"~1r{i}/GET": {"loggingLevel": "OFF"} for i in range(12)}
    verdict = module.judge_rest(settings, LEVELS)
    assert verdict.compliance == "NON_COMPLIANT"
    assert "GET /r0 (OFF)" in verdict.reason
    assert "and 4 more" in verdict.reason
    assert len(verdict.annotation) <= 256


def test_judge_websocket_semantics():
    judge = module.judge_websocket
    assert judge({"loggingLevel": "INFO"}, {}, LEVELS).compliance == "COMPLIANT"
    assert judge({"LoggingLevel": "ERROR"}, {"$default": {}}, LEVELS).compliance == "COMPLIANT"
    assert judge(None, None, LEVELS).compliance == "NON_COMPLIANT"
    verdict = judge({"loggingLevel": "INFO"}, {"$disconnect": {"loggingLevel": "OFF"}}, LEVELS)
    assert verdict.compliance == "NON_COMPLIANT" and "$disconnect (OFF)" in verdict.reason
    assert judge({"loggingLevel": "ERROR"}, {}, ("INFO",)).compliance == "NON_COMPLIANT"
