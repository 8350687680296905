"""lambda-tracing-active: functions have AWS X-Ray active tracing (Security Hub Lambda.7).

Data: `configuration.tracingConfig.mode` from the CI; lambda:GetFunction only when
the CI lacks the mode (the API omits TracingConfig when it is the default,
PassThrough, so an absent mode there is PassThrough).

Scenarios:
  Given a CI with tracing mode Active, When evaluated,
    Then COMPLIANT and no Lambda API call is made.
  Given a CI with tracing mode PassThrough, When evaluated, Then NON_COMPLIANT.
  Given a CI without tracingConfig, When evaluated,
    Then the rule reads GetFunction and judges the live mode;
    NOT_APPLICABLE if the function no longer exists.
  Given a ResourceDeleted configuration item, Then NOT_APPLICABLE.
  Given AccessDenied on GetFunction, Then the invocation fails visibly, reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value
from configguard.parameters import LambdaTracingActiveParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict


def mode_from_ci(configuration_item: dict[str, Any]) -> str | None:
    """The tracing mode recorded in the CI; None when the CI does not carry it."""
    mode = ci_value(configuration_item, "configuration", "tracingConfig", "mode")
    return str(mode) if mode is not MISSING and mode else None


def judge_mode(mode: str) -> Verdict:
    if mode == "Active":
        return Verdict.compliant("X-Ray tracing mode is Active.")
    return Verdict.non_compliant(
        f"X-Ray tracing mode is {mode[:40]}; set TracingConfig Mode=Active "
        "(the role also needs xray:PutTraceSegments)."
    )


def evaluate(configuration_item: dict[str, Any], reads: Reads) -> Verdict:
    """The verdict for one function's CI."""
    mode = mode_from_ci(configuration_item)
    if mode is None:
        response = reads.function(configuration_item["resourceId"])
        if response is None:
            return Verdict.not_applicable("The function no longer exists.")
        tracing = (response.get("Configuration") or {}).get("TracingConfig") or {}
        mode = str(tracing.get("Mode") or "PassThrough")
    return judge_mode(mode)


class LambdaTracingActive(GuardRule):
    spec = RULES["lambda-tracing-active"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaTracingActiveParameters,
    ) -> list[Evaluation]:
        return [evaluation(evaluate(configuration_item, client_factory.reads))]


lambda_handler = rule_handler(LambdaTracingActive)
