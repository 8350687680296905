"""Scenarios of remediations/enable_cloudtrail_encryption.py, through its real handler.

The stand-in is reset once for this module: every test creates its own trail, so audit
records, idempotency keys and rule results never collide. The stand-in provisions no
trail; one bucket receives every test trail's logs.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter

import pytest
from conftest import (
    ACCOUNT,
    CallCounter,
    lambda_context,
    load_event,
    scheduled_event,
    stored_results,
)
from faults import swallow_call

from configguard import settings
from configguard.remediation import Refusal, RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module

FIX = "enable-cloudtrail-encryption"
RULE = "cloudtrail-security-trail"
module = remediation_module(FIX)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "management-events"
BUCKET = "configguard-fix-trail-logs"
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
    module_factory.client("s3").create_bucket(Bucket=BUCKET)
    return module_factory


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    """Every test fixes its own trail; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")


def event(kind: str, name: str) -> dict:
    """The fix's sample event retargeted at trail `name` (or a trail ARN)."""
    text = json.dumps(load_event(f"enable_cloudtrail_encryption/{EVENTS[kind]}"))
    if name.startswith("arn:"):
        text = text.replace(f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{SAMPLE}", name)
    return json.loads(text.replace(SAMPLE, name))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def trail(
    factory,
    name: str,
    *,
    region: str | None = None,
    key_arn: str | None = None,
    validation: bool = False,
    tags: dict | None = None,
) -> str:
    extra: dict = {"KmsKeyId": key_arn} if key_arn else {}
    if tags:
        extra["TagsList"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    created = factory.client("cloudtrail", region).create_trail(
        Name=name,
        S3BucketName=BUCKET,
        IsMultiRegionTrail=region is not None,
        EnableLogFileValidation=validation,
        **extra,
    )
    return str(created["TrailARN"])


def settings_of(factory, name: str) -> tuple[str | None, bool]:
    found = factory.client("cloudtrail").get_trail(Name=name)["Trail"]
    return found.get("KmsKeyId") or None, bool(found["LogFileValidationEnabled"])


def stack_key() -> str:
    return os.environ[settings.KEY_ARN]


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-64 revert"))


def test_encrypts_and_validates_verifies_tags_and_audits(factory):
    arn = trail(factory, "applied-trail")
    calls = CallCounter(factory.client("cloudtrail"))
    try:
        record = run(event("config", "applied-trail"))
    finally:
        calls.close()
    assert record["outcome"] == "applied", record
    key_id = stack_key().split("/")[-1]
    assert record["action"] == f"UpdateTrail KmsKeyId={key_id}, EnableLogFileValidation=true"
    assert record["before"] == {"kmsKeyId": None, "logFileValidationEnabled": False}
    assert record["after"] == {"kmsKeyId": stack_key(), "logFileValidationEnabled": True}
    assert "kms:Decrypt" in record["details"]["readers"]
    assert settings_of(factory, "applied-trail") == (stack_key(), True)
    tags = factory.client("cloudtrail").list_tags(ResourceIdList=[arn])["ResourceTagList"][0]
    assert {"Key": settings.LAST_REMEDIATION_TAG, "Value": record["audit_id"]} in tags["TagsList"]
    assert Counter(calls.calls) == {"GetTrail": 2, "ListTags": 2, "UpdateTrail": 1, "AddTags": 1}
    [stored] = list_records(factory, resource_id="applied-trail")
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"


def test_only_missing_validation_is_enabled_and_own_key_kept(factory):
    own = factory.client("kms").create_key(Description="trail team key")["KeyMetadata"]["Arn"]
    trail(factory, "own-key-trail", key_arn=own)
    record = run(event("config", "own-key-trail"))
    assert record["outcome"] == "applied"
    assert record["action"] == "UpdateTrail EnableLogFileValidation=true"
    assert record["details"] == {"updateTrail": {"EnableLogFileValidation": True}}
    assert settings_of(factory, "own-key-trail") == (own, True)


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    trail(factory, "dry-run-trail")
    record = run(event("config", "dry-run-trail"))
    assert record["outcome"] == "dry-run" and "would UpdateTrail KmsKeyId=" in record["reason"]
    assert settings_of(factory, "dry-run-trail") == (None, False)


def test_opt_out_tag_is_honoured(factory):
    trail(factory, "opted-out-trail", tags={"configguard:auto-remediate": "false"})
    record = run(event("config", "opted-out-trail"))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert settings_of(factory, "opted-out-trail") == (None, False)


def test_hardened_trail_is_skipped(factory):
    trail(factory, "hardened-trail", key_arn=stack_key(), validation=True)
    record = run(event("config", "hardened-trail"))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]


def test_shadow_trail_is_refused_naming_its_home_region(factory):
    arn = trail(factory, "west-trail", region="us-west-2")
    record = run(event("cli", arn))
    assert record["outcome"] == "refused"
    assert (
        "homed in us-west-2" in record["reason"] and "Run the fix in us-west-2" in record["reason"]
    )
    found = factory.client("cloudtrail", "us-west-2").get_trail(Name="west-trail")["Trail"]
    assert not found.get("KmsKeyId") and not found["LogFileValidationEnabled"]


def test_organization_trail_of_another_account_is_refused():
    state = module.TrailState(
        name="org-trail",
        arn="arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
        home_region="us-east-1",
        region="us-east-1",
        kms_key_id=None,
        validation=False,
        tags={},
    )
    with pytest.raises(Refusal, match="belongs to account 111122223333"):
        module.check_changeable(state, ACCOUNT)


def test_deleted_trail_is_skipped(factory):
    record = run(event("config", "never-created-trail"))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_failed_verification_is_recorded_and_raised(factory):
    trail(factory, "swallowed-trail")
    with (
        swallow_call(factory.client("cloudtrail"), "UpdateTrail", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", "swallowed-trail"), CTX)
    assert seen == ["UpdateTrail"]
    [record] = list_records(factory, resource_id="swallowed-trail")
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert settings_of(factory, "swallowed-trail") == (None, False)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (
            lambda e: e["detail"].update(resourceType="AWS::::Account"),
            "does not fix AWS::::Account",
        ),
        (lambda e: e["detail"].update(configRuleName="kms-key-policy-safe"), "does not fix rule"),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", "invalid-trigger-trail"))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
    assert list_records(factory, resource_id="invalid-trigger-trail") == []


@pytest.mark.parametrize("kind", list(EVENTS))
def test_each_sample_event_hardens_the_trail(factory, kind):
    name = f"sample-{kind}-trail"
    trail(factory, name)
    record = run(event(kind, name))
    assert (record["outcome"], record["source"]) == ("applied", kind)
    assert settings_of(factory, name) == (stack_key(), True)


def test_rollback_restores_earlier_settings_and_verifies(factory):
    trail(factory, "rollback-trail")
    applied = run(event("config", "rollback-trail"))
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["related_audit_id"] == applied["audit_id"]
    assert undone["action"] == "rollback: UpdateTrail KmsKeyId='', EnableLogFileValidation=False"
    assert undone["after"] == {"kmsKeyId": None, "logFileValidationEnabled": False}
    assert settings_of(factory, "rollback-trail") == (None, False)


def test_rollback_is_refused_when_the_trail_changed_since(factory):
    trail(factory, "rollback-changed-trail")
    applied = run(event("config", "rollback-changed-trail"))
    other = factory.client("kms").create_key(Description="rekeyed trail")["KeyMetadata"]["Arn"]
    factory.client("cloudtrail").update_trail(Name="rollback-changed-trail", KmsKeyId=other)
    undone = rollback(applied)
    assert undone["outcome"] == "refused" and "changed since" in undone["reason"]
    assert settings_of(factory, "rollback-changed-trail") == (other, True)


def test_paired_rule_is_compliant_after_the_fix(standin, factory):
    trail(factory, "rule-check-trail")
    rule = rule_module(RULE).lambda_handler
    ctx = lambda_context(f"configguard-{RULE}")
    rule(scheduled_event(standin, RULE), ctx)
    assert stored_results(factory, RULE)["rule-check-trail"][0] == "NON_COMPLIANT"
    assert run(event("config", "rule-check-trail"))["outcome"] == "applied"
    rule(scheduled_event(standin, RULE), ctx)
    assert stored_results(factory, RULE)["rule-check-trail"] == (
        "COMPLIANT",
        "Log file validation is on and logs are KMS-encrypted.",
    )
