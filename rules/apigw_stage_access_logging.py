"""apigw-stage-access-logging: REST, HTTP and WebSocket stages send access logs to a destination.

Security Hub APIGateway.9 (v2 stages), applied to REST stages too.
Data: `configuration.accessLogSettings.{destinationArn,format}` from the stage CI
(AWS::ApiGateway::Stage or AWS::ApiGatewayV2::Stage); apigateway / apigatewayv2
GetStage only when the CI lacks accessLogSettings (GetStage omits it when access
logging is off, so a CI built from it needs one read to confirm).
Parameter RequiredFormatFields (e.g. `$context.requestId`): each must appear in the
format; the missing ones are named. A destination with an empty format is NON_COMPLIANT.
Differs from AWS managed rule api-gwv2-access-logs-enabled: REST stages are judged too,
and the format can be required to carry fields.

Scenarios:
  Given a REST stage with an access log destination and format,
    When evaluated, Then COMPLIANT and no API Gateway call is made.
  Given a REST stage without access logging, When evaluated,
    Then the rule confirms with GetStage and is NON_COMPLIANT.
  Given RequiredFormatFields $context.requestId,$context.identity.sourceIp and a format
    with only $context.requestId, When evaluated,
    Then NON_COMPLIANT naming $context.identity.sourceIp.
  Given an HTTP API stage with access logs, When evaluated, Then COMPLIANT.
  Given a WebSocket stage without access logs, When evaluated, Then NON_COMPLIANT.
  Given a CI without accessLogSettings for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on GetStage, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import HTTP_STAGE, MISSING, ci_value, parse_stage_arn
from configguard.parameters import ApigwStageAccessLoggingParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.routes import setting
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

GONE = Verdict.not_applicable("The stage no longer exists.")


def destination_label(arn: str) -> str:
    """The resource part of a log destination ARN (log group or Firehose stream)."""
    return arn.split(":", 5)[-1].removesuffix(":*")[-120:]


def judge_access_logs(settings: Any, required: tuple[str, ...]) -> Verdict:
    """The verdict for a stage's access log settings (None: access logging is off)."""
    destination = setting(settings, "destinationArn")
    log_format = str(setting(settings, "format") or "")
    if not destination:
        return Verdict.non_compliant(
            "Access logging is off; set accessLogSettings with a CloudWatch Logs or Firehose "
            "destinationArn and a format."
        )
    where = destination_label(str(destination))
    if not log_format.strip():
        return Verdict.non_compliant(
            f"Access logs go to {where} but the format is empty; set accessLogSettings.format."
        )
    missing = [field for field in required if field not in log_format]
    if missing:
        return Verdict.non_compliant(
            f"The access log format lacks {', '.join(missing)}; add them to "
            "accessLogSettings.format."
        )
    return Verdict.compliant(f"Access logs go to {where}.")


def live_settings(configuration_item: dict[str, Any], reads: Reads) -> tuple[bool, Any]:
    """(stage exists, its accessLogSettings) from GetStage, v1 or v2."""
    _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
    if configuration_item["resourceType"] == HTTP_STAGE:
        v2_stage = reads.http_stage(api_id, stage_name)
        return v2_stage is not None, (v2_stage or {}).get("AccessLogSettings")
    stage = reads.rest_stage(api_id, stage_name)
    return stage is not None, (stage or {}).get("accessLogSettings")


def evaluate(
    configuration_item: dict[str, Any],
    params: ApigwStageAccessLoggingParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one stage's CI."""
    settings = ci_value(configuration_item, "configuration", "accessLogSettings")
    if settings is MISSING:
        exists, settings = live_settings(configuration_item, reads)
        if not exists:
            return GONE
    return judge_access_logs(settings, params.required_format_fields)


class ApigwStageAccessLogging(GuardRule):
    spec = RULES["apigw-stage-access-logging"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageAccessLoggingParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(ApigwStageAccessLogging)
