"""Parse every trigger source into one typed remediation request.

Sources: a Config "Config Rules Compliance Change" event, a Security Hub
"Findings - Custom Action" event, and a direct "configguard Fix Request" from
the CLI. Anything else is rejected with `InvalidTriggerError`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from configguard.registry import RemediationSpec

CONFIG_SOURCE = "aws.config"
CONFIG_DETAIL_TYPE = "Config Rules Compliance Change"
SECURITYHUB_SOURCE = "aws.securityhub"
SECURITYHUB_ACTION_DETAIL_TYPE = "Security Hub Findings - Custom Action"
CLI_SOURCE = "configguard.cli"
CLI_DETAIL_TYPE = "configguard Fix Request"


class InvalidTriggerError(ValueError):
    """The event is not a trigger this remediation accepts."""


class TriggerSource(StrEnum):
    CONFIG = "config"
    SECURITYHUB = "securityhub"
    CLI = "cli"


class FindingRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    product_arn: str


class RemediationRequest(BaseModel):
    """What to fix, why, and on whose behalf."""

    model_config = ConfigDict(frozen=True)

    remediation: str
    rule: str
    resource_type: str
    resource_id: str
    account_id: str
    region: str
    source: TriggerSource
    event_id: str
    evaluation_time: str
    actor: str
    reason: str = ""
    dry_run: bool = False
    findings: tuple[FindingRef, ...] = ()


class _Qualifier(BaseModel):
    configRuleName: str
    resourceType: str
    resourceId: str


class _Identifier(BaseModel):
    evaluationResultQualifier: _Qualifier
    orderingTimestamp: str | None = None


class _EvaluationResult(BaseModel):
    evaluationResultIdentifier: _Identifier
    complianceType: str
    resultRecordedTime: str | None = None


class _ComplianceChange(BaseModel):
    configRuleName: str
    resourceType: str
    resourceId: str = Field(min_length=1)
    awsAccountId: str
    awsRegion: str
    newEvaluationResult: _EvaluationResult


class _FixRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    resourceId: str = Field(min_length=1)
    resourceType: str | None = None
    reason: str = Field(default="", max_length=1000)
    actor: str = Field(min_length=1, max_length=256)
    dryRun: bool = False


_SECURITYHUB_TYPES = {
    "AwsLambdaFunction": "AWS::Lambda::Function",
}


def _problem(exc: ValidationError) -> str:
    return ", ".join(".".join(str(p) for p in e["loc"]) + f" ({e['msg']})" for e in exc.errors())


def _check_rule(spec: RemediationSpec, rule: str) -> None:
    if rule not in spec.rules:
        raise InvalidTriggerError(
            f"{spec.name} does not fix rule {rule[:100]!r}; it fixes {', '.join(spec.rules)}"
        )


def _detail(envelope: EventBridgeModel) -> dict[str, Any]:
    detail = envelope.detail
    if not isinstance(detail, dict):
        raise InvalidTriggerError("event detail must be a JSON object")
    return detail


def _from_config(spec: RemediationSpec, envelope: EventBridgeModel) -> list[RemediationRequest]:
    try:
        detail = _ComplianceChange.model_validate(_detail(envelope))
    except ValidationError as exc:
        raise InvalidTriggerError(f"malformed compliance-change detail: {_problem(exc)}") from None
    _check_rule(spec, detail.configRuleName)
    result = detail.newEvaluationResult
    if result.complianceType != "NON_COMPLIANT":
        raise InvalidTriggerError(
            f"compliance change is {result.complianceType[:40]}, not NON_COMPLIANT: nothing to fix"
        )
    stamp = (
        result.evaluationResultIdentifier.orderingTimestamp
        or result.resultRecordedTime
        or envelope.time.isoformat()
    )
    return [
        RemediationRequest(
            remediation=spec.name,
            rule=detail.configRuleName,
            resource_type=detail.resourceType,
            resource_id=detail.resourceId,
            account_id=detail.awsAccountId,
            region=detail.awsRegion,
            source=TriggerSource.CONFIG,
            event_id=envelope.id,
            evaluation_time=stamp,
            actor="aws.config",
        )
    ]


def _finding_rule(finding: dict[str, Any]) -> str:
    fields = finding.get("ProductFields") or {}
    rule = fields.get("aws/config/ConfigRuleName") or fields.get("RuleName")
    if isinstance(rule, str) and rule:
        return rule
    raise InvalidTriggerError(f"finding {str(finding.get('Id'))[:200]} names no Config rule")


def _finding_resource(finding: dict[str, Any]) -> tuple[str, str]:
    resources = finding.get("Resources") or []
    if not resources or not isinstance(resources[0], dict):
        raise InvalidTriggerError("finding has no Resources")
    resource = resources[0]
    arn = str(resource.get("Id") or "")
    sh_type = str(resource.get("Type") or "")
    cfg_type = _SECURITYHUB_TYPES.get(sh_type)
    if cfg_type is None:
        raise InvalidTriggerError(f"unsupported Security Hub resource type {sh_type[:80]!r}")
    if cfg_type == "AWS::Lambda::Function":
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        parts = arn.split(":")
        if len(parts) < 7 or parts[5] != "function":
            raise InvalidTriggerError(f"not a Lambda function ARN: {arn[:200]!r}")
        return cfg_type, parts[6]
    raise InvalidTriggerError(f"cannot map {sh_type!r} to a resource id")  # pragma: no cover


def _from_securityhub(
    spec: RemediationSpec, envelope: EventBridgeModel
) -> list[RemediationRequest]:
    findings = _detail(envelope).get("findings")
    if not isinstance(findings, list) or not findings:
        raise InvalidTriggerError("custom-action event carries no findings")
    requests = []
    for finding in findings:
        if not isinstance(finding, dict):
            raise InvalidTriggerError("a finding is not an object")
        rule = _finding_rule(finding)
        _check_rule(spec, rule)
        resource_type, resource_id = _finding_resource(finding)
        requests.append(
            RemediationRequest(
                remediation=spec.name,
                rule=rule,
                resource_type=resource_type,
                resource_id=resource_id,
                account_id=str(finding.get("AwsAccountId") or envelope.account),
                region=str(finding.get("Region") or envelope.region),
                source=TriggerSource.SECURITYHUB,
                event_id=envelope.id,
                evaluation_time=str(finding.get("UpdatedAt") or envelope.time.isoformat()),
                actor=str(_detail(envelope).get("actionName") or "securityhub"),
                findings=(
                    FindingRef(id=str(finding.get("Id")), product_arn=str(finding["ProductArn"])),
                )
                if finding.get("Id") and finding.get("ProductArn")
                else (),
            )
        )
    return requests


def _from_cli(spec: RemediationSpec, envelope: EventBridgeModel) -> list[RemediationRequest]:
    try:
        detail = _FixRequest.model_validate(_detail(envelope))
    except ValidationError as exc:
        raise InvalidTriggerError(f"malformed fix request: {_problem(exc)}") from None
    _check_rule(spec, detail.rule)
    return [
        RemediationRequest(
            remediation=spec.name,
            rule=detail.rule,
            resource_type=detail.resourceType or spec.resource_types[0],
            resource_id=detail.resourceId,
            account_id=envelope.account,
            region=envelope.region,
            source=TriggerSource.CLI,
            event_id=envelope.id,
            evaluation_time=envelope.time.isoformat(),
            actor=detail.actor,
            reason=detail.reason,
            dry_run=detail.dryRun,
        )
    ]


def parse_requests(spec: RemediationSpec, event: object) -> list[RemediationRequest]:
    """Every request in a trigger event, or InvalidTriggerError."""
    if not isinstance(event, dict):
        raise InvalidTriggerError(f"event must be a JSON object, got {type(event).__name__}")
    try:
        envelope = EventBridgeModel.model_validate(event)
    except ValidationError as exc:
        raise InvalidTriggerError(f"not an EventBridge event: {_problem(exc)}") from None
    kind = (envelope.source, envelope.detail_type)
    if kind == (CONFIG_SOURCE, CONFIG_DETAIL_TYPE):
        return _from_config(spec, envelope)
    if kind == (SECURITYHUB_SOURCE, SECURITYHUB_ACTION_DETAIL_TYPE):
        return _from_securityhub(spec, envelope)
    if kind == (CLI_SOURCE, CLI_DETAIL_TYPE):
        return _from_cli(spec, envelope)
    raise InvalidTriggerError(
        f"unsupported trigger: source {envelope.source[:60]!r}, "
        f"detail-type {envelope.detail_type[:80]!r}"
    )
