"""kms-key-not-pending-deletion: customer-managed KMS keys are not scheduled for deletion.

A key in PendingDeletion (or PendingReplicaDeletion, a multi-Region primary waiting
for its replicas) is NON_COMPLIANT; the annotation carries the deletion date (ISO,
UTC) and the days left, and the fix (kms:CancelKeyDeletion, then kms:EnableKey: a
cancelled key comes back Disabled). Any other state is COMPLIANT (a disabled key is
not this rule's concern). AWS-managed keys are NOT_APPLICABLE.
With KmsKeyIds only the listed keys are watched, the others are NOT_APPLICABLE. Entries
may be key ids, key ARNs, alias names (`alias/app`) or alias ARNs. A CI carries no
aliases, so an alias entry is resolved with kms:DescribeKey (once per alias and
invocation, and only when no id or ARN entry matched); an alias ARN of another Region
or account is not resolved and matches nothing, as does an alias that does not exist;
`alias/aws/...` entries name AWS-managed keys and are never resolved.

Data: the CI's configuration (keyState, keyManager, deletionDate). kms:DescribeKey
only when the CI lacks keyState / keyManager, or the deletion date of a pending key,
and for alias entries of KmsKeyIds.

Scenarios:
  Given a customer-managed key that is Enabled,
    When evaluated, Then COMPLIANT and no KMS API call is made.
  Given a key scheduled for deletion in 7 days,
    When evaluated, Then NON_COMPLIANT "... deleted on <date> (7 days left) ..." with
    the kms:CancelKeyDeletion fix.
  Given a key in PendingReplicaDeletion, When evaluated, Then NON_COMPLIANT.
  Given KmsKeyIds naming another key, When evaluated, Then NOT_APPLICABLE;
    naming this key by id, ARN or alias, Then it is evaluated.
  Given an AWS-managed key, When evaluated, Then NOT_APPLICABLE.
  Given a CI without keyState for a key deleted since,
    When evaluated, Then NOT_APPLICABLE "The key no longer exists.".
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on DescribeKey when the CI lacks keyState,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_typed, ci_value
from configguard.parameters import KmsKeyNotPendingDeletionParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

PENDING_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
GONE = "The key no longer exists."
FIX = "Fix: kms:CancelKeyDeletion, then kms:EnableKey, if the key is still needed."
DAY_SECONDS = 86400


def _text(value: Any) -> str | None:
    return None if value is MISSING or value is None or value == "" else str(value)


def parse_date(value: Any) -> datetime | None:
    """A deletion date from a CI or DescribeKey: datetime, ISO text, or epoch (s or ms)."""
    if value is MISSING or value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None  # NaN, infinite or out of datetime's range: no usable date
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def days_left(deletion: datetime, now: datetime) -> int:
    """Whole days until deletion, rounded up (a key deleted in 6.9 days has 7 left), >= 0."""
    return max(0, math.ceil((deletion - now).total_seconds() / DAY_SECONDS))


def pending_verdict(state: str, deletion: datetime | None, now: datetime) -> Verdict:
    """NON_COMPLIANT for a key in a pending-deletion state, with its date and days left."""
    if deletion is None:
        when = "no deletion date is reported"
    else:
        left = days_left(deletion, now)
        when = (
            f"deleted on {deletion.astimezone(UTC).date().isoformat()} "
            f"({left} day{'s' if left != 1 else ''} left)"
        )
    return Verdict.non_compliant(f"The key is {state}: {when}. {FIX}")


def _alias_target(entry: str, key_arn: str | None, reads: Reads) -> str | None:
    """The key id an alias entry points to, resolved with DescribeKey; None if it cannot be."""
    if entry.startswith("arn:"):
        parts = entry.split(":", 5)
        key_parts = (key_arn or "").split(":", 5)
        if len(key_parts) != 6 or parts[3:5] != key_parts[3:5]:
            return None  # another Region or account: not this key
    metadata = reads.key(entry)
    return None if metadata is None else str(metadata.get("KeyId"))


def _is_alias(entry: str) -> bool:
    return entry.startswith("alias/") or (entry.startswith("arn:") and ":alias/" in entry)


def watched(key_id: str, key_arn: str | None, entries: Iterable[str], reads: Reads | None) -> bool:
    """Whether KmsKeyIds names this key: by id, by ARN, or (with `reads`) by alias."""
    listed = [e.strip() for e in entries if e.strip()]
    if not listed:
        return True
    plain = {e.lower() for e in listed if not _is_alias(e)}
    if key_id.lower() in plain or (key_arn and key_arn.lower() in plain):
        return True
    if reads is None:
        return False
    aliases = [e for e in listed if _is_alias(e) and "alias/aws/" not in e.lower()]
    return any(_alias_target(e, key_arn, reads) == key_id for e in aliases)


def evaluate(
    configuration_item: Mapping[str, Any],
    params: KmsKeyNotPendingDeletionParameters,
    reads: Reads,
    now: datetime | None = None,
) -> Verdict:
    """The verdict for one key's CI."""
    key_id = str(configuration_item["resourceId"])
    config: dict[str, Any] = {
        name: ci_typed(configuration_item, str, "configuration", name)
        for name in ("keyState", "keyManager", "arn")
    }
    state, manager = _text(config["keyState"]), _text(config["keyManager"])
    item_arn = configuration_item.get("ARN")
    key_arn = _text(config["arn"]) or (item_arn if isinstance(item_arn, str) else None)
    deletion = parse_date(ci_value(configuration_item, "configuration", "deletionDate"))
    if state is None or manager is None or (state in PENDING_STATES and deletion is None):
        metadata = reads.key(key_id)
        if metadata is None:
            return Verdict.not_applicable(GONE)
        state = _text(metadata.get("KeyState"))
        manager = _text(metadata.get("KeyManager"))
        key_arn = key_arn or _text(metadata.get("Arn"))
        deletion = parse_date(metadata.get("DeletionDate"))
    if manager == "AWS":
        return Verdict.not_applicable("AWS-managed key: AWS never schedules it for deletion.")
    if not watched(key_id, key_arn, params.kms_key_ids, reads):
        return Verdict.not_applicable("The key is not listed in KmsKeyIds.")
    if state in PENDING_STATES:
        return pending_verdict(str(state), deletion, now or datetime.now(UTC))
    return Verdict.compliant(f"The key is not scheduled for deletion (state {state}).")


class KmsKeyNotPendingDeletion(GuardRule):
    spec = RULES["kms-key-not-pending-deletion"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: KmsKeyNotPendingDeletionParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        return [evaluation(evaluate(configuration_item, valid_rule_parameters, reads))]


lambda_handler = rule_handler(KmsKeyNotPendingDeletion)
