"""lambda-reserved-concurrency: functions have function-level reserved concurrency.

Data: `supplementaryConfiguration.Concurrency.reservedConcurrentExecutions` from the
CI; lambda:GetFunctionConcurrency only when the CI lacks that block. Oversized
notifications are inflated with lambda:GetFunction by the rule base.

Scenarios:
  Given a CI carrying reserved concurrency 10 and no bounds,
    When evaluated, Then COMPLIANT and no Lambda API call is made.
  Given a CI without the concurrency block and a function with reserved concurrency 20,
    When evaluated, Then the rule reads GetFunctionConcurrency and is COMPLIANT.
  Given a function with no reserved concurrency,
    When evaluated, Then NON_COMPLIANT.
  Given bounds ConcurrencyLimitLow=5 / ConcurrencyLimitHigh=50 and reserved concurrency 100,
    When evaluated, Then NON_COMPLIANT (above the high bound).
  Given bounds ConcurrencyLimitLow=5 and reserved concurrency 2,
    When evaluated, Then NON_COMPLIANT (below the low bound).
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given eventLeftScope true, When evaluated, Then NOT_APPLICABLE.
  Given an oversized notification for an existing function,
    When evaluated, Then the function is read from the Lambda API and evaluated.
  Given an oversized notification for a function that is gone, Then NOT_APPLICABLE.
  Given a CI of another resource type, When evaluated, Then NOT_APPLICABLE.
  Given invalid parameters (low above high, or an unknown name),
    When invoked, Then it fails with a clear error and reports nothing.
  Given AccessDenied on GetFunctionConcurrency,
    When invoked, Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard import checks
from configguard.cibuilder import MISSING, ci_value
from configguard.parameters import LambdaReservedConcurrencyParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict


def reserved_from_ci(configuration_item: dict[str, Any]) -> int | object | None:
    """The reserved concurrency in the CI, None if unset, MISSING if the CI lacks a count."""
    path = ("supplementaryConfiguration", "Concurrency", "reservedConcurrentExecutions")
    value = ci_value(configuration_item, *path)
    if value is MISSING or value is None:
        return value
    if isinstance(value, str):  # Config records supplementary numbers as strings too
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # e.g. 25.0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return MISSING  # not a count: read GetFunctionConcurrency instead


def read_reserved(reads: Reads, function_name: str) -> int | object | None:
    """GetFunctionConcurrency; MISSING when the function no longer exists."""
    response = reads.function_concurrency(function_name)
    if response is None:
        return MISSING
    value = response.get("ReservedConcurrentExecutions")
    return None if value is None else int(value)


def evaluate(
    configuration_item: dict[str, Any],
    params: LambdaReservedConcurrencyParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one function's CI."""
    reserved = reserved_from_ci(configuration_item)
    if reserved is MISSING:
        reserved = read_reserved(reads, configuration_item["resourceId"])
        if reserved is MISSING:
            return Verdict.not_applicable("The function no longer exists.")
    assert reserved is None or isinstance(reserved, int)
    return checks.reserved_concurrency(
        reserved, params.concurrency_limit_low, params.concurrency_limit_high
    )


class LambdaReservedConcurrency(GuardRule):
    spec = RULES["lambda-reserved-concurrency"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaReservedConcurrencyParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaReservedConcurrency)
