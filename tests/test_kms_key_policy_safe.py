"""Scenarios of rules/kms_key_policy_safe.py (periodic), against the stand-in.

The stand-in provisions configguard's own key (alias/configguard, default policy); a
periodic run evaluates it too, so the tests assert on the keys they create, check that
every listed key got exactly one result, and that configguard's key is COMPLIANT.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import (
    ACCOUNT,
    REGION,
    CallCounter,
    lambda_context,
    load_event,
    scheduled_event,
    stored_results,
)
from faults import inject_error

from configguard.rulebase import EvaluationError
from configguard.verdict import ANNOTATION_LIMIT
from configguard_cli.handlers import rule_module

RULE = "kms-key-policy-safe"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/kms-admin"
ROOT_STATEMENT = {
    "Sid": "EnableIAMUserPermissions",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


@pytest.fixture
def kms_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("kms"))
    yield counter
    counter.close()


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def scheduled(standin, relative: str = "scheduled.json", at: str | None = None) -> dict:
    return scheduled_event(standin, RULE, relative, at)


def policy(*extra: dict[str, Any], root: bool = True) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [*([ROOT_STATEMENT] if root else []), *extra]}


def new_key(factory, document: dict[str, Any] | None = None) -> str:
    kms = factory.client("kms")
    key_id = str(kms.create_key()["KeyMetadata"]["KeyId"])
    if document is not None:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(document))
    return key_id


def listed_keys(factory) -> set[str]:
    return {k["KeyId"] for k in factory.client("kms").list_keys()["Keys"]}


def delete_key_now(key_id: str) -> None:
    """The end of a key's waiting period: KMS deletes it (the stand-in runs in-process)."""
    from moto.kms.models import kms_backends

    kms_backends[ACCOUNT][REGION].delete_key(key_id)


def stmt(principal: Any, action: Any = "kms:Decrypt", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


# ------------------------------------------------------------------ scenarios


def test_scheduled_event_is_real_shaped():
    for relative in ("scheduled.json", "scheduled-key-admins.json"):
        event = load_event(f"kms_key_policy_safe/{relative}")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE


def test_default_policy_key_is_compliant(standin, factory, kms_calls):
    key_id = new_key(factory)
    kms_calls.calls.clear()
    handler(scheduled(standin), CTX)
    calls = list(kms_calls.calls)
    found = results(factory)
    assert found[key_id] == (
        "COMPLIANT",
        "The key policy grants nothing to '*' unscoped and kms:* only to the account root.",
    )
    assert set(found) == listed_keys(factory)  # one result per key, configguard's included
    assert {compliance for compliance, _ in found.values()} == {"COMPLIANT"}
    assert sorted(calls) == sorted(["ListKeys"] + ["DescribeKey", "GetKeyPolicy"] * len(found))


def test_wildcard_principal_grants_need_a_fixed_scoping_condition(standin, factory):
    open_key = new_key(factory, policy(stmt("*", Sid="OpenDecrypt")))
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    org_key = new_key(factory, policy(stmt({"AWS": "*"}, Sid="OrgDecrypt", Condition=org)))
    wild = {"StringLike": {"aws:PrincipalOrgID": "o-*"}}
    wild_key = new_key(factory, policy(stmt({"AWS": "*"}, Sid="AnyOrg", Condition=wild)))
    handler(scheduled(standin), CTX)
    found = results(factory)
    compliance, note = found[open_key]
    assert compliance == "NON_COMPLIANT"
    assert note == (
        "Unsafe key policy: OpenDecrypt: '*' principal without a fixed org/account/service "
        "condition. Fix: pin '*' grants with a fixed aws:PrincipalOrgID/kms:CallerAccount."
    )
    assert found[org_key][0] == "COMPLIANT"
    assert found[wild_key] == (
        "NON_COMPLIANT",
        "Unsafe key policy: AnyOrg: '*' principal, org/account condition uses a wildcard or "
        "variable. Fix: pin '*' grants with a fixed aws:PrincipalOrgID/kms:CallerAccount.",
    )


def test_full_access_for_a_role_is_noncompliant(standin, factory):
    key_id = new_key(factory, policy(stmt({"AWS": APP_ROLE}, "kms:*", Sid="AppFullAccess")))
    handler(scheduled(standin), CTX)
    assert results(factory)[key_id] == (
        "NON_COMPLIANT",
        "Unsafe key policy: AppFullAccess: kms:* to role/app. "
        "Fix: keep kms:* for the account root.",
    )


def test_key_admin_principals_limit_deletion_and_policy_changes(standin, factory):
    schedule = stmt({"AWS": APP_ROLE}, ["kms:Schedule*", "kms:Describe*"], Sid="AppCleanup")
    rogue_key = new_key(factory, policy(schedule))
    admin = stmt(
        {"AWS": [ADMIN_ROLE, f"arn:aws:iam::{ACCOUNT}:role/break-glass-oncall"]},
        ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:Describe*"],
        Sid="KeyAdmins",
    )
    admin_key = new_key(factory, policy(admin))
    handler(scheduled(standin, "scheduled-key-admins.json"), CTX)
    found = results(factory)
    assert found[rogue_key] == (
        "NON_COMPLIANT",
        "Unsafe key policy: AppCleanup: ScheduleKeyDeletion to non-admin role/app. "
        "Fix: limit admin actions to KeyAdminPrincipals (list the root to allow IAM).",
    )
    assert found[admin_key][0] == "COMPLIANT"
    assert {c for key, (c, _) in found.items() if key != rogue_key} == {"COMPLIANT"}


def test_root_is_an_admin_only_when_listed(standin, factory):
    key_id = new_key(factory)
    event = scheduled(standin)
    event["ruleParameters"] = json.dumps({"KeyAdminPrincipals": ADMIN_ROLE})
    handler(event, CTX)
    compliance, note = results(factory)[key_id]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        "Unsafe key policy: Enable IAM User Permissions: "
        "ScheduleKeyDeletion/DisableKey/PutKeyPolicy to non-admin root."
    )


