"""Scenarios of rules/apigw_stage_access_logging.py, against the stand-in.

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

RULE = "apigw-stage-access-logging"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/apigw/access"
FORMAT = '{"requestId":"$context.requestId","status":"$context.status"}'


ACCESS_LOGS = (
    ("/accessLogSettings/destinationArn", LOG_GROUP),
    ("/accessLogSettings/format", FORMAT),
)


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


def test_rest_stage_with_access_logs_is_compliant_without_api_call(standin, factory, api_calls):
    item = read_ci(factory, REST, rest_stage(factory, "logged", *ACCESS_LOGS))
    api_calls.clear()
    assert run(standin, factory, item) == (
        "COMPLIANT",
        "Access logs go to log-group:/apigw/access.",
    )
    assert api_calls.calls == []


def test_rest_stage_without_access_logs_is_confirmed_and_noncompliant(standin, factory, api_calls):
    item = read_ci(factory, REST, rest_stage(factory, "unlogged"))
    assert "accessLogSettings" not in item["configuration"]
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("Access logging is off")
    assert api_calls.calls == ["GetStage"]


def test_missing_required_format_field_is_named(standin, factory):
    arn = rest_stage(factory, "thin-format", *ACCESS_LOGS)
    params = {"RequiredFormatFields": "$context.requestId,$context.identity.sourceIp"}
    compliance, note = run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert "lacks $context.identity.sourceIp;" in note
    assert "$context.requestId" not in note


def test_http_stage_with_access_logs_is_compliant(standin, factory):
    arn = v2_stage(
        factory,
        "items",
        "HTTP",
        AccessLogSettings={"DestinationArn": LOG_GROUP, "Format": FORMAT},
    )
    params = {"RequiredFormatFields": '["$context.requestId", "$context.status"]'}
    assert run(standin, factory, read_ci(factory, V2, arn), rule_parameters=params)[0] == (
        "COMPLIANT"
    )


def test_websocket_stage_without_access_logs_is_noncompliant(standin, factory, api_calls):
    arn = v2_stage(factory, "chat", "WEBSOCKET", DefaultRouteSettings={"LoggingLevel": "INFO"})
    item = read_ci(factory, V2, arn)
    api_calls.clear()
    assert run(standin, factory, item)[0] == "NON_COMPLIANT"
    assert api_calls.calls == ["GetStage"]  # apigatewayv2 GetStage confirms the absence


@pytest.mark.parametrize("kind", ["rest", "websocket"])
def test_ci_without_access_log_settings_for_a_deleted_stage_is_not_applicable(
    standin, factory, kind
):
    if kind == "rest":
        arn = rest_stage(factory, "short-lived-rest")
        item = read_ci(factory, REST, arn)
        _, api_id, _ = cibuilder.parse_stage_arn(arn)
        factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    else:
        item = read_ci(factory, V2, v2_stage(factory, "short-lived-ws", "WEBSOCKET"))
        factory.client("apigatewayv2").delete_api(ApiId=item["configuration"]["apiId"])
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")


def test_real_shaped_event_with_a_thin_format_is_noncompliant(standin, factory):
    rest_stage(factory, "orders", *ACCESS_LOGS, api_id="l9o1g3s5t7")
    event = load_event("apigw_stage_access_logging/change-format-missing-field.json")
    handler(with_token(standin, event), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/l9o1g3s5t7/stages/prod"
    compliance, note = stored_results(factory, RULE)[arn]
    assert compliance == "NON_COMPLIANT"
    assert "$context.identity.sourceIp" in note


def test_resource_deleted_event_is_not_applicable(standin, factory, api_calls):
    handler(with_token(standin, load_event("apigw_stage_access_logging/change-deleted.json")), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/a2c4e6g8i0/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert api_calls.calls == []


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory):
    item = read_ci(factory, REST, rest_stage(factory, "denied"))
    with (
        inject_error(factory.client("apigateway"), "GetStage", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetStage"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


def test_judge_access_logs_semantics():
    judge = module.judge_access_logs
    assert judge(None, ()).compliance == "NON_COMPLIANT"
    assert judge({"destinationArn": "", "format": FORMAT}, ()).compliance == "NON_COMPLIANT"
    empty = judge({"destinationArn": LOG_GROUP, "format": " "}, ())
    assert empty.compliance == "NON_COMPLIANT" and "format is empty" in empty.reason
    pascal = judge({"DestinationArn": LOG_GROUP, "Format": FORMAT}, ("$context.status",))
    assert pascal.compliance == "COMPLIANT"
    missing = judge({"destinationArn": LOG_GROUP, "format": FORMAT}, ("$context.a", "$context.b"))
    assert "lacks $context.a, $context.b;" in missing.reason


def test_destination_label_names_log_groups_and_streams():
    assert module.destination_label(LOG_GROUP + ":*") == "log-group:/apigw/access"
    stream = "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-x"
    assert module.destination_label(stream) == "deliverystream/amazon-apigateway-x"
