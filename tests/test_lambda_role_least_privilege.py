"""Scenarios of rules/lambda_role_least_privilege.py, against the stand-in.

The stand-in is reset once for this module (see the `standin` and `factory` overrides):
every test creates functions and roles under its own names and reads back only their
results.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from typing import Any

import pytest
from conftest import (
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.reads import NamedPolicy, Reads
from configguard.rulebase import EvaluationError, RuleClients
from configguard_cli.handlers import rule_module
from configguard_cli.local import seed

RULE = "lambda-role-least-privilege"
TYPE = "AWS::Lambda::Function"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")

LOGS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/*",
        }
    ],
}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(sid: str, action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def standin(module_standin):
    """One reset for the whole module instead of one per test."""
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def function_with_role(
    factory,
    name: str,
    *,
    inline: dict[str, dict[str, Any]] | None = None,
    managed: tuple[str, ...] = (),
    role: str | None = None,
    path: str = "/",
) -> str:
    """A function whose role (default "<name>-role") has the given policies; the role ARN."""
    iam = factory.client("iam")
    role = role or f"{name}-role"
    try:
        role_arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(
            RoleName=role,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(seed.LAMBDA_TRUST_POLICY),
        )["Role"]["Arn"]
    for policy_name, document in (inline or {}).items():
        iam.put_role_policy(
            RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document)
        )
    for arn in managed:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    lam = factory.client("lambda")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=name)
    seed.create_function(lam, name, role_arn)
    return str(role_arn)


def evaluate(standin, factory, name: str, **kwargs: Any) -> tuple[str, str]:
    item = cibuilder.read(factory, TYPE, name)
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[name]


def test_logging_only_role_is_compliant(standin, factory):
    function_with_role(factory, "clean", inline={"logs": LOGS_ONLY})
    assert evaluate(standin, factory, "clean") == (
        "COMPLIANT",
        "Role clean-role: no over-broad grant in 1 policies.",
    )


def test_administrator_access_attached_is_noncompliant(standin, factory):
    function_with_role(factory, "admin", inline={"logs": LOGS_ONLY}, managed=(ADMIN,))
    compliance, note = evaluate(standin, factory, "admin")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        "Role admin-role is over-privileged: AdministratorAccess (AWS managed admin policy)."
    )


def test_power_user_and_iam_full_access_are_noncompliant(standin, factory):
    function_with_role(
        factory,
        "power",
        managed=(
            "arn:aws:iam::aws:policy/PowerUserAccess",
            "arn:aws:iam::aws:policy/IAMFullAccess",
        ),
    )
    compliance, note = evaluate(standin, factory, "power")
    assert compliance == "NON_COMPLIANT"
    assert "PowerUserAccess (AWS managed admin policy)" in note
    assert "IAMFullAccess (AWS managed admin policy)" in note


def test_customer_policy_named_like_an_admin_policy_is_judged_by_content(standin, factory):
    iam = factory.client("iam")
    arn = iam.create_policy(PolicyName="AdministratorAccess", PolicyDocument=json.dumps(LOGS_ONLY))[
        "Policy"
    ]["Arn"]
    function_with_role(factory, "lookalike", managed=(arn,))
    assert evaluate(standin, factory, "lookalike")[0] == "COMPLIANT"


def test_inline_action_star_is_noncompliant(standin, factory):
    function_with_role(factory, "star", inline={"everything": doc(allow("AllowAll", "*"))})
    compliance, note = evaluate(standin, factory, "star")
    assert compliance == "NON_COMPLIANT"
    assert "everything: AllowAll (Action '*')" in note


def test_inline_s3_star_on_star_is_noncompliant(standin, factory):
    function_with_role(
        factory,
        "s3all",
        inline={"data": doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})},
    )
    compliance, note = evaluate(standin, factory, "s3all")
    assert compliance == "NON_COMPLIANT"
    assert "data: statement #1 (s3:* on '*')" in note


def test_s3_star_on_one_bucket_is_compliant(standin, factory):
    bucket = ["arn:aws:s3:::orders-data", "arn:aws:s3:::orders-data/*"]
    function_with_role(factory, "s3one", inline={"data": doc(allow("Bucket", "s3:*", bucket))})
    assert evaluate(standin, factory, "s3one")[0] == "COMPLIANT"


def test_logs_star_on_star_is_compliant(standin, factory):
    function_with_role(factory, "logsall", inline={"logs": doc(allow("Logs", "logs:*"))})
    assert evaluate(standin, factory, "logsall")[0] == "COMPLIANT"


def test_pass_role_on_star_is_noncompliant(standin, factory):
    function_with_role(factory, "passer", inline={"deploy": doc(allow("Pass", "iam:PassRole"))})
    compliance, note = evaluate(standin, factory, "passer")
    assert compliance == "NON_COMPLIANT"
    assert "deploy: Pass (iam:PassRole on '*')" in note


def test_allowed_policy_is_exempt(standin, factory):
    function_with_role(
        factory,
        "exempt",
        inline={"break-glass": doc(allow("AllowAll", "*")), "logs": LOGS_ONLY},
        managed=(ADMIN,),
    )
    params = {"AllowedPolicies": f"break-glass,{ADMIN}"}
    assert evaluate(standin, factory, "exempt", rule_parameters=params)[0] == "COMPLIANT"
    assert evaluate(standin, factory, "exempt")[0] == "NON_COMPLIANT"


def test_allowed_action_is_exempt(standin, factory):
    function_with_role(factory, "s3ok", inline={"data": doc(allow("Data", "s3:*"))})
    params = {"AllowedActions": '["s3:*"]'}
    assert evaluate(standin, factory, "s3ok", rule_parameters=params)[0] == "COMPLIANT"


def test_allowed_role_is_exempt_without_iam_reads(standin, factory):
    arn = function_with_role(factory, "trusted", managed=(ADMIN,))
    item = cibuilder.read(factory, TYPE, "trusted")
    counter = CallCounter(factory.client("iam"))
    try:
        handler(change_event(standin, RULE, item, rule_parameters={"AllowedRoles": arn}), CTX)
    finally:
        counter.close()
    assert results(factory)["trusted"] == ("COMPLIANT", "Role trusted-role is in AllowedRoles.")
    assert counter.calls == []


def test_role_that_no_longer_exists_is_not_applicable(standin, factory):
    function_with_role(factory, "orphan", inline={"logs": LOGS_ONLY})
    iam = factory.client("iam")
    iam.delete_role_policy(RoleName="orphan-role", PolicyName="logs")
    iam.delete_role(RoleName="orphan-role")
    compliance, note = evaluate(standin, factory, "orphan")
    assert compliance == "NOT_APPLICABLE"
    assert note.startswith("Execution role orphan-role no longer exists")


@pytest.mark.parametrize(
    "operation", ["ListAttachedRolePolicies", "ListRolePolicies", "GetPolicyVersion"]
)
def test_iam_access_denied_fails_visibly_and_reports_nothing(standin, factory, operation):
    name = f"denied-{operation.lower()}"
    function_with_role(factory, name, inline={"logs": LOGS_ONLY}, managed=(ADMIN,))
    item = cibuilder.read(factory, TYPE, name)
    with (
        inject_error(factory.client("iam"), operation, "AccessDenied", 403) as seen,
        pytest.raises(EvaluationError, match=f"AccessDenied from {operation}"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert seen == [operation]
    assert name not in results(factory)


def test_shared_role_is_read_once_per_scan(standin, factory):
    inline = {"data": doc(allow("Data", "s3:*")), "logs": LOGS_ONLY}
    function_with_role(factory, "share-a", role="shared-role", inline=inline, managed=(ADMIN,))
    function_with_role(factory, "share-b", role="shared-role")
    reads = Reads(factory)
    clients = RuleClients(factory, reads)
    rule = module.LambdaRoleLeastPrivilege()
    params = rule.evaluate_parameters({})
    counter = CallCounter(factory.client("iam"))
    try:
        first = rule.evaluate_change(None, clients, cibuilder.read(reads, TYPE, "share-a"), params)
        after_first = list(counter.calls)
        second = rule.evaluate_change(None, clients, cibuilder.read(reads, TYPE, "share-b"), params)
    finally:
        counter.close()
    assert first[0].annotation == second[0].annotation
    assert first[0].complianceType == "NON_COMPLIANT"
    assert counter.calls == after_first  # the second function cost no IAM call
    assert Counter(counter.calls) == {
        "ListAttachedRolePolicies": 1,
        "ListRolePolicies": 1,
        "GetPolicy": 1,
        "GetPolicyVersion": 1,
        "GetRolePolicy": 2,
    }


def test_many_findings_are_summarised_within_256(standin, factory):
    statements = [allow(f"WideOpenStatementNumber{i}", "*") for i in range(10)]
    function_with_role(factory, "noisy", inline={"wide": doc(*statements)})
    compliance, note = evaluate(standin, factory, "noisy")
    assert compliance == "NON_COMPLIANT"
    assert len(note) <= 256
    assert "more" in note and "[...]" not in note
    assert note.endswith("AllowedPolicies/AllowedActions.")


def setup_orders_api(factory) -> None:
    """What the real-shaped events name: orders-api with role service-role/orders-api-role."""
    function_with_role(
        factory,
        "orders-api",
        role="orders-api-role",
        path="/service-role/",
        inline={"data-lake": doc(allow("DataLake", "s3:*")), "logs": LOGS_ONLY},
    )


def test_real_shaped_event_with_service_role_path_is_noncompliant(standin, factory):
    setup_orders_api(factory)
    event = load_event("lambda_role_least_privilege/change-service-role-path.json")
    handler(with_token(standin, event), CTX)
    compliance, note = results(factory)["orders-api"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("Role orders-api-role is over-privileged: data-lake: DataLake (s3:*")


def test_real_shaped_event_with_string_configuration_and_allowed_action(standin, factory):
    setup_orders_api(factory)
    event = load_event("lambda_role_least_privilege/change-configuration-as-string.json")
    handler(with_token(standin, event), CTX)
    assert results(factory)["orders-api"] == (
        "COMPLIANT",
        "Role orders-api-role: no over-broad grant in 2 policies.",
    )


def test_ci_without_role_reads_the_function(standin, factory):
    function_with_role(factory, "norole", inline={"x": doc(allow("Everything", "*"))})
    item = cibuilder.read(factory, TYPE, "norole")
    del item["configuration"]["role"]
    handler(change_event(standin, RULE, item), CTX)
    assert results(factory)["norole"][0] == "NON_COMPLIANT"


def test_resource_deleted_ci_is_not_applicable(standin, factory):
    event = load_event("lambda_role_least_privilege/change-deleted.json")
    handler(with_token(standin, event), CTX)
    assert results(factory)["orders-api"] == (
        "NOT_APPLICABLE",
        "Configuration item status is ResourceDeleted.",
    )


def test_verdict_for_role_pure():
    params = module.LambdaRoleLeastPrivilegeParameters()
    assert module.verdict_for_role("r", None, params).compliance == "NOT_APPLICABLE"
    policies = [NamedPolicy("AdministratorAccess", ADMIN, doc(allow("A", "*")))]
    verdict = module.verdict_for_role("r", policies, params)
    assert verdict.reason.count("AdministratorAccess") == 1  # named once, not per statement
    assert module.role_name("arn:aws:iam::1:role/service-role/x/y-role") == "y-role"
