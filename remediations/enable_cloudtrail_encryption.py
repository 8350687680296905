"""enable-cloudtrail-encryption: KMS-encrypt a trail's logs and turn on log file validation.

The harden-cloudtrail part of configguard. One UpdateTrail sets what is missing of
KmsKeyId = CONFIGGUARD_KEY_ARN (the stack key, whose policy lets this account's trails
use it) and EnableLogFileValidation = true; a trail that already has a KMS key keeps
it. That is all cloudtrail-security-trail's Trail verdict asks (CloudTrail.2 and .4),
so a trail whose only problems were those two ends COMPLIANT. What the rule's account
verdict also asks (logging, multi-Region, global and management events, Lambda data
events) is not changed here. CloudTrail changes a trail only in its home Region: a
multi-Region trail seen from another Region (a shadow trail) is refused, naming its
home Region, and so is an organization trail owned by another account.

Scenarios:
  Given a trail without KMS encryption and log file validation and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then both are set in one UpdateTrail,
    read back and verified, the trail is tagged and an applied record is written.
  Given a trail that lacks only log file validation,
    When triggered, Then only validation is enabled; its own KMS key stays.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given an encrypted trail with log file validation, When triggered, Then skipped.
  Given a multi-Region trail homed in another Region, When triggered by its ARN,
    Then refused naming the home Region.
  Given a trail deleted since the evaluation, When triggered, Then skipped.
  Given an UpdateTrail that does not read back, When triggered, Then failed: recorded and raised.
  Given a malformed or unknown trigger, When received, Then InvalidTriggerError and no record.
  Given each trigger source's sample event (Config, Security Hub, CLI),
    When handled by the real handler, Then the trail is encrypted and validated.
  Given an applied change, When rolled back, Then the earlier settings (no key,
    no validation) are restored and verified; When the trail changed since, Then refused.
  Given a fixed trail, When cloudtrail-security-trail runs, Then the trail is COMPLIANT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

NOT_FOUND = frozenset({"TrailNotFoundException"})
READERS = (
    "Log files delivered from now on are encrypted with the key: whoever reads them "
    "(SIEM, Athena, auditors) needs kms:Decrypt on it. Files delivered earlier are unchanged."
)


@dataclass(frozen=True)
class TrailState:
    name: str
    arn: str
    home_region: str
    region: str  # the Region this function runs in
    kms_key_id: str | None
    validation: bool
    tags: dict[str, str]

    @property
    def owner(self) -> str:
        return self.arn.split(":")[4] if self.arn.count(":") >= 5 else ""


def key_id(value: str) -> str:
    _, marker, rest = value.partition(":key/")
    return rest if marker else value


def same_key(actual: str | None, wanted: str | None) -> bool:
    return bool(actual) and bool(wanted) and str(actual).lower() == str(wanted).lower()


def read_trail(cloudtrail: Any, name: str) -> TrailState | None:
    """GetTrail (and, for a trail homed here, its tags); None when it no longer exists."""
    region = str(cloudtrail.meta.region_name)
    try:
        trail = cloudtrail.get_trail(Name=name)["Trail"]
        home = str(trail.get("HomeRegion") or region)
        tags: list[dict[str, Any]] = []
        if home == region:  # ListTags answers only in the trail's home Region
            found = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])
            tags = (found.get("ResourceTagList") or [{}])[0].get("TagsList") or []
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            return None
        raise
    return TrailState(
        name=str(trail["Name"]),
        arn=str(trail["TrailARN"]),
        home_region=home,
        region=region,
        kms_key_id=str(trail.get("KmsKeyId") or "") or None,
        validation=bool(trail.get("LogFileValidationEnabled")),
        tags={str(t["Key"]): str(t.get("Value") or "") for t in tags},
    )


def missing(state: TrailState) -> list[str]:
    """What cloudtrail-security-trail's Trail verdict finds missing (its wording)."""
    found = []
    if not state.validation:
        found.append("log file validation (CloudTrail.4)")
    if not state.kms_key_id:
        found.append("KMS encryption (CloudTrail.2)")
    return found


def check_changeable(state: TrailState, account: str) -> None:
    """Refuse trails that can only be changed elsewhere."""
    if state.home_region != state.region:
        raise Refusal(
            f"Trail {state.name} is homed in {state.home_region}; here ({state.region}) it is a "
            f"shadow of a multi-Region trail, and CloudTrail changes a trail only in its home "
            f"Region. Run the fix in {state.home_region}."
        )
    if state.owner and state.owner != account:
        raise Refusal(
            f"Trail {state.name} belongs to account {state.owner} (an organization trail): "
            "only that account can change it."
        )


def hardening_plan(state: TrailState, key_arn: str) -> Plan:
    """Set only what is missing: the stack key when unencrypted, validation when off."""
    changes: dict[str, Any] = {}
    if not state.kms_key_id:
        changes["KmsKeyId"] = key_arn
    if not state.validation:
        changes["EnableLogFileValidation"] = True
    action = ", ".join(
        f"KmsKeyId={key_id(str(v))}" if k == "KmsKeyId" else "EnableLogFileValidation=true"
        for k, v in changes.items()
    )
    return Plan(
        action=f"UpdateTrail {action}",
        before={"kmsKeyId": state.kms_key_id, "logFileValidationEnabled": state.validation},
        after={"kmsKeyId": state.kms_key_id or key_arn, "logFileValidationEnabled": True},
        details={"updateTrail": changes, **({"readers": READERS} if "KmsKeyId" in changes else {})},
    )


