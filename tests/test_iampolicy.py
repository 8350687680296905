"""Unit tests of shared/configguard/iampolicy.py: pure policy analysis, no AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from configguard import iampolicy

FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
OTHER = "111122223333"


def allow(principal: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "s",
        "Effect": "Allow",
        "Principal": principal,
        "Action": extra.pop("Action", "lambda:InvokeFunction"),
        "Resource": FN,
    }
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


URL_NONE = {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
URL_IAM = {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}

PUBLIC_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # (case id, statement, expected reason fragment or None for not public)
    ("account-root-arn", allow({"AWS": f"arn:aws:iam::{OTHER}:root"}), None),
    ("bare-account-id-moto-style", allow(OTHER), None),
    ("role-arn-list", allow({"AWS": [f"arn:aws:iam::{OTHER}:role/caller"]}), None),
    ("star-string", allow("*"), "'*' principal without"),
    ("star-aws", allow({"AWS": "*"}), "'*' principal without"),
    ("star-in-aws-list", allow({"AWS": [f"arn:aws:iam::{OTHER}:root", "*"]}), "'*' principal"),
    ("star-fixed-source-account", allow("*", {"StringEquals": {"AWS:SourceAccount": OTHER}}), None),
    (
        "star-fixed-source-account-lowercase-operator",
        allow("*", {"stringequals": {"aws:sourceaccount": OTHER}}),
        None,
    ),
    (
        "star-fixed-org",
        allow({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
        None,
    ),
    ("star-fixed-source-owner", allow("*", {"StringEquals": {"aws:SourceOwner": OTHER}}), None),
    (
        "star-fixed-principal-account",
        allow("*", {"StringEquals": {"aws:PrincipalAccount": OTHER}}),
        None,
    ),
    (
        "star-foranyvalue-org",
        allow("*", {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
        None,
    ),
    (
        "star-forallvalues-is-not-restricting",
        allow("*", {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
        "'*' principal without",
    ),
    (
        "star-ifexists-is-not-restricting",
        allow("*", {"StringEqualsIfExists": {"aws:SourceAccount": OTHER}}),
        "'*' principal without",
    ),
    (
        "star-negated-operator-is-not-restricting",
        allow("*", {"StringNotEquals": {"aws:SourceAccount": OTHER}}),
        "'*' principal without",
    ),
    (
        "star-wildcard-s3-source-arn",
        allow("*", {"StringLike": {"aws:SourceArn": "arn:aws:s3:::*"}}),
        "wildcard or policy variable",
    ),
    (
        "star-variable-value",
        allow("*", {"StringEquals": {"aws:PrincipalOrgID": "${aws:username}"}}),
        "wildcard or policy variable",
    ),
    (
        "star-wildcard-account",
        allow("*", {"StringLike": {"aws:SourceAccount": "1111*"}}),
        "wildcard or policy variable",
    ),
    (
        "star-one-wildcard-among-values",
        allow("*", {"StringEquals": {"aws:SourceAccount": [OTHER, "*"]}}),
        "wildcard or policy variable",
    ),
    (
        "star-unrelated-condition-only",
        allow("*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        "'*' principal without",
    ),
    ("deny-star", {"Effect": "Deny", "Principal": "*", "Action": "lambda:*", "Resource": FN}, None),
    (
        "not-principal-allow",
        {"Effect": "Allow", "NotPrincipal": {"AWS": OTHER}, "Action": "lambda:*", "Resource": FN},
        "NotPrincipal",
    ),
    (
        "s3-source-arn-only",
        allow({"Service": "s3.amazonaws.com"}, {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}}),
        "s3.amazonaws.com without aws:SourceAccount",
    ),
    ("s3-no-condition", allow({"Service": "s3.amazonaws.com"}), "without aws:SourceAccount"),
    (
        "s3-source-account",
        allow({"Service": "s3.amazonaws.com"}, {"StringEquals": {"AWS:SourceAccount": OTHER}}),
        None,
    ),
    (
        "sns-fixed-source-arn",
        allow(
            {"Service": "sns.amazonaws.com"},
            {"ArnLike": {"AWS:SourceArn": f"arn:aws:sns:us-east-1:{OTHER}:topic"}},
        ),
        None,
    ),
    (
        "apigateway-source-arn-wildcards-outside-account",
        allow(
            {"Service": "apigateway.amazonaws.com"},
            {"ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:us-east-1:{OTHER}:abc123/*/GET/"}},
        ),
        None,
    ),
    (
        "sns-source-arn-wildcard-account",
        allow(
            {"Service": "sns.amazonaws.com"},
            {"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:*:topic"}},
        ),
        "wildcard, variable or account-less",
    ),
    (
        "events-no-condition",
        allow({"Service": "events.amazonaws.com"}),
        "events.amazonaws.com without aws:SourceAccount or aws:SourceArn",
    ),
    (
        "service-with-org-id-only-is-not-a-service-guard",
        allow({"Service": "sns.amazonaws.com"}, {"StringEquals": {"aws:PrincipalOrgID": "o-x"}}),
        "sns.amazonaws.com without",
    ),
    (
        "function-url-none",
        allow("*", URL_NONE, Action="lambda:InvokeFunctionUrl"),
        "function URL with auth type NONE",
    ),
    (
        "function-url-none-even-with-source-account",
        allow(
            "*",
            {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE", "aws:SourceAccount": OTHER}},
            Action="lambda:InvokeFunctionUrl",
        ),
        "function URL with auth type NONE",
    ),
    (
        "function-url-none-via-lambda-star",
        allow({"AWS": "*"}, URL_NONE, Action="lambda:*"),
        "function URL with auth type NONE",
    ),
    (
        # Decision: AWS_IAM with a '*' principal lets any AWS account's IAM identities in.
        "function-url-aws-iam-star-principal",
        allow("*", URL_IAM, Action="lambda:InvokeFunctionUrl"),
        "'*' principal without",
    ),
    (
        "function-url-aws-iam-account-principal",
        allow(OTHER, URL_IAM, Action="lambda:InvokeFunctionUrl"),
        None,
    ),
    (
        "function-url-none-specific-account",
        allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, URL_NONE, Action="lambda:InvokeFunctionUrl"),
        None,
    ),
]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [pytest.param(s, e, id=i) for i, s, e in PUBLIC_CASES],
)
def test_public_grant(statement: dict[str, Any], expected: str | None) -> None:
    reason = iampolicy.public_grant(statement)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


def test_public_case_table_is_large_enough() -> None:
    assert len(PUBLIC_CASES) >= 25


@pytest.mark.parametrize(
    ("document", "count"),
    [
        (None, 0),
        ("", 0),
        ({"Version": "2012-10-17"}, 0),
        ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, 1),
        ({"Statement": [{"Effect": "Allow"}, "junk", {"Effect": "Deny"}]}, 2),
        (json.dumps({"Statement": [{"Effect": "Allow"}]}), 1),
    ],
)
def test_statements_normalises_documents(document: Any, count: int) -> None:
    assert len(iampolicy.statements(document)) == count


def test_statements_rejects_non_object_json() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        iampolicy.statements("[]")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, []), ("a", ["a"]), (["a", "b"], ["a", "b"]), (("a",), ["a"]), (5, [5])],
)
def test_as_list(value: Any, expected: list[Any]) -> None:
    assert iampolicy.as_list(value) == expected


def test_sid_labels() -> None:
    assert iampolicy.sid({"Sid": "AllowSns"}, 0) == "AllowSns"
    assert iampolicy.sid({}, 2) == "statement #3"
    assert iampolicy.sid({"Sid": "  "}, 0) == "statement #1"


def test_conditions_merge_case_variants() -> None:
    statement = {
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "1"},
            "stringequals": {"aws:sourceaccount": ["2"]},
        }
    }
    assert iampolicy.conditions(statement) == {"stringequals": {"aws:sourceaccount": ["1", "2"]}}


def test_public_statements_labels_and_reasons() -> None:
    document = {
        "Statement": [
            allow("*", Sid="Open"),
            allow(OTHER, Sid="Partner"),
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "x"},
        ]
    }
    found = iampolicy.public_statements(document)
    assert [label for label, _ in found] == ["Open", "statement #3"]


# ------------------------------------------------------------ least privilege


def identity(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


PRIVILEGE_CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str | None]] = [
    ("action-star", identity("*"), (), "Action '*'"),
    ("action-star-colon-star", identity("*:*"), (), "Action '*'"),
    ("action-star-specific-resource", identity("*", "arn:aws:s3:::b"), (), "Action '*'"),
    ("s3-star-on-star", identity("s3:*"), (), "s3:* on '*'"),
    ("s3-star-on-all-buckets-arn", identity("S3:*", "arn:aws:s3:::*"), (), "S3:* on '*'"),
    ("s3-star-on-one-bucket", identity("s3:*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]), (), None),
    ("logs-star-on-star", identity("logs:*"), (), None),
    ("dynamodb-star-all-tables", identity("dynamodb:*", "arn:aws:dynamodb:*:*:table/*"), (), "on"),
    ("passrole-on-star", identity("iam:PassRole"), (), "iam:PassRole on '*'"),
    ("pass-star-on-star", identity("iam:Pass*"), (), "iam:PassRole on '*'"),
    ("passrole-all-roles", identity("iam:PassRole", "arn:aws:iam::*:role/*"), (), "PassRole"),
    ("passrole-one-role", identity("iam:PassRole", "arn:aws:iam::1:role/worker"), (), None),
    ("not-action-on-star", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, (), "Not"),
    ("not-resource-s3-star", {"Effect": "Allow", "Action": "s3:*", "NotResource": "x"}, (), "s3"),
    ("deny-star", {"Effect": "Deny", "Action": "*", "Resource": "*"}, (), None),
    ("s3-star-exempt", identity("s3:*"), ("s3:*",), None),
    ("passrole-exempt", identity("iam:PassRole"), ("iam:PassRole",), None),
    ("pass-star-not-exempted-by-passrole", identity("iam:Pass*"), ("iam:PassRole",), "PassRole"),
    ("get-object-star", identity("s3:GetObject"), (), None),
]


@pytest.mark.parametrize(
    ("statement", "exempt", "expected"),
    [pytest.param(s, x, e, id=i) for i, s, x, e in PRIVILEGE_CASES],
)
def test_over_privileged(
    statement: dict[str, Any], exempt: tuple[str, ...], expected: str | None
) -> None:
    reason = iampolicy.over_privileged(statement, exempt)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess"),
        ("arn:aws-us-gov:iam::aws:policy/PowerUserAccess", "PowerUserAccess"),
        ("arn:aws:iam::aws:policy/IAMFullAccess", "IAMFullAccess"),
        ("arn:aws:iam::123456789012:policy/AdministratorAccess", None),  # customer-managed
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", None),
        (None, None),
    ],
)
def test_admin_policy(arn: str | None, expected: str | None) -> None:
    assert iampolicy.admin_policy(arn) == expected


@pytest.mark.parametrize(
    ("items", "budget", "expected"),
    [
        (["a", "b", "c"], 100, "a, b, c"),
        (["alpha", "beta", "gamma", "delta"], 20, "alpha, beta +2 more"),
        (["alpha", "beta"], 7, "2 items"),
        ([], 10, ""),
    ],
)
def test_compact_join(items: list[str], budget: int, expected: str) -> None:
    text = iampolicy.compact_join(items, budget)
    assert text == expected
    assert len(text) <= budget
