"""Typed models of each rule's Config parameters (ruleParameters).

Config passes every parameter as a string; pydantic's lax mode turns "10" into
10 and "false" into False. Unknown parameters are rejected so that a typo in a
template fails loudly instead of being ignored.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from configguard.redact import validation_problems


class InvalidRuleParametersError(ValueError):
    """ruleParameters did not validate against the rule's model."""


def _split_list(value: Any) -> Any:
    """Config passes lists as strings: a JSON array, or comma-separated items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON array ({exc.msg})") from None
        else:
            return tuple(item.strip() for item in text.split(",") if item.strip())
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return value


def _split_mapping(value: Any) -> Any:
    """A JSON object given as a string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON object ({exc.msg})") from None
    return value


StrList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]
"""A list parameter: `a,b,c` or `["a","b"]`."""


def _regexes(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    for index, pattern in enumerate(values, start=1):
        if len(pattern) > 512:
            raise ValueError(f"{what} item {index} is longer than 512 characters")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{what} item {index} is not a valid regex ({exc.msg})") from None
    return values


class RuleParameters(BaseModel):
    """Parameters every rule accepts: rdklib's assume-role controls."""

    # defer_build: a rule's Lambda validates one model; the other models' validators are
    # never built, which keeps them out of its cold start.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    execution_role_name: str | None = Field(default=None, alias="ExecutionRoleName")
    execution_role_region: str | None = Field(default=None, alias="ExecutionRoleRegion")
    assume_role_mode: bool = Field(default=False, alias="AssumeRoleMode")


class LambdaReservedConcurrencyParameters(RuleParameters):
    concurrency_limit_low: int | None = Field(default=None, ge=0, alias="ConcurrencyLimitLow")
    concurrency_limit_high: int | None = Field(default=None, ge=0, alias="ConcurrencyLimitHigh")

    @model_validator(mode="after")
    def _ordered(self) -> LambdaReservedConcurrencyParameters:
        low, high = self.concurrency_limit_low, self.concurrency_limit_high
        if low is not None and high is not None and low > high:
            raise ValueError(
                f"ConcurrencyLimitLow ({low}) must not exceed ConcurrencyLimitHigh ({high})"
            )
        return self


class LambdaEnvNoPlaintextSecretsParameters(RuleParameters):
    allowed_variables: StrList = Field(default=(), alias="AllowedVariables")
    extra_patterns: StrList = Field(default=(), alias="ExtraPatterns")

    @field_validator("allowed_variables")
    @classmethod
    def _allowed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes(value, "AllowedVariables")

    @field_validator("extra_patterns")
    @classmethod
    def _extra(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes(value, "ExtraPatterns")


class LambdaEnvCmkEncryptedParameters(RuleParameters):
    kms_key_arns: StrList = Field(default=(), alias="KmsKeyArns")

    @field_validator("kms_key_arns")
    @classmethod
    def _arns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+", arn):
                raise ValueError(f"KmsKeyArns: {arn[:120]!r} is not a KMS key ARN")
        return value


class LambdaPublicAccessProhibitedParameters(RuleParameters):
    pass


class LambdaRuntimeSupportedParameters(RuleParameters):
    warning_days: int = Field(default=180, ge=0, le=3650, alias="WarningDays")
    runtime_deprecations: Annotated[dict[str, date], BeforeValidator(_split_mapping)] = Field(
        default_factory=dict, alias="RuntimeDeprecations"
    )


class LambdaAsyncFailureDestinationParameters(RuleParameters):
    allowed_target_arns: StrList = Field(default=(), alias="AllowedTargetArns")


class LambdaTracingActiveParameters(RuleParameters):
    pass


class LambdaInsideVpcParameters(RuleParameters):
    required: bool = Field(default=False, alias="Required")
    subnet_ids: StrList = Field(default=(), alias="SubnetIds")
    min_availability_zones: int = Field(default=2, ge=1, le=6, alias="MinAvailabilityZones")


class LambdaRoleLeastPrivilegeParameters(RuleParameters):
    allowed_roles: StrList = Field(default=(), alias="AllowedRoles")
    allowed_policies: StrList = Field(default=(), alias="AllowedPolicies")
    allowed_actions: StrList = Field(default=(), alias="AllowedActions")


class LambdaRoleNotSharedParameters(RuleParameters):
    allowed_shared_roles: StrList = Field(default=(), alias="AllowedSharedRoles")


class ApigwStageWafAttachedParameters(RuleParameters):
    web_acl_arns: StrList = Field(default=(), alias="WebAclArns")


class ApigwStageExecutionLoggingParameters(RuleParameters):
    logging_levels: StrList = Field(default=("ERROR", "INFO"), alias="LoggingLevels")

    @field_validator("logging_levels")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        levels = tuple(v.upper() for v in value)
        unknown = sorted(set(levels) - {"ERROR", "INFO"})
        if unknown or not levels:
            raise ValueError("LoggingLevels must be ERROR and/or INFO")
        return levels


class ApigwStageAccessLoggingParameters(RuleParameters):
    required_format_fields: StrList = Field(default=(), alias="RequiredFormatFields")


class ApigwStageCacheEncryptedParameters(RuleParameters):
    pass


class ApigwStageTracingParameters(RuleParameters):
    pass


class ApigwStageThrottlingParameters(RuleParameters):
    max_rate_limit: float | None = Field(default=None, gt=0, alias="MaxRateLimit")
    max_burst_limit: int | None = Field(default=None, gt=0, alias="MaxBurstLimit")


class ApigwRouteAuthorizationParameters(RuleParameters):
    allowed_routes: StrList = Field(default=(), alias="AllowedRoutes")
    authorization_types: StrList = Field(default=(), alias="AuthorizationTypes")

    @field_validator("authorization_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = {"AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS", "JWT"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"AuthorizationTypes: unknown {unknown}; known {sorted(known)}")
        return value


class ApigwRequestValidationParameters(RuleParameters):
    allowed_routes: StrList = Field(default=(), alias="AllowedRoutes")


class ApigwDomainTlsPolicyParameters(RuleParameters):
    pass


VALID_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class KmsKeyRotationEnabledParameters(RuleParameters):
    max_rotation_period_days: int | None = Field(
        default=None, ge=90, le=2560, alias="MaxRotationPeriodDays"
    )


class KmsKeyNotPendingDeletionParameters(RuleParameters):
    kms_key_ids: StrList = Field(default=(), alias="KmsKeyIds")


class KmsKeyPolicySafeParameters(RuleParameters):
    key_admin_principals: StrList = Field(default=(), alias="KeyAdminPrincipals")


class LogGroupCmkEncryptedParameters(RuleParameters):
    kms_key_id: str | None = Field(default=None, alias="KmsKeyId")
    log_group_name_prefixes: StrList = Field(default=(), alias="LogGroupNamePrefixes")


class LogGroupRetentionParameters(RuleParameters):
    min_retention_time: int = Field(default=365, alias="MinRetentionTime")
    never_expire_compliant: bool = Field(default=True, alias="NeverExpireCompliant")
    log_group_name_prefixes: StrList = Field(default=(), alias="LogGroupNamePrefixes")

    @field_validator("min_retention_time")
    @classmethod
    def _valid(cls, value: int) -> int:
        if value not in VALID_RETENTION_DAYS:
            raise ValueError(f"MinRetentionTime must be one of {list(VALID_RETENTION_DAYS)}")
        return value


class CloudtrailSecurityTrailParameters(RuleParameters):
    require_lambda_data_events: bool = Field(default=True, alias="RequireLambdaDataEvents")


ModelT = TypeVar("ModelT", bound=RuleParameters)


def parse_parameters(model: type[ModelT], raw: dict[str, Any] | None) -> ModelT:
    """Validate raw ruleParameters; blank strings count as unset."""
    cleaned = {k: v for k, v in (raw or {}).items() if not (isinstance(v, str) and not v.strip())}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        problems = validation_problems(exc.errors(), most=2, whole="parameters")
        raise InvalidRuleParametersError(f"invalid rule parameters: {problems}") from None
