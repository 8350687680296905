"""lambda-public-access-prohibited: function resource policies grant no public access.

Security Hub control Lambda.1. What counts as public is decided by
`configguard.iampolicy.public_grant` (see its module docstring): a '*' principal without
a fixed source/org condition, a service principal without aws:SourceAccount /
aws:SourceArn (S3: aws:SourceAccount), a function URL with auth type NONE.

Data: lambda:GetPolicy (the unqualified function's resource policy); lambda:GetFunction
only when there is no policy, to tell "no policy" from "function gone".

Scenarios:
  Given a function without a resource-based policy,
    When evaluated, Then COMPLIANT "No resource-based policy."
  Given a grant to one other account, When evaluated, Then COMPLIANT.
  Given a '*' principal with a fixed aws:SourceAccount, When evaluated, Then COMPLIANT.
  Given a '*' principal without condition,
    When evaluated, Then NON_COMPLIANT naming the statement Sid.
  Given s3.amazonaws.com with only aws:SourceArn, When evaluated, Then NON_COMPLIANT.
  Given s3.amazonaws.com with aws:SourceAccount, When evaluated, Then COMPLIANT.
  Given sns.amazonaws.com with a fixed aws:SourceArn, When evaluated, Then COMPLIANT.
  Given a function URL grant with auth type NONE,
    When evaluated, Then NON_COMPLIANT "function URL with auth type NONE".
  Given a '*' principal whose aws:SourceArn condition is a wildcard,
    When evaluated, Then NON_COMPLIANT.
  Given AccessDenied on GetPolicy, When invoked, Then it fails visibly and reports nothing.
  Given a CI for a function that has since been deleted,
    When evaluated, Then NOT_APPLICABLE "The function no longer exists."
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.iampolicy import compact_join, public_statements, statements
from configguard.parameters import LambdaPublicAccessProhibitedParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

_PREFIX = "Public access via "
_FIX = (
    ". Fix: name principals or add fixed aws:SourceAccount/SourceArn/PrincipalOrgID; "
    "function URLs: AuthType AWS_IAM."
)


def verdict_for_policy(document: dict[str, Any] | None) -> Verdict:
    """The verdict for one resource policy document (None: the function has none)."""
    if document is None:
        return Verdict.compliant("No resource-based policy.")
    found = public_statements(document)
    if not found:
        count = len(statements(document))
        return Verdict.compliant(f"No public grant in {count} resource-policy statement(s).")
    items = [f"{label} ({reason})" for label, reason in found]
    budget = ANNOTATION_LIMIT - len(_PREFIX) - len(_FIX)
    return Verdict.non_compliant(_PREFIX + compact_join(items, budget) + _FIX)


def evaluate(function_name: str, reads: Reads) -> Verdict:
    """Read the function's policy and judge it."""
    document = reads.function_policy(function_name)
    if document is None and not reads.function_exists(function_name):
        return Verdict.not_applicable("The function no longer exists.")
    return verdict_for_policy(document)


class LambdaPublicAccessProhibited(GuardRule):
    spec = RULES["lambda-public-access-prohibited"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaPublicAccessProhibitedParameters,
    ) -> list[Evaluation]:
        name = str(configuration_item["resourceId"])
        return [evaluation(evaluate(name, client_factory.reads))]


lambda_handler = rule_handler(LambdaPublicAccessProhibited)
