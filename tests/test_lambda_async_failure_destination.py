"""Scenarios of rules/lambda_async_failure_destination.py, against the stand-in."""

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
from configguard.parameters import LambdaAsyncFailureDestinationParameters
from configguard.reads import Reads
from configguard.rulebase import EvaluationError
from configguard.verdict import Compliance
from configguard_cli.handlers import rule_module

RULE = "lambda-async-failure-destination"
TYPE = "AWS::Lambda::Function"
rule = rule_module(RULE)
handler = rule.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def run(standin, factory, item, **kwargs) -> tuple[str, str]:
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[item["resourceId"]]


def queue(factory, name: str) -> str:
    sqs = factory.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def on_failure(factory, name: str, destination: str) -> None:
    factory.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": destination}}
    )


def test_dlq_in_ci_is_compliant_without_lambda_call(standin, factory, lambda_calls):
    dlq = queue(factory, "orders-api-dlq")
    make_function(factory, "orders-api", DeadLetterConfig={"TargetArn": dlq})
    lambda_calls.calls.clear()
    handler(
        with_token(
            standin, load_event("lambda_async_failure_destination/change-dlq-configured.json")
        ),
        CTX,
    )
    assert lambda_calls.calls == []
    assert results(factory)["orders-api"] == (
        "COMPLIANT",
        f"Failed asynchronous events go to the dead-letter queue {dlq}.",
    )


def test_on_failure_destination_is_compliant(standin, factory, lambda_calls):
    target = queue(factory, "relay-failures")
    make_function(factory, "fn")
    on_failure(factory, "fn", target)
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    compliance, note = run(standin, factory, item)
    assert lambda_calls.calls == ["GetFunctionEventInvokeConfig"]
    assert (compliance, note) == (
        "COMPLIANT",
        f"Failed asynchronous events go to the on-failure destination {target}.",
    )


def test_neither_is_noncompliant(standin, factory):
    make_function(factory, "webhook-relay")
    handler(
        with_token(standin, load_event("lambda_async_failure_destination/change-no-dlq.json")),
        CTX,
    )
    compliance, note = results(factory)["webhook-relay"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("No dead-letter queue and no on-failure destination")


def test_event_invoke_config_without_on_failure_is_noncompliant(standin, factory):
    make_function(factory, "fn")
    factory.client("lambda").put_function_event_invoke_config(
        FunctionName="fn", MaximumRetryAttempts=0
    )
    item = cibuilder.read(factory, TYPE, "fn")
    assert run(standin, factory, item)[0] == "NON_COMPLIANT"


def test_dlq_outside_allowlist_is_noncompliant(standin, factory, lambda_calls):
    dlq = queue(factory, "stray-dlq")
    allowed = queue(factory, "central-dlq")
    make_function(factory, "fn", DeadLetterConfig={"TargetArn": dlq})
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    compliance, note = run(standin, factory, item, rule_parameters={"AllowedTargetArns": allowed})
    assert lambda_calls.calls == []
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(f"The dead-letter queue {dlq} is not one of AllowedTargetArns")


def test_destination_outside_allowlist_is_noncompliant(standin, factory):
    target = queue(factory, "stray-failures")
    allowed = [queue(factory, "central-dlq"), queue(factory, "central-failures")]
    make_function(factory, "fn")
    on_failure(factory, "fn", target)
    item = cibuilder.read(factory, TYPE, "fn")
    params = {"AllowedTargetArns": json.dumps(allowed)}
    compliance, note = run(standin, factory, item, rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert f"on-failure destination {target} is not one of AllowedTargetArns" in note
    # moto appends on a second PutFunctionEventInvokeConfig (AWS replaces): delete first.
    factory.client("lambda").delete_function_event_invoke_config(FunctionName="fn")
    on_failure(factory, "fn", allowed[1])
    assert run(standin, factory, item, rule_parameters=params)[0] == "COMPLIANT"


def test_deleted_resource_is_not_applicable(standin, factory, lambda_calls):
    handler(
        with_token(standin, load_event("lambda_async_failure_destination/change-deleted.json")),
        CTX,
    )
    assert results(factory)["webhook-relay"][0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []


def test_function_deleted_since_the_ci_is_not_applicable(standin, factory, lambda_calls):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    factory.client("lambda").delete_function(FunctionName="fn")
    lambda_calls.calls.clear()
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The function no longer exists.")
    assert lambda_calls.calls == ["GetFunctionEventInvokeConfig", "GetFunction"]


def test_ci_without_dlq_block_reads_get_function(standin, factory, lambda_calls):
    dlq = queue(factory, "fn-dlq")
    make_function(factory, "fn", DeadLetterConfig={"TargetArn": dlq})
    item = cibuilder.read(factory, TYPE, "fn")
    del item["configuration"]["deadLetterConfig"]
    lambda_calls.calls.clear()
    assert run(standin, factory, item)[0] == "COMPLIANT"
    assert lambda_calls.calls == ["GetFunction"]


def test_throttled_event_invoke_config_fails_visibly(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    with (
        inject_error(
            factory.client("lambda"),
            "GetFunctionEventInvokeConfig",
            "TooManyRequestsException",
            429,
        ),
        pytest.raises(EvaluationError, match="TooManyRequestsException"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        (
            {"deadLetterConfig": {"targetArn": "arn:aws:sqs:us-east-1:1:q"}},
            "arn:aws:sqs:us-east-1:1:q",
        ),
        (
            {"deadLetterConfig": '{"targetArn": "arn:aws:sns:us-east-1:1:t"}'},
            "arn:aws:sns:us-east-1:1:t",
        ),
        ({"deadLetterConfig": {"targetArn": None}}, None),
        ({"deadLetterConfig": {}}, None),
        ({"deadLetterConfig": None}, None),
    ],
)
def test_dlq_from_ci_tolerates_config_shapes(configuration, expected):
    assert rule.dlq_from_ci({"configuration": configuration}) == expected


def test_dlq_from_ci_without_block_is_missing():
    assert rule.dlq_from_ci({"configuration": {"runtime": "python3.13"}}) is rule._MISSING


def test_allowed_dlq_is_compliant_without_reads(standin, factory):
    reads = Reads(factory)
    item = {
        "resourceId": "fn",
        "configuration": {"deadLetterConfig": {"targetArn": "arn:aws:sqs:us-east-1:1:q"}},
    }
    params = LambdaAsyncFailureDestinationParameters.model_validate(
        {"AllowedTargetArns": "arn:aws:sqs:us-east-1:1:q, arn:aws:sqs:us-east-1:1:r"}
    )
    assert rule.evaluate(item, params, reads).compliance == Compliance.COMPLIANT
    assert reads.total_calls() == 0
