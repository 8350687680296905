"""lambda-role-least-privilege: execution roles hold no administrator-level access.

NON_COMPLIANT when the function's execution role has AdministratorAccess,
PowerUserAccess or IAMFullAccess attached (the AWS managed policies), or any Allow
statement with Action '*', NotAction on all resources, a sensitive 'service:*'
(iam, kms, secretsmanager, s3, dynamodb, lambda, sts) on all resources, or
iam:PassRole on all resources (`configguard.iampolicy.over_privileged`).
A role that no longer exists is NOT_APPLICABLE: the function is broken, not
over-privileged. Exemptions: AllowedRoles and AllowedPolicies (names or ARNs),
AllowedActions (action entries that are not judged, e.g. "s3:*").

Data: `configuration.role` from the CI (lambda:GetFunction only when absent); the
role's attached managed policies (default versions) and inline policies, read through
the shared cache, so a scan reads each role and each managed policy once.

Scenarios:
  Given a role with only logging permissions, When evaluated, Then COMPLIANT.
  Given AdministratorAccess attached, When evaluated, Then NON_COMPLIANT naming it.
  Given an inline policy with Action '*', When evaluated, Then NON_COMPLIANT naming its Sid.
  Given an inline "s3:*" on "*", When evaluated, Then NON_COMPLIANT.
  Given "s3:*" on one bucket, When evaluated, Then COMPLIANT.
  Given "logs:*" on "*" (not a sensitive service), When evaluated, Then COMPLIANT.
  Given iam:PassRole on "*", When evaluated, Then NON_COMPLIANT.
  Given an over-broad policy listed in AllowedPolicies, When evaluated, Then COMPLIANT.
  Given the role listed in AllowedRoles, When evaluated, Then COMPLIANT without IAM reads.
  Given a role that no longer exists, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on an IAM read, When invoked, Then it fails visibly, reports nothing.
  Given two functions sharing one role in one scan, Then each IAM read happens once.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value
from configguard.iampolicy import (
    admin_policy,
    compact_join,
    listed,
    over_privileged,
    role_name,
    sid,
    statements,
)
from configguard.parameters import LambdaRoleLeastPrivilegeParameters
from configguard.reads import NamedPolicy, Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

_FIX = ". Fix: scope actions/resources, or exempt via AllowedPolicies/AllowedActions."


def role_arn_from_ci(configuration_item: dict[str, Any]) -> str | None:
    """`configuration.role` of a CI (tolerating a JSON-string configuration)."""
    role = ci_value(configuration_item, "configuration", "role")
    return str(role) if role is not MISSING and role else None


def findings(policies: list[NamedPolicy], params: LambdaRoleLeastPrivilegeParameters) -> list[str]:
    """One "<policy>: <statement> (<reason>)" entry per over-broad statement."""
    found: list[str] = []
    for policy in policies:
        if listed(params.allowed_policies, policy.name, policy.arn):
            continue
        admin = admin_policy(policy.arn)
        if admin:
            found.append(f"{admin} (AWS managed admin policy)")
            continue
        for index, statement in enumerate(statements(policy.document)):
            reason = over_privileged(statement, params.allowed_actions)
            if reason:
                found.append(f"{policy.name}: {sid(statement, index)} ({reason})")
    return found


def verdict_for_role(
    name: str, policies: list[NamedPolicy] | None, params: LambdaRoleLeastPrivilegeParameters
) -> Verdict:
    """The verdict for one role's policies (None: the role no longer exists)."""
    if policies is None:
        return Verdict.not_applicable(
            f"Execution role {name} no longer exists; the function cannot run until it is restored."
        )
    found = findings(policies, params)
    if not found:
        return Verdict.compliant(f"Role {name}: no over-broad grant in {len(policies)} policies.")
    prefix = f"Role {name} is over-privileged: "
    budget = ANNOTATION_LIMIT - len(prefix) - len(_FIX)
    return Verdict.non_compliant(prefix + compact_join(found, budget, "; ") + _FIX)


def evaluate(
    configuration_item: dict[str, Any], reads: Reads, params: LambdaRoleLeastPrivilegeParameters
) -> Verdict:
    """The verdict for one function's CI."""
    role_arn = role_arn_from_ci(configuration_item)
    if not role_arn:
        function = reads.function(str(configuration_item["resourceId"]))
        if function is None:
            return Verdict.not_applicable("The function no longer exists.")
        role_arn = str(function["Configuration"]["Role"])
    name = role_name(role_arn)
    if listed(params.allowed_roles, name, role_arn):
        return Verdict.compliant(f"Role {name} is in AllowedRoles.")
    return verdict_for_role(name, reads.role_policies(name), params)


class LambdaRoleLeastPrivilege(GuardRule):
    spec = RULES["lambda-role-least-privilege"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaRoleLeastPrivilegeParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, client_factory.reads, valid_rule_parameters)
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaRoleLeastPrivilege)
