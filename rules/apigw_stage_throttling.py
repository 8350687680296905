"""apigw-stage-throttling: stages throttle below the account default, within the maximums.

Data: REST: `configuration.methodSettings` from the AWS::ApiGateway::Stage CI; v2:
`configuration.defaultRouteSettings` and `routeSettings` from the
AWS::ApiGatewayV2::Stage CI; GetStage (v1 or v2) only when the CI lacks methodSettings
or defaultRouteSettings (no routeSettings means no route overrides). The
account default comes from apigateway GetAccount (`throttleSettings`; AWS's default is
10,000 requests/s with a burst of 5,000), read once the stage has throttling of its own.
Parameters MaxRateLimit / MaxBurstLimit: when given, no stage default and no method or
route override may exceed them.

Semantics:
- REST: the stage-wide `*/*` throttlingRateLimit and throttlingBurstLimit must both be
  set and strictly below the account default. No `*/*` setting: NON_COMPLIANT ("no
  stage throttling: the account default applies").
- A value equal to the account default is NON_COMPLIANT: API Gateway fills every new
  method setting with exactly the account values, so equality is indistinguishable
  from "never set" and only the account-wide limit protects the stage. A value above
  it is NON_COMPLIANT too (the account limit caps it anyway).
- v2 (HTTP and WebSocket): the same test on defaultRouteSettings; without them,
  NON_COMPLIANT. The account default is shared by REST, HTTP and WebSocket APIs.
- Method (REST) and route (v2) overrides are judged only against MaxRateLimit /
  MaxBurstLimit: an override may raise one method's limit on purpose.
There is no AWS managed rule for stage throttling.

Scenarios:
  Given a REST stage with */* throttling 100/s burst 50,
    When evaluated, Then COMPLIANT after one GetAccount read.
  Given a REST stage with a */* setting at the account default (10000/5000),
    When evaluated, Then NON_COMPLIANT.
  Given a REST stage without a */* setting, When evaluated,
    Then NON_COMPLIANT ("no stage throttling") and nothing is read.
  Given MaxRateLimit=50 and */* throttling 100/s, When evaluated, Then NON_COMPLIANT.
  Given MaxBurstLimit=20 and a GET /orders override with burst 100,
    When evaluated, Then NON_COMPLIANT naming GET /orders.
  Given an HTTP stage with default route throttling 50/s burst 20, When evaluated,
    Then COMPLIANT.
  Given a WebSocket stage without default route throttling, When evaluated,
    Then NON_COMPLIANT.
  Given a CI without methodSettings for a stage that no longer exists,
    When evaluated, Then NOT_APPLICABLE.
  Given a ResourceDeleted configuration item, When evaluated, Then NOT_APPLICABLE.
  Given TooManyRequests on GetAccount, When invoked,
    Then the invocation fails visibly and reports nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rdklib import Evaluation

from configguard.cibuilder import HTTP_STAGE, MISSING, ci_value, parse_stage_arn
from configguard.parameters import ApigwStageThrottlingParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.routes import STAGE_WIDE, method_label, setting
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

ACCOUNT_DEFAULT_RATE = 10_000.0
ACCOUNT_DEFAULT_BURST = 5_000.0
GONE = Verdict.not_applicable("The stage no longer exists.")
MAX_LISTED = 6


@dataclass(frozen=True)
class Throttle:
    """A rate (requests/s) and burst; None where the settings do not set one."""

    rate: float | None
    burst: float | None


def number(value: Any) -> float | None:
    """A finite, non-negative number from a CI or API value; None when unset or invalid."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) and result >= 0 else None


def throttle_of(settings: Any) -> Throttle:
    return Throttle(
        number(setting(settings, "throttlingRateLimit")),
        number(setting(settings, "throttlingBurstLimit")),
    )


def fmt(value: float) -> str:
    return f"{value:g}"


def account_default(reads: Reads) -> Throttle:
    """The account-level throttle (apigateway GetAccount), AWS's default when absent."""
    settings = (reads.call("apigateway", "get_account") or {}).get("throttleSettings") or {}
    rate = number(settings.get("rateLimit"))
    burst = number(settings.get("burstLimit"))
    return Throttle(
        ACCOUNT_DEFAULT_RATE if rate is None else rate,
        ACCOUNT_DEFAULT_BURST if burst is None else burst,
    )


def above_maximum(throttle: Throttle, params: ApigwStageThrottlingParameters) -> list[str]:
    """'rate X above MaxRateLimit Y'-style problems of one throttle."""
    problems: list[str] = []
    if params.max_rate_limit is not None and (throttle.rate or 0) > params.max_rate_limit:
        problems.append(
            f"rate {fmt(throttle.rate or 0)} above MaxRateLimit {fmt(params.max_rate_limit)}"
        )
    if params.max_burst_limit is not None and (throttle.burst or 0) > params.max_burst_limit:
        problems.append(
            f"burst {fmt(throttle.burst or 0)} above MaxBurstLimit {params.max_burst_limit}"
        )
    return problems


