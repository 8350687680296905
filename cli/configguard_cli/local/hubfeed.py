"""Security Hub's side of the stand-in: findings as AWS's integrations write them.

In AWS, Config sends each rule result to Security Hub (product `aws/config`), and
Security Hub's own controls write consolidated control findings (product
`aws/securityhub`, `Compliance.SecurityControlId`). moto has neither integration:
this module writes the same findings with BatchImportFindings, and builds the
"Security Hub Findings - Custom Action" event Security Hub sends when an analyst
picks the configguard action.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from configguard import registry
from configguard.clients import ClientFactory
from configguard_cli.events import now_iso

_ASFF_TYPES = {
    registry.LAMBDA: "AwsLambdaFunction",
    registry.KMS_KEY: "AwsKmsKey",
    registry.LOG_GROUP: "AwsLogsLogGroup",
    registry.TRAIL: "AwsCloudTrailTrail",
    registry.REST_STAGE: "AwsApiGatewayStage",
    registry.HTTP_STAGE: "AwsApiGatewayV2Stage",
    registry.REST_API: "AwsApiGatewayRestApi",
    registry.HTTP_API: "AwsApiGatewayV2Api",
}


def resource_arn(resource_type: str, resource_id: str, account: str, region: str) -> str:
    """The ARN Security Hub names a Config resource by."""
    if resource_id.startswith("arn:"):
        return resource_id
    prefix = f"arn:aws:{{}}:{region}:{account}:"
    arns = {
        registry.LAMBDA: prefix.format("lambda") + f"function:{resource_id}",
        registry.KMS_KEY: prefix.format("kms") + f"key/{resource_id}",
        registry.LOG_GROUP: prefix.format("logs") + f"log-group:{resource_id}",
        registry.TRAIL: prefix.format("cloudtrail") + f"trail/{resource_id}",
        registry.REST_API: f"arn:aws:apigateway:{region}::/restapis/{resource_id}",
        registry.HTTP_API: f"arn:aws:apigateway:{region}::/apis/{resource_id}",
        registry.REST_DOMAIN: f"arn:aws:apigateway:{region}::/domainnames/{resource_id}",
        registry.HTTP_DOMAIN: f"arn:aws:apigateway:{region}::/domainnames/{resource_id}",
    }
    if resource_type not in arns:
        raise ValueError(f"no Security Hub resource ARN for {resource_type}")
    return arns[resource_type]


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


def _base(
    finding_id: str, product: str, resource_type: str, arn: str, account: str, region: str
) -> dict[str, Any]:
    at = now_iso()
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": f"arn:aws:securityhub:{region}::product/aws/{product}",
        "AwsAccountId": account,
        "Region": region,
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": at,
        "UpdatedAt": at,
        "Severity": {"Label": "MEDIUM"},
        "Resources": [
            {
                "Type": _ASFF_TYPES.get(resource_type, "Other"),
                "Id": arn,
                "Partition": "aws",
                "Region": region,
            }
        ],
        "Compliance": {"Status": "FAILED"},
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
    }


def config_finding(
    rule: str, resource_type: str, resource_id: str, account: str, region: str
) -> dict[str, Any]:
    """The finding Config's integration writes for a NON_COMPLIANT result of `rule`."""
    arn = resource_arn(resource_type, resource_id, account, region)
    rule_id = f"config-rule-{_digest(rule)[:6]}"
    hub = f"arn:aws:securityhub:{region}:{account}"
    finding = _base(
        f"{hub}:config-rule/{rule_id}/finding/{_digest(rule, arn)}",
        "config",
        resource_type,
        arn,
        account,
        region,
    )
    finding.update(
        GeneratorId=rule_id,
        Title=rule,
        Description=registry.rule(rule).description,
        ProductFields={
            "aws/config/ConfigRuleName": rule,
            "aws/config/ConfigRuleArn": f"arn:aws:config:{region}:{account}:config-rule/{rule_id}",
            "aws/config/ConfigComplianceType": "NON_COMPLIANT",
        },
    )
    return finding


def control_finding(
    control: str, resource_type: str, resource_id: str, account: str, region: str
) -> dict[str, Any]:
    """The consolidated control finding Security Hub writes for a failed check of `control`."""
    arn = resource_arn(resource_type, resource_id, account, region)
    finding = _base(
        f"arn:aws:securityhub:{region}:{account}:security-control/{control}/finding/"
        f"{uuid.uuid5(uuid.NAMESPACE_URL, arn + control)}",
        "securityhub",
        resource_type,
        arn,
        account,
        region,
    )
    finding["Compliance"]["SecurityControlId"] = control
    finding.update(
        GeneratorId=f"security-control/{control}",
        Title=f"{control} control check failed",
        Description=f"Security Hub control {control}",
        ProductFields={"aws/securityhub/ProductName": "Security Hub"},
    )
    return finding


def import_findings(factory: ClientFactory, findings: Iterable[dict[str, Any]]) -> int:
    """BatchImportFindings in batches of 100; how many were imported."""
    batch: list[dict[str, Any]] = []
    imported = 0
    client = factory.client("securityhub")
    for finding in [*findings, None]:
        if finding is not None:
            batch.append(finding)
        if batch and (finding is None or len(batch) == 100):
            answer = client.batch_import_findings(Findings=batch)
            if answer.get("FailedCount"):
                raise RuntimeError(f"Security Hub refused {answer['FailedCount']} finding(s)")
            imported += int(answer.get("SuccessCount", len(batch)))
            batch = []
    return imported


def get_findings(factory: ClientFactory, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The current findings with these ids, as Security Hub returns them."""
    wanted = set(ids)
    found: list[dict[str, Any]] = []
    paginator = factory.client("securityhub").get_paginator("get_findings")
    for page in paginator.paginate():
        found.extend(f for f in page.get("Findings", []) if f["Id"] in wanted)
    return found


def custom_action_event(
    action_target_arn: str, findings: list[dict[str, Any]], account: str, region: str
) -> dict[str, Any]:
    """The event Security Hub sends when an analyst picks the custom action."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Security Hub Findings - Custom Action",
        "source": "aws.securityhub",
        "account": account,
        "time": now_iso(),
        "region": region,
        "resources": [action_target_arn],
        "detail": {
            "actionName": action_target_arn.rsplit("/", 1)[1],
            "actionDescription": "Remediate with configguard",
            "findings": findings,
        },
    }
