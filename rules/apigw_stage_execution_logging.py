"""apigw-stage-execution-logging: every API method logs execution at a level in LoggingLevels.

Security Hub APIGateway.1. LoggingLevels defaults to ERROR,INFO.
Data: REST stages: `configuration.methodSettings` from the AWS::ApiGateway::Stage CI
(apigateway GetStage only when the CI lacks it). v2 stages: apigatewayv2 GetApi for the
protocol (not in the stage CI), then `configuration.defaultRouteSettings` and
`routeSettings` (apigatewayv2 GetStage only when the CI lacks defaultRouteSettings; a
CI without routeSettings has no route overrides).

Semantics:
- REST: the stage-wide `*/*` loggingLevel applies to every method without its own
  setting; a method key (`~1orders~1{id}/GET` is GET /orders/{id}) overrides it. A
  method key without a loggingLevel never set one, so it inherits `*/*`.
- REST without a `*/*` level: NON_COMPLIANT. API Gateway's default is OFF, and the
  stage record does not list the API's methods, so method overrides alone can never
  prove that every method is covered.
- WebSocket: the default route's loggingLevel, overridden per route by routeSettings.
- HTTP APIs have no execution logging (only access logs): NOT_APPLICABLE.
Differs from AWS managed rule api-gw-execution-logging-enabled: none on REST (it also
requires all methods); WebSocket route overrides are judged too. Prowler's check passes
a stage when any method logs; this rule requires every method to.

Scenarios:
  Given a REST stage with */* logging ERROR and no overrides,
    When evaluated, Then COMPLIANT and no API Gateway call is made.
  Given a REST stage with */* logging ERROR and GET /orders overriding it with OFF,
    When evaluated, Then NON_COMPLIANT naming GET /orders.
  Given a REST stage with no */* logging level (only method overrides),
    When evaluated, Then NON_COMPLIANT.
  Given LoggingLevels=INFO and a stage logging ERROR, When evaluated, Then NON_COMPLIANT.
  Given a REST CI without methodSettings for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a WebSocket stage with default route logging INFO, When evaluated, Then COMPLIANT.
  Given a WebSocket stage whose $connect route overrides logging with OFF,
    When evaluated, Then NON_COMPLIANT naming $connect.
  Given a WebSocket stage without a default logging level, When evaluated, Then NON_COMPLIANT.
  Given an HTTP API stage, When evaluated, Then NOT_APPLICABLE.
  Given a v2 stage whose API no longer exists, When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given AccessDenied on apigatewayv2 GetApi, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import HTTP_STAGE, MISSING, ci_value, parse_stage_arn
from configguard.parameters import ApigwStageExecutionLoggingParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.routes import STAGE_WIDE, method_label, setting
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

OFF = "OFF"
GONE = Verdict.not_applicable("The stage no longer exists.")
MAX_LISTED = 8


def level_of(settings: Any) -> str | None:
    """The logging level set in one settings object; None when it sets none."""
    level = setting(settings, "loggingLevel")
    return str(level).upper() if level else None


def listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def overrides_outside(
    overrides: Mapping[str, Any],
    inherited: str,
    levels: tuple[str, ...],
    label: Callable[[str], str],
) -> list[str]:
    """'<label> (<level>)' for every override whose effective level is not allowed."""
    bad: list[str] = []
    for key in sorted(overrides):
        effective = level_of(overrides[key]) or inherited
        if effective not in levels:
            bad.append(f"{label(key)} ({effective})")
    return bad


def judge_rest(method_settings: Any, levels: tuple[str, ...]) -> Verdict:
    """REST stage: */* and every method override must log at one of `levels`."""
    settings = dict(method_settings) if isinstance(method_settings, Mapping) else {}
    allowed = "/".join(levels)
    stage_level = level_of(settings.get(STAGE_WIDE)) if STAGE_WIDE in settings else None
    methods = {k: v for k, v in settings.items() if k != STAGE_WIDE}
    bad = overrides_outside(methods, stage_level or OFF, levels, method_label)
    if stage_level is None or stage_level not in levels:
        state = f"is {stage_level}" if stage_level else "is not set (API Gateway's default is OFF)"
        extra = f" Method overrides also outside it: {listed(bad)}." if bad else ""
        return Verdict.non_compliant(
            f"Stage-wide (*/*) execution logging {state}; set /*/*/logging/loglevel to "
            f"{allowed} so that every method logs.{extra}"
        )
    if bad:
        return Verdict.non_compliant(
            f"Method override(s) log outside {allowed}: {listed(bad)}; set their "
            "logging/loglevel or remove the overrides."
        )
    also = f"; {len(methods)} method override(s) also log" if methods else ""
    return Verdict.compliant(f"Every method logs: */* at {stage_level}{also}.")


def judge_websocket(default_route: Any, route_settings: Any, levels: tuple[str, ...]) -> Verdict:
    """WebSocket stage: the default route and every route override log at one of `levels`."""
    allowed = "/".join(levels)
    default_level = level_of(default_route) or OFF
    routes = dict(route_settings) if isinstance(route_settings, Mapping) else {}
    bad = overrides_outside(routes, default_level, levels, str)
    if default_level not in levels:
        extra = f" Route overrides also outside it: {listed(bad)}." if bad else ""
        return Verdict.non_compliant(
            f"Default route execution logging is {default_level}; set DefaultRouteSettings "
            f"LoggingLevel to {allowed}.{extra}"
        )
    if bad:
        return Verdict.non_compliant(
            f"Route override(s) log outside {allowed}: {listed(bad)}; set their "
            "RouteSettings LoggingLevel or remove the overrides."
        )
    also = f"; {len(routes)} route override(s) also log" if routes else ""
    return Verdict.compliant(f"Every route logs: default route at {default_level}{also}.")


def evaluate_rest(
    configuration_item: dict[str, Any], levels: tuple[str, ...], reads: Reads
) -> Verdict:
    method_settings = ci_value(configuration_item, "configuration", "methodSettings")
    if method_settings is MISSING:
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.rest_stage(api_id, stage_name)
        if stage is None:
            return GONE
        method_settings = stage.get("methodSettings")
    return judge_rest(method_settings, levels)


def evaluate_v2(
    configuration_item: dict[str, Any], levels: tuple[str, ...], reads: Reads
) -> Verdict:
    _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
    api = reads.http_api(api_id)
    if api is None:
        return Verdict.not_applicable("The API no longer exists.")
    if api.get("ProtocolType") != "WEBSOCKET":
        return Verdict.not_applicable(
            "HTTP APIs have no execution logging; access logging is judged separately."
        )
    default_route = ci_value(configuration_item, "configuration", "defaultRouteSettings")
    routes = ci_value(configuration_item, "configuration", "routeSettings")
    if default_route is MISSING:  # a CI with the default but no routeSettings has none
        stage = reads.http_stage(api_id, stage_name)
        if stage is None:
            return GONE
        default_route = stage.get("DefaultRouteSettings")
        routes = stage.get("RouteSettings")
    return judge_websocket(default_route, routes, levels)


def evaluate(
    configuration_item: dict[str, Any],
    params: ApigwStageExecutionLoggingParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one stage's CI."""
    if configuration_item["resourceType"] == HTTP_STAGE:
        return evaluate_v2(configuration_item, params.logging_levels, reads)
    return evaluate_rest(configuration_item, params.logging_levels, reads)


class ApigwStageExecutionLogging(GuardRule):
    spec = RULES["apigw-stage-execution-logging"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageExecutionLoggingParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(ApigwStageExecutionLogging)
