"""Pure helpers to analyse IAM policy documents: resource policies and identity policies.

No AWS calls. Used by the Lambda public-access and least-privilege rules, and meant
for reuse by a KMS key-policy rule and a "remove only the offending statements" fix.

Conventions (IAM semantics, as AWS documents them):
- condition operators and condition keys are case-insensitive (AWS writes
  "AWS:SourceArn"), so both are compared in lower case; actions likewise;
- only `*` and `?` are wildcards; `${...}` is a policy variable.

Public-access decisions (`public_grant`):
- Deny statements never grant. `NotPrincipal` in an Allow statement is public (it
  allows everyone not listed).
- A `*` principal (`"*"`, `{"AWS": "*"}`, a list holding `"*"`, any principal kind)
  is public unless a *restricting* operator pins one of ACCOUNT_SCOPE_KEYS
  (aws:SourceAccount, aws:SourceArn, aws:PrincipalOrgID, aws:SourceOwner, and also
  aws:PrincipalAccount, aws:SourceOrgID) to fixed values.
- Restricting operators: StringEquals, StringEqualsIgnoreCase, StringLike, ArnEquals,
  ArnLike and their `ForAnyValue:` forms (for a single-valued key ForAnyValue is false
  when the key is absent, so it restricts like the plain operator). Not restricting:
  `...IfExists` (true when the key is absent), `ForAllValues:` (true when the key is
  absent), negated operators, Null/Bool and the rest.
- A value is fixed when it holds no policy variable and no wildcard (even under
  StringEquals, where `*` is literal: a conservative reading). For aws:SourceArn
  only the account field matters: the ARN must carry a literal 12-digit account id
  (wildcards elsewhere, as in API Gateway's `arn:...:execute-api:...:<acct>:api/*/GET/`,
  stay scoped to that account). An S3 bucket ARN carries no account id, so it never
  counts: anyone can re-create a deleted bucket name.
- A service principal needs a fixed aws:SourceAccount, aws:SourceArn (with account),
  aws:SourceOwner or aws:SourceOrgID; `s3.amazonaws.com` needs aws:SourceAccount
  (or aws:SourceOrgID).
- A function-URL statement (lambda:InvokeFunctionUrl with lambda:FunctionUrlAuthType
  NONE) with a `*` principal is public whatever else it says.
- A `*` principal on a function URL with auth type AWS_IAM is still public: any IAM
  identity of any AWS account whose own policies allow it may invoke the URL.
- A principal naming one account (`"111122223333"`, an account or role ARN) is not public.

Least-privilege decisions (`over_privileged`, identity policies):
- Action "*" / "*:*" is over-broad on any resource; the other checks need "all
  resources": "*", a NotResource Allow, or an ARN naming every resource (of a type)
  of a service (`arn:aws:s3:::*`, `arn:aws:iam::*:role/*`).
- On all resources: any NotAction Allow; a `service:*` whose service matches one of
  SENSITIVE_SERVICES (`s*:*` counts); any entry covering iam:PassRole (iam:Pass*, iam:*).
- Narrower wildcards (`s3:Get*`) are not judged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Statement = dict[str, Any]

ACCOUNT_ID = re.compile(r"\d{12}")
RESTRICTING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)
SOURCE_ACCOUNT = "aws:sourceaccount"
SOURCE_ARN = "aws:sourcearn"
SOURCE_OWNER = "aws:sourceowner"
SOURCE_ORG_ID = "aws:sourceorgid"
ACCOUNT_SCOPE_KEYS = frozenset(
    {
        SOURCE_ACCOUNT,
        SOURCE_ARN,
        "aws:principalorgid",
        SOURCE_OWNER,
        "aws:principalaccount",
        SOURCE_ORG_ID,
    }
)
SERVICE_SCOPE_KEYS = frozenset({SOURCE_ACCOUNT, SOURCE_ARN, SOURCE_OWNER, SOURCE_ORG_ID})
S3_SCOPE_KEYS = frozenset({SOURCE_ACCOUNT, SOURCE_ORG_ID})
FUNCTION_URL_AUTH_TYPE = "lambda:functionurlauthtype"
INVOKE_FUNCTION_URL = "lambda:InvokeFunctionUrl"

FUNCTION_URL_NONE = "function URL with auth type NONE"

# Least privilege (identity policies).
SENSITIVE_SERVICES = ("iam", "kms", "secretsmanager", "s3", "dynamodb", "lambda", "sts")
ADMIN_POLICY_NAMES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
_AWS_MANAGED_ARN = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/(?:[^/]+/)*(?P<name>[^/]+)")
_ALL_OF_TYPE = re.compile(r"(?:[A-Za-z0-9_.-]+[/:])?\*(?:/\*)?")


# ------------------------------------------------------------------ documents


def as_list(value: Any) -> list[Any]:
    """IAM's "one or many": None → [], a list/tuple → a list, anything else → [value]."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def statements(document: Mapping[str, Any] | str | None) -> list[Statement]:
    """The statements of a policy document (a dict, or its JSON text); [] when none."""
    if document is None:
        return []
    if isinstance(document, str):
        if not document.strip():
            return []
        loaded = json.loads(document)
        if not isinstance(loaded, dict):
            raise ValueError("policy document is not a JSON object")
        document = loaded
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def sid(statement: Mapping[str, Any], index: int) -> str:
    """A label for annotations: the Sid, or "statement #n" (n = index + 1)."""
    value = statement.get("Sid")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return f"statement #{index + 1}"


