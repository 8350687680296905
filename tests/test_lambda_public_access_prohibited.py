"""Scenarios of rules/lambda_public_access_prohibited.py, against the stand-in.

The stand-in is reset once for this module (see the `standin` and `factory` overrides):
every test creates functions under its own names and reads back only their results.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

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
from configguard_cli.handlers import rule_module

RULE = "lambda-public-access-prohibited"
TYPE = "AWS::Lambda::Function"
OTHER = "111122223333"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


@pytest.fixture(scope="module")
def standin(module_standin):
    """One reset for the whole module instead of one per test."""
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def evaluate(standin, factory, name: str) -> tuple[str, str]:
    item = cibuilder.read(factory, TYPE, name)
    handler(change_event(standin, RULE, item), CTX)
    return results(factory)[name]


def grant(factory, name: str, sid: str, **kwargs: Any) -> None:
    kwargs.setdefault("Action", "lambda:InvokeFunction")
    factory.client("lambda").add_permission(FunctionName=name, StatementId=sid, **kwargs)


def fresh_function(factory, name: str) -> None:
    """The function the real-shaped events name, created anew."""
    lam = factory.client("lambda")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=name)
    make_function(factory, name)


def test_no_resource_policy_is_compliant(standin, factory):
    make_function(factory, "no-policy")
    assert evaluate(standin, factory, "no-policy") == ("COMPLIANT", "No resource-based policy.")


def test_grant_to_one_other_account_is_compliant(standin, factory):
    make_function(factory, "cross-account")
    grant(factory, "cross-account", "Partner", Principal=OTHER)
    grant(factory, "cross-account", "PartnerRoot", Principal=f"arn:aws:iam::{OTHER}:root")
    compliance, note = evaluate(standin, factory, "cross-account")
    assert compliance == "COMPLIANT"
    assert "2 resource-policy statement(s)" in note


def test_star_principal_with_fixed_source_account_is_compliant(standin, factory):
    make_function(factory, "star-source-account")
    grant(factory, "star-source-account", "FromAccount", Principal="*", SourceAccount=OTHER)
    grant(factory, "star-source-account", "FromOrg", Principal="*", PrincipalOrgID="o-a1b2c3d4e5")
    assert evaluate(standin, factory, "star-source-account")[0] == "COMPLIANT"


def test_star_principal_without_condition_is_noncompliant(standin, factory):
    make_function(factory, "star-open")
    grant(factory, "star-open", "Partner", Principal=OTHER)
    grant(factory, "star-open", "AnyoneMayInvoke", Principal="*")
    compliance, note = evaluate(standin, factory, "star-open")
    assert compliance == "NON_COMPLIANT"
    assert "AnyoneMayInvoke ('*' principal without a fixed source/org condition)" in note
    assert "Partner" not in note


def test_s3_with_source_arn_only_is_noncompliant(standin, factory):
    make_function(factory, "s3-arn-only")
    grant(
        factory,
        "s3-arn-only",
        "S3Events",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
    )
    compliance, note = evaluate(standin, factory, "s3-arn-only")
    assert compliance == "NON_COMPLIANT"
    assert "S3Events (s3.amazonaws.com without aws:SourceAccount)" in note


def test_s3_with_source_account_is_compliant(standin, factory):
    make_function(factory, "s3-account")
    grant(
        factory,
        "s3-account",
        "S3Events",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
        SourceAccount="123456789012",
    )
    assert evaluate(standin, factory, "s3-account")[0] == "COMPLIANT"


def test_other_service_with_fixed_source_arn_is_compliant(standin, factory):
    make_function(factory, "sns-arn")
    grant(
        factory,
        "sns-arn",
        "SnsTopic",
        Principal="sns.amazonaws.com",
        SourceArn="arn:aws:sns:us-east-1:123456789012:orders",
    )
    assert evaluate(standin, factory, "sns-arn")[0] == "COMPLIANT"


def test_other_service_without_condition_is_noncompliant(standin, factory):
    make_function(factory, "events-open")
    grant(factory, "events-open", "AnyRule", Principal="events.amazonaws.com")
    compliance, note = evaluate(standin, factory, "events-open")
    assert compliance == "NON_COMPLIANT"
    assert "events.amazonaws.com without aws:SourceAccount or aws:SourceArn" in note


def test_real_shaped_event_function_url_none_is_noncompliant(standin, factory):
    fresh_function(factory, "orders-web")
    grant(
        factory,
        "orders-web",
        "FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    event = load_event("lambda_public_access_prohibited/change-function-url.json")
    handler(with_token(standin, event), CTX)
    compliance, note = results(factory)["orders-web"]
    assert compliance == "NON_COMPLIANT"
    assert "FunctionURLAllowPublicAccess (function URL with auth type NONE)" in note
    assert len(note) <= 256


def test_function_url_aws_iam_with_star_principal_is_noncompliant(standin, factory):
    make_function(factory, "url-aws-iam")
    grant(
        factory,
        "url-aws-iam",
        "IamUrl",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="AWS_IAM",
    )
    compliance, note = evaluate(standin, factory, "url-aws-iam")
    assert compliance == "NON_COMPLIANT"
    assert "IamUrl ('*' principal" in note


def test_wildcard_source_arn_condition_is_noncompliant(standin, factory):
    make_function(factory, "wildcard-arn")
    grant(factory, "wildcard-arn", "AnyBucket", Principal="*", SourceArn="arn:aws:s3:::*")
    compliance, note = evaluate(standin, factory, "wildcard-arn")
    assert compliance == "NON_COMPLIANT"
    assert "AnyBucket ('*' principal, condition uses a wildcard or policy variable)" in note


def test_policy_variable_condition_is_noncompliant(standin, factory):
    """A statement AddPermission cannot write, served through GetPolicy."""
    make_function(factory, "variable")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ByVariable",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:variable",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "${aws:PrincipalTag/org}"}},
            },
            {"Effect": "Deny", "Principal": "*", "Action": "lambda:*", "Resource": "*"},
        ],
    }
    item = cibuilder.read(factory, TYPE, "variable")
    with swallow_call(
        factory.client("lambda"), "GetPolicy", {"Policy": json.dumps(policy), "RevisionId": "1"}
    ):
        handler(change_event(standin, RULE, item), CTX)
    compliance, note = results(factory)["variable"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("Public access via ByVariable (")


def test_many_public_statements_are_summarised_within_256(standin, factory):
    make_function(factory, "many-open")
    for index in range(8):
        grant(factory, "many-open", f"OpenToEveryoneStatement{index}", Principal="*")
    compliance, note = evaluate(standin, factory, "many-open")
    assert compliance == "NON_COMPLIANT"
    assert len(note) <= 256
    assert "more" in note and "[...]" not in note
    assert note.endswith("function URLs: AuthType AWS_IAM.")


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory):
    make_function(factory, "denied")
    item = cibuilder.read(factory, TYPE, "denied")
    with (
        inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetPolicy"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert "denied" not in results(factory)


def test_function_deleted_since_the_ci_is_not_applicable(standin, factory):
    fresh_function(factory, "orders-web")
    factory.client("lambda").delete_function(FunctionName="orders-web")
    event = load_event("lambda_public_access_prohibited/change-function-url.json")
    handler(with_token(standin, event), CTX)
    assert results(factory)["orders-web"] == ("NOT_APPLICABLE", "The function no longer exists.")


def test_resource_deleted_ci_is_not_applicable_without_reads(standin, factory, lambda_calls):
    event = load_event("lambda_public_access_prohibited/change-deleted.json")
    handler(with_token(standin, event), CTX)
    assert results(factory)["orders-web"] == (
        "NOT_APPLICABLE",
        "Configuration item status is ResourceDeleted.",
    )
    assert lambda_calls.calls == []


def test_verdict_for_policy_pure():
    assert module.verdict_for_policy(None).reason == "No resource-based policy."
    verdict = module.verdict_for_policy(
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:*"}]}
    )
    assert str(verdict.compliance) == "NON_COMPLIANT"
    assert "statement #1" in verdict.reason