def test_pending_deletion_key_is_still_evaluated(standin, factory):
    key_id = new_key(factory, policy(stmt("*", "kms:*", Sid="Everyone")))
    factory.client("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    handler(scheduled(standin), CTX)
    compliance, note = results(factory)[key_id]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        "Unsafe key policy: Everyone: '*' principal without a fixed org/account/service "
        "condition + kms:* to '*'."
    )


def test_aws_managed_key_is_not_applicable(standin, factory, kms_calls):
    key_id = factory.client("kms").describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"]
    kms_calls.calls.clear()
    handler(scheduled(standin), CTX)
    policy_reads = kms_calls.calls.count("GetKeyPolicy")
    assert results(factory)[key_id] == (
        "NOT_APPLICABLE",
        "AWS-managed key: AWS writes its key policy.",
    )
    assert policy_reads == len(listed_keys(factory)) - 1  # none for the AWS-managed key


def test_key_deleted_since_the_previous_run_is_not_applicable(standin, factory):
    keep = new_key(factory)
    gone = new_key(factory, policy(stmt({"AWS": APP_ROLE}, "kms:*", Sid="AppFullAccess")))
    handler(scheduled(standin, at="2026-11-21T00:00:12.345Z"), CTX)
    assert results(factory)[gone][0] == "NON_COMPLIANT"
    factory.client("kms").schedule_key_deletion(KeyId=gone, PendingWindowInDays=7)
    delete_key_now(gone)
    handler(scheduled(standin, at="2026-11-21T06:00:12.345Z"), CTX)
    found = results(factory)
    assert found[gone] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found[keep][0] == "COMPLIANT"


def test_key_deleted_between_listing_and_reading_gets_no_evaluation(standin, factory):
    keep = new_key(factory)
    gone = new_key(factory)
    kms = factory.client("kms")

    def delete_after_listing(**_: Any) -> None:
        delete_key_now(gone)

    kms.meta.events.register("after-call.kms.ListKeys", delete_after_listing)
    try:
        handler(scheduled(standin), CTX)
    finally:
        kms.meta.events.unregister("after-call.kms.ListKeys", delete_after_listing)
    found = results(factory)
    assert gone not in found
    assert found[keep][0] == "COMPLIANT"