def is_allow(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "")).strip().lower() == "allow"


def conditions(statement: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """{operator: {key: [values]}}, operators and keys lower-cased, values as strings.

    Operators or keys repeated in different case are merged.
    """
    raw = statement.get("Condition")
    out: dict[str, dict[str, list[str]]] = {}
    if not isinstance(raw, Mapping):
        return out
    for operator, block in raw.items():
        if not isinstance(block, Mapping):
            continue
        keys = out.setdefault(str(operator).lower(), {})
        for key, values in block.items():
            keys.setdefault(str(key).lower(), []).extend(str(v) for v in as_list(values))
    return out


def is_restricting(operator: str) -> bool:
    """Whether an operator only matches when the key is present and equal/like the values."""
    # "ForAllValues:..." and "...IfExists" forms are not in the set, so they never restrict.
    return operator.lower().removeprefix("foranyvalue:") in RESTRICTING_OPERATORS


def has_variable(value: str) -> bool:
    return "${" in value


def has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def arn_account(value: str) -> str | None:
    """The account field of an ARN, or None if the value is not an ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[4]


def is_fixed(key: str, value: str) -> bool:
    """Whether one condition value pins `key` (see the module docstring)."""
    if not value or has_variable(value):
        return False
    if key.lower() == SOURCE_ARN:
        account = arn_account(value)
        return account is not None and ACCOUNT_ID.fullmatch(account) is not None
    return not has_wildcard(value)


def fixed_keys(statement: Mapping[str, Any]) -> frozenset[str]:
    """Condition keys (lower case) that a restricting operator pins to fixed values only."""
    found: set[str] = set()
    for operator, block in conditions(statement).items():
        if not is_restricting(operator):
            continue
        for key, values in block.items():
            if values and all(is_fixed(key, v) for v in values):
                found.add(key)
    return frozenset(found)


def restricted_keys(statement: Mapping[str, Any]) -> frozenset[str]:
    """Condition keys (lower case) under a restricting operator, fixed or not."""
    return frozenset(
        key
        for operator, block in conditions(statement).items()
        if is_restricting(operator)
        for key in block
    )


# ------------------------------------------------------------------- matching


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern.lower()
    )
    return re.compile(body, re.DOTALL)


def matches(pattern: str, value: str) -> bool:
    """IAM wildcard match (`*`, `?`), case-insensitive; `value` is taken literally."""
    return _wildcard_regex(pattern).fullmatch(value.lower()) is not None


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def grants_action(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Action entry covers `action` (NotAction statements: unless it is excluded)."""
    if "NotAction" in statement:
        return not any(matches(str(a), action) for a in as_list(statement.get("NotAction")))
    return any(matches(pattern, action) for pattern in actions(statement))


# ------------------------------------------------------------- public access


def principals(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) pairs, kind lower-cased ("aws", "service", ...); a bare string is "aws"."""
    raw = statement.get("Principal")
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [("aws", str(v)) for v in as_list(raw)]
    return [(str(kind).lower(), str(v)) for kind, values in raw.items() for v in as_list(values)]


def function_url_auth_types(statement: Mapping[str, Any]) -> set[str]:
    """Upper-cased lambda:FunctionUrlAuthType values the statement requires."""
    found: set[str] = set()
    for operator, block in conditions(statement).items():
        base = operator.removeprefix("foranyvalue:").removesuffix("ifexists")
        if base in RESTRICTING_OPERATORS:
            found.update(v.upper() for v in block.get(FUNCTION_URL_AUTH_TYPE, []))
    return found


def is_function_url_none(statement: Mapping[str, Any]) -> bool:
    """A function-URL grant with auth type NONE."""
    return grants_action(statement, INVOKE_FUNCTION_URL) and "NONE" in function_url_auth_types(
        statement
    )


def _service_reason(service: str, keys: frozenset[str], mentioned: frozenset[str]) -> str | None:
    is_s3 = service.lower().split(".", 1)[0] == "s3"
    needed = S3_SCOPE_KEYS if is_s3 else SERVICE_SCOPE_KEYS
    if keys & needed:
        return None
    if mentioned & needed:
        return f"{service} with a wildcard, variable or account-less source condition"
    if is_s3:
        return f"{service} without aws:SourceAccount"
    return f"{service} without aws:SourceAccount or aws:SourceArn"


def _wildcard_reason(keys: frozenset[str], mentioned: frozenset[str]) -> str | None:
    if keys & ACCOUNT_SCOPE_KEYS:
        return None
    if mentioned & ACCOUNT_SCOPE_KEYS:
        return "'*' principal, condition uses a wildcard or policy variable"
    return "'*' principal without a fixed source/org condition"


def public_grant(statement: Mapping[str, Any]) -> str | None:
    """Why an Allow statement grants public access, or None (rules in the module docstring)."""
    if not is_allow(statement):
        return None
    if "NotPrincipal" in statement:
        return "NotPrincipal in an Allow statement"
    found = principals(statement)
    keys, mentioned = fixed_keys(statement), restricted_keys(statement)
    reasons: list[str | None] = []
    if any(value.strip() == "*" for _, value in found):
        if is_function_url_none(statement):
            return FUNCTION_URL_NONE
        reasons.append(_wildcard_reason(keys, mentioned))
    reasons.extend(
        _service_reason(value.strip(), keys, mentioned)
        for kind, value in found
        if kind == "service" and value.strip() != "*"
    )
    return next((reason for reason in reasons if reason), None)


def public_statements(document: Mapping[str, Any] | str | None) -> list[tuple[str, str]]:
    """(label, reason) for every statement of a resource policy that grants public access."""
    found: list[tuple[str, str]] = []
    for index, statement in enumerate(statements(document)):
        reason = public_grant(statement)
        if reason:
            found.append((sid(statement, index), reason))
    return found


# ----------------------------------------------------------- least privilege


def role_name(role_arn: str) -> str:
    """A role's name: the last segment of its ARN's path."""
    return role_arn.rsplit("/", 1)[-1]


def listed(allowed: Iterable[str], *identities: str | None) -> bool:
    """Whether any identity (a name or an ARN) is in an allowlist, ignoring case."""
    wanted = {item.strip().lower() for item in allowed if item.strip()}
    return any(identity and identity.lower() in wanted for identity in identities)


def aws_managed_name(arn: str | None) -> str | None:
    """The name of an AWS managed policy ARN (`arn:aws*:iam::aws:policy/...`), else None."""
    if not arn:
        return None
    match = _AWS_MANAGED_ARN.fullmatch(arn)
    return match.group("name") if match else None


def admin_policy(arn: str | None) -> str | None:
    """AdministratorAccess / PowerUserAccess / IAMFullAccess when `arn` is that AWS policy."""
    name = aws_managed_name(arn)
    return name if name in ADMIN_POLICY_NAMES else None


def covers_all_resources(resource: str) -> bool:
    """`*`, or an ARN naming every resource (of a type) of a service.

    E.g. `arn:aws:s3:::*`, `arn:aws:s3:::*/*`, `arn:aws:iam::*:role/*`,
    `arn:aws:dynamodb:*:*:table/*`. S3 ARNs have no type prefix, so
    `arn:aws:s3:::bucket/*` names one bucket and does not count.
    """
    value = resource.strip()
    if value == "*":
        return True
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return False
    service, rest = parts[2], parts[5]
    if service.lower() == "s3":
        return rest in ("*", "*/*")
    return _ALL_OF_TYPE.fullmatch(rest) is not None


def applies_to_all_resources(statement: Mapping[str, Any]) -> bool:
    """Resource holds an all-covering entry; an Allow with NotResource counts as all."""
    if "NotResource" in statement:
        return True
    return any(covers_all_resources(str(r)) for r in as_list(statement.get("Resource")))


def is_exempt(action: str, exempt_actions: Iterable[str]) -> bool:
    """An action entry is exempt when an exemption pattern covers its literal text.

    "s3:*" exempts "s3:*" and "s3:GetObject"; "iam:PassRole" does not exempt "iam:Pass*".
    """
    return any(matches(pattern, action) for pattern in exempt_actions)


def over_privileged(
    statement: Mapping[str, Any],
    exempt_actions: Sequence[str] = (),
    sensitive_services: Sequence[str] = SENSITIVE_SERVICES,
) -> str | None:
    """Why an identity-policy Allow statement is over-broad, or None.

    In order: Action "*" / "*:*" (any resource); NotAction on all resources;
    a sensitive `service:*` on all resources; iam:PassRole (or a wildcard covering it)
    on all resources. Action entries covered by `exempt_actions` are skipped.
    """
    if not is_allow(statement):
        return None
    entries = [a.strip() for a in actions(statement) if not is_exempt(a.strip(), exempt_actions)]
    if any(a in ("*", "*:*") for a in entries):
        return "Action '*'"
    if not applies_to_all_resources(statement):
        return None
    if "NotAction" in statement:
        return "NotAction on '*'"
    return _all_resources_reason(entries, sensitive_services)


def _all_resources_reason(entries: list[str], sensitive_services: Sequence[str]) -> str | None:
    """The over-broad action entry of a statement that applies to all resources."""
    for action in entries:
        service, _, name = action.partition(":")
        if name == "*" and any(matches(service, s) for s in sensitive_services):
            return f"{action} on '*'"
    if any(matches(action, "iam:PassRole") for action in entries):
        return "iam:PassRole on '*'"
    return None


# ---------------------------------------------------------------- annotations


def compact_join(items: Sequence[str], budget: int, separator: str = ", ") -> str:
    """As many items as fit in `budget` characters, then "+N more" for the rest."""
    total = len(items)
    for shown in range(total, -1, -1):
        text = separator.join(items[:shown])
        if shown < total:
            text = f"{text} +{total - shown} more" if text else f"{total} items"
        if len(text) <= budget:
            return text
    return f"{total} items"[: max(budget, 0)]
