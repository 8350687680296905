"""Scenarios of remediations/enable_api_logging.py, through its real handler.

The stand-in is reset once for this module: every test creates its own API (its own
stage ARN), so audit records, idempotency keys and rule results never collide. The
account's API Gateway CloudWatch role is account-wide: tests that need it unset clear it.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from apigw_stages import REST, V2, read_ci, rest_stage, run_rule, v2_stage
from botocore.awsrequest import AWSResponse
from conftest import CallCounter, lambda_context, load_event
from faults import inject_error, swallow_call

from configguard import cibuilder, settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module

FIX = "enable-api-logging"
EXECUTION = "apigw-stage-execution-logging"
ACCESS = "apigw-stage-access-logging"
module = remediation_module(FIX)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE_ARN = "arn:aws:apigateway:us-east-1::/restapis/l0g5t4g3e1/stages/prod"
EVENTS = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}
ORDERS_OFF = ("/~1orders/GET/logging/loglevel", "OFF")


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    """Every test applies on its own stage; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")


@pytest.fixture
def role(standin) -> str:
    return standin.api_cloudwatch_role_arn()


@pytest.fixture
def no_account_role(factory) -> None:
    set_account_role(factory, "")


@pytest.fixture
def logs_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("logs"))
    yield counter
    counter.close()


def set_account_role(factory, value: str) -> None:
    factory.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": value}]
    )


def account_role(factory) -> str | None:
    return factory.client("apigateway").get_account().get("cloudwatchRoleArn") or None


def event(kind: str, arn: str, rule: str = EXECUTION) -> dict:
    """The fix's sample event retargeted at `arn` and `rule`."""
    text = json.dumps(load_event(f"enable_api_logging/{EVENTS[kind]}"))
    text = text.replace(SAMPLE_ARN, arn).replace(EXECUTION, rule)
    if "/apis/" in arn:
        text = text.replace("AWS::ApiGateway::Stage", V2)
        text = text.replace('"AwsApiGatewayStage"', '"AwsApiGatewayV2Stage"')
    return json.loads(text)


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def rest(factory, arn: str) -> dict:
    _, api_id, name = cibuilder.parse_stage_arn(arn)
    return factory.client("apigateway").get_stage(restApiId=api_id, stageName=name)


def websocket(factory, arn: str) -> dict:
    _, api_id, name = cibuilder.parse_stage_arn(arn)
    return factory.client("apigatewayv2").get_stage(ApiId=api_id, StageName=name)


def levels(factory, arn: str) -> dict[str, str | None]:
    return {k: v.get("loggingLevel") for k, v in rest(factory, arn)["methodSettings"].items()}


def set_stage_wide_level(factory, arn: str, value: str) -> None:
    _, api_id, name = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").update_stage(
        restApiId=api_id,
        stageName=name,
        patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": value}],
    )


def log_group(factory, name: str) -> dict | None:
    found = factory.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in found if g["logGroupName"] == name), None)


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-12 revert"))


def rule_verdict(standin, factory, rule: str, resource_type: str, arn: str) -> str:
    return run_rule(rule, standin, factory, read_ci(factory, resource_type, arn))[0]


