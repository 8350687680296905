"""Scenarios of remediations/set_log_retention.py, through its real handler.

The stand-in is reset once for this module: every test creates its own log group, so
audit records, idempotency keys and rule results never collide. The stand-in sets
CONFIGGUARD_LOG_RETENTION_DAYS=365.
"""

from __future__ import annotations

import copy
import json
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

FIX = "set-log-retention"
RULE = "log-group-retention"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "/aws/lambda/payments-worker"
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
    """Every test fixes its own group; the hourly cap is tested in test_engine_gates."""
    monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "1000")


def event(kind: str, name: str) -> dict:
    """The fix's sample event retargeted at log group `name`."""
    text = json.dumps(load_event(f"set_log_retention/{EVENTS[kind]}"))
    return json.loads(text.replace(SAMPLE, name))


def run(payload: dict) -> dict:
    results = handler(payload, CTX)["results"]
    assert len(results) == 1
    return results[0]


def group(factory, name: str, days: int | None = 30, tags: dict | None = None) -> str:
    logs = factory.client("logs")
    logs.create_log_group(logGroupName=name, **({"tags": tags} if tags else {}))
    if days is not None:
        logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    return name


def described(factory, name: str) -> dict:
    groups = factory.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    [found] = [g for g in groups if g["logGroupName"] == name]
    return found


def retention(factory, name: str) -> int | None:
    return described(factory, name).get("retentionInDays")


def rollback(record: dict) -> dict:
    return run(rollback_request_event(record, actor="carol", reason="INC-77 revert"))


def test_raises_retention_verifies_tags_and_audits(factory):
    name = group(factory, "/ret/applied", days=30)
    logs = CallCounter(factory.client("logs"))
    try:
        record = run(event("config", name))
    finally:
        logs.close()
    assert record["outcome"] == "applied", record
    assert record["before"] == {"retentionInDays": 30}
    assert record["after"] == {"retentionInDays": 365}
    assert retention(factory, name) == 365
    arn = described(factory, name)["logGroupArn"]
    tags = factory.client("logs").list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags[settings.LAST_REMEDIATION_TAG] == record["audit_id"]
    assert Counter(logs.calls) == {
        "DescribeLogGroups": 2,
        "ListTagsForResource": 2,
        "PutRetentionPolicy": 1,
        "TagResource": 1,
    }
    [stored] = list_records(factory, resource_id=name)
    assert stored["audit_id"] == record["audit_id"] and stored["source"] == "config"


