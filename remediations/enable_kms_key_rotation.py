"""enable-kms-key-rotation: turn on automatic rotation of a customer managed key.

EnableKeyRotation, with RotationPeriodInDays = CONFIGGUARD_KEY_ROTATION_PERIOD_DAYS when
set (90-2560; unset: KMS's default, 365 days, passed explicitly so the record is exact).
With the setting, a key that already rotates less often gets the configured period
(rotation only becomes more frequent).
Refused, naming why, for keys KMS cannot rotate automatically or that are not this
fix's to change: AWS-managed keys, imported key material (origin EXTERNAL), custom key
stores, asymmetric and HMAC keys, multi-Region replicas (rotation is managed on the
primary) and keys that are not Enabled (disabled, pending deletion or import).
Rollback turns rotation off again (or restores the earlier period) only while the key
still rotates as this fix left it; key versions made meanwhile are kept by KMS.

Scenarios:
  Given a customer managed symmetric key without rotation and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then rotation is enabled, read back
    and verified, the key is tagged and an applied record is written.
  Given KEY_ROTATION_PERIOD_DAYS 180, When triggered on a key without rotation,
    Then rotation is enabled every 180 days.
  Given KEY_ROTATION_PERIOD_DAYS 180 and a key rotating every 365 days,
    When triggered, Then its period becomes 180 days.
  Given KEY_ROTATION_PERIOD_DAYS outside 90-2560,
    When triggered, Then failed closed with a configuration error; nothing changes.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a key that already rotates, When triggered, Then skipped.
  Given an AWS-managed key, an imported-material key, an asymmetric or an HMAC key,
    When triggered, Then refused naming the key type.
  Given a multi-Region replica key, When triggered, Then refused naming its primary.
  Given a disabled key or a key pending deletion, When triggered, Then refused naming its state.
  Given a key deleted since the evaluation, When triggered, Then skipped.
  Given an EnableKeyRotation that does not read back, When triggered,
    Then failed: recorded and raised.
  Given a malformed or unknown trigger, When received, Then InvalidTriggerError and no record.
  Given each trigger source's sample event (Config, Security Hub, CLI),
    When handled by the real handler, Then rotation is enabled.
  Given an applied change, When rolled back, Then rotation is disabled (or the earlier
    period restored) and verified; When the rotation changed since, Then refused.
  Given a fixed key, When kms-key-rotation-enabled evaluates it, Then it is COMPLIANT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

DEFAULT_PERIOD = 365  # KMS's rotation period when none is given
MIN_PERIOD, MAX_PERIOD = 90, 2560
SYMMETRIC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
CUSTOM_STORES = {
    "AWS_CLOUDHSM": "an AWS CloudHSM key store",
    "EXTERNAL_KEY_STORE": "an external key store",
}
# GetKeyRotationStatus answers these for keys it cannot report on.
UNREADABLE_ROTATION = frozenset({"UnsupportedOperationException", "KMSInvalidStateException"})


@dataclass(frozen=True)
class KeyState:
    key_id: str
    arn: str
    manager: str
    key_state: str
    spec: str
    usage: str
    origin: str
    replica_of: str | None  # the primary key ARN of a multi-Region replica
    primary_region: str | None
    rotation: bool | None  # None: KMS cannot report rotation for this key
    period: int | None
    tags: dict[str, str]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def rotatable_type(metadata: dict[str, Any]) -> bool:
    """Symmetric encryption key with KMS-generated material: the kind KMS rotates."""
    spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    return (
        spec == SYMMETRIC
        and metadata.get("KeyUsage", ENCRYPT_DECRYPT) == ENCRYPT_DECRYPT
        and metadata.get("Origin") == "AWS_KMS"
    )


def rotation_status(kms: Any, metadata: dict[str, Any]) -> dict[str, Any] | None:
    """GetKeyRotationStatus for rotatable kinds ({} for others); None if the key is gone."""
    if not rotatable_type(metadata):
        return {}
    try:
        return dict(kms.get_key_rotation_status(KeyId=metadata["KeyId"]))
    except ClientError as exc:
        if _code(exc) == "NotFoundException":
            return None
        if _code(exc) in UNREADABLE_ROTATION:
            return {}
        raise


def read_key(kms: Any, key: str) -> KeyState | None:
    """DescribeKey, GetKeyRotationStatus (rotatable kinds only) and the key's tags."""
    try:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
        status = rotation_status(kms, meta)
        tags = kms.list_resource_tags(KeyId=meta["KeyId"], Limit=50) if status is not None else {}
    except ClientError as exc:
        if _code(exc) == "NotFoundException":
            return None
        raise
    if status is None:
        return None
    spec = str(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or "")
    # SYMMETRIC_DEFAULT allows one usage only; a description without it means that one.
    usage = str(meta.get("KeyUsage") or (ENCRYPT_DECRYPT if spec == SYMMETRIC else ""))
    multi = meta.get("MultiRegionConfiguration") or {}
    primary = multi.get("PrimaryKey") or {}
    replica = multi.get("MultiRegionKeyType") == "REPLICA"
    enabled = status.get("KeyRotationEnabled")
    period = status.get("RotationPeriodInDays")
    return KeyState(
        key_id=str(meta["KeyId"]),
        arn=str(meta["Arn"]),
        manager=str(meta.get("KeyManager") or ""),
        key_state=str(meta.get("KeyState") or ""),
        spec=spec,
        usage=usage,
        origin=str(meta.get("Origin") or ""),
        replica_of=str(primary.get("Arn")) if replica else None,
        primary_region=str(primary.get("Region")) if replica else None,
        rotation=None if enabled is None else bool(enabled),
        period=None if period is None or not enabled else int(period),
        tags={str(t["TagKey"]): str(t["TagValue"]) for t in tags.get("Tags", [])},
    )


