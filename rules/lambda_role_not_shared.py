"""lambda-role-not-shared: each Lambda function has its own execution role.

Periodic. A role used by several functions grants each of them the union of what all
of them need, so every function whose role is also used by another function is
NON_COMPLIANT; roles listed in AllowedSharedRoles (names or ARNs) are exempt. Functions
evaluated before but gone now are reported NOT_APPLICABLE by the rule base.

Data: lambda:ListFunctions (all pages, once per run); each function's `Role`.

Scenarios:
  Given functions that each have their own role,
    When the periodic run evaluates, Then each is COMPLIANT.
  Given two functions sharing one role,
    When the periodic run evaluates,
    Then both are NON_COMPLIANT "Role <name> is shared by 2 functions."
  Given a shared role listed in AllowedSharedRoles,
    When the periodic run evaluates, Then its functions are COMPLIANT with a note.
  Given a function evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given ListFunctions is throttled,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rdklib import Evaluation

from configguard.iampolicy import compact_join, listed, role_name
from configguard.parameters import LambdaRoleNotSharedParameters
from configguard.registry import LAMBDA, RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

_FIX = " Fix: give each function its own role, or list the role in AllowedSharedRoles."


def verdicts(
    functions: list[dict[str, Any]], allowed_shared_roles: Iterable[str] = ()
) -> list[tuple[str, Verdict]]:
    """(function name, verdict) for every listed function (ListFunctions items)."""
    allowed = tuple(allowed_shared_roles)
    users: dict[str, list[str]] = {}
    for function in functions:
        role = str(function.get("Role") or "")
        if role:
            users.setdefault(role.lower(), []).append(str(function["FunctionName"]))
    out: list[tuple[str, Verdict]] = []
    for function in functions:
        name = str(function["FunctionName"])
        role = str(function.get("Role") or "")
        if not role:
            out.append((name, Verdict.not_applicable("The function has no execution role.")))
            continue
        sharing = users[role.lower()]
        label = role_name(role)
        if len(sharing) == 1:
            out.append((name, Verdict.compliant(f"Role {label} is used by this function only.")))
        elif listed(allowed, role, role_name(role)):
            out.append(
                (
                    name,
                    Verdict.compliant(
                        f"Role {label} is shared by {len(sharing)} functions; "
                        "allowed by AllowedSharedRoles."
                    ),
                )
            )
        else:
            head = f"Role {label} is shared by {len(sharing)} functions (also: "
            others = [other for other in sharing if other != name]
            budget = ANNOTATION_LIMIT - len(head) - len(")." + _FIX)
            out.append(
                (name, Verdict.non_compliant(head + compact_join(others, budget) + ")." + _FIX))
            )
    return out


class LambdaRoleNotShared(GuardRule):
    spec = RULES["lambda-role-not-shared"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: LambdaRoleNotSharedParameters,
    ) -> list[Evaluation]:
        functions = client_factory.reads.functions()
        found = verdicts(functions, valid_rule_parameters.allowed_shared_roles)
        return [evaluation(verdict, name, LAMBDA) for name, verdict in found]


lambda_handler = rule_handler(LambdaRoleNotShared)
