"""Parse every trigger source into one typed remediation request.

Sources: a Config "Config Rules Compliance Change" event, a Security Hub
"Findings - Custom Action" event, a "configguard Security Hub Fix Request" from
the Security Hub router, and a direct "configguard Fix Request" (or rollback
request) from the CLI. Anything else is rejected with `InvalidTriggerError`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from configguard.redact import shown, validation_problems
from configguard.registry import (
    HTTP_STAGE,
    KMS_KEY,
    LAMBDA,
    LOG_GROUP,
    REST_STAGE,
    TRAIL,
    RemediationSpec,
    registry_rule_name,
)

CONFIG_SOURCE = "aws.config"
CONFIG_DETAIL_TYPE = "Config Rules Compliance Change"
SECURITYHUB_SOURCE = "aws.securityhub"
SECURITYHUB_ACTION_DETAIL_TYPE = "Security Hub Findings - Custom Action"
CLI_SOURCE = "configguard.cli"
CLI_DETAIL_TYPE = "configguard Fix Request"
CLI_ROLLBACK_DETAIL_TYPE = "configguard Rollback Request"
# What the Security Hub router sends a fix: one resource, its findings, the rule resolved.
ROUTER_SOURCE = "configguard.securityhub"
ROUTER_DETAIL_TYPE = "configguard Security Hub Fix Request"


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
    # Set for a rollback: the audit id of the applied change to revert.
    rollback_of: str | None = None
    restore_plaintext: bool = False


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


class _RollbackRequest(_FixRequest):
    auditId: str = Field(pattern=r"^[0-9a-f]{13}-[0-9a-f]{12}$")
    resourceType: str
    restorePlaintext: bool = False


class _RoutedFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Id: str = Field(min_length=1, max_length=512)
    ProductArn: str = Field(min_length=1, max_length=512)


class _RouterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    resourceType: str
    resourceId: str = Field(min_length=1)
    accountId: str = Field(pattern=r"^\d{12}$")
    region: str = Field(min_length=1)
    updatedAt: str = Field(min_length=1)
    actor: str = Field(min_length=1, max_length=256)
    findings: list[_RoutedFinding] = Field(min_length=1, max_length=100)


def config_resource(arn: str) -> tuple[str, str]:
    """(Config resource type, Config resource id) of a resource ARN configguard fixes."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise InvalidTriggerError(f"not an ARN: {arn[:200]!r}")
    service, resource = parts[2], parts[5]
    if service == "lambda" and resource.startswith("function:"):
        return "AWS::Lambda::Function", resource.split(":")[1]
    if service == "apigateway" and "/stages/" in resource:
        segments = resource.split("/")
        if len(segments) == 5 and segments[1] in ("restapis", "apis") and all(segments[2:]):
            kind = (
                "AWS::ApiGateway::Stage"
                if segments[1] == "restapis"
                else "AWS::ApiGatewayV2::Stage"
            )
            return kind, arn
    if service == "logs" and resource.startswith("log-group:"):
        name = resource.removeprefix("log-group:").removesuffix(":*")
        if name:
            return "AWS::Logs::LogGroup", name
    if service == "kms" and resource.startswith("key/") and len(resource) > 4:
        return "AWS::KMS::Key", resource.removeprefix("key/")
    if service == "cloudtrail" and resource.startswith("trail/") and len(resource) > 6:
        return "AWS::CloudTrail::Trail", resource.removeprefix("trail/")
    raise InvalidTriggerError(f"configguard fixes no resource of this kind: {arn[:200]!r}")


def resource_elsewhere(arn: str, account: str, region: str) -> bool:
    """The resource ARN names another account or Region than the request or finding does:
    acting on the resource's name here would change a namesake."""
    arn_region, arn_account = arn.split(":", 5)[3:5]
    return arn_region not in ("", region) or arn_account not in ("", account)


def _problem(exc: ValidationError) -> str:
    return validation_problems(exc.errors())


