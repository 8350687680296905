"""Scenarios of remediations/enable_log_group_encryption.py, through its real handler.

The stand-in is reset once for this module: every test creates its own log group, so
audit records, idempotency keys and rule results never collide.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter

import pytest
from conftest import CallCounter, lambda_context, load_event, scheduled_event, stored_results
from faults import swallow_call

from configguard import settings
from configguard.remediation import RemediationFailedError
from configguard.triggers import InvalidTriggerError
from configguard_cli.auditlog import list_records
from configguard_cli.events import rollback_request_event
from configguard_cli.handlers import remediation_module, rule_module

FIX = "enable-log-group-encryption"
RULE = "log-group-cmk-encrypted"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "/aws/lambda/orders-api"
EVENTS = {
    "config": "config-compliance-change.json",
    "securityhub": "securityhub-custom-action.json",
    "cli": "cli-fix-request.json",
}
OPT_OUT = {"configguard:auto-remediate": "false"}


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    """Every test fixes its own group; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")


def event(kind: str, name: str) -> dict:
    """The fix's sample event retargeted at log group `name`."""
    text = json.dumps(load_event(f"enable_log_group_encryption/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE, name))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def group(factory, name: str, key_arn: str | None = None, tags: dict | None = None) -> str:
    extra: dict = {"tags": tags} if tags else {}
    if key_arn:
        extra["kmsKeyId"] = key_arn
    factory.client("logs").create_log_group(logGroupName=name, **extra)
    return name


def described(factory, name: str) -> dict:
    [found] = [
        g
        for g in factory.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        if g["logGroupName"] == name
    ]
    return found


def group_tags(factory, name: str) -> dict:
    return factory.client("logs").list_tags_for_resource(
        resourceArn=described(factory, name)["logGroupArn"]
    )["tags"]


def stack_key() -> str:
    return os.environ[settings.KEY_ARN]


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-31 revert"))


def test_applies_stack_key_verifies_tags_and_audits(factory):
    name = group(factory, "/app/applied")
    logs, kms = CallCounter(factory.client("logs")), CallCounter(factory.client("kms"))
    try:
        record = run(event("config", name))
    finally:
        logs.close()
        kms.close()
    assert record["outcome"] == "applied", record
    assert record["before"] == {"kmsKeyId": None}
    assert record["after"] == {"kmsKeyId": stack_key()}
    assert described(factory, name)["kmsKeyId"] == stack_key()
    assert group_tags(factory, name)[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert Counter(logs.calls) == {
        "DescribeLogGroups": 2,
        "ListTagsForResource": 2,
        "AssociateKmsKey": 1,
        "TagResource": 1,
    }
    assert kms.calls == ["DescribeKey"]
    [stored] = list_records(factory, resource_id=name)
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    name = group(factory, "/app/dry-run")
    record = run(event("config", name))
    assert record["outcome"] == "dry-run"
    assert "would AssociateKmsKey" in record["reason"] and record["after"]["kmsKeyId"]
    assert "kmsKeyId" not in described(factory, name)


def test_opt_out_tag_is_honoured(factory):
    name = group(factory, "/app/opted-out", tags=OPT_OUT)
    record = run(event("config", name))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert "kmsKeyId" not in described(factory, name)


def test_group_with_the_stack_key_is_skipped(factory):
    name = group(factory, "/app/already", key_arn=stack_key())
    record = run(event("config", name))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]


def test_group_with_another_key_is_refused_naming_it(factory):
    other = factory.client("kms").create_key(Description="team key")["KeyMetadata"]
    name = group(factory, "/app/other-key", key_arn=other["Arn"])
    record = run(event("cli", name))
    assert record["outcome"] == "refused"
    assert f"already encrypted with KMS key {other['KeyId']}" in record["reason"]
    assert "never re-keys" in record["reason"]
    assert described(factory, name)["kmsKeyId"] == other["Arn"]


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_stack_key_not_enabled_is_refused(factory, monkeypatch, state):
    kms = factory.client("kms")
    key = kms.create_key(Description=f"unusable {state}")["KeyMetadata"]
    if state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    monkeypatch.setenv(settings.KEY_ARN, key["Arn"])
    name = group(factory, f"/app/key-{state.lower()}")
    record = run(event("config", name))
    assert record["outcome"] == "refused"
    assert f"is {state}, not Enabled" in record["reason"]
    assert "kmsKeyId" not in described(factory, name)


def test_deleted_group_is_skipped(factory):
    record = run(event("config", "/app/never-created"))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_failed_verification_is_recorded_and_raised(factory):
    name = group(factory, "/app/swallowed")
    with (
        swallow_call(factory.client("logs"), "AssociateKmsKey", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", name), CTX)
    assert seen == ["AssociateKmsKey"]
    [record] = list_records(factory, resource_id=name)
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert "kmsKeyId" not in described(factory, name)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (lambda e: e["detail"].update(configRuleName="log-group-retention"), "does not fix rule"),
        (lambda e: e["detail"].update(resourceType="AWS::KMS::Key"), "does not fix AWS::KMS::Key"),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e.pop("detail"), "not an EventBridge event"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", "/app/invalid-trigger"))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
    assert list_records(factory, resource_id="/app/invalid-trigger") == []


@pytest.mark.parametrize("kind", list(EVENTS))
def test_each_sample_event_encrypts_the_group(factory, kind):
    name = group(factory, f"/app/sample-{kind}")
    record = run(event(kind, name))
    assert (record["outcome"], record["source"]) == ("applied", kind)
    assert described(factory, name)["kmsKeyId"] == stack_key()


def test_rollback_disassociates_and_verifies(factory):
    name = group(factory, "/app/rollback")
    applied = run(event("config", name))
    undone = rollback(applied)
    assert undone["outcome"] == "applied", undone
    assert undone["related_audit_id"] == applied["audit_id"]
    assert undone["action"] == "rollback: DisassociateKmsKey"
    assert undone["after"] == {"kmsKeyId": None}
    assert "stay encrypted with it" in undone["details"]["earlierEvents"]
    assert "kmsKeyId" not in described(factory, name)


def test_rollback_is_refused_when_the_key_changed_since(factory):
    name = group(factory, "/app/rollback-changed")
    applied = run(event("config", name))
    other = factory.client("kms").create_key(Description="rekeyed")["KeyMetadata"]["Arn"]
    factory.client("logs").associate_kms_key(logGroupName=name, kmsKeyId=other)
    undone = rollback(applied)
    assert undone["outcome"] == "refused" and "changed since" in undone["reason"]
    assert described(factory, name)["kmsKeyId"] == other


def test_paired_rule_is_compliant_after_the_fix(standin, factory):
    name = group(factory, "/app/rule-check")
    rule = rule_module(RULE).lambda_handler
    rule(scheduled_event(standin, RULE), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)[name][0] == "NON_COMPLIANT"
    assert run(event("config", name))["outcome"] == "applied"
    rule(scheduled_event(standin, RULE), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)[name][0] == "COMPLIANT"
