"""Audit records: what configguard did (or chose not to do), to what, and why.

Every record is redacted before it leaves the process, then written to the
DynamoDB audit table, a structured log line, the on-call topic and EMF metrics.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from configguard import runbooks, settings
from configguard.clients import ClientFactory
from configguard.observability import logger, metrics
from configguard.redact import redact, redact_text


class Outcome(StrEnum):
    APPLIED = "applied"
    DRY_RUN = "dry-run"
    SKIPPED = "skipped"
    REFUSED = "refused"
    BLOCKED = "blocked"
    FAILED = "failed"
    DUPLICATE = "duplicate"


class ResourceState(StrEnum):
    """Where an attempted change left the resource, judged against the plan by a read-back."""

    CHANGED = "changed"  # as the plan's after
    UNCHANGED = "unchanged"  # still as the plan's before: nothing took effect
    PARTIAL = "partial"  # neither: part of the change took effect (a person must look)
    UNKNOWN = "unknown"  # the read-back failed or found the resource gone


# Outcomes that page nobody: nothing changed and nothing needs a human.
_QUIET = frozenset({Outcome.SKIPPED, Outcome.DUPLICATE})
_METRIC = {
    Outcome.APPLIED: "RemediationsApplied",
    Outcome.DRY_RUN: "RemediationsDryRun",
    Outcome.SKIPPED: "RemediationsSkipped",
    Outcome.REFUSED: "RemediationsRefused",
    Outcome.BLOCKED: "RemediationsBlocked",
    Outcome.FAILED: "RemediationsFailed",
    Outcome.DUPLICATE: "RemediationsDuplicate",
}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_audit_id() -> str:
    """Time-ordered and unique: 13 hex digits of epoch ms plus 48 random bits."""
    millis = int(datetime.now(UTC).timestamp() * 1000)
    return f"{millis:013x}-{secrets.token_hex(6)}"


class AuditRecord(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    audit_id: str = Field(default_factory=new_audit_id)
    time: str = Field(default_factory=utc_now)
    actor: str
    source: str
    event_id: str
    remediation: str
    rule: str
    resource_type: str
    resource_id: str
    resource_arn: str | None = None
    account_id: str
    region: str
    action: str = ""
    mode: str = ""
    outcome: Outcome = Outcome.FAILED
    reason: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # What a rollback needs beyond before/after (e.g. the secret ARN); never values.
    details: dict[str, Any] | None = None
    error: str | None = None
    # Set once a change was attempted (ResourceState), so a failure says what it left.
    resource_state: ResourceState | None = None
    related_audit_id: str | None = None
    notes: list[str] = Field(default_factory=list)

    def safe(self) -> dict[str, Any]:
        """The record as plain data with every secret value redacted."""
        data = self.model_dump(mode="json")
        data["before"] = redact(data["before"])
        data["after"] = redact(data["after"])
        data["details"] = redact(data["details"])
        for key in ("reason", "error"):
            if data[key]:
                data[key] = redact_text(str(data[key]))
        data["notes"] = [redact_text(n) for n in data["notes"]]
        return data

    def summary(self) -> str:
        """The notification subject: outcome first, so it reads well in an inbox or pager."""
        return subject(str(self.outcome), self.remediation, self.resource_id)


# SNS subjects: printable ASCII, no line breaks, fewer than 100 characters.
SUBJECT_LIMIT = 99
# The message attributes subscribers can filter on (SNS subscription filter policies).
NOTIFICATION_ATTRIBUTES = ("outcome", "remediation", "rule", "account_id")


def _ascii(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def subject(outcome: str, remediation: str, resource_id: str) -> str:
    """`configguard: <outcome> <fix> on <resource>`; a long resource keeps its end."""
    head = _ascii(f"configguard: {outcome} {remediation} on ")[:SUBJECT_LIMIT]
    resource = _ascii(" ".join(resource_id.split())) or "?"
    room = SUBJECT_LIMIT - len(head)
    if len(resource) > room:
        resource = "..." + resource[-(room - 3) :] if room > 3 else ""
    return (head + resource).rstrip()


def notification(data: dict[str, Any]) -> dict[str, Any]:
    """SNS Publish arguments for a redacted record: subject, JSON body, filterable attributes.

    The body holds the record's fields plus `subject` and `runbook` (URL or null).
    """
    title = subject(str(data["outcome"]), str(data["remediation"]), str(data["resource_id"]))
    body = {**data, "subject": title, "runbook": runbooks.url(str(data["rule"]))}
    attributes = {
        name: {"DataType": "String", "StringValue": str(data[name])}
        for name in NOTIFICATION_ATTRIBUTES
        if data.get(name)
    }
    return {
        "Subject": title,
        "Message": json.dumps(body, sort_keys=True),
        "MessageAttributes": attributes,
    }


def write(record: AuditRecord, factory: ClientFactory) -> dict[str, Any]:
    """Persist the record everywhere it belongs; returns the redacted form.

    The table write is mandatory (an audit that cannot be stored is an error);
    SNS is best effort and its failure is logged and noted in the record. On-call
    receives `notification(data)`: subject, JSON body and filterable attributes.
    """
    data = record.safe()
    logger.info("audit record", extra={"audit": data})
    metrics.add_metric(name=_METRIC[Outcome(record.outcome)], unit=MetricUnit.Count, value=1)
    factory.client("dynamodb").put_item(
        TableName=settings.require(settings.AUDIT_TABLE),
        Item={
            "AuditId": {"S": data["audit_id"]},
            "Time": {"S": data["time"]},
            "ResourceId": {"S": data["resource_id"]},
            "Rule": {"S": data["rule"]},
            "Remediation": {"S": data["remediation"]},
            "Outcome": {"S": data["outcome"]},
            "AccountId": {"S": data["account_id"]},
            "Record": {"S": json.dumps(data, sort_keys=True)},
        },
        ConditionExpression="attribute_not_exists(AuditId)",
    )
    if Outcome(record.outcome) not in _QUIET:
        topic = settings.optional(settings.ONCALL_TOPIC, "")
        if topic:
            try:
                factory.client("sns").publish(TopicArn=topic, **notification(data))
            except Exception as exc:
                logger.warning(
                    "on-call notification failed", extra={"error": redact_text(str(exc))}
                )
    return data


def read(factory: ClientFactory, audit_id: str) -> dict[str, Any] | None:
    """One stored record by id, or None."""
    item = (
        factory.client("dynamodb")
        .get_item(
            TableName=settings.require(settings.AUDIT_TABLE),
            Key={"AuditId": {"S": audit_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return from_item(item) if item else None


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored record (DynamoDB item, low-level shape) back as plain data."""
    record: dict[str, Any] = json.loads(item["Record"]["S"])
    return record
