"""Scenarios of remediations/cancel_kms_key_deletion.py, through its real handler.

The stand-in is reset once for this module: every test creates its own key, so audit
records, idempotency keys and rule results never collide. The fix is off by default; the
stand-in's environment sets every fix to apply, so tests that check the opt-in remove
that and use the SSM mode override instead. The sample events name a key id that does
not exist; tests point them at the keys they create.
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

FIX = "cancel-kms-key-deletion"
RULE = "kms-key-not-pending-deletion"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "3a8e5d21-9c4f-4b6a-8e2d-7f1b0c9a5e34"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
MODE_PARAMETER = f"/configguard/remediations/{FIX}/mode"
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


@pytest.fixture
def opted_in(factory, monkeypatch):
    """The default mode (off) with the SSM override set to apply: the explicit opt-in."""
    monkeypatch.delenv(settings.REMEDIATION_MODE)
    ssm = factory.client("ssm")
    ssm.put_parameter(Name=MODE_PARAMETER, Value="apply", Type="String", Overwrite=True)
    yield
    ssm.delete_parameter(Name=MODE_PARAMETER)


def event(kind: str, key_id: str) -> dict:
    """The fix's sample event retargeted at `key_id`."""
    text = json.dumps(load_event(f"cancel_kms_key_deletion/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE, key_id))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def pending_key(factory, tags: dict | None = None, schedule: bool = True) -> str:
    kms = factory.client("kms")
    extra = {"Tags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()]} if tags else {}
    key_id = str(kms.create_key(**extra)["KeyMetadata"]["KeyId"])
    if schedule:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    return key_id


def key_state(factory, key_id: str) -> str:
    return str(factory.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])


def key_tags(factory, key_id: str) -> dict:
    found = factory.client("kms").list_resource_tags(KeyId=key_id)["Tags"]
    return {t["TagKey"]: t["TagValue"] for t in found}


def test_cancels_deletion_leaves_key_disabled_tags_and_audits(factory, opted_in):
    key_id = pending_key(factory)
    kms = CallCounter(factory.client("kms"))
    try:
        record = run(event("config", key_id))
    finally:
        kms.close()
    assert record["outcome"] == "applied", record
    assert record["mode"] == "apply"
    assert record["before"]["keyState"] == "PendingDeletion" and record["before"]["deletionDate"]
    assert record["after"] == {"keyState": "Disabled", "deletionDate": None}
    assert "the key stays Disabled" in record["reason"]
    assert f"aws kms enable-key --key-id {key_id}" in record["details"]["leftDisabled"]
    assert key_state(factory, key_id) == "Disabled"
    assert key_tags(factory, key_id)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert Counter(kms.calls) == {
        "DescribeKey": 2,
        "ListResourceTags": 2,
        "CancelKeyDeletion": 1,
        "TagResource": 1,
    }
    [stored] = list_records(factory, resource_id=key_id)
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"


def test_default_mode_off_blocks(factory, monkeypatch):
    monkeypatch.delenv(settings.REMEDIATION_MODE)
    key_id = pending_key(factory)
    record = run(event("config", key_id))
    assert record["outcome"] == "blocked" and "mode is off" in record["reason"]
    assert key_state(factory, key_id) == "PendingDeletion"


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    key_id = pending_key(factory)
    record = run(event("config", key_id))
    assert record["outcome"] == "dry-run" and "would CancelKeyDeletion" in record["reason"]
    assert key_state(factory, key_id) == "PendingDeletion"


def test_opt_out_tag_is_honoured(factory, opted_in):
    key_id = pending_key(factory, tags={"configguard:auto-remediate": "false"})
    record = run(event("config", key_id))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert key_state(factory, key_id) == "PendingDeletion"


@pytest.mark.parametrize("state", ["Enabled", "Disabled"])
def test_key_not_pending_deletion_is_skipped(factory, opted_in, state):
    key_id = pending_key(factory, schedule=False)
    if state == "Disabled":
        factory.client("kms").disable_key(KeyId=key_id)
    record = run(event("cli", key_id))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert key_state(factory, key_id) == state


def test_aws_managed_key_is_skipped(factory, opted_in):
    key_id = factory.client("kms").describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"]
    record = run(event("cli", key_id))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert key_state(factory, key_id) == "Enabled"


def test_deleted_key_is_skipped(factory, opted_in):
    record = run(event("config", SAMPLE))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_failed_verification_is_recorded_and_raised(factory, opted_in):
    key_id = pending_key(factory)
    with (
        swallow_call(factory.client("kms"), "CancelKeyDeletion", {"KeyId": key_id}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", key_id), CTX)
    assert seen == ["CancelKeyDeletion"]
    [record] = list_records(factory, resource_id=key_id)
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert key_state(factory, key_id) == "PendingDeletion"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (
            lambda e: e["detail"].update(configRuleName="kms-key-rotation-enabled"),
            "does not fix rule",
        ),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", UNKNOWN))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
    assert list_records(factory, resource_id=UNKNOWN) == []


@pytest.mark.parametrize("kind", list(EVENTS))
def test_each_sample_event_cancels_the_deletion(factory, opted_in, kind):
    key_id = pending_key(factory)
    record = run(event(kind, key_id))
    assert (record["outcome"], record["source"]) == ("applied", kind)
    assert key_state(factory, key_id) == "Disabled"


def test_rollback_is_refused_naming_the_command(factory, opted_in):
    key_id = pending_key(factory)
    applied = run(event("config", key_id))
    undone = run(rollback_request_event(applied, actor="carol", reason="INC-12 revert"))
    assert undone["outcome"] == "refused" and "destructive" in undone["reason"]
    assert f"aws kms schedule-key-deletion --key-id {key_id}" in undone["reason"]
    assert key_state(factory, key_id) == "Disabled"


def test_paired_rule_is_compliant_after_the_fix(standin, factory, opted_in):
    key_id = pending_key(factory)
    rule = rule_module(RULE).lambda_handler
    ctx = lambda_context(f"configguard-{RULE}")
    rule(change_event(standin, RULE, cibuilder.read(factory, "AWS::KMS::Key", key_id)), ctx)
    assert stored_results(factory, RULE)[key_id][0] == "NON_COMPLIANT"
    assert run(event("config", key_id))["outcome"] == "applied"
    rule(change_event(standin, RULE, cibuilder.read(factory, "AWS::KMS::Key", key_id)), ctx)
    assert stored_results(factory, RULE)[key_id] == (
        "COMPLIANT",
        "The key is not scheduled for deletion (state Disabled).",
    )