def configured_period() -> int | None:
    """CONFIGGUARD_KEY_ROTATION_PERIOD_DAYS (90-2560), or None when unset."""
    if not settings.optional(settings.KEY_ROTATION_PERIOD_DAYS, ""):
        return None
    days = settings.integer(settings.KEY_ROTATION_PERIOD_DAYS, DEFAULT_PERIOD, minimum=1)
    if not MIN_PERIOD <= days <= MAX_PERIOD:
        raise settings.ConfigurationError(
            f"{settings.KEY_ROTATION_PERIOD_DAYS} must be {MIN_PERIOD}-{MAX_PERIOD} days, "
            f"got {days}"
        )
    return days


def rotation_reason(state: KeyState, max_period: int | None) -> str | None:
    """None when the key rotates (at most every `max_period` days when given), else why not."""
    if state.rotation is None:
        return "KMS reports no automatic rotation for this kind of key."
    if not state.rotation:
        return "Automatic key rotation is disabled."
    period = state.period or DEFAULT_PERIOD
    if max_period is not None and period > max_period:
        return (
            f"The key rotates every {period} days, more than "
            f"{settings.KEY_ROTATION_PERIOD_DAYS} {max_period}."
        )
    return None


def kind_reason(state: KeyState) -> str | None:
    """Why KMS offers no configurable automatic rotation for this kind of key, or None."""
    if state.manager == "AWS":
        return "AWS-managed key: AWS rotates it every year and its rotation cannot be changed."
    if state.origin == "EXTERNAL":
        return "Imported key material (origin EXTERNAL): KMS cannot rotate it automatically."
    if state.origin in CUSTOM_STORES:
        return f"Key in {CUSTOM_STORES[state.origin]}: automatic rotation is not supported."
    if state.spec.startswith("HMAC_"):
        return f"HMAC key ({state.spec}): automatic rotation is not supported."
    if state.spec != SYMMETRIC or state.usage != ENCRYPT_DECRYPT:
        return f"Asymmetric key ({state.spec}, {state.usage}): automatic rotation is not supported."
    return None


def refusal_reason(state: KeyState) -> str | None:
    """Why configguard must not change this key's rotation, or None."""
    kind = kind_reason(state)
    if kind:
        return kind
    if state.replica_of:
        return (
            f"Multi-Region replica key: rotation is managed on its primary key {state.replica_of} "
            f"in {state.primary_region}; enable it there."
        )
    if state.key_state != "Enabled":
        return (
            f"The key is {state.key_state}, not Enabled: configguard changes rotation only on "
            "enabled keys (enabling a key, or cancelling its deletion, is the owner's decision)."
        )
    return None


