"""Scenarios of rules/lambda_env_no_plaintext_secrets.py, against the stand-in.

Secret-shaped values are made at run time (scenarios.fake_token) so that no token
literal lives in the repository. Every test that plants a secret also checks that
the value never reaches the stored annotation, the logs or the error.
"""

from __future__ import annotations

import json

import pytest
from conftest import lambda_context, load_event, make_function, stored_results, with_token
from faults import inject_error, swallow_call

from configguard.parameters import InvalidRuleParametersError
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module
from configguard_cli.local.scenarios import fake_token

RULE = "lambda-env-no-plaintext-secrets"
FN = "billing-worker"
handler = rule_module(RULE).lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
KEY_ID = fake_token("AKIA", 16, 1).upper()
GITHUB = fake_token("ghp_", 36, 2)
CUSTOM = "acme_" + fake_token("", 24, 3).lower()


def run(standin, factory, event_file="change-function-updated.json", **params):
    event = with_token(standin, load_event(f"lambda_env_no_plaintext_secrets/{event_file}"))
    if params:
        event["ruleParameters"] = json.dumps({"AssumeRoleMode": "false", **params})
    handler(event, CTX)
    return stored_results(factory, RULE)[FN]


def never_leaks(value: str, *texts: str) -> None:
    for text in texts:
        assert value not in text
        assert value[:8] not in text and value[-8:] not in text


def test_no_environment_variables_is_compliant(standin, factory):
    make_function(factory, FN)
    assert run(standin, factory) == ("COMPLIANT", "No environment variables.")


def test_references_and_settings_only_are_compliant(standin, factory):
    variables = {
        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        "SECRET_NAME": "prod/billing/db",
        "API_TOKEN_PARAM": "/prod/billing/api-token",
        "STRIPE_KEY": "{{resolve:secretsmanager:prod/stripe:SecretString:key}}",
        "PASSWORD_MIN_LENGTH": "12",
        "MYSQL_ALLOW_EMPTY_PASSWORD": "yes",
        "TOKEN_ENDPOINT": "https://auth.example.com/oauth2/token",
    }
    make_function(factory, FN, Environment={"Variables": variables})
    compliance, note = run(standin, factory)
    assert compliance == "COMPLIANT"
    assert note == "No secret-like values in 7 environment variable(s)."


def test_access_key_is_noncompliant_naming_variable_and_kind_only(standin, factory, log_output):
    make_function(factory, FN, Environment={"Variables": {"UPLOAD_KEY": KEY_ID, "MODE": "live"}})
    compliance, note = run(standin, factory)
    assert compliance == "NON_COMPLIANT"
    assert "UPLOAD_KEY (AWS access key id)" in note and "MODE" not in note
    never_leaks(KEY_ID, note, log_output.getvalue())


def test_many_secret_variables_list_what_fits_and_count_the_rest(standin, factory):
    variables = {f"SERVICE_{i:02d}_GITHUB_TOKEN": fake_token("ghp_", 36, i) for i in range(12)}
    make_function(factory, FN, Environment={"Variables": variables})
    compliance, note = run(standin, factory)
    assert compliance == "NON_COMPLIANT"
    assert len(note) <= 256
    assert "in 12 environment variable(s)" in note and "more." in note
    assert "SERVICE_00_GITHUB_TOKEN" in note
    for value in variables.values():
        never_leaks(value, note)


def test_allowlisted_variables_are_compliant(standin, factory):
    variables = {"LEGACY_PARTNER_TOKEN": GITHUB, "TEST_GITHUB_TOKEN": fake_token("ghp_", 36, 9)}
    make_function(factory, FN, Environment={"Variables": variables})
    compliance, _ = run(standin, factory, "change-with-parameters.json")
    assert compliance == "COMPLIANT"


def test_extra_patterns_find_in_house_tokens(standin, factory):
    make_function(factory, FN, Environment={"Variables": {"PARTNER_REF": CUSTOM}})
    assert run(standin, factory)[0] == "COMPLIANT"  # unknown format without the parameter
    compliance, note = run(standin, factory, "change-with-parameters.json")
    assert compliance == "NON_COMPLIANT"
    assert "PARTNER_REF (custom pattern 1)" in note
    never_leaks(CUSTOM, note)


def test_invalid_extra_pattern_fails_clearly(standin, factory):
    make_function(factory, FN)
    with pytest.raises(InvalidRuleParametersError, match="ExtraPatterns item 1 is not a valid"):
        run(standin, factory, ExtraPatterns="acme_(")
    assert stored_results(factory, RULE) == {}


def test_unreadable_environment_fails_visibly(standin, factory):
    make_function(factory, FN, Environment={"Variables": {"A": "b"}})
    response = {
        "FunctionName": FN,
        "Environment": {
            "Error": {"ErrorCode": "KMSAccessDeniedException", "Message": "not authorized"}
        },
    }
    with (
        swallow_call(factory.client("lambda"), "GetFunctionConfiguration", response),
        pytest.raises(EvaluationError, match=r"KMSAccessDeniedException.*not scanned"),
    ):
        run(standin, factory)
    assert stored_results(factory, RULE) == {}


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory, log_output):
    make_function(factory, FN, Environment={"Variables": {"GH": GITHUB}})
    with (
        inject_error(
            factory.client("lambda"), "GetFunctionConfiguration", "AccessDeniedException", 403
        ),
        pytest.raises(EvaluationError, match="AccessDeniedException") as raised,
    ):
        run(standin, factory)
    assert stored_results(factory, RULE) == {}
    never_leaks(GITHUB, str(raised.value), log_output.getvalue())


def test_function_gone_is_not_applicable(standin, factory, lambda_calls):
    compliance, note = run(standin, factory)
    assert compliance == "NOT_APPLICABLE" and "no longer exists" in note
    assert lambda_calls.calls == ["GetFunctionConfiguration"]


def test_deleted_configuration_item_is_not_applicable_without_a_read(
    standin, factory, lambda_calls
):
    assert run(standin, factory, "change-deleted.json")[0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []
