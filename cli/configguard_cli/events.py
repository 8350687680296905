"""Real-shaped events, built the way AWS builds them, for local invocation."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from configguard.triggers import CLI_DETAIL_TYPE, CLI_ROLLBACK_DETAIL_TYPE, CLI_SOURCE

# The configuration item fields an OversizedConfigurationItemChangeNotification's
# configurationItemSummary carries (it has no configuration).
CI_SUMMARY_FIELDS = (
    "configurationItemVersion",
    "configurationItemCaptureTime",
    "configurationStateId",
    "awsAccountId",
    "configurationItemStatus",
    "resourceType",
    "resourceId",
    "resourceName",
    "ARN",
    "awsRegion",
    "availabilityZone",
    "configurationStateMd5Hash",
    "resourceCreationTime",
)


def ci_summary(item: dict[str, Any], change_type: str = "UPDATE") -> dict[str, Any]:
    """The configurationItemSummary Config sends for `item` when the item is oversized."""
    return {"changeType": change_type, **{k: item[k] for k in CI_SUMMARY_FIELDS if k in item}}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def context_for(function_name: str, account_id: str, region: str) -> LambdaContext:
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
    )


def config_change_event(
    rule_name: str,
    configuration_item: dict[str, Any],
    result_token: str,
    *,
    rule_parameters: dict[str, str] | None = None,
    event_left_scope: bool = False,
) -> dict[str, Any]:
    """A ConfigurationItemChangeNotification invocation, as Config sends it."""
    account = configuration_item["accountId"]
    region = configuration_item["awsRegion"]
    invoking = {
        "configurationItemDiff": None,
        "configurationItem": configuration_item,
        "notificationCreationTime": now_iso(),
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking),
        "ruleParameters": json.dumps(rule_parameters or {}),
        "resultToken": result_token,
        "eventLeftScope": event_left_scope,
        "executionRoleArn": (
            f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/"
            "AWSServiceRoleForConfig"
        ),
        "configRuleArn": (
            f"arn:aws:config:{region}:{account}:config-rule/config-rule-{uuid.uuid4().hex[:6]}"
        ),
        "configRuleName": rule_name,
        "configRuleId": f"config-rule-{uuid.uuid4().hex[:6]}",
        "accountId": account,
        "evaluationMode": "DETECTIVE",
    }


def fix_request_event(
    rule: str,
    resource_id: str,
    *,
    account_id: str,
    region: str,
    actor: str,
    reason: str = "",
    dry_run: bool = False,
    resource_type: str | None = None,
) -> dict[str, Any]:
    """A direct fix request, as `configguard fix` sends it."""
    detail: dict[str, Any] = {
        "rule": rule,
        "resourceId": resource_id,
        "reason": reason,
        "actor": actor,
        "dryRun": dry_run,
    }
    if resource_type:
        detail["resourceType"] = resource_type
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": CLI_DETAIL_TYPE,
        "source": CLI_SOURCE,
        "account": account_id,
        "time": now_iso(),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def rollback_request_event(
    record: dict[str, Any],
    *,
    actor: str,
    reason: str = "",
    dry_run: bool = False,
    restore_plaintext: bool = False,
) -> dict[str, Any]:
    """A rollback request for a stored audit record, as `configguard rollback` sends it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": CLI_ROLLBACK_DETAIL_TYPE,
        "source": CLI_SOURCE,
        "account": record["account_id"],
        "time": now_iso(),
        "region": record["region"],
        "resources": [record["resource_arn"]] if record.get("resource_arn") else [],
        "detail": {
            "auditId": record["audit_id"],
            "rule": record["rule"],
            "resourceId": record["resource_id"],
            "resourceType": record["resource_type"],
            "reason": reason,
            "actor": actor,
            "dryRun": dry_run,
            "restorePlaintext": restore_plaintext,
        },
    }
