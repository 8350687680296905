"""Scenarios of remediations/enable_kms_key_rotation.py, through its real handler.

The stand-in is reset once for this module: every test creates its own key, so audit
records, idempotency keys and rule results never collide. The sample events name a key
id that does not exist; tests point them at the keys they create.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest
from conftest import CallCounter, change_event, lambda_context, load_event, stored_results
from faults import swallow_call

from configguard import cibuilder, settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module

FIX = "enable-kms-key-rotation"
RULE = "kms-key-rotation-enabled"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "6f1c2a9e-4b7d-4e3a-9c5f-2d8b1e7a4c90"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
EVENTS = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    """Every test fixes its own key; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")
    monkeypatch.delenv(settings.KEY_ROTATION_PERIOD_DAYS, raising=False)


def event(kind: str, key_id: str) -> dict:
    """The fix's sample event retargeted at `key_id`."""
    text = json.dumps(load_event(f"enable_kms_key_rotation/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE, key_id))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def new_key(factory, *, rotation: int | None = None, tags: dict | None = None, **kwargs) -> str:
    kms = factory.client("kms")
    if tags:
        kwargs["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    key_id = str(kms.create_key(**kwargs)["KeyMetadata"]["KeyId"])
    if rotation:
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=rotation)
    return key_id


def status(factory, key_id: str) -> tuple[bool, int | None]:
    found = factory.client("kms").get_key_rotation_status(KeyId=key_id)
    return found["KeyRotationEnabled"], found.get("RotationPeriodInDays")


def key_tags(factory, key_id: str) -> dict:
    found = factory.client("kms").list_resource_tags(KeyId=key_id)["Tags"]
    return {t["TagKey"]: t["TagValue"] for t in found}


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-88 revert"))


def test_enables_rotation_verifies_tags_and_audits(factory):
    key_id = new_key(factory)
    kms = CallCounter(factory.client("kms"))
    try:
        record = run(event("config", key_id))
    finally:
        kms.close()
    assert record["outcome"] == "applied", record
    assert record["before"] == {"keyRotationEnabled": False, "rotationPeriodInDays": None}
    assert record["after"] == {"keyRotationEnabled": True, "rotationPeriodInDays": 365}
    assert record["action"] == "EnableKeyRotation every 365 days (KMS's default)"
    assert status(factory, key_id) == (True, 365)
    assert key_tags(factory, key_id)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert Counter(kms.calls) == {
        "DescribeKey": 2,
        "GetKeyRotationStatus": 2,
        "ListResourceTags": 2,
        "EnableKeyRotation": 1,
        "TagResource": 1,
    }
    [stored] = list_records(factory, resource_id=key_id)
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"


def test_configured_period_is_used(factory, monkeypatch):
    monkeypatch.setenv(settings.KEY_ROTATION_PERIOD_DAYS, "180")
    key_id = new_key(factory)
    record = run(event("config", key_id))
    assert record["outcome"] == "applied" and "every 180 days" in record["action"]
    assert status(factory, key_id) == (True, 180)


def test_longer_period_is_shortened_to_the_configured_one(factory, monkeypatch):
    monkeypatch.setenv(settings.KEY_ROTATION_PERIOD_DAYS, "180")
    key_id = new_key(factory, rotation=365)
    record = run(event("cli", key_id))
    assert record["outcome"] == "applied"
    assert record["before"] == {"keyRotationEnabled": True, "rotationPeriodInDays": 365}
    assert status(factory, key_id) == (True, 180)


@pytest.mark.parametrize("days", ["30", "3000"])
def test_period_outside_range_fails_closed(factory, monkeypatch, days):
    monkeypatch.setenv(settings.KEY_ROTATION_PERIOD_DAYS, days)
    key_id = new_key(factory)
    with pytest.raises(RemediationFailedError):
        handler(event("config", key_id), CTX)
    [record] = list_records(factory, resource_id=key_id)
    assert record["outcome"] == "failed" and "must be 90-2560 days" in record["error"]
    assert status(factory, key_id) == (False, None)


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    key_id = new_key(factory)
    record = run(event("config", key_id))
    assert record["outcome"] == "dry-run" and "would EnableKeyRotation" in record["reason"]
    assert status(factory, key_id) == (False, None)


def test_opt_out_tag_is_honoured(factory):
    key_id = new_key(factory, tags={"configguard:auto-remediate": "false"})
    record = run(event("config", key_id))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert status(factory, key_id) == (False, None)


def test_rotating_key_is_skipped(factory):
    key_id = new_key(factory, rotation=90)
    record = run(event("config", key_id))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert status(factory, key_id) == (True, 90)


UNROTATABLE = {
    "imported": ({"Origin": "EXTERNAL"}, "Imported key material (origin EXTERNAL)"),
    "asymmetric": (
        {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
        "Asymmetric key (RSA_2048, SIGN_VERIFY)",
    ),
    "hmac": ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, "HMAC key (HMAC_256)"),
}


@pytest.mark.parametrize("kind", ["aws-managed", *UNROTATABLE])
def test_unrotatable_kinds_are_refused(factory, kind):
    kms = factory.client("kms")
    if kind == "aws-managed":
        key_id = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"]
        expected = "AWS-managed key"
    else:
        settings_, expected = UNROTATABLE[kind]
        key_id = new_key(factory, **settings_)
    before = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    record = run(event("cli", key_id))
    assert record["outcome"] == "refused" and expected in record["reason"], record
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] == before


def test_replica_key_is_refused_naming_its_primary(factory):
    primary = factory.client("kms", "us-west-2").create_key(MultiRegion=True)["KeyMetadata"]
    factory.client("kms", "us-west-2").replicate_key(
        KeyId=primary["KeyId"], ReplicaRegion="us-east-1"
    )
    record = run(event("cli", primary["KeyId"]))
    assert record["outcome"] == "refused"
    assert f"primary key {primary['Arn']} in us-west-2" in record["reason"]
    assert status(factory, primary["KeyId"]) == (False, None)


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_disabled_or_pending_key_is_refused(factory, state):
    kms = factory.client("kms")
    key_id = new_key(factory)
    if state == "Disabled":
        kms.disable_key(KeyId=key_id)
    else:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    record = run(event("config", key_id))
    assert record["outcome"] == "refused" and f"The key is {state}, not Enabled" in record["reason"]
    assert status(factory, key_id) == (False, None)


def test_deleted_key_is_skipped(factory):
    record = run(event("config", SAMPLE))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_failed_verification_is_recorded_and_raised(factory):
    key_id = new_key(factory)
    with (
        swallow_call(factory.client("kms"), "EnableKeyRotation", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", key_id), CTX)
    assert seen == ["EnableKeyRotation"]
    [record] = list_records(factory, resource_id=key_id)
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert status(factory, key_id) == (False, None)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (
            lambda e: e["detail"].update(configRuleName="kms-key-not-pending-deletion"),
            "does not fix rule",
        ),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e["detail"].pop("awsAccountId"), "malformed compliance-change"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", UNKNOWN))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
    assert list_records(factory, resource_id=UNKNOWN) == []


@pytest.mark.parametrize("kind", list(EVENTS))
def test_each_sample_event_enables_rotation(factory, kind):
    key_id = new_key(factory)
    record = run(event(kind, key_id))
    assert (record["outcome"], record["source"]) == ("applied", kind)
    assert status(factory, key_id) == (True, 365)


def test_rollback_disables_rotation_and_verifies(factory):
    key_id = new_key(factory)
    applied = run(event("config", key_id))
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"] == "rollback: DisableKeyRotation"
    assert undone["related_audit_id"] == applied["audit_id"]
    assert status(factory, key_id) == (False, None)


def test_rollback_restores_the_earlier_period(factory, monkeypatch):
    monkeypatch.setenv(settings.KEY_ROTATION_PERIOD_DAYS, "90")
    key_id = new_key(factory, rotation=730)
    applied = run(event("config", key_id))
    assert status(factory, key_id) == (True, 90)
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["action"] == "rollback: EnableKeyRotation every 730 days"
    assert status(factory, key_id) == (True, 730)


@pytest.mark.parametrize("change", ["period", "disabled"])
def test_rollback_is_refused_when_rotation_changed_since(factory, change):
    key_id = new_key(factory)
    applied = run(event("config", key_id))
    kms = factory.client("kms")
    if change == "period":
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=120)
    else:
        kms.disable_key_rotation(KeyId=key_id)
    undone = rollback(applied)
    assert undone["outcome"] == "refused" and "changed since" in undone["reason"]
    assert status(factory, key_id) == ((True, 120) if change == "period" else (False, None))


def test_paired_rule_is_compliant_after_the_fix(standin, factory):
    key_id = new_key(factory)
    rule = rule_module(RULE).lambda_handler
    ctx = lambda_context(f"configguard-{RULE}")
    rule(change_event(standin, RULE, cibuilder.read(factory, "AWS::KMS::Key", key_id)), ctx)
    assert stored_results(factory, RULE)[key_id][0] == "NON_COMPLIANT"
    assert run(event("config", key_id))["outcome"] == "applied"
    rule(change_event(standin, RULE, cibuilder.read(factory, "AWS::KMS::Key", key_id)), ctx)
    assert stored_results(factory, RULE)[key_id] == (
        "COMPLIANT",
        "Automatic key rotation is enabled.",
    )
