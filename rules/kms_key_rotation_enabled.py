"""kms-key-rotation-enabled: customer-managed symmetric encryption keys rotate automatically.

In scope: customer-managed (keyManager CUSTOMER), Enabled, symmetric encryption
(keySpec SYMMETRIC_DEFAULT, keyUsage ENCRYPT_DECRYPT) keys whose material KMS generated
(origin AWS_KMS). Everything else is NOT_APPLICABLE with the reason: AWS-managed keys
(AWS rotates them yearly), disabled or pending-deletion keys, asymmetric and HMAC keys,
imported material (EXTERNAL) and custom key stores (AWS_CLOUDHSM, EXTERNAL_KEY_STORE),
for which KMS offers no automatic rotation. With MaxRotationPeriodDays the key's
RotationPeriodInDays must not exceed it (a key that reports no period has the 365-day
default). A CI with keySpec SYMMETRIC_DEFAULT but no keyUsage is an encryption key: that
is the only usage the spec allows.

Data: the CI's configuration (keyManager, keyState, keySpec / customerMasterKeySpec,
keyUsage, origin) and supplementaryConfiguration.KeyRotationStatus. kms:DescribeKey only
when the CI lacks one of those properties; kms:GetKeyRotationStatus only when the CI
lacks KeyRotationStatus or MaxRotationPeriodDays is set. Oversized notifications are
inflated by the rule base (DescribeKey + GetKeyRotationStatus).

Scenarios:
  Given a customer-managed symmetric key whose CI says rotation is enabled,
    When evaluated, Then COMPLIANT and no KMS API call is made.
  Given a customer-managed symmetric key with rotation disabled,
    When evaluated, Then NON_COMPLIANT with the kms:EnableKeyRotation fix.
  Given a CI without KeyRotationStatus,
    When evaluated, Then the rule reads GetKeyRotationStatus and judges its answer.
  Given MaxRotationPeriodDays=180 and a key rotating every 365 days,
    When evaluated, Then NON_COMPLIANT naming both periods; every 90 days is COMPLIANT.
  Given an asymmetric, an HMAC, an imported-material or a custom-key-store key,
    When evaluated, Then NOT_APPLICABLE naming the key type.
  Given an AWS-managed key, When evaluated, Then NOT_APPLICABLE.
  Given a disabled or a pending-deletion key, When evaluated, Then NOT_APPLICABLE saying so.
  Given a CI without its key properties for a key deleted since,
    When evaluated, Then NOT_APPLICABLE "The key no longer exists.".
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on GetKeyRotationStatus,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value
from configguard.parameters import KmsKeyRotationEnabledParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

DEFAULT_ROTATION_DAYS = 365  # KMS's period for keys that never set one
SYMMETRIC = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
PENDING_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion"})
CUSTOM_STORE_ORIGINS = {
    "AWS_CLOUDHSM": "an AWS CloudHSM key store",
    "EXTERNAL_KEY_STORE": "an external key store",
}
GONE = "The key no longer exists."

# CI property -> DescribeKey field
_FIELDS = {
    "keyManager": "KeyManager",
    "keyState": "KeyState",
    "keySpec": "KeySpec",
    "keyUsage": "KeyUsage",
    "origin": "Origin",
}


@dataclass(frozen=True)
class KeyFacts:
    """What decides whether a key is in scope."""

    key_manager: str | None
    key_state: str | None
    key_spec: str | None
    key_usage: str | None
    origin: str | None


def _text(value: Any) -> str | None:
    return None if value is MISSING or value is None or value == "" else str(value)


def facts_from_ci(configuration_item: Mapping[str, Any]) -> dict[str, str | None]:
    """The CI's key properties (None when absent or null); keySpec falls back to
    the older customerMasterKeySpec."""
    found = {name: _text(ci_value(configuration_item, "configuration", name)) for name in _FIELDS}
    if found["keySpec"] is None:
        found["keySpec"] = _text(
            ci_value(configuration_item, "configuration", "customerMasterKeySpec")
        )
    return found


def key_facts(configuration_item: Mapping[str, Any], reads: Reads) -> KeyFacts | None:
    """The key's facts from the CI, or from DescribeKey when the CI lacks one; None if gone."""
    found = facts_from_ci(configuration_item)
    if found["keySpec"] == SYMMETRIC and found["keyUsage"] is None:
        found["keyUsage"] = ENCRYPT_DECRYPT  # the only usage SYMMETRIC_DEFAULT allows
    if any(value is None for value in found.values()):
        metadata = reads.key(str(configuration_item["resourceId"]))
        if metadata is None:
            return None
        for name, field in _FIELDS.items():
            found[name] = found[name] or _text(metadata.get(field))
        found["keySpec"] = found["keySpec"] or _text(metadata.get("CustomerMasterKeySpec"))
        if found["keySpec"] == SYMMETRIC and found["keyUsage"] is None:
            found["keyUsage"] = ENCRYPT_DECRYPT
    return KeyFacts(
        found["keyManager"], found["keyState"], found["keySpec"], found["keyUsage"], found["origin"]
    )


