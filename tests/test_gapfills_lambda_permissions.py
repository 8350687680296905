"""Gap-fill (n) Lambda permissions: RemovePermission RevisionId and AddPermission
InvokedViaFunctionUrl, exercised through the stand-in's API as the fixes call them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import make_function


@pytest.fixture(scope="module")
def lam(module_factory):
    make_function(module_factory, "gapfill-perms")
    return module_factory.client("lambda")


def statements(lam) -> dict[str, dict]:
    try:
        raw = lam.get_policy(FunctionName="gapfill-perms")["Policy"]
    except lam.exceptions.ResourceNotFoundException:
        return {}
    return {s["Sid"]: s for s in json.loads(raw)["Statement"]}


def test_remove_permission_with_the_current_revision_removes(lam):
    lam.add_permission(
        FunctionName="gapfill-perms",
        StatementId="current",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    revision = lam.get_policy(FunctionName="gapfill-perms")["RevisionId"]
    lam.remove_permission(FunctionName="gapfill-perms", StatementId="current", RevisionId=revision)
    assert "current" not in statements(lam)


def test_remove_permission_with_a_stale_revision_is_rejected(lam):
    lam.add_permission(
        FunctionName="gapfill-perms", StatementId="a", Action="lambda:InvokeFunction", Principal="*"
    )
    stale = lam.get_policy(FunctionName="gapfill-perms")["RevisionId"]
    lam.add_permission(
        FunctionName="gapfill-perms", StatementId="b", Action="lambda:InvokeFunction", Principal="*"
    )
    with pytest.raises(ClientError) as raised:
        lam.remove_permission(FunctionName="gapfill-perms", StatementId="a", RevisionId=stale)
    assert raised.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert {"a", "b"} <= set(statements(lam))
    lam.remove_permission(FunctionName="gapfill-perms", StatementId="a")  # no RevisionId: removed
    lam.remove_permission(FunctionName="gapfill-perms", StatementId="b")
    assert statements(lam) == {}


def test_remove_permission_of_an_unknown_sid_is_not_found(lam):
    with pytest.raises(ClientError) as raised:
        lam.remove_permission(FunctionName="gapfill-perms", StatementId="never-added")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invoked_via_function_url_becomes_a_bool_condition(lam):
    lam.add_permission(
        FunctionName="gapfill-perms",
        StatementId="via-url",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    lam.add_permission(
        FunctionName="gapfill-perms",
        StatementId="plain",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    found = statements(lam)
    assert found["via-url"]["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert "InvokedViaFunctionUrl" not in found["via-url"]
    assert "Condition" not in found["plain"]
