"""kms-key-policy-safe: key policies grant nothing publicly and keep key administration narrow.

Periodic: Config's AWS::KMS::Key CI carries no key policy. Each customer-managed key
gets one evaluation (resource id = key id), pending-deletion keys included; AWS-managed
keys are NOT_APPLICABLE (AWS writes their policies). A key's policy is NON_COMPLIANT
when an Allow statement:
- has a `*` principal (`"*"`, `{"AWS": "*"}`) without a restricting condition
  (StringEquals/StringLike/...; not IfExists, not ForAllValues) that pins
  aws:PrincipalOrgID, aws:SourceAccount, kms:CallerAccount, kms:ViaService or
  aws:PrincipalAccount (the same as kms:CallerAccount) to fixed values: wildcards and
  policy variables do not count (configguard.iampolicy.is_fixed); or uses NotPrincipal;
- grants `kms:*` or `*` (or is a NotAction Allow, which grants all but a few actions)
  to any principal other than the key account's root (`arn:<partition>:iam::<acct>:root`
  or the bare account id);
- only with KeyAdminPrincipals (ARNs, fnmatch `*` wildcards, case-insensitive): lets a
  principal outside that list call kms:ScheduleKeyDeletion, kms:DisableKey or
  kms:PutKeyPolicy, via the action itself, a wildcard (`kms:*`, `kms:Schedule*`, `*`)
  or NotAction. The account root counts as an administrator only when listed: it
  delegates to every IAM identity whose own policy allows the action, so list
  `arn:aws:iam::<acct>:root` to accept that (a bare account id principal means the root).
Deny statements are not credited (a Deny may narrow a grant; the rule stays conservative).
The annotation names the statement Sids (or "statement #n") and the reasons, statements
open to everyone first, then "+N more" when 256 characters do not hold them all.
Keys deleted between the listing and the reads get no evaluation; keys evaluated by an
earlier run and gone now are reported NOT_APPLICABLE by the rule base.

Data: kms:ListKeys (all pages), then DescribeKey per key and GetKeyPolicy ("default")
per customer-managed key.

Scenarios:
  Given a customer-managed key with the default policy (kms:* for the account root),
    When the periodic run evaluates, Then it is COMPLIANT.
  Given a policy granting kms:Decrypt to '*' without a condition,
    When the periodic run evaluates, Then NON_COMPLIANT naming the statement Sid;
    with a fixed aws:PrincipalOrgID condition it is COMPLIANT, with `o-*` it is not.
  Given a policy granting kms:* to a role, When the periodic run evaluates,
    Then NON_COMPLIANT naming the Sid and the role.
  Given KeyAdminPrincipals and a non-admin role allowed kms:Schedule*,
    When the periodic run evaluates, Then NON_COMPLIANT; a listed admin role is COMPLIANT.
  Given KeyAdminPrincipals without the account root and the default policy,
    When the periodic run evaluates, Then NON_COMPLIANT: the root is an admin only if listed.
  Given a key pending deletion with an unsafe policy,
    When the periodic run evaluates, Then it is still NON_COMPLIANT.
  Given an AWS-managed key, When the periodic run evaluates, Then NOT_APPLICABLE.
  Given a key evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given a key deleted between the listing and the read of its policy,
    When the periodic run evaluates, Then it gets no evaluation and the others do.
  Given AccessDenied on GetKeyPolicy,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from rdklib import Evaluation

from configguard.iampolicy import (
    actions,
    compact_join,
    fixed_keys,
    grants_action,
    is_allow,
    principals,
    restricted_keys,
    sid,
    statements,
)
from configguard.parameters import KmsKeyPolicySafeParameters
from configguard.reads import Reads
from configguard.registry import KMS_KEY, RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

SCOPING_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:sourceaccount",
        "kms:calleraccount",
        "kms:viaservice",
        "aws:principalaccount",
    }
)
ADMIN_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy")
FULL_ACCESS = frozenset({"*", "kms:*"})
PUBLIC, BROAD, ADMIN = "public", "broad", "admin"
HINTS = {
    PUBLIC: "pin '*' grants with a fixed aws:PrincipalOrgID/kms:CallerAccount",
    BROAD: "keep kms:* for the account root",
    ADMIN: "limit admin actions to KeyAdminPrincipals (list the root to allow IAM)",
}
SHORT_FIX = ". Fix: kms:PutKeyPolicy with narrower grants."
_IAM_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<rest>.+)")
_LABELS_BUDGET = 60
_LABEL_LIMIT = 40
_ITEM_LIMIT = 110


@dataclass(frozen=True)
class Finding:
    """One reason a statement is unsafe."""

    label: str  # the Sid, or "statement #n"
    kind: str  # PUBLIC, BROAD or ADMIN
    reason: str


def is_root(principal: str, account: str) -> bool:
    """The key account's root: `arn:<partition>:iam::<acct>:root` or the bare account id."""
    value = principal.strip()
    if value == account:
        return True
    match = _IAM_ARN.fullmatch(value)
    return bool(match and match["account"] == account and match["rest"] == "root")


def principal_label(principal: str, account: str) -> str:
    """A short name: `role/Admin` in the key's account, `<acct>:role/x` elsewhere."""
    value = principal.strip()
    if value == "*":
        return "'*'"
    match = _IAM_ARN.fullmatch(value)
    if not match:
        return value
    return match["rest"] if match["account"] == account else f"{match['account']}:{match['rest']}"


