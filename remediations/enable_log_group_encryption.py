"""enable-log-group-encryption: encrypt a log group's new events with the stack CMK.

AssociateKmsKey with CONFIGGUARD_KEY_ARN (the stack key, whose policy lets this
account's log groups use it). Only events ingested afterwards are encrypted with the
key; earlier events keep CloudWatch Logs' own encryption. A group that already uses
another key is never re-keyed: that is refused, naming the key (if the rule should
accept it, name it in the rule's KmsKeyId; switching keys is the group owner's call).
The fix's own target is "encrypted with the stack key", so KmsKeyId of
log-group-cmk-encrypted should be unset or name that key.

Scenarios:
  Given a log group without a KMS key and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then the stack key is associated,
    read back and verified, the group is tagged and an applied record is written.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a group already encrypted with the stack key, When triggered, Then skipped.
  Given a group encrypted with another KMS key,
    When triggered, Then refused naming that key; the group keeps it.
  Given a stack key that is not Enabled (disabled, pending deletion),
    When triggered, Then refused naming its state; nothing is associated.
  Given a log group deleted since the evaluation, When triggered, Then skipped.
  Given an association that does not read back, When triggered, Then failed: recorded and raised.
  Given a malformed or unknown trigger, When received, Then InvalidTriggerError and no record.
  Given each trigger source's sample event (Config, Security Hub, CLI),
    When handled by the real handler, Then the group is encrypted.
  Given an applied association, When rolled back, Then the key is disassociated and
    verified (events ingested meanwhile stay encrypted with it);
    When the group's key changed since, Then the rollback is refused.
  Given a fixed group, When log-group-cmk-encrypted runs, Then the group is COMPLIANT.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.loggroups import LogGroupState, read_log_group
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

NOT_ENCRYPTED = (
    "The log group is not encrypted with a KMS key (CloudWatch Logs default encryption only)."
)
EARLIER_EVENTS = (
    "Events ingested while the key was associated stay encrypted with it: CloudWatch Logs "
    "keeps using the key to read them, so keep it enabled (and its policy) until they expire."
)


def key_id(value: str) -> str:
    """The key id of a key ARN (`arn:...:key/<id>`), or the value itself."""
    _, marker, rest = value.partition(":key/")
    return rest if marker else value


def same_key(actual: str | None, wanted: str | None) -> bool:
    return bool(actual) and bool(wanted) and str(actual).lower() == str(wanted).lower()


def encryption_reason(state: LogGroupState, key_arn: str) -> str | None:
    """None when the group uses `key_arn`, else why not (the rule's wording)."""
    if not state.kms_key_id:
        return NOT_ENCRYPTED
    if not same_key(state.kms_key_id, key_arn):
        return (
            f"The log group uses KMS key {key_id(state.kms_key_id)}, not configguard's key "
            f"{key_id(key_arn)}."
        )
    return None


def check_key_usable(kms: Any, key_arn: str) -> None:
    """Refuse unless the stack key exists and is Enabled (else new events become unreadable)."""
    try:
        metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            raise Refusal(f"configguard's key {key_id(key_arn)} does not exist.") from None
        raise
    state = metadata.get("KeyState")
    if state != "Enabled":
        raise Refusal(
            f"configguard's key {key_id(key_arn)} is {state}, not Enabled: log events "
            "encrypted with it could not be read. Nothing was associated."
        )


def association_plan(state: LogGroupState, key_arn: str) -> Plan:
    """Associate the stack key with an unencrypted group; refuse to re-key an encrypted one."""
    if state.kms_key_id:
        raise Refusal(
            f"The log group is already encrypted with KMS key {key_id(state.kms_key_id)}; "
            "configguard never re-keys a log group. If that key is acceptable, name it in the "
            "rule's KmsKeyId; to switch keys, associate the new one yourself "
            "(aws logs associate-kms-key): events already ingested stay encrypted with the "
            "old key, which must stay usable."
        )
    return Plan(
        action=f"AssociateKmsKey {key_id(key_arn)}",
        before={"kmsKeyId": None},
        after={"kmsKeyId": key_arn},
        details={
            "scope": "Events ingested from now on (within about 5 minutes) are encrypted "
            "with the key; earlier events keep CloudWatch Logs' own encryption.",
        },
    )


class EnableLogGroupEncryption(Remediation[LogGroupState]):
    spec = REMEDIATIONS["enable-log-group-encryption"]

    def read(self, ctx: FixContext) -> LogGroupState | None:
        return read_log_group(ctx.factory.client("logs"), ctx.request.resource_id)

    def tags(self, state: LogGroupState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: LogGroupState) -> str:
        return state.arn

    def compliance_reason(self, state: LogGroupState) -> str | None:
        return encryption_reason(state, settings.require(settings.KEY_ARN))

    def plan(self, ctx: FixContext, state: LogGroupState) -> Plan:
        key_arn = settings.require(settings.KEY_ARN)
        plan = association_plan(state, key_arn)
        check_key_usable(ctx.factory.client("kms"), key_arn)
        return plan

    def apply(self, ctx: FixContext, state: LogGroupState, plan: Plan) -> None:
        ctx.factory.client("logs").associate_kms_key(
            logGroupName=state.name, kmsKeyId=plan.after["kmsKeyId"]
        )

    def verify(self, state: LogGroupState, plan: Plan) -> str | None:
        want = plan.after["kmsKeyId"]
        if not same_key(state.kms_key_id, want):
            return f"kmsKeyId reads back as {state.kms_key_id}, expected {want}"
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("logs").tag_resource(resourceArn=arn, tags=tags)

    def live_values(self, ctx: FixContext, state: LogGroupState, plan: Plan) -> dict[str, Any]:
        planned = plan.after["kmsKeyId"]
        return {"kmsKeyId": planned if same_key(state.kms_key_id, planned) else state.kms_key_id}

    def rollback_plan(
        self, ctx: FixContext, state: LogGroupState, original: dict[str, Any]
    ) -> Plan:
        applied = (original.get("after") or {}).get("kmsKeyId")
        if not same_key(state.kms_key_id, applied):
            raise Refusal(
                f"The log group's KMS key is now {state.kms_key_id}, not the {applied} that "
                f"audit {original['audit_id']} associated: it changed since, so it is left alone."
            )
        return Plan(
            action="rollback: DisassociateKmsKey",
            before={"kmsKeyId": state.kms_key_id},
            after={"kmsKeyId": None},
            details={"earlierEvents": EARLIER_EVENTS},
        )

    def rollback_apply(self, ctx: FixContext, state: LogGroupState, plan: Plan) -> None:
        ctx.factory.client("logs").disassociate_kms_key(logGroupName=state.name)

    def rollback_verify(self, state: LogGroupState, plan: Plan) -> str | None:
        if state.kms_key_id:
            return f"kmsKeyId still reads {state.kms_key_id}"
        return None


lambda_handler = remediation_handler(EnableLogGroupEncryption)
