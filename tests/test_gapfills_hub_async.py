"""Gap-fills (o) Lambda Invoke with InvocationType=Event and (p) Security Hub action
targets, exercised through the stand-in's API as the router and the stand-in use them;
and the stand-in's Lambda service that runs queued invocations with the real code."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from configguard import registry, settings
from configguard_cli.local import gapfills, lambdaservice

ACCOUNT, REGION = "123456789012", "us-east-1"


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


# --------------------------------------------------------------- (o) async Invoke


def test_event_invoke_is_accepted_and_queued_not_run(standin, factory):
    name = "configguard-set-log-retention"
    answer = factory.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=b'{"hello": "world"}'
    )
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    (queued,) = gapfills.take_async_invocations(ACCOUNT, REGION)
    assert queued.function_name == name
    assert queued.function_arn.endswith(f":function:{name}")
    assert json.loads(queued.payload) == {"hello": "world"}
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []  # taken means gone


def test_event_invoke_checks_function_payload_and_size(standin, factory):
    awslambda = factory.client("lambda")

    def invoke(name: str, payload: bytes):
        return lambda: awslambda.invoke(FunctionName=name, InvocationType="Event", Payload=payload)

    assert error_code(invoke("no-such-function", b"{}")) == "ResourceNotFoundException"
    assert error_code(invoke("configguard-set-log-retention", b"not json")) == (
        "InvalidRequestContentException"
    )
    big = json.dumps({"x": "y" * (256 * 1024)}).encode()
    assert error_code(invoke("configguard-set-log-retention", big)) == (
        "InvalidParameterValueException"
    )
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []


def test_request_response_invoke_is_left_to_moto(standin, factory):
    answer = factory.client("lambda").invoke(
        FunctionName="configguard-set-log-retention", Payload=b"{}"
    )
    assert answer["StatusCode"] == 200  # moto's own path (no Docker here), not queued
    assert gapfills.take_async_invocations(ACCOUNT, REGION) == []


# ------------------------------------------------------------ (p) action targets


def test_action_target_create_describe_delete(standin, factory):
    hub = factory.client("securityhub")
    arn = hub.create_action_target(Name="second action", Description="d", Id="Second1")[
        "ActionTargetArn"
    ]
    assert arn == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:action/custom/Second1"
    described = hub.describe_action_targets(ActionTargetArns=[arn])["ActionTargets"]
    assert described == [{"ActionTargetArn": arn, "Name": "second action", "Description": "d"}]
    everything = {t["ActionTargetArn"] for t in hub.describe_action_targets()["ActionTargets"]}
    assert everything == {arn, standin.resources.action_target_arn}
    assert error_code(
        lambda: hub.create_action_target(Name="again", Description="d", Id="Second1")
    ) == ("ResourceConflictException")
    hub.delete_action_target(ActionTargetArn=arn)
    assert error_code(lambda: hub.delete_action_target(ActionTargetArn=arn)) == (
        "ResourceNotFoundException"
    )


@pytest.mark.parametrize(
    ("name", "target_id"),
    [("n" * 21, "Ok1"), ("ok", "has-dash"), ("ok", "x" * 21), ("", "Ok2")],
)
def test_action_target_validation(standin, factory, name, target_id):
    hub = factory.client("securityhub")
    assert error_code(
        lambda: hub.create_action_target(Name=name, Description="d", Id=target_id)
    ) in ("InvalidInputException", "ParamValidationError")


def test_stand_in_has_the_stack_custom_action(standin, factory):
    (target,) = factory.client("securityhub").describe_action_targets()["ActionTargets"]
    assert target["ActionTargetArn"].endswith(":action/custom/ConfigGuardFix")
    assert len(target["Name"]) <= 20


# ------------------------------------------------------- the stand-in's Lambda service


def test_runner_uses_the_function_environment_and_restores_the_process(
    standin, factory, monkeypatch
):
    """The fix runs with its deployed variables (mode: the stack default), not the shell's."""
    monkeypatch.setenv(settings.REMEDIATION_MODE, "apply")
    factory.client("logs").create_log_group(logGroupName="/app/runner")
    factory.client("logs").put_retention_policy(logGroupName="/app/runner", retentionInDays=7)
    spec = registry.remediation("set-log-retention")
    event = {
        "version": "0",
        "id": "5a0c7e2d-1b3f-4d6a-8c9e-0f2b4d6a8c1e",
        "detail-type": "configguard Fix Request",
        "source": "configguard.cli",
        "account": ACCOUNT,
        "time": "2026-11-21T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"rule": "log-group-retention", "resourceId": "/app/runner", "actor": "t"},
    }
    factory.client("lambda").invoke(
        FunctionName=registry.fix_function_name(spec),
        InvocationType="Event",
        Payload=json.dumps(event).encode(),
    )
    (run,) = lambdaservice.run_queued(standin)
    assert run.error is None
    (record,) = run.result["results"]
    assert (record["mode"], record["outcome"]) == (spec.default_mode, "dry-run")
    assert spec.default_mode != "apply"
    assert os.environ[settings.REMEDIATION_MODE] == "apply"


def test_runner_refuses_functions_it_does_not_know(standin, factory):
    factory.client("lambda").invoke(
        FunctionName="configguard-lambda-reserved-concurrency",
        InvocationType="Event",
        Payload=b"{}",
    )
    with pytest.raises(LookupError, match="not a configguard function the local runner can run"):
        lambdaservice.run_queued(standin)