def _cut(text: str, limit: int = _ITEM_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _labels(values: Iterable[str], account: str) -> str:
    names = list(dict.fromkeys(_cut(principal_label(v, account), _LABEL_LIMIT) for v in values))
    return compact_join(names, _LABELS_BUDGET)


def public_reason(statement: Mapping[str, Any]) -> str | None:
    """Why an Allow statement is open to everyone, or None."""
    if not is_allow(statement):
        return None
    if "NotPrincipal" in statement:
        return "NotPrincipal in an Allow (grants everyone not listed)"
    if not any(value.strip() == "*" for _, value in principals(statement)):
        return None
    if fixed_keys(statement) & SCOPING_KEYS:
        return None
    if restricted_keys(statement) & SCOPING_KEYS:
        return "'*' principal, org/account condition uses a wildcard or variable"
    return "'*' principal without a fixed org/account/service condition"


def broad_reason(statement: Mapping[str, Any], account: str) -> str | None:
    """Why an Allow statement gives full key access to someone besides the root, or None."""
    if not is_allow(statement) or "NotPrincipal" in statement:
        return None
    entries = {a.strip().lower() for a in actions(statement)}
    not_action = "NotAction" in statement
    if not not_action and not entries & FULL_ACCESS:
        return None
    others = [value for _, value in principals(statement) if not is_root(value, account)]
    if not others:
        return None
    what = "NotAction grant" if not_action else "kms:*"
    return f"{what} to {_labels(others, account)}"


def _as_arn(principal: str, partition: str) -> str:
    value = principal.strip()
    return f"arn:{partition}:iam::{value}:root" if re.fullmatch(r"\d{12}", value) else value


def is_admin(principal: str, admins: Sequence[str], partition: str = "aws") -> bool:
    """Whether a principal matches a KeyAdminPrincipals pattern (fnmatch, ignoring case)."""
    value = _as_arn(principal, partition).lower()
    return any(fnmatchcase(value, pattern.strip().lower()) for pattern in admins if pattern.strip())


def admin_reason(
    statement: Mapping[str, Any], account: str, admins: Sequence[str], partition: str = "aws"
) -> str | None:
    """Why an Allow statement lets a non-admin delete, disable or re-policy the key, or None."""
    if not admins or not is_allow(statement) or "NotPrincipal" in statement:
        return None
    granted = [a for a in ADMIN_ACTIONS if grants_action(statement, a)]
    if not granted:
        return None
    others = [value for _, value in principals(statement) if not is_admin(value, admins, partition)]
    if not others:
        return None
    names = "/".join(a.removeprefix("kms:") for a in granted)
    return f"{names} to non-admin {_labels(others, account)}"


def findings(
    document: Mapping[str, Any] | str | None,
    account: str,
    admins: Sequence[str] = (),
    partition: str = "aws",
) -> list[Finding]:
    """Every unsafe grant of a key policy, in statement order."""
    found: list[Finding] = []
    for index, statement in enumerate(statements(document)):
        label = sid(statement, index)
        checks = (
            (PUBLIC, public_reason(statement)),
            (BROAD, broad_reason(statement, account)),
            (ADMIN, admin_reason(statement, account, admins, partition)),
        )
        found.extend(Finding(label, kind, reason) for kind, reason in checks if reason)
    return found


def judge(
    document: Mapping[str, Any] | str | None,
    account: str,
    admins: Sequence[str] = (),
    partition: str = "aws",
) -> Verdict:
    """The verdict for one key policy."""
    found = findings(document, account, admins, partition)
    if not found:
        return Verdict.compliant(
            "The key policy grants nothing to '*' unscoped and kms:* only to the account root."
        )
    severity = {PUBLIC: 0, BROAD: 1, ADMIN: 2}
    by_statement: dict[str, list[Finding]] = {}
    for finding in found:
        by_statement.setdefault(finding.label, []).append(finding)
    # Statements open to everyone first: they matter most when the list is cut short.
    ordered = sorted(by_statement.items(), key=lambda pair: min(severity[f.kind] for f in pair[1]))
    items = [_cut(f"{label}: {' + '.join(f.reason for f in group)}") for label, group in ordered]
    kinds = [kind for kind in (PUBLIC, BROAD, ADMIN) if any(f.kind == kind for f in found)]
    head = "Unsafe key policy: "
    fix = ". Fix: " + "; ".join(HINTS[kind] for kind in kinds) + "."
    budget = ANNOTATION_LIMIT - len(head) - len(fix)
    if budget < _ITEM_LIMIT:  # room for the findings first, then the hints
        fix = SHORT_FIX
        budget = ANNOTATION_LIMIT - len(head) - len(fix)
    return Verdict.non_compliant(head + compact_join(items, budget, "; ") + fix)


def key_verdict(reads: Reads, key_id: str, params: KmsKeyPolicySafeParameters) -> Verdict | None:
    """The verdict for one key; None when the key vanished while it was read."""
    metadata = reads.key(key_id)
    if metadata is None:
        return None
    if metadata.get("KeyManager") == "AWS":
        return Verdict.not_applicable("AWS-managed key: AWS writes its key policy.")
    policy = reads.key_policy(key_id)
    if policy is None:
        return None
    arn_parts = str(metadata.get("Arn", "")).split(":")
    partition = arn_parts[1] if len(arn_parts) > 4 else "aws"
    account = str(metadata.get("AWSAccountId") or (arn_parts[4] if len(arn_parts) > 4 else ""))
    return judge(policy, account, params.key_admin_principals, partition)


class KmsKeyPolicySafe(GuardRule):
    spec = RULES["kms-key-policy-safe"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: KmsKeyPolicySafeParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        out: list[Evaluation] = []
        for listed in reads.kms_keys():
            key_id = str(listed["KeyId"])
            verdict = key_verdict(reads, key_id, valid_rule_parameters)
            if verdict is not None:
                out.append(evaluation(verdict, key_id, KMS_KEY))
        return out


lambda_handler = rule_handler(KmsKeyPolicySafe)
