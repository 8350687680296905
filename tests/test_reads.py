"""configguard.reads: each read happens once, absent things are None, errors surface."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import CallCounter, make_function
from faults import inject_error

from configguard import cibuilder
from configguard.reads import Reads


def test_a_read_is_made_once_and_counted(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    reads = Reads(factory)
    first = reads.function("fn")
    second = reads.function("fn")
    assert first is second
    assert lambda_calls.calls == ["GetFunction"]
    assert reads.calls == {"lambda:GetFunction": 1}


def test_configuration_reuses_get_function(factory, lambda_calls):
    make_function(factory, "fn", Environment={"Variables": {"A": "1"}})
    lambda_calls.calls.clear()
    reads = Reads(factory)
    cibuilder.read(reads, "AWS::Lambda::Function", "fn")
    assert reads.function_configuration("fn")["Environment"] == {"Variables": {"A": "1"}}
    assert lambda_calls.calls == ["GetFunction"]


def test_configuration_without_get_function_reads_it(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    assert Reads(factory).function_configuration("fn")["FunctionName"] == "fn"
    assert lambda_calls.calls == ["GetFunctionConfiguration"]


def test_missing_things_are_none_and_cached(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    reads = Reads(factory)
    assert reads.function("gone") is None
    assert reads.function_policy("fn") is None
    assert reads.event_invoke_config("fn") is None
    assert reads.function_policy("fn") is None
    assert lambda_calls.calls == ["GetFunction", "GetPolicy", "GetFunctionEventInvokeConfig"]


def test_other_errors_propagate_and_are_not_cached(factory):
    make_function(factory, "fn")
    reads = Reads(factory)
    with (
        inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException", 403),
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        reads.function_policy("fn")
    assert reads.function_policy("fn") is None  # the retry reaches the service


def test_policy_document_is_parsed(factory):
    make_function(factory, "fn")
    factory.client("lambda").add_permission(
        FunctionName="fn",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceAccount="123456789012",
    )
    policy = Reads(factory).function_policy("fn")
    assert [s["Sid"] for s in policy["Statement"]] == ["s3"]


def test_role_policies_read_attached_and_inline_once(factory):
    iam = factory.client("iam")
    make_function(factory, "fn", role="worker")
    iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    inline = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="worker", PolicyName="own", PolicyDocument=json.dumps(inline))
    counter = CallCounter(iam)
    reads = Reads(factory)
    policies = reads.role_policies("worker")
    again = reads.role_policies("worker")
    counter.close()
    assert policies == again
    assert {(p.name, p.arn is None) for p in policies} == {("ReadOnlyAccess", False), ("own", True)}
    assert next(p for p in policies if p.name == "own").document == inline
    assert sorted(counter.calls) == sorted(
        [
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "GetPolicy",
            "GetPolicyVersion",
            "GetRolePolicy",
        ]
    )


def test_role_policies_of_a_missing_role_are_none(factory):
    assert Reads(factory).role_policies("no-such-role") is None


def test_functions_are_listed_once(factory):
    make_function(factory, "a")
    make_function(factory, "b")
    reads = Reads(factory)
    names = {f["FunctionName"] for f in reads.functions()}
    assert {"a", "b"} <= names
    reads.functions()
    assert reads.calls["lambda:ListFunctions"] == 1
