"""The on-call notification: subject, JSON body and filterable attributes (audit.write).

A real fix handler (set-log-retention) runs against the stand-in; SQS queues
subscribed to the on-call topic receive what on-call would. Envelope delivery (raw
message delivery off, SNS's default) is what email and HTTPS subscribers get too: the
SNS Subject, the Message and the MessageAttributes side by side.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import lambda_context, load_event
from faults import swallow_call

from configguard import audit, settings
from configguard.audit import AuditRecord, Outcome
from configguard.remediation import RemediationFailedError
from configguard_cli.auditlog import list_records
from configguard_cli.handlers import remediation_module
from configguard_cli.local.scenarios import fake_token

FIX = "set-log-retention"
RULE = "log-group-retention"
handler = remediation_module(FIX).lambda_handler
CTX = lambda_context(f"configguard-{FIX}")
SAMPLE = "/aws/lambda/payments-worker"
BASE = "https://runbooks.example/configguard/docs/runbooks"
ATTRIBUTES = {"outcome", "remediation", "rule", "account_id"}


class Subscriber:
    """An SQS queue subscribed to the on-call topic, optionally with a filter policy."""

    def __init__(self, standin: Any, factory: Any, name: str, policy: dict | None = None):
        self.sqs = factory.client("sqs")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        factory.client("sns").subscribe(
            TopicArn=standin.topic_arn(), Protocol="sqs", Endpoint=arn, Attributes=attributes
        )

    def received(self) -> list[dict[str, Any]]:
        """Every SNS envelope delivered so far (drained)."""
        envelopes: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return envelopes
            for message in got["Messages"]:
                envelopes.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def event(name: str) -> dict:
    """The fix's Config sample event retargeted at log group `name`."""
    text = json.dumps(load_event("set_log_retention/config-compliance-change.json"))
    return json.loads(text.replace(SAMPLE, name))


def group(factory: Any, name: str, days: int = 30) -> str:
    logs = factory.client("logs")
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    return name


def stored(factory: Any, name: str) -> dict[str, Any]:
    [record] = list_records(factory, resource_id=name)
    return record


def attributes(envelope: dict[str, Any]) -> dict[str, str]:
    found = envelope.get("MessageAttributes", {})
    assert {a["Type"] for a in found.values()} <= {"String"}
    return {name: a["Value"] for name, a in found.items()}


@pytest.fixture
def oncall(standin, factory) -> Subscriber:
    return Subscriber(standin, factory, "notify-all")


@pytest.fixture
def pager(standin, factory) -> Subscriber:
    """What a pager subscription with the documented failed-only filter policy gets."""
    return Subscriber(standin, factory, "notify-failed", {"outcome": ["failed"]})


def test_applied_fix_notifies_subject_body_and_attributes(factory, oncall, monkeypatch):
    monkeypatch.setenv(settings.RUNBOOK_BASE_URL, BASE)
    name = group(factory, "/notify/applied")
    result = handler(event(name), CTX)["results"][0]
    assert result["outcome"] == "applied"
    record = stored(factory, name)

    [envelope] = oncall.received()
    subject = f"configguard: applied {FIX} on {name}"
    assert envelope["Subject"] == subject
    body = json.loads(envelope["Message"])
    assert body == {**record, "runbook": f"{BASE}/{RULE}.md", "subject": subject}
    assert attributes(envelope) == {
        "outcome": "applied",
        "remediation": FIX,
        "rule": RULE,
        "account_id": record["account_id"],
    }


def test_failed_fix_reaches_the_failed_only_filter_and_nothing_else_does(
    factory, oncall, pager, monkeypatch
):
    monkeypatch.setenv(settings.REMEDIATION_MODE, "dry-run")
    dry = group(factory, "/notify/dry-run")
    assert handler(event(dry), CTX)["results"][0]["outcome"] == "dry-run"
    monkeypatch.setenv(settings.REMEDIATION_MODE, "apply")
    applied = group(factory, "/notify/applied-too")
    assert handler(event(applied), CTX)["results"][0]["outcome"] == "applied"
    failed = group(factory, "/notify/swallowed", days=7)
    with (
        swallow_call(factory.client("logs"), "PutRetentionPolicy", {}),
        pytest.raises(RemediationFailedError),
    ):
        handler(event(failed), CTX)

    everything = oncall.received()
    assert [attributes(e)["outcome"] for e in everything] == ["dry-run", "applied", "failed"]
    [paged] = pager.received()
    assert attributes(paged)["outcome"] == "failed"
    assert paged["Subject"] == f"configguard: failed {FIX} on {failed}"
    body = json.loads(paged["Message"])
    assert body == {**stored(factory, failed), "runbook": None, "subject": paged["Subject"]}
    assert "verification failed" in body["error"]


def test_quiet_outcomes_are_not_sent(factory, oncall):
    name = group(factory, "/notify/already-long", days=400)
    assert handler(event(name), CTX)["results"][0]["outcome"] == "skipped"
    assert stored(factory, name)["outcome"] == "skipped"
    assert oncall.received() == []


def test_long_resource_ids_keep_their_end_within_the_subject_limit(factory, oncall):
    name = group(factory, "/notify/" + "deep/" * 40 + "payments-worker")
    handler(event(name), CTX)
    [envelope] = oncall.received()
    subject = envelope["Subject"]
    assert len(subject) <= audit.SUBJECT_LIMIT < 100
    assert subject.startswith(f"configguard: applied {FIX} on ...")
    assert subject.endswith("deep/payments-worker")
    assert json.loads(envelope["Message"])["resource_id"] == name


def test_subject_is_printable_ascii_on_one_line():
    subject = audit.subject("failed", FIX, "/app/caf\u00e9\nline\ttwo")
    assert subject == f"configguard: failed {FIX} on /app/caf? line two"
    assert all(" " <= c <= "~" for c in subject)
    assert audit.subject("blocked", FIX, "") == f"configguard: blocked {FIX} on ?"


def test_notification_body_never_holds_a_secret_value():
    key = fake_token("AKIA", 16, 7).upper()
    record = AuditRecord(
        actor="test",
        source="cli",
        event_id="e-1",
        remediation=FIX,
        rule=RULE,
        resource_type="AWS::Logs::LogGroup",
        resource_id="/app/leaky",
        account_id="123456789012",
        region="us-east-1",
        outcome=Outcome.FAILED,
        reason=f"the caller passed {key}",
        before={"password": "hunter2-hunter2"},
    )
    message = audit.notification(record.safe())
    text = json.dumps(message)
    assert key not in text and "hunter2" not in text
    assert json.loads(message["Message"])["subject"] == message["Subject"]
    assert set(message["MessageAttributes"]) == ATTRIBUTES