def test_dry_run_mode_changes_nothing(factory, monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    name = group(factory, "/ret/dry-run", days=14)
    record = run(event("config", name))
    assert record["outcome"] == "dry-run"
    assert "would PutRetentionPolicy 365 days" in record["reason"]
    assert retention(factory, name) == 14


def test_opt_out_tag_is_honoured(factory):
    name = group(factory, "/ret/opted-out", tags={"configguard:auto-remediate": "false"})
    record = run(event("config", name))
    assert record["outcome"] == "skipped" and "opted out" in record["reason"]
    assert retention(factory, name) == 30


def test_longer_retention_is_skipped_and_never_shortened(factory):
    name = group(factory, "/ret/longer", days=400)
    record = run(event("cli", name))
    assert record["outcome"] == "skipped" and "already compliant" in record["reason"]
    assert retention(factory, name) == 400


def test_never_expiring_group_is_refused(factory):
    name = group(factory, "/ret/forever", days=None)
    record = run(event("cli", name))
    assert record["outcome"] == "refused"
    assert "never expire" in record["reason"] and "delete older events" in record["reason"]
    assert retention(factory, name) is None


def test_configured_retention_below_rule_default_is_refused(factory, monkeypatch):
    monkeypatch.setenv(settings.LOG_RETENTION_DAYS, "90")
    name = group(factory, "/ret/too-short-setting", days=30)
    record = run(event("config", name))
    assert record["outcome"] == "refused"
    assert "CONFIGGUARD_LOG_RETENTION_DAYS is 90 days" in record["reason"]
    assert "MinRetentionTime of 365" in record["reason"]
    assert retention(factory, name) == 30


def test_invalid_configured_retention_fails_closed(factory, monkeypatch):
    monkeypatch.setenv(settings.LOG_RETENTION_DAYS, "100")
    name = group(factory, "/ret/invalid-setting", days=30)
    with pytest.raises(RemediationFailedError):
        handler(event("config", name), CTX)
    [record] = list_records(factory, resource_id=name)
    assert (
        record["outcome"] == "failed" and "must be a CloudWatch Logs retention" in record["error"]
    )
    assert retention(factory, name) == 30


def test_deleted_group_is_skipped(factory):
    record = run(event("config", "/ret/never-created"))
    assert record["outcome"] == "skipped" and "no longer exists" in record["reason"]


def test_failed_verification_is_recorded_and_raised(factory):
    name = group(factory, "/ret/swallowed", days=7)
    with (
        swallow_call(factory.client("logs"), "PutRetentionPolicy", {}) as seen,
        pytest.raises(RemediationFailedError, match="failed on"),
    ):
        handler(event("config", name), CTX)
    assert seen == ["PutRetentionPolicy"]
    [record] = list_records(factory, resource_id=name)
    assert record["outcome"] == "failed" and "verification failed" in record["error"]
    assert retention(factory, name) == 7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["detail"]["newEvaluationResult"].update(complianceType="COMPLIANT"),
            "not NON_COMPLIANT",
        ),
        (
            lambda e: e["detail"].update(configRuleName="log-group-cmk-encrypted"),
            "does not fix rule",
        ),
        (lambda e: e.update(source="aws.s3"), "unsupported trigger"),
        (lambda e: e["detail"].pop("resourceId"), "malformed compliance-change"),
    ],
)
def test_invalid_triggers_are_rejected(factory, mutate, message):
    payload = copy.deepcopy(event("config", "/ret/invalid-trigger"))
    mutate(payload)
    with pytest.raises(InvalidTriggerError, match=message):
        handler(payload, CTX)
    assert list_records(factory, resource_id="/ret/invalid-trigger") == []


@pytest.mark.parametrize("kind", list(EVENTS))
def test_each_sample_event_sets_retention(factory, kind):
    name = group(factory, f"/ret/sample-{kind}", days=60)
    record = run(event(kind, name))
    assert (record["outcome"], record["source"]) == ("applied", kind)
    assert retention(factory, name) == 365


def test_rollback_is_refused_because_it_would_delete_events(factory):
    name = group(factory, "/ret/rollback", days=30)
    applied = run(event("config", name))
    undone = rollback(applied)
    assert undone["outcome"] == "refused"
    assert "shorten retention from 365 to 30 days" in undone["reason"]
    assert (
        f"aws logs put-retention-policy --log-group-name {name} --retention-in-days 30"
        in undone["reason"]
    )
    assert retention(factory, name) == 365


def test_rollback_is_refused_when_retention_changed_since(factory):
    name = group(factory, "/ret/rollback-changed", days=30)
    applied = run(event("config", name))
    factory.client("logs").put_retention_policy(logGroupName=name, retentionInDays=731)
    undone = rollback(applied)
    assert undone["outcome"] == "refused" and "changed since" in undone["reason"]
    assert retention(factory, name) == 731


def test_paired_rule_is_compliant_after_the_fix(standin, factory):
    name = group(factory, "/ret/rule-check", days=30)
    rule = rule_module(RULE).lambda_handler
    rule(scheduled_event(standin, RULE), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)[name][0] == "NON_COMPLIANT"
    assert run(event("config", name))["outcome"] == "applied"
    rule(scheduled_event(standin, RULE), lambda_context(f"configguard-{RULE}"))
    assert stored_results(factory, RULE)[name] == (
        "COMPLIANT",
        "Retention is 365 days (minimum 365).",
    )