def rotation_settings(state: KeyState) -> dict[str, Any]:
    return {"keyRotationEnabled": bool(state.rotation), "rotationPeriodInDays": state.period}


def matches(state: KeyState, want: dict[str, Any]) -> bool:
    """Whether the key rotates as `want` says: on with that period, or off."""
    if bool(state.rotation) != bool(want.get("keyRotationEnabled")):
        return False
    return not state.rotation or state.period == want.get("rotationPeriodInDays")


class EnableKmsKeyRotation(Remediation[KeyState]):
    spec = REMEDIATIONS["enable-kms-key-rotation"]

    def read(self, ctx: FixContext) -> KeyState | None:
        return read_key(ctx.factory.client("kms"), ctx.request.resource_id)

    def tags(self, state: KeyState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: KeyState) -> str:
        return state.arn

    def compliance_reason(self, state: KeyState) -> str | None:
        # Keys the rule finds NOT_APPLICABLE by kind are reported, so that the plan refuses.
        return kind_reason(state) or rotation_reason(state, configured_period())

    def plan(self, ctx: FixContext, state: KeyState) -> Plan:
        refused = refusal_reason(state)
        if refused:
            raise Refusal(f"{refused} Nothing was changed.")
        configured = configured_period()
        period = configured or DEFAULT_PERIOD
        every = f"every {period} days" + ("" if configured else " (KMS's default)")
        return Plan(
            action=f"EnableKeyRotation {every}",
            before=rotation_settings(state),
            after={"keyRotationEnabled": True, "rotationPeriodInDays": period},
        )

    def apply(self, ctx: FixContext, state: KeyState, plan: Plan) -> None:
        ctx.factory.client("kms").enable_key_rotation(
            KeyId=state.key_id, RotationPeriodInDays=int(plan.after["rotationPeriodInDays"])
        )

    def verify(self, state: KeyState, plan: Plan) -> str | None:
        if not matches(state, plan.after):
            return f"rotation reads back as {rotation_settings(state)}, expected {plan.after}"
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("kms").tag_resource(
            KeyId=arn, Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()]
        )

    def live_values(self, ctx: FixContext, state: KeyState, plan: Plan) -> dict[str, Any]:
        return rotation_settings(state)

    def rollback_plan(self, ctx: FixContext, state: KeyState, original: dict[str, Any]) -> Plan:
        applied = dict(original.get("after") or {})
        earlier = dict(original.get("before") or {})
        if not matches(state, applied):
            raise Refusal(
                f"Rotation is now {rotation_settings(state)}, not the {applied} that audit "
                f"{original['audit_id']} set: it changed since, so it is left alone."
            )
        if state.key_state != "Enabled":
            raise Refusal(
                f"The key is now {state.key_state}: KMS changes rotation only on enabled keys, "
                "so the rollback is left to the key owner."
            )
        if earlier.get("keyRotationEnabled"):
            action = f"EnableKeyRotation every {earlier.get('rotationPeriodInDays')} days"
        else:
            action = "DisableKeyRotation"
        return Plan(
            action=f"rollback: {action}",
            before=rotation_settings(state),
            after=earlier,
            details={"keyVersions": "KMS keeps every key version: ciphertexts stay readable."},
        )

    def rollback_apply(self, ctx: FixContext, state: KeyState, plan: Plan) -> None:
        kms = ctx.factory.client("kms")
        if plan.after.get("keyRotationEnabled"):
            period = plan.after.get("rotationPeriodInDays") or DEFAULT_PERIOD
            kms.enable_key_rotation(KeyId=state.key_id, RotationPeriodInDays=int(period))
        else:
            kms.disable_key_rotation(KeyId=state.key_id)

    def rollback_verify(self, state: KeyState, plan: Plan) -> str | None:
        if not matches(state, plan.after):
            return f"rotation reads back as {rotation_settings(state)}, expected {plan.after}"
        return None


lambda_handler = remediation_handler(EnableKmsKeyRotation)