def _state_reason(facts: KeyFacts) -> str | None:
    """Why the key's manager or state puts it out of scope, or None."""
    if facts.key_manager == "AWS":
        return "AWS-managed key: AWS rotates it every year."
    if facts.key_state in PENDING_STATES:
        return (
            f"The key is {facts.key_state}; rotation is not checked. "
            "Cancel the deletion (kms:CancelKeyDeletion) if the key is still needed."
        )
    if facts.key_state == "Disabled":
        return "The key is disabled; rotation is checked again once it is enabled."
    if facts.key_state not in (None, "Enabled"):
        return f"Key state is {facts.key_state}; only Enabled keys are checked."
    return None


def _type_reason(facts: KeyFacts) -> str | None:
    """Why KMS cannot rotate this kind of key automatically, or None."""
    if facts.origin == "EXTERNAL":
        return "Imported key material (origin EXTERNAL): KMS cannot rotate it automatically."
    if facts.origin in CUSTOM_STORE_ORIGINS:
        return f"Key in {CUSTOM_STORE_ORIGINS[facts.origin]}: automatic rotation is not supported."
    spec = facts.key_spec or "unknown"
    if spec.startswith("HMAC_"):
        return f"HMAC key ({spec}): automatic rotation is not supported."
    if spec != SYMMETRIC:
        return f"Asymmetric key ({spec}): automatic rotation is not supported."
    if facts.key_usage != ENCRYPT_DECRYPT:
        return f"Key usage {facts.key_usage}: only encryption keys rotate automatically."
    return None


def out_of_scope(facts: KeyFacts) -> Verdict | None:
    """NOT_APPLICABLE with the reason when automatic rotation does not apply, else None."""
    reason = _state_reason(facts) or _type_reason(facts)
    return None if reason is None else Verdict.not_applicable(reason)


def rotation_from_ci(configuration_item: Mapping[str, Any]) -> bool | None:
    """supplementaryConfiguration.KeyRotationStatus (a bool or "true"/"false"); None if absent."""
    value = ci_value(configuration_item, "supplementaryConfiguration", "KeyRotationStatus")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def judge_rotation(enabled: bool, period_days: int | None, max_days: int | None) -> Verdict:
    """The verdict for an in-scope key; `period_days` None means not reported."""
    if not enabled:
        limit = f" with RotationPeriodInDays <= {max_days}" if max_days else ""
        return Verdict.non_compliant(
            f"Automatic key rotation is disabled. Fix: kms:EnableKeyRotation{limit}."
        )
    if max_days is None:
        return Verdict.compliant("Automatic key rotation is enabled.")
    period = DEFAULT_ROTATION_DAYS if period_days is None else period_days
    if period > max_days:
        return Verdict.non_compliant(
            f"The key rotates every {period} days, more than MaxRotationPeriodDays {max_days}. "
            f"Fix: kms:EnableKeyRotation with RotationPeriodInDays <= {max_days}."
        )
    return Verdict.compliant(f"Automatic key rotation is enabled, every {period} days.")


def evaluate(
    configuration_item: Mapping[str, Any],
    params: KmsKeyRotationEnabledParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one key's CI."""
    facts = key_facts(configuration_item, reads)
    if facts is None:
        return Verdict.not_applicable(GONE)
    skipped = out_of_scope(facts)
    if skipped is not None:
        return skipped
    enabled = rotation_from_ci(configuration_item)
    max_days = params.max_rotation_period_days
    period: int | None = None
    if enabled is None or max_days is not None:
        status = reads.key_rotation(str(configuration_item["resourceId"]))
        if status is None:
            return Verdict.not_applicable(GONE)
        enabled = bool(status.get("KeyRotationEnabled"))
        raw_period = status.get("RotationPeriodInDays")
        period = None if raw_period is None else int(raw_period)
    return judge_rotation(enabled, period, max_days)


class KmsKeyRotationEnabled(GuardRule):
    spec = RULES["kms-key-rotation-enabled"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: KmsKeyRotationEnabledParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        return [evaluation(evaluate(configuration_item, valid_rule_parameters, reads))]


lambda_handler = rule_handler(KmsKeyRotationEnabled)
