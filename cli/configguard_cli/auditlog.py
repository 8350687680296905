"""Read audit records back from the audit table."""

from __future__ import annotations

from typing import Any

from configguard import audit, settings
from configguard.clients import ClientFactory


def list_records(factory: ClientFactory, *, resource_id: str | None = None) -> list[dict[str, Any]]:
    """Every record (or one resource's), newest first."""
    table = settings.require(settings.AUDIT_TABLE)
    dynamodb = factory.client("dynamodb")
    items: list[dict[str, Any]] = []
    if resource_id:
        paginator = dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=table,
            IndexName="ByResource",
            KeyConditionExpression="ResourceId = :r",
            ExpressionAttributeValues={":r": {"S": resource_id}},
        )
    else:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    for page in pages:
        items.extend(page.get("Items", []))
    records = [audit.from_item(item) for item in items]
    return sorted(records, key=lambda r: (r["time"], r["audit_id"]), reverse=True)
