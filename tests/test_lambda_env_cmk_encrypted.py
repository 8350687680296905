"""Scenarios of rules/lambda_env_cmk_encrypted.py, against the stand-in."""

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
from faults import inject_error, swallow_call

from configguard import cibuilder
from configguard.rulebase import EvaluationError
from configguard.verdict import Compliance
from configguard_cli.handlers import rule_module

RULE = "lambda-env-cmk-encrypted"
TYPE = "AWS::Lambda::Function"
rule = rule_module(RULE)
handler = rule.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
EVENT_KEY = "arn:aws:kms:us-east-1:123456789012:key/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
VARIABLES = {"Variables": {"TABLE_NAME": "orders", "LOG_LEVEL": "INFO"}}


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def run(standin, factory, item, **kwargs) -> tuple[str, str]:
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[item["resourceId"]]


def cmk(factory) -> str:
    return str(factory.client("kms").create_key()["KeyMetadata"]["Arn"])


def test_ci_with_cmk_is_compliant_without_api_call(standin, factory, lambda_calls):
    make_function(factory, "orders-api", Environment=VARIABLES)
    lambda_calls.calls.clear()
    handler(with_token(standin, load_event("lambda_env_cmk_encrypted/change-cmk-set.json")), CTX)
    assert lambda_calls.calls == []
    assert results(factory)["orders-api"] == (
        "COMPLIANT",
        "Environment encryption uses KMS key 6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f.",
    )


def test_no_cmk_and_no_variables_is_compliant(standin, factory, lambda_calls):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    assert run(standin, factory, item) == ("COMPLIANT", "No environment variables.")
    assert lambda_calls.calls == ["GetFunctionConfiguration"]


def test_variables_without_cmk_are_noncompliant(standin, factory):
    make_function(factory, "billing-worker", Environment=VARIABLES)
    handler(with_token(standin, load_event("lambda_env_cmk_encrypted/change-no-cmk.json")), CTX)
    compliance, note = results(factory)["billing-worker"]
    assert compliance == "NON_COMPLIANT"
    assert note == (
        "Environment variables are encrypted with the AWS managed key; "
        "set KMSKeyArn to a customer-managed KMS key."
    )
    assert "orders" not in note and "INFO" not in note


def test_cmk_outside_allowlist_is_noncompliant_naming_the_key(standin, factory):
    used, approved = cmk(factory), cmk(factory)
    make_function(factory, "fn", Environment=VARIABLES, KMSKeyArn=used)
    item = cibuilder.read(factory, TYPE, "fn")
    compliance, note = run(standin, factory, item, rule_parameters={"KmsKeyArns": approved})
    assert compliance == "NON_COMPLIANT"
    assert note == (
        f"Environment variables use KMS key {used.rsplit('/', 1)[1]}, which is not one of "
        "KmsKeyArns."
    )


def test_cmk_in_allowlist_is_compliant_without_api_call(standin, factory, lambda_calls):
    key = cmk(factory)
    make_function(factory, "fn", Environment=VARIABLES, KMSKeyArn=key)
    item = cibuilder.read(factory, TYPE, "fn")
    lambda_calls.calls.clear()
    params = {"KmsKeyArns": f'["{cmk(factory)}", "{key}"]'}
    assert run(standin, factory, item, rule_parameters=params)[0] == "COMPLIANT"
    assert lambda_calls.calls == []


def test_cmk_outside_allowlist_without_variables_is_compliant(standin, factory):
    make_function(factory, "fn", KMSKeyArn=cmk(factory))
    item = cibuilder.read(factory, TYPE, "fn")
    params = {"KmsKeyArns": cmk(factory)}
    assert run(standin, factory, item, rule_parameters=params) == (
        "COMPLIANT",
        "No environment variables.",
    )


def test_kms_key_reverted_to_aws_managed_is_noncompliant(standin, factory):
    make_function(factory, "fn", Environment=VARIABLES, KMSKeyArn=cmk(factory))
    factory.client("lambda").update_function_configuration(FunctionName="fn", KMSKeyArn="")
    item = cibuilder.read(factory, TYPE, "fn")
    assert item["configuration"]["kmskeyArn"] is None
    assert run(standin, factory, item)[0] == "NON_COMPLIANT"


def test_environment_error_counts_as_variables(standin, factory):
    key = cmk(factory)
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    response = {
        "FunctionName": "fn",
        "KMSKeyArn": key,
        "Environment": {"Error": {"ErrorCode": "KMSAccessDeniedException", "Message": "denied"}},
    }
    with swallow_call(factory.client("lambda"), "GetFunctionConfiguration", response) as seen:
        compliance, note = run(standin, factory, item, rule_parameters={"KmsKeyArns": cmk(factory)})
    assert seen == ["GetFunctionConfiguration"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        "Environment variables (Lambda reports KMSAccessDeniedException decrypting them) "
        f"use KMS key {key.rsplit('/', 1)[1]}, which is not one of KmsKeyArns."
    )


def test_deleted_resource_is_not_applicable(standin, factory, lambda_calls):
    handler(with_token(standin, load_event("lambda_env_cmk_encrypted/change-deleted.json")), CTX)
    assert results(factory)["billing-worker"][0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []


def test_function_gone_by_the_read_is_not_applicable(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    factory.client("lambda").delete_function(FunctionName="fn")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The function no longer exists.")


def test_access_denied_on_get_function_configuration_fails_visibly(standin, factory):
    make_function(factory, "fn", Environment=VARIABLES)
    item = cibuilder.read(factory, TYPE, "fn")
    with (
        inject_error(
            factory.client("lambda"), "GetFunctionConfiguration", "AccessDeniedException", 403
        ),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetFunctionConfiguration"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


@pytest.mark.parametrize(
    ("configuration", "compliance"),
    [
        ({}, Compliance.COMPLIANT),
        ({"Environment": {"Variables": {}}}, Compliance.COMPLIANT),
        ({"Environment": {"Variables": {"A": "1"}}}, Compliance.NON_COMPLIANT),
        ({"Environment": {"Error": {"ErrorCode": "X"}}}, Compliance.NON_COMPLIANT),
        ({"Environment": {"Variables": {"A": "1"}}, "KMSKeyArn": EVENT_KEY}, Compliance.COMPLIANT),
    ],
)
def test_judge_configuration(configuration, compliance):
    assert rule.judge_configuration(configuration, ()).compliance == compliance


def test_key_from_ci_tolerates_config_shapes():
    assert rule.key_from_ci({"configuration": {"kmskeyArn": EVENT_KEY}}) == EVENT_KEY
    assert rule.key_from_ci({"configuration": f'{{"kmskeyArn": "{EVENT_KEY}"}}'}) == EVENT_KEY
    assert rule.key_from_ci({"configuration": {"kmskeyArn": None}}) is None
    assert rule.key_from_ci({"configuration": None}) is None