def test_rest_stage_gets_role_and_both_loggings_and_both_rules_are_compliant(
    factory, standin, role, no_account_role, api_calls, logs_calls
):
    arn = rest_stage(factory, "silent")
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    name = f"/aws/apigateway/configguard/{api_id}/prod"
    destination = f"arn:aws:logs:us-east-1:123456789012:log-group:{name}"
    assert rule_verdict(standin, factory, EXECUTION, REST, arn) == "NON_COMPLIANT"
    assert rule_verdict(standin, factory, ACCESS, REST, arn) == "NON_COMPLIANT"
    api_calls.clear()
    logs_calls.calls.clear()
    record = run(event("config", arn))
    calls = Counter(api_calls.calls + logs_calls.calls)
    assert record["outcome"] == "applied", record
    assert record["action"] == (
        "UpdateAccount cloudwatchRoleArn; UpdateStage loggingLevel ERROR for */*; "
        "UpdateStage accessLogSettings to the managed log group"
    )
    assert record["before"] == {
        "executionLogging": {"default": None, "overrides": {}},
        "accessLogSettings": None,
        "cloudwatchRoleArn": None,
    }
    assert record["after"]["executionLogging"] == {"default": "ERROR", "overrides": {}}
    assert record["after"]["cloudwatchRoleArn"] == role
    assert record["details"]["logGroup"]["created"] is True
    assert calls == {
        "GetStage": 2,
        "GetAccount": 2,
        "DescribeLogGroups": 1,
        "UpdateAccount": 1,
        "CreateLogGroup": 1,
        "PutRetentionPolicy": 1,
        "UpdateStage": 1,
        "TagResource": 1,
    }
    assert account_role(factory) == role
    assert levels(factory, arn) == {"*/*": "ERROR"}
    access = rest(factory, arn)["accessLogSettings"]
    assert access["destinationArn"] == destination
    assert json.loads(access["format"])["requestId"] == "$context.requestId"
    group = log_group(factory, name)
    assert group is not None
    assert group["kmsKeyId"] == standin.environ()[settings.KEY_ARN]
    assert group["retentionInDays"] == 365
    tags = factory.client("logs").list_tags_for_resource(resourceArn=destination)["tags"]
    assert tags == {"configguard:managed-by": "enable-api-logging"}
    assert rest(factory, arn)["tags"][settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    [stored] = list_records(factory, resource_id=arn)
    assert stored["audit_id"] == record["audit_id"] and stored["outcome"] == "applied"
    assert rule_verdict(standin, factory, EXECUTION, REST, arn) == "COMPLIANT"
    assert rule_verdict(standin, factory, ACCESS, REST, arn) == "COMPLIANT"
    params = {"RequiredFormatFields": "$context.requestId,$context.identity.sourceIp"}
    item = read_ci(factory, REST, arn)
    assert run_rule(ACCESS, standin, factory, item, rule_parameters=params)[0] == "COMPLIANT"


def test_method_override_off_is_raised_and_stage_wide_info_kept(factory, standin, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "override-off", ("/*/*/logging/loglevel", "INFO"), ORDERS_OFF)
    record = run(event("config", arn))
    assert record["outcome"] == "applied"
    assert record["action"].startswith("UpdateStage loggingLevel ERROR for GET /orders;")
    assert "cloudwatchRoleArn" not in record["after"]
    assert levels(factory, arn) == {"*/*": "INFO", "~1orders/GET": "ERROR"}
    assert rule_verdict(standin, factory, EXECUTION, REST, arn) == "COMPLIANT"


def test_info_level_with_access_logs_is_already_compliant(factory, monkeypatch):
    monkeypatch.setenv(settings.API_EXECUTION_LOG_LEVEL, "ERROR")
    arn = rest_stage(
        factory,
        "info",
        ("/*/*/logging/loglevel", "INFO"),
        ("/accessLogSettings/destinationArn", "arn:aws:logs:us-east-1:123456789012:log-group:a"),
        ("/accessLogSettings/format", "$context.requestId"),
    )
    for kind, rule in (("config", EXECUTION), ("cli", ACCESS)):
        record = run(event(kind, arn, rule))
        assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert levels(factory, arn) == {"*/*": "INFO"}


def test_websocket_stage_gets_both_loggings_and_the_other_rule_is_then_skipped(
    factory, standin, no_account_role, role
):
    arn = v2_stage(factory, "chat", "WEBSOCKET", DefaultRouteSettings={"ThrottlingBurstLimit": 50})
    record = run(event("config", arn, ACCESS))
    assert record["outcome"] == "applied", record
    assert record["resource_type"] == V2
    stage = websocket(factory, arn)
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "ERROR"
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 50  # kept
    assert json.loads(stage["AccessLogSettings"]["Format"])["connectionId"] == (
        "$context.connectionId"
    )
    assert stage["Tags"][settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert account_role(factory) == role
    assert rule_verdict(standin, factory, EXECUTION, V2, arn) == "COMPLIANT"
    assert rule_verdict(standin, factory, ACCESS, V2, arn) == "COMPLIANT"
    other = run(event("config", arn, EXECUTION))
    assert other["outcome"] == "skipped", other
    assert other["reason"] == "The resource is already compliant."


def test_dry_run_mode_changes_nothing(factory, monkeypatch, no_account_role):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    arn = rest_stage(factory, "dry")
    record = run(event("config", arn, ACCESS))
    assert record["outcome"] == "dry-run"
    assert record["reason"].startswith(
        "Dry run: would UpdateAccount cloudwatchRoleArn; UpdateStage loggingLevel ERROR for */*;"
        " UpdateStage accessLogSettings"
    )
    assert rest(factory, arn).get("accessLogSettings") is None
    assert account_role(factory) is None
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    assert log_group(factory, f"/aws/apigateway/configguard/{api_id}/prod") is None


def test_opt_out_tag_is_honoured(factory):
    arn = rest_stage(factory, "opted-out")
    factory.client("apigateway").tag_resource(
        resourceArn=arn, tags={"configguard:auto-remediate": "false"}
    )
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert rest(factory, arn)["methodSettings"] == {}


def test_missing_account_role_without_configured_role_is_refused(
    factory, monkeypatch, no_account_role
):
    monkeypatch.setenv(settings.API_CLOUDWATCH_ROLE_ARN, "")
    arn = rest_stage(factory, "no-role")
    record = run(event("config", arn))
    assert record["outcome"] == "refused"
    assert "no CloudWatch role for this account" in record["reason"]
    assert settings.API_CLOUDWATCH_ROLE_ARN in record["reason"]
    assert rest(factory, arn)["methodSettings"] == {} and account_role(factory) is None


def test_existing_destination_with_empty_format_is_refused_for_access_logging(factory, role):
    set_account_role(factory, role)
    destination = "arn:aws:logs:us-east-1:123456789012:log-group:team-owned"
    arn = rest_stage(factory, "empty-format", ("/accessLogSettings/destinationArn", destination))
    record = run(event("config", arn, ACCESS))
    assert record["outcome"] == "refused"
    assert "never replaces or edits an existing destination" in record["reason"]
    assert rest(factory, arn)["accessLogSettings"] == {"destinationArn": destination}
    assert rest(factory, arn)["methodSettings"] == {}


def test_empty_format_destination_is_left_out_when_execution_logging_asks(factory, role):
    set_account_role(factory, role)
    destination = "arn:aws:logs:us-east-1:123456789012:log-group:team-owned"
    arn = rest_stage(factory, "exec-only", ("/accessLogSettings/destinationArn", destination))
    record = run(event("config", arn))
    assert record["outcome"] == "applied", record
    assert "never replaces or edits an existing destination" in record["details"]["notFixed"]
    assert "accessLogSettings" not in record["after"]
    assert levels(factory, arn) == {"*/*": "ERROR"}
    assert rest(factory, arn)["accessLogSettings"] == {"destinationArn": destination}


@pytest.mark.parametrize(
    ("rule", "message"),
    [(EXECUTION, "HTTP APIs have no execution logging"), (ACCESS, "logs:CreateLogDelivery")],
)
def test_http_api_stage_is_refused(factory, rule, message):
    arn = v2_stage(factory, f"http-{rule[-15:]}", "HTTP")
    record = run(event("config", arn, rule))
    assert record["outcome"] == "refused" and message in record["reason"]
    assert "AccessLogSettings" not in websocket(factory, arn)


def test_failed_verification_is_recorded_and_raised(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "swallowed")
    with (
        swallow_call(factory.client("apigateway"), "UpdateStage", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", arn), CTX)
    assert seen == ["UpdateStage"]
    [record] = list_records(factory, resource_id=arn)
    assert record["outcome"] == "failed"
    assert "default loggingLevel reads back as None" in record["error"]
    assert run(event("config", arn))["outcome"] == "applied"


@contextmanager
def lost_create_log_group(standin, factory) -> Iterator[list[str]]:
    """CreateLogGroup reaches CloudWatch Logs but its answer is lost: botocore's retry of
    the same request finds the group (ResourceAlreadyExistsException)."""
    seen: list[str] = []
    logs = factory.client("logs")

    def first_attempt_went_through(params: dict, **_: object) -> tuple:
        request = json.loads(params["body"])  # CloudWatch Logs speaks JSON
        seen.append(request["logGroupName"])
        standin.client("logs").create_log_group(**request)
        answer = {"Error": {"Code": "ResourceAlreadyExistsException", "Message": "exists"}}
        return AWSResponse("http://stand-in", 400, {}, None), answer

    logs.meta.events.register(
        "before-call.logs.CreateLogGroup", first_attempt_went_through, unique_id="lost"
    )
    yield seen
    logs.meta.events.unregister("before-call.logs.CreateLogGroup", unique_id="lost")


def test_a_lost_create_log_group_answer_still_gets_its_retention(standin, factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "lost-answer")
    with lost_create_log_group(standin, factory) as created:
        record = run(event("config", arn))
    assert record["outcome"] == "applied", record
    assert created == [record["details"]["logGroup"]["name"]]
    assert log_group(factory, created[0])["retentionInDays"] == 365


def test_a_group_left_without_retention_gets_it_when_fixed_again(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "half-made-group")
    with (
        inject_error(factory.client("logs"), "PutRetentionPolicy", "AccessDeniedException"),
        pytest.raises(RemediationFailedError, match="resource unchanged"),
    ):
        handler(event("config", arn), CTX)
    [failed] = list_records(factory, resource_id=arn)
    name = failed["details"]["logGroup"]["name"]
    assert "retentionInDays" not in log_group(factory, name)  # created, retention failed
    assert failed["resource_state"] == "unchanged"
    assert "accessLogSettings" not in rest(factory, arn)
    record = run(event("config", arn))
    assert record["outcome"] == "applied", record
    assert record["details"]["logGroup"] == {
        "name": name,
        "created": False,
        "kmsKeyId": failed["details"]["logGroup"]["kmsKeyId"],
        "retentionInDays": 365,
        "setRetention": True,
    }
    assert log_group(factory, name)["retentionInDays"] == 365


def test_a_failed_stage_update_keeps_the_account_role_and_says_so(factory, role, no_account_role):
    arn = rest_stage(factory, "stage-update-fails")
    with (
        inject_error(factory.client("apigateway"), "UpdateStage", "ConflictException", 409),
        pytest.raises(RemediationFailedError, match="resource unchanged"),
    ):
        handler(event("config", arn), CTX)
    [record] = list_records(factory, resource_id=arn)
    assert record["outcome"] == "failed" and record["resource_state"] == "unchanged"
    assert record["reason"] == "The change failed; the resource is unchanged."
    assert "Preparation(s) kept: cloudwatchRoleArn (made first, harmless alone)." in record["notes"]
    assert account_role(factory) == role
    assert "accessLogSettings" not in rest(factory, arn)


def test_deleted_stage_is_skipped(factory):
    arn = v2_stage(factory, "gone", "WEBSOCKET")
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigatewayv2").delete_api(ApiId=api_id)
    record = run(event("config", arn))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_rollback_reverts_both_loggings_and_keeps_role_and_log_group(
    factory, standin, role, no_account_role
):
    arn = rest_stage(factory, "rollback", ORDERS_OFF)
    applied = run(event("cli", arn))
    assert applied["after"]["executionLogging"] == {
        "default": "ERROR",
        "overrides": {"~1orders/GET": "ERROR"},
    }
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"] == "rollback: UpdateStage loggingLevel back; remove accessLogSettings"
    assert undone["related_audit_id"] == applied["audit_id"]
    assert levels(factory, arn) == {"*/*": "OFF", "~1orders/GET": "OFF"}
    assert rest(factory, arn).get("accessLogSettings") is None
    assert account_role(factory) == role
    name = applied["details"]["logGroup"]["name"]
    assert log_group(factory, name) is not None
    assert "role and the log group are kept" in undone["details"]["kept"]
    assert rest(factory, arn)["tags"][settings.LAST_REMEDIATION_TAG] == undone["audit_id"]
    again = run(event("config", arn, ACCESS))
    assert again["outcome"] == "applied"
    assert again["details"]["logGroup"]["created"] is False
    assert rule_verdict(standin, factory, ACCESS, REST, arn) == "COMPLIANT"


def test_websocket_rollback_restores_level_and_deletes_access_log_settings(factory, role):
    set_account_role(factory, role)
    arn = v2_stage(factory, "chat-rollback", "WEBSOCKET")
    applied = run(event("cli", arn, ACCESS))
    assert rollback(applied)["outcome"] == "applied"
    stage = websocket(factory, arn)
    assert "AccessLogSettings" not in stage
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "OFF"


def test_rollback_reverts_only_what_is_still_as_it_was_set(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "rollback-partial")
    applied = run(event("cli", arn))
    set_stage_wide_level(factory, arn, "INFO")
    undone = rollback(applied)
    assert undone["outcome"] == "applied"
    assert undone["details"]["leftAlone"] == ["default loggingLevel"]
    assert levels(factory, arn) == {"*/*": "INFO"}
    assert rest(factory, arn).get("accessLogSettings") is None


def test_rollback_refused_when_everything_changed_since(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "rollback-changed")
    applied = run(event("cli", arn))
    set_stage_wide_level(factory, arn, "INFO")
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "remove", "path": "/accessLogSettings"}],
    )
    refused = rollback(applied)
    assert refused["outcome"] == "refused" and "changed since" in refused["reason"]
    assert levels(factory, arn) == {"*/*": "INFO"}


def test_security_hub_custom_action_is_accepted(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "from-hub")
    record = run(event("securityhub", arn))
    assert (record["outcome"], record["source"]) == ("applied", "securityhub")


def test_cli_fix_request_carries_actor_and_reason(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "from-cli")
    record = run(event("cli", arn))
    assert (record["outcome"], record["actor"], record["source"]) == ("applied", "alice", "cli")


def test_sample_events_name_the_stage_the_tests_create(factory, role):
    set_account_role(factory, role)
    arn = rest_stage(factory, "orders", api_id="l0g5t4g3e1")
    assert arn == SAMPLE_ARN
    assert run(load_event("enable_api_logging/config-compliance-change.json"))["outcome"] == (
        "applied"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="apigw-stage-tracing"), "does not fix rule"),
        (lambda e: e["detail"].update(resourceType="AWS::Lambda::Function"), "does not fix"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", SAMPLE_ARN))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)


def test_log_group_names_keep_only_allowed_characters():
    assert module.log_group_name("a1b2", "$default") == "/aws/apigateway/configguard/a1b2/_default"
    assert module.log_group_name("a1b2", "prod-v2") == "/aws/apigateway/configguard/a1b2/prod-v2"
