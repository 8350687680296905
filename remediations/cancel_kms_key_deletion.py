"""cancel-kms-key-deletion: cancel the scheduled deletion of a customer managed key.

Off by default (an explicit opt-in: set the mode, or the SSM override
/configguard/remediations/cancel-kms-key-deletion/mode). CancelKeyDeletion works on a key
in PendingDeletion or PendingReplicaDeletion; KMS then leaves the key Disabled, and so
does configguard: whether the key is used again (aws kms enable-key) is its owner's
decision, and the record says so. Rollback is refused: scheduling the deletion again is
destructive, so the record tells the engineer the command to run instead.

Scenarios:
  Given a key pending deletion and the mode set to apply,
    When a NON_COMPLIANT compliance change arrives, Then the deletion is cancelled, the key
    reads back Disabled (left disabled, said in the record), is tagged and an applied
    record is written.
  Given the default mode (off), When triggered, Then blocked with a record; the key stays
    pending deletion.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a key that is not pending deletion (Enabled or Disabled),
    When triggered, Then skipped (already compliant).
  Given an AWS-managed key, When triggered, Then skipped: AWS never schedules its deletion.
  Given a key deleted since the evaluation, When triggered, Then skipped.
  Given a cancellation that does not read back, When triggered, Then failed: recorded and raised.
  Given a malformed or unknown trigger, When received, Then InvalidTriggerError and no record.
  Given each trigger source's sample event (Config, Security Hub, CLI),
    When handled by the real handler, Then the deletion is cancelled.
  Given an applied cancellation, When rolled back, Then refused, naming the
    schedule-key-deletion command to run by hand.
  Given a cancelled key, When kms-key-not-pending-deletion evaluates it, Then it is COMPLIANT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

PENDING_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
LEFT_DISABLED = (
    "KMS leaves a cancelled key Disabled and configguard does not enable it: using the key "
    "again is its owner's decision (aws kms enable-key --key-id {key})."
)


@dataclass(frozen=True)
class KeyState:
    key_id: str
    arn: str
    manager: str
    key_state: str
    deletion_date: str | None  # ISO-8601 UTC
    tags: dict[str, str]


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    return None if value in (None, "") else str(value)


def read_key(kms: Any, key: str) -> KeyState | None:
    """DescribeKey and the key's tags; None when the key no longer exists."""
    try:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
        tags = kms.list_resource_tags(KeyId=meta["KeyId"], Limit=50)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise
    return KeyState(
        key_id=str(meta["KeyId"]),
        arn=str(meta["Arn"]),
        manager=str(meta.get("KeyManager") or ""),
        key_state=str(meta.get("KeyState") or ""),
        deletion_date=_iso(meta.get("DeletionDate")),
        tags={str(t["TagKey"]): str(t["TagValue"]) for t in tags.get("Tags", [])},
    )


def deletion_reason(state: KeyState) -> str | None:
    """None unless the key is scheduled for deletion, else the state and date."""
    if state.key_state not in PENDING_STATES:
        return None
    when = f"deleted on {state.deletion_date}" if state.deletion_date else "no date reported yet"
    return f"The key is {state.key_state}: {when}."


def cancel_plan(state: KeyState) -> Plan:
    if state.manager == "AWS":
        raise Refusal("AWS-managed key: its lifecycle belongs to AWS. Nothing was changed.")
    return Plan(
        action="CancelKeyDeletion (the key stays Disabled; enabling it is the owner's decision)",
        before={"keyState": state.key_state, "deletionDate": state.deletion_date},
        after={"keyState": "Disabled", "deletionDate": None},
        details={"leftDisabled": LEFT_DISABLED.format(key=state.key_id)},
    )


class CancelKmsKeyDeletion(Remediation[KeyState]):
    spec = REMEDIATIONS["cancel-kms-key-deletion"]

    def read(self, ctx: FixContext) -> KeyState | None:
        return read_key(ctx.factory.client("kms"), ctx.request.resource_id)

    def tags(self, state: KeyState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: KeyState) -> str:
        return state.arn

    def compliance_reason(self, state: KeyState) -> str | None:
        return deletion_reason(state)

    def plan(self, ctx: FixContext, state: KeyState) -> Plan:
        return cancel_plan(state)

    def apply(self, ctx: FixContext, state: KeyState, plan: Plan) -> None:
        ctx.factory.client("kms").cancel_key_deletion(KeyId=state.key_id)

    def verify(self, state: KeyState, plan: Plan) -> str | None:
        if state.key_state in PENDING_STATES or state.deletion_date:
            return f"the key reads back as {state.key_state}, deletion {state.deletion_date}"
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("kms").tag_resource(
            KeyId=arn, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()]
        )

    def live_values(self, ctx: FixContext, state: KeyState, plan: Plan) -> dict[str, Any]:
        return {"keyState": state.key_state, "deletionDate": state.deletion_date}

    def rollback_plan(self, ctx: FixContext, state: KeyState, original: dict[str, Any]) -> Plan:
        earlier = (original.get("before") or {}).get("deletionDate") or "unknown"
        raise Refusal(
            f"Scheduling the deletion of key {state.key_id} again is destructive, so configguard "
            "never does it. If the key must go, run: aws kms schedule-key-deletion --key-id "
            f"{state.key_id} --pending-window-in-days <7-30> (the cancelled deletion date was "
            f"{earlier})."
        )


lambda_handler = remediation_handler(CancelKmsKeyDeletion)
