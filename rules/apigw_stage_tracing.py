"""apigw-stage-tracing: REST API stages have AWS X-Ray tracing enabled (Security Hub APIGateway.3).

Data: `configuration.tracingEnabled` from the AWS::ApiGateway::Stage CI; apigateway
GetStage only when the CI lacks it (GetStage may omit the flag; absent means false).
The stage is identified by the CI's resourceId, the stage ARN.

Differs from AWS managed rule api-gw-xray-enabled: no difference in the verdict; a CI
that lacks the flag is confirmed from GetStage instead of being judged as recorded.

Scenarios:
  Given a REST stage CI with tracingEnabled true,
    When evaluated, Then COMPLIANT and no API Gateway call is made.
  Given a REST stage with tracingEnabled false, When evaluated, Then NON_COMPLIANT.
  Given a CI without tracingEnabled, When evaluated,
    Then the rule reads GetStage and judges the live setting.
  Given a CI without tracingEnabled for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on GetStage, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import MISSING, ci_value, parse_stage_arn
from configguard.parameters import ApigwStageTracingParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

GONE = Verdict.not_applicable("The stage no longer exists.")


def is_true(value: Any) -> bool:
    """A boolean as Config records it: true, or the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def judge_tracing(enabled: bool) -> Verdict:
    if enabled:
        return Verdict.compliant("X-Ray tracing is enabled on the stage.")
    return Verdict.non_compliant(
        "X-Ray tracing is off; set the stage's tracingEnabled to true "
        "(UpdateStage /tracingEnabled, or TracingEnabled in the template)."
    )


def evaluate(configuration_item: dict[str, Any], reads: Reads) -> Verdict:
    """The verdict for one REST stage's CI."""
    enabled = ci_value(configuration_item, "configuration", "tracingEnabled")
    if enabled is MISSING:
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.rest_stage(api_id, stage_name)
        if stage is None:
            return GONE
        enabled = stage.get("tracingEnabled", False)
    return judge_tracing(is_true(enabled))


class ApigwStageTracing(GuardRule):
    spec = RULES["apigw-stage-tracing"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageTracingParameters,
    ) -> list[Evaluation]:
        return [evaluation(evaluate(configuration_item, client_factory.reads))]


lambda_handler = rule_handler(ApigwStageTracing)
