"""Reading one CloudWatch Logs log group as fixes see it: retention, key and tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

NOT_FOUND = "ResourceNotFoundException"


@dataclass(frozen=True)
class LogGroupState:
    name: str
    arn: str  # without the trailing ":*" (the form tagging APIs take)
    retention: int | None  # None: events never expire
    kms_key_id: str | None
    tags: dict[str, str]


def describe_group(logs: Any, name: str) -> dict[str, Any] | None:
    """The DescribeLogGroups item named exactly `name`.

    Groups come sorted by name, so the group itself leads those sharing its name as prefix.
    """
    page = logs.describe_log_groups(logGroupNamePrefix=name, limit=50)
    return next((g for g in page.get("logGroups", []) if g.get("logGroupName") == name), None)


def read_log_group(logs: Any, name: str) -> LogGroupState | None:
    """The group's state, or None when it no longer exists."""
    group = describe_group(logs, name)
    if group is None:
        return None
    arn = str(group.get("logGroupArn") or str(group["arn"]).removesuffix(":*"))
    try:
        tags = logs.list_tags_for_resource(resourceArn=arn).get("tags") or {}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == NOT_FOUND:
            return None
        raise
    days = group.get("retentionInDays")
    return LogGroupState(
        name=name,
        arn=arn,
        retention=None if days is None else int(days),
        kms_key_id=group.get("kmsKeyId") or None,
        tags=dict(tags),
    )
