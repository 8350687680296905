"""Typed models of each rule's Config parameters (ruleParameters).

Config passes every parameter as a string; pydantic's lax mode turns "10" into
10 and "false" into False. Unknown parameters are rejected so that a typo in a
template fails loudly instead of being ignored.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class InvalidRuleParametersError(ValueError):
    """ruleParameters did not validate against the rule's model."""


class RuleParameters(BaseModel):
    """Parameters every rule accepts: rdklib's assume-role controls."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

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


ModelT = TypeVar("ModelT", bound=RuleParameters)


def parse_parameters(model: type[ModelT], raw: dict[str, Any] | None) -> ModelT:
    """Validate raw ruleParameters; blank strings count as unset."""
    cleaned = {k: v for k, v in (raw or {}).items() if not (isinstance(v, str) and not v.strip())}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidRuleParametersError(f"invalid rule parameters: {problems}") from None