def _rule_name(config_rule_name: str) -> str:
    """The registry name of a deployed rule (organization copies included), else as is."""
    return registry_rule_name(config_rule_name) or config_rule_name


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
    rule = _rule_name(detail.configRuleName)
    _check_rule(spec, rule)
    _check_type(spec, detail.resourceType)
    result = detail.newEvaluationResult
    if result.complianceType != "NON_COMPLIANT":
        raise InvalidTriggerError(
            f"compliance change is {shown(result.complianceType, 40)}, not NON_COMPLIANT: "
            "nothing to fix"
        )
    stamp = (
        result.evaluationResultIdentifier.orderingTimestamp
        or result.resultRecordedTime
        or envelope.time.isoformat()
    )
    return [
        RemediationRequest(
            remediation=spec.name,
            rule=rule,
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
    fields = finding.get("ProductFields")
    fields = fields if isinstance(fields, dict) else {}
    rule = fields.get("aws/config/ConfigRuleName") or fields.get("RuleName")
    if isinstance(rule, str) and rule:
        return _rule_name(rule)
    raise InvalidTriggerError(f"finding {shown(str(finding.get('Id')), 200)} names no Config rule")


def _finding_resource(finding: dict[str, Any], account: str, region: str) -> tuple[str, str]:
    """(Config type, id) of the finding's resource, whose ARN must be in its account and Region."""
    resources = finding.get("Resources")
    if not isinstance(resources, list) or not resources or not isinstance(resources[0], dict):
        raise InvalidTriggerError("finding has no Resources")
    arn = str(resources[0].get("Id") or "")
    found = config_resource(arn)
    if resource_elsewhere(arn, account, region):
        raise InvalidTriggerError(
            f"the finding's resource {shown(arn, 200)} is not in its account {shown(account, 20)} "
            f"and Region {shown(region, 30)}"
        )
    return found


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
        account = str(finding.get("AwsAccountId") or envelope.account)
        region = str(finding.get("Region") or envelope.region)
        resource_type, resource_id = _finding_resource(finding, account, region)
        _check_type(spec, resource_type)
        requests.append(
            RemediationRequest(
                remediation=spec.name,
                rule=rule,
                resource_type=resource_type,
                resource_id=resource_id,
                account_id=account,
                region=region,
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


def _from_router(spec: RemediationSpec, envelope: EventBridgeModel) -> list[RemediationRequest]:
    try:
        detail = _RouterRequest.model_validate(_detail(envelope))
    except ValidationError as exc:
        raise InvalidTriggerError(f"malformed routed request: {_problem(exc)}") from None
    _check_rule(spec, detail.rule)
    _check_type(spec, detail.resourceType)
    return [
        RemediationRequest(
            remediation=spec.name,
            rule=detail.rule,
            resource_type=detail.resourceType,
            resource_id=detail.resourceId,
            account_id=detail.accountId,
            region=detail.region,
            source=TriggerSource.SECURITYHUB,
            event_id=envelope.id,
            evaluation_time=detail.updatedAt,
            actor=detail.actor,
            findings=tuple(FindingRef(id=f.Id, product_arn=f.ProductArn) for f in detail.findings),
        )
    ]


def _resource_type(spec: RemediationSpec, declared: str | None, resource_id: str) -> str:
    """The request's resource type: declared, else from the ARN, else the fix's only one."""
    if declared is None:
        declared = (
            config_resource(resource_id)[0]
            if resource_id.startswith("arn:")
            else spec.resource_types[0]
        )
    _check_type(spec, declared)
    return declared


def _check_type(spec: RemediationSpec, resource_type: str) -> None:
    if resource_type not in spec.resource_types:
        raise InvalidTriggerError(
            f"{spec.name} does not fix {shown(resource_type, 80)} resources "
            f"(it fixes {', '.join(spec.resource_types)})"
        )


def _cli_request(
    spec: RemediationSpec, envelope: EventBridgeModel, detail: _FixRequest, **extra: Any
) -> list[RemediationRequest]:
    _check_rule(spec, detail.rule)
    return [
        RemediationRequest(
            remediation=spec.name,
            rule=detail.rule,
            resource_type=_resource_type(spec, detail.resourceType, detail.resourceId),
            resource_id=detail.resourceId,
            account_id=envelope.account,
            region=envelope.region,
            source=TriggerSource.CLI,
            event_id=envelope.id,
            evaluation_time=envelope.time.isoformat(),
            actor=detail.actor,
            reason=detail.reason,
            dry_run=detail.dryRun,
            **extra,
        )
    ]


def _from_cli(spec: RemediationSpec, envelope: EventBridgeModel) -> list[RemediationRequest]:
    try:
        detail = _FixRequest.model_validate(_detail(envelope))
    except ValidationError as exc:
        raise InvalidTriggerError(f"malformed fix request: {_problem(exc)}") from None
    return _cli_request(spec, envelope, detail)


def _from_rollback(spec: RemediationSpec, envelope: EventBridgeModel) -> list[RemediationRequest]:
    try:
        detail = _RollbackRequest.model_validate(_detail(envelope))
    except ValidationError as exc:
        raise InvalidTriggerError(f"malformed rollback request: {_problem(exc)}") from None
    return _cli_request(
        spec,
        envelope,
        detail,
        rollback_of=detail.auditId,
        restore_plaintext=detail.restorePlaintext,
    )


# What the id of each resource type a fix acts on looks like (names as the services allow
# them), and how to say so; an ARN of the type is accepted too. Stages are identified by
# their ARN only.
RESOURCE_IDS: dict[str, tuple[re.Pattern[str] | None, str]] = {
    LAMBDA: (
        re.compile(r"[A-Za-z0-9_-]{1,64}"),
        "a function name (letters, digits, - and _; at most 64)",
    ),
    KMS_KEY: (
        re.compile(r"(mrk-)?[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}"),
        "a key id (a UUID, or mrk-<32 hex digits>)",
    ),
    LOG_GROUP: (
        re.compile(r"[.\-_/#A-Za-z0-9]{1,512}"),
        "a log group name (letters, digits, and _ - / . #)",
    ),
    TRAIL: (
        re.compile(
            r"[A-Za-z0-9][A-Za-z0-9._-]{2,127}"
            r"|arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail/[A-Za-z0-9._-]{3,128}"
        ),
        "a trail name or ARN",
    ),
    REST_STAGE: (
        None,
        "a REST API stage ARN (arn:aws:apigateway:REGION::/restapis/API/stages/STAGE)",
    ),
    HTTP_STAGE: (
        None,
        "an HTTP or WebSocket API stage ARN (arn:aws:apigateway:REGION::/apis/API/stages/STAGE)",
    ),
}
_ACCOUNT_ID = re.compile(r"\d{12}")
# (field, what it is, longest accepted)
_TEXT_LIMITS = (
    ("event_id", "event id", 256),
    ("evaluation_time", "time", 64),
    ("actor", "actor", 256),
)
_FINDING_LIMIT = 512


def resource_id_ok(resource_type: str, resource_id: str) -> bool:
    """`resource_id` names a resource of `resource_type`: its id (RESOURCE_IDS) or ARN."""
    if len(resource_id) > 2048 or not resource_id.isprintable():
        return False
    if resource_id.startswith("arn:"):
        try:
            return config_resource(resource_id)[0] == resource_type
        except InvalidTriggerError:
            return False
    pattern = RESOURCE_IDS.get(resource_type, (None, ""))[0]
    return pattern is not None and pattern.fullmatch(resource_id) is not None


def config_id_ok(resource_type: str, resource_id: str) -> bool:
    """`resource_id` is the id Config reports for a resource of `resource_type` (for a
    stage, its ARN): what an operator copies from a finding."""
    pattern = RESOURCE_IDS.get(resource_type, (None, ""))[0]
    if pattern is None:
        return resource_id_ok(resource_type, resource_id)
    return pattern.fullmatch(resource_id) is not None


def _check_request(request: RemediationRequest, region: str | None) -> RemediationRequest:
    """A request configguard can act on: well-formed ids, bounded text and, when `region`
    (the function's own) is given, a resource in that Region."""
    for name, what, limit in _TEXT_LIMITS:
        value = getattr(request, name)
        if len(value) > limit or not value.isprintable():
            raise InvalidTriggerError(f"the request's {what} is not printable text of <= {limit}")
    if not _ACCOUNT_ID.fullmatch(request.account_id):
        raise InvalidTriggerError(f"{shown(request.account_id, 40)} is not an AWS account id")
    if region is not None and request.region != region:
        raise InvalidTriggerError(
            f"the resource is in Region {shown(request.region, 40)}; this function fixes "
            f"resources in {region}"
        )
    if not resource_id_ok(request.resource_type, request.resource_id):
        raise InvalidTriggerError(
            f"{shown(request.resource_id, 120)} is not a {request.resource_type} id or ARN"
        )
    arn = request.resource_id
    # A trail ARN stays the request's resource id: its fix reads the trail by ARN and
    # refuses one homed in another Region or account, saying where to run.
    trail = request.resource_type == "AWS::CloudTrail::Trail"
    if (
        arn.startswith("arn:")
        and not trail
        and resource_elsewhere(arn, request.account_id, request.region)
    ):
        raise InvalidTriggerError(
            f"{shown(arn, 200)} is not in account {request.account_id} "
            f"and Region {shown(request.region, 40)}"
        )
    names = [text for finding in request.findings for text in (finding.id, finding.product_arn)]
    if any(len(text) > _FINDING_LIMIT or not text.isprintable() for text in names):
        raise InvalidTriggerError(
            f"a finding id or product ARN is not printable text of <= {_FINDING_LIMIT}"
        )
    return request


def parse_requests(
    spec: RemediationSpec, event: object, *, region: str | None = None
) -> list[RemediationRequest]:
    """Every request in a trigger event, or InvalidTriggerError.

    `region` is the Region the fix runs in: a request for a resource elsewhere is refused
    (a fix acts through its own Region's endpoints, so it would act on a namesake).
    """
    return [_check_request(request, region) for request in _parse(spec, event)]


def _parse(spec: RemediationSpec, event: object) -> list[RemediationRequest]:
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
    if kind == (CLI_SOURCE, CLI_ROLLBACK_DETAIL_TYPE):
        return _from_rollback(spec, envelope)
    if kind == (ROUTER_SOURCE, ROUTER_DETAIL_TYPE):
        return _from_router(spec, envelope)
    raise InvalidTriggerError(
        f"unsupported trigger: source {envelope.source[:60]!r}, "
        f"detail-type {envelope.detail_type[:80]!r}"
    )
