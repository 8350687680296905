"""Read audit records back from the audit table, filtered where DynamoDB can filter."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from configguard import audit, settings
from configguard.clients import ClientFactory

_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (naive means UTC) or a relative age such as `30m`, `24h`, `7d`, `2w`."""
    raw = text.strip()
    relative = _RELATIVE.fullmatch(raw.lower())
    if relative:
        amount, unit = relative.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"invalid time {raw[:40]!r}: use ISO 8601 (2024-05-01T12:00Z) or an age (24h, 7d)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def stamp(moment: datetime) -> str:
    """A time in the audit table's own format (`audit.utc_now`), so strings compare in order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditFilter:
    """What `configguard audit` asks for; every field is optional."""

    resource_id: str | None = None
    rule: str | None = None
    remediation: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError("--since is later than --until")
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be at least 1")


def _expressions(wanted: AuditFilter) -> dict[str, Any]:
    """Query/Scan parameters: the resource and its time range as key condition, rest as filter."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    key: list[str] = []
    conditions: list[str] = []
    time_target = key if wanted.resource_id else conditions
    if wanted.resource_id:
        names["#resource"] = "ResourceId"
        values[":resource"] = {"S": wanted.resource_id}
        key.append("#resource = :resource")
    if wanted.since or wanted.until:
        names["#time"] = "Time"
        if wanted.since and wanted.until:
            values[":since"] = {"S": stamp(wanted.since)}
            values[":until"] = {"S": stamp(wanted.until)}
            time_target.append("#time BETWEEN :since AND :until")
        elif wanted.since:
            values[":since"] = {"S": stamp(wanted.since)}
            time_target.append("#time >= :since")
        elif wanted.until:
            values[":until"] = {"S": stamp(wanted.until)}
            time_target.append("#time <= :until")
    for attribute, value in (
        ("Rule", wanted.rule),
        ("Remediation", wanted.remediation),
        ("Outcome", wanted.outcome),
    ):
        if value is not None:
            placeholder = attribute.lower()
            names[f"#{placeholder}"] = attribute
            values[f":{placeholder}"] = {"S": value}
            conditions.append(f"#{placeholder} = :{placeholder}")
    params: dict[str, Any] = {}
    if key:
        params["KeyConditionExpression"] = " AND ".join(key)
    if conditions:
        params["FilterExpression"] = " AND ".join(conditions)
    if names:
        params["ExpressionAttributeNames"] = names
        params["ExpressionAttributeValues"] = values
    return params


def list_records(
    factory: ClientFactory,
    *,
    resource_id: str | None = None,
    filters: AuditFilter | None = None,
) -> list[dict[str, Any]]:
    """Matching records, newest first (all of them, or at most `filters.limit`).

    With a resource id the ByResource index (resource, time) is queried newest first and
    reading stops at the limit; otherwise the table is scanned. Rule, fix, outcome (and,
    in a scan, time) are DynamoDB filter expressions.
    """
    wanted = filters or AuditFilter()
    if resource_id is not None:
        wanted = replace(wanted, resource_id=resource_id)
    table = settings.require(settings.AUDIT_TABLE)
    dynamodb = factory.client("dynamodb")
    params = _expressions(wanted)
    if wanted.resource_id:
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, IndexName="ByResource", ScanIndexForward=False, **params
        )
    else:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, **params)
    records: list[dict[str, Any]] = []
    for page in pages:
        records.extend(audit.from_item(item) for item in page.get("Items", []))
        if wanted.resource_id and wanted.limit and len(records) >= wanted.limit:
            break  # the index returns newest first: nothing later is newer
    records.sort(key=lambda r: (r["time"], r["audit_id"]), reverse=True)
    return records[: wanted.limit] if wanted.limit else records