def test_access_denied_on_get_key_policy_fails_visibly_and_stores_nothing(standin, factory):
    new_key(factory)
    with (
        inject_error(factory.client("kms"), "GetKeyPolicy", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetKeyPolicy"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


def test_list_keys_throttled_fails_visibly_and_stores_nothing(standin, factory):
    with (
        inject_error(factory.client("kms"), "ListKeys", "ThrottlingException", 400),
        pytest.raises(EvaluationError, match="ThrottlingException from ListKeys"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------- pure functions

ORG = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
ADMINS = (ROOT, ADMIN_ROLE, f"arn:aws:iam::{ACCOUNT}:role/break-glass-*")

POLICY_CASES: list[tuple[str, dict[str, Any], tuple[str, ...], list[str]]] = [
    ("root full access", ROOT_STATEMENT, (), []),
    ("bare account id is the root", stmt(ACCOUNT, "kms:*"), (), []),
    ("'*' string principal", stmt("*"), (), ["public"]),
    ("AWS '*' with fixed org id", stmt({"AWS": "*"}, Condition=ORG), (), []),
    (
        "org id wildcard",
        stmt({"AWS": "*"}, Condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
        (),
        ["public"],
    ),
    (
        "fixed kms:CallerAccount",
        stmt("*", Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}}),
        (),
        [],
    ),
    (
        "fixed kms:ViaService, key case-insensitive",
        stmt("*", Condition={"StringEquals": {"KMS:ViaService": "s3.us-east-1.amazonaws.com"}}),
        (),
        [],
    ),
    (
        "fixed aws:SourceAccount",
        stmt("*", Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        (),
        [],
    ),
    (
        "IfExists does not restrict",
        stmt("*", Condition={"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}),
        (),
        ["public"],
    ),
    (
        "policy variable is not fixed",
        stmt("*", Condition={"StringEquals": {"kms:CallerAccount": "${aws:PrincipalAccount}"}}),
        (),
        ["public"],
    ),
    (
        "unrelated condition key",
        stmt("*", Condition={"Bool": {"aws:SecureTransport": "true"}}),
        (),
        ["public"],
    ),
    (
        "ForAnyValue restricts",
        stmt("*", Condition={"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3"}}),
        (),
        [],
    ),
    (
        "ForAllValues does not restrict",
        stmt("*", Condition={"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3"}}),
        (),
        ["public"],
    ),
    ("'*' among other principals", stmt({"AWS": [APP_ROLE, "*"]}), (), ["public"]),
    ("Deny is never a grant", {**stmt("*", "kms:*"), "Effect": "Deny"}, (), []),
    ("NotPrincipal Allow", {**ROOT_STATEMENT, "NotPrincipal": {"AWS": APP_ROLE}}, (), ["public"]),
    ("kms:* to a role", stmt({"AWS": APP_ROLE}, "kms:*"), (), ["broad"]),
    ("'*' action to a role", stmt({"AWS": APP_ROLE}, ["kms:Decrypt", "*"]), (), ["broad"]),
    ("action case-insensitive", stmt({"AWS": APP_ROLE}, "KMS:*"), (), ["broad"]),
    (
        "another account's root",
        stmt({"AWS": "arn:aws:iam::111122223333:root"}, "kms:*"),
        (),
        ["broad"],
    ),
    ("service principal", stmt({"Service": "logs.amazonaws.com"}, "kms:*"), (), ["broad"]),
    ("org-scoped kms:* for '*'", stmt({"AWS": "*"}, "kms:*", Condition=ORG), (), ["broad"]),
    (
        "NotAction to a role",
        {
            **ROOT_STATEMENT,
            "Action": None,
            "NotAction": "kms:Decrypt",
            "Principal": {"AWS": APP_ROLE},
        },
        (),
        ["broad"],
    ),
    ("narrow grant to a role", stmt({"AWS": APP_ROLE}, ["kms:Decrypt", "kms:Encrypt"]), (), []),
    (
        "admin action to a non-admin",
        stmt({"AWS": APP_ROLE}, "kms:ScheduleKeyDeletion"),
        ADMINS,
        ["admin"],
    ),
    ("wildcard admin action", stmt({"AWS": APP_ROLE}, "kms:Schedule*"), ADMINS, ["admin"]),
    (
        "'kms:*Policy' covers PutKeyPolicy",
        stmt({"AWS": APP_ROLE}, "kms:*Policy"),
        ADMINS,
        ["admin"],
    ),
    ("kms:* to a listed admin", stmt({"AWS": ADMIN_ROLE}, "kms:*"), ADMINS, ["broad"]),
    (
        "fnmatch admin pattern",
        stmt({"AWS": f"arn:aws:iam::{ACCOUNT}:role/break-glass-7"}, "kms:DisableKey"),
        ADMINS,
        [],
    ),
    (
        "admin match ignores case",
        stmt({"AWS": ADMIN_ROLE.upper().replace("ARN:AWS:IAM", "arn:aws:iam")}, "kms:PutKeyPolicy"),
        ADMINS,
        [],
    ),
    ("root not listed", ROOT_STATEMENT, (ADMIN_ROLE,), ["admin"]),
    ("root listed, bare account id", stmt(ACCOUNT, "kms:*"), ADMINS, []),
    ("admins and a narrow grant", stmt({"AWS": APP_ROLE}, "kms:Decrypt"), ADMINS, []),
    (
        "org-scoped '*' may not administer",
        stmt({"AWS": "*"}, "kms:PutKeyPolicy", Condition=ORG),
        ADMINS,
        ["admin"],
    ),
    (
        "NotAction grants admin actions",
        {**stmt({"AWS": APP_ROLE}), "Action": None, "NotAction": ["kms:Decrypt"]},
        ADMINS,
        ["broad", "admin"],
    ),
    (
        "NotAction excluding admin actions",
        {
            **stmt({"AWS": APP_ROLE}),
            "Action": None,
            "NotAction": ["kms:Schedule*", "kms:DisableKey", "kms:PutKeyPolicy"],
        },
        ADMINS,
        ["broad"],
    ),
    (
        "no admins: admin actions unchecked",
        stmt({"AWS": APP_ROLE}, "kms:ScheduleKeyDeletion"),
        (),
        [],
    ),
]


@pytest.mark.parametrize(
    ("statement", "admins", "kinds"),
    [case[1:] for case in POLICY_CASES],
    ids=[case[0] for case in POLICY_CASES],
)
def test_policy_semantics(statement, admins, kinds):
    clean = {k: v for k, v in statement.items() if v is not None}
    found = module.findings({"Statement": [clean]}, ACCOUNT, admins)
    assert [f.kind for f in found] == kinds


def test_findings_name_sids_or_statement_numbers():
    document = {
        "Statement": [
            ROOT_STATEMENT,
            stmt("*"),
            stmt({"AWS": APP_ROLE}, "kms:*", Sid="AppAll"),
        ]
    }
    found = module.findings(document, ACCOUNT)
    assert [(f.label, f.kind) for f in found] == [("statement #2", "public"), ("AppAll", "broad")]


def test_policy_as_json_text_and_single_statement_object():
    text = json.dumps({"Statement": stmt({"AWS": APP_ROLE}, "kms:*", Sid="One")})
    assert [f.label for f in module.findings(text, ACCOUNT)] == ["One"]
    assert module.findings({"Statement": []}, ACCOUNT) == []


def test_many_findings_stay_within_256_and_keep_the_sids():
    statements = [
        stmt(
            {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/team-{i:02d}-{'x' * 30}" for i in range(6)]},
            "kms:*",
            Sid=f"TeamAccessStatementNumber{i:02d}",
        )
        for i in range(10)
    ]
    statements.append(stmt("*", Sid="Open"))
    verdict = module.judge({"Statement": statements}, ACCOUNT, ADMINS[1:])
    note = verdict.annotation
    assert len(note) <= ANNOTATION_LIMIT
    assert note.startswith(
        "Unsafe key policy: Open: '*' principal without a fixed org/account/service condition; "
        "TeamAccessStatementNumber00: kms:* to role/team-00"
    )
    assert "more" in note and note.endswith("Fix: kms:PutKeyPolicy with narrower grants.")


def test_principal_labels():
    assert module.principal_label(APP_ROLE, ACCOUNT) == "role/app"
    assert module.principal_label(ROOT, ACCOUNT) == "root"
    assert module.principal_label("arn:aws:iam::111122223333:root", ACCOUNT) == "111122223333:root"
    assert module.principal_label("logs.amazonaws.com", ACCOUNT) == "logs.amazonaws.com"
    assert module.principal_label(" * ", ACCOUNT) == "'*'"


def test_root_forms():
    assert module.is_root(ROOT, ACCOUNT)
    assert module.is_root(ACCOUNT, ACCOUNT)
    assert module.is_root(f"arn:aws-us-gov:iam::{ACCOUNT}:root", ACCOUNT)
    assert not module.is_root(f"arn:aws:iam::{ACCOUNT}:user/root", ACCOUNT)
    assert not module.is_root("arn:aws:iam::111122223333:root", ACCOUNT)
    assert not module.is_root("*", ACCOUNT)