def rollback_changes(state: TrailState, original: dict[str, Any]) -> dict[str, Any]:
    """UpdateTrail parameters restoring what audit `original` changed, or Refusal."""
    applied, earlier = original.get("after") or {}, original.get("before") or {}
    changes: dict[str, Any] = {}
    if not same_key(earlier.get("kmsKeyId"), applied.get("kmsKeyId")):
        if not same_key(state.kms_key_id, applied.get("kmsKeyId")):
            raise Refusal(
                f"The trail's KMS key is now {state.kms_key_id}, not the {applied.get('kmsKeyId')}"
                f" that audit {original['audit_id']} set: it changed since, so it is left alone."
            )
        changes["KmsKeyId"] = earlier.get("kmsKeyId") or ""
    if not earlier.get("logFileValidationEnabled") and applied.get("logFileValidationEnabled"):
        if not state.validation:
            raise Refusal(
                f"Log file validation is now off, not on as audit {original['audit_id']} left "
                "it: it changed since, so the trail is left alone."
            )
        changes["EnableLogFileValidation"] = False
    if not changes:
        raise Refusal(f"Audit {original['audit_id']} changed nothing this rollback could restore.")
    return changes


class EnableCloudtrailEncryption(Remediation[TrailState]):
    spec = REMEDIATIONS["enable-cloudtrail-encryption"]

    def read(self, ctx: FixContext) -> TrailState | None:
        return read_trail(ctx.factory.client("cloudtrail"), ctx.request.resource_id)

    def tags(self, state: TrailState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: TrailState) -> str:
        return state.arn

    def compliance_reason(self, state: TrailState) -> str | None:
        lacks = missing(state)
        return f"The trail lacks {' and '.join(lacks)}." if lacks else None

    def plan(self, ctx: FixContext, state: TrailState) -> Plan:
        check_changeable(state, ctx.request.account_id)
        key_arn = settings.require(settings.KEY_ARN) if not state.kms_key_id else ""
        return hardening_plan(state, key_arn)

    def apply(self, ctx: FixContext, state: TrailState, plan: Plan) -> None:
        ctx.factory.client("cloudtrail").update_trail(
            Name=state.name, **plan.details["updateTrail"]
        )

    def verify(self, state: TrailState, plan: Plan) -> str | None:
        want = plan.after
        if not same_key(state.kms_key_id, want["kmsKeyId"]) or not state.validation:
            return (
                f"the trail reads back with KmsKeyId {state.kms_key_id} and validation "
                f"{state.validation}, expected {want['kmsKeyId']} and True"
            )
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("cloudtrail").add_tags(
            ResourceId=arn, TagsList=[{"Key": k, "Value": v} for k, v in tags.items()]
        )

    def live_values(self, ctx: FixContext, state: TrailState, plan: Plan) -> dict[str, Any]:
        key = state.kms_key_id
        for side in (plan.after, plan.before):  # a key ARN in another case is the same key
            if same_key(key, side.get("kmsKeyId")):
                key = side["kmsKeyId"]
        return {"kmsKeyId": key, "logFileValidationEnabled": state.validation}

    def rollback_plan(self, ctx: FixContext, state: TrailState, original: dict[str, Any]) -> Plan:
        check_changeable(state, ctx.request.account_id)
        changes = rollback_changes(state, original)
        earlier = original.get("before") or {}
        details: dict[str, Any] = {"updateTrail": changes}
        if "KmsKeyId" in changes:
            details["earlierFiles"] = (
                "Files delivered while the key was set stay encrypted with it: keep the key "
                "usable while they are kept."
            )
        return Plan(
            action="rollback: UpdateTrail "
            + ", ".join(
                f"{k}={v!r}" if k == "KmsKeyId" else f"{k}={v}" for k, v in changes.items()
            ),
            before={"kmsKeyId": state.kms_key_id, "logFileValidationEnabled": state.validation},
            after={
                "kmsKeyId": earlier.get("kmsKeyId") or None,
                "logFileValidationEnabled": bool(earlier.get("logFileValidationEnabled")),
            },
            details=details,
        )

    def rollback_apply(self, ctx: FixContext, state: TrailState, plan: Plan) -> None:
        ctx.factory.client("cloudtrail").update_trail(
            Name=state.name, **plan.details["updateTrail"]
        )

    def rollback_verify(self, state: TrailState, plan: Plan) -> str | None:
        want = plan.after
        key_ok = (
            same_key(state.kms_key_id, want["kmsKeyId"])
            if want["kmsKeyId"]
            else not state.kms_key_id
        )
        if not key_ok or state.validation != want["logFileValidationEnabled"]:
            return (
                f"the trail reads back with KmsKeyId {state.kms_key_id} and validation "
                f"{state.validation}, expected {want['kmsKeyId']} and "
                f"{want['logFileValidationEnabled']}"
            )
        return None


lambda_handler = remediation_handler(EnableCloudtrailEncryption)