def judge_throttle(
    default: Throttle | None,
    overrides: Mapping[str, Throttle],
    account: Throttle | None,
    params: ApigwStageThrottlingParameters,
    scope: str,
) -> Verdict:
    """The verdict for a stage default (`scope` names it) and its per-method overrides.

    `default` None: the stage has no default setting at all; `account` is only needed
    (and only read) when the default sets both values.
    """
    if default is None or default.rate is None or default.burst is None:
        unset = f"there is no {scope}" if default is None else f"the {scope} lacks a limit"
        return Verdict.non_compliant(
            f"No stage throttling: {unset}, so only the account default applies; set a "
            "rate and burst limit below it."
        )
    assert account is not None and account.rate is not None and account.burst is not None
    problems: list[str] = []
    if default.rate >= account.rate:
        problems.append(
            f"rate {fmt(default.rate)} is not below the account default {fmt(account.rate)}"
        )
    if default.burst >= account.burst:
        problems.append(
            f"burst {fmt(default.burst)} is not below the account default {fmt(account.burst)}"
        )
    problems.extend(above_maximum(default, params))
    if problems:
        return Verdict.non_compliant(f"Throttling of the {scope}: {'; '.join(problems)}.")
    over = [
        f"{key} ({', '.join(p)})"
        for key, t in sorted(overrides.items())
        if (p := above_maximum(t, params))
    ]
    if over:
        more = f" and {len(over) - MAX_LISTED} more" if len(over) > MAX_LISTED else ""
        return Verdict.non_compliant(
            f"Override(s) exceed the maximums: {'; '.join(over[:MAX_LISTED])}{more}."
        )
    return Verdict.compliant(
        f"The {scope} throttles at {fmt(default.rate)} requests/s, burst {fmt(default.burst)}."
    )


def evaluate_rest(
    configuration_item: dict[str, Any], params: ApigwStageThrottlingParameters, reads: Reads
) -> Verdict:
    method_settings = ci_value(configuration_item, "configuration", "methodSettings")
    if method_settings is MISSING:
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.rest_stage(api_id, stage_name)
        if stage is None:
            return GONE
        method_settings = stage.get("methodSettings")
    settings = dict(method_settings) if isinstance(method_settings, Mapping) else {}
    default = throttle_of(settings[STAGE_WIDE]) if STAGE_WIDE in settings else None
    overrides = {method_label(k): throttle_of(v) for k, v in settings.items() if k != STAGE_WIDE}
    return judge_throttle(
        default, overrides, _account_if_needed(default, reads), params, "stage-wide */* setting"
    )


def evaluate_v2(
    configuration_item: dict[str, Any], params: ApigwStageThrottlingParameters, reads: Reads
) -> Verdict:
    default_route = ci_value(configuration_item, "configuration", "defaultRouteSettings")
    routes = ci_value(configuration_item, "configuration", "routeSettings")
    if default_route is MISSING:  # a CI with the default but no routeSettings has none
        _, api_id, stage_name = parse_stage_arn(configuration_item["resourceId"])
        stage = reads.http_stage(api_id, stage_name)
        if stage is None:
            return GONE
        default_route = stage.get("DefaultRouteSettings")
        routes = stage.get("RouteSettings")
    default = throttle_of(default_route)
    route_map = dict(routes) if isinstance(routes, Mapping) else {}
    overrides = {str(k): throttle_of(v) for k, v in route_map.items()}
    return judge_throttle(
        default, overrides, _account_if_needed(default, reads), params, "default route"
    )


def _account_if_needed(default: Throttle | None, reads: Reads) -> Throttle | None:
    if default is None or default.rate is None or default.burst is None:
        return None
    return account_default(reads)


def evaluate(
    configuration_item: dict[str, Any],
    params: ApigwStageThrottlingParameters,
    reads: Reads,
) -> Verdict:
    """The verdict for one stage's CI."""
    if configuration_item["resourceType"] == HTTP_STAGE:
        return evaluate_v2(configuration_item, params, reads)
    return evaluate_rest(configuration_item, params, reads)


class ApigwStageThrottling(GuardRule):
    spec = RULES["apigw-stage-throttling"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: ApigwStageThrottlingParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(configuration_item, valid_rule_parameters, client_factory.reads)
        return [evaluation(verdict)]


lambda_handler = rule_handler(ApigwStageThrottling)
