"""lambda-async-failure-destination: failed asynchronous events are kept somewhere.

Data: `configuration.deadLetterConfig.targetArn` from the CI (lambda:GetFunction
only when the CI lacks the block); lambda:GetFunctionEventInvokeConfig
(DestinationConfig.OnFailure.Destination) only when there is no dead-letter queue.
A function whose DLQ is acceptable is COMPLIANT without reading its destinations.

Scenarios:
  Given a CI with a dead-letter queue, When evaluated,
    Then COMPLIANT naming the queue, and no Lambda API call is made.
  Given no DLQ and an on-failure destination, When evaluated,
    Then the rule reads GetFunctionEventInvokeConfig and is COMPLIANT.
  Given neither, When evaluated, Then NON_COMPLIANT.
  Given AllowedTargetArns and a DLQ or destination outside it,
    When evaluated, Then NON_COMPLIANT naming that target.
  Given AllowedTargetArns listing the configured target, Then COMPLIANT.
  Given a ResourceDeleted configuration item, Then NOT_APPLICABLE.
  Given a CI without DLQ for a function that has since been deleted,
    Then NOT_APPLICABLE (GetFunction confirms it is gone before any NON_COMPLIANT).
  Given GetFunctionEventInvokeConfig is throttled,
    When invoked, Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value
from configguard.parameters import LambdaAsyncFailureDestinationParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

_MISSING = MISSING  # tests compare against this name
_GONE = Verdict.not_applicable("The function no longer exists.")


def dlq_from_ci(configuration_item: dict[str, Any]) -> str | object | None:
    """The DLQ target ARN in the CI, None if unset, MISSING if the CI lacks the block."""
    block = ci_value(configuration_item, "configuration", "deadLetterConfig")
    if block is None:
        return None
    if not isinstance(block, Mapping):  # MISSING, or a shape we cannot read
        return MISSING
    return block.get("targetArn") or None


def judge_target(kind: str, target: str, allowed: tuple[str, ...]) -> Verdict:
    """A configured DLQ or destination, checked against the optional allowlist."""
    if allowed and target not in allowed:
        return Verdict.non_compliant(
            f"The {kind} {target} is not one of AllowedTargetArns; point it at an "
            "allowed queue, topic, function or bus."
        )
    return Verdict.compliant(f"Failed asynchronous events go to the {kind} {target}.")


def on_failure_destination(event_invoke_config: dict[str, Any] | None) -> str | None:
    """DestinationConfig.OnFailure.Destination, if any."""
    destination = (
        ((event_invoke_config or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
    ).get("Destination")
    return str(destination) if destination else None


def evaluate(
    configuration_item: dict[str, Any],
    params: LambdaAsyncFailureDestinationParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one function's CI."""
    name = configuration_item["resourceId"]
    allowed = params.allowed_target_arns
    exists_confirmed = False
    dlq = dlq_from_ci(configuration_item)
    if dlq is MISSING:
        function = reads.function(name)
        if function is None:
            return _GONE
        exists_confirmed = True
        dlq = ((function.get("Configuration") or {}).get("DeadLetterConfig") or {}).get(
            "TargetArn"
        ) or None
    if isinstance(dlq, str):
        return judge_target("dead-letter queue", dlq, allowed)

    invoke_config = reads.event_invoke_config(name)
    destination = on_failure_destination(invoke_config)
    if destination:
        return judge_target("on-failure destination", destination, allowed)
    # GetFunctionEventInvokeConfig answers ResourceNotFound both for "no settings" and
    # for "no function": make sure the function exists before reporting it.
    if invoke_config is None and not exists_confirmed and not reads.function_exists(name):
        return _GONE
    return Verdict.non_compliant(
        "No dead-letter queue and no on-failure destination: failed asynchronous events "
        "are dropped. Configure a DLQ or an OnFailure destination."
    )


class LambdaAsyncFailureDestination(GuardRule):
    spec = RULES["lambda-async-failure-destination"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaAsyncFailureDestinationParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaAsyncFailureDestination)
