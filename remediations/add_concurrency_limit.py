"""add-concurrency-limit: give a function function-level reserved concurrency.

The limit follows the function's real load: the peak of CloudWatch AWS/Lambda
ConcurrentExecutions (FunctionName, Maximum) over the last 14 days, in daily periods (14
datapoints, far below GetMetricStatistics' 1,440), times (1 + headroom%), rounded up and
clamped to [min, max]; without datapoints the configured default. Defaults: headroom 50 %,
min 5, max 200. The plan records the peak, the headroom and the basis ("data"/"default").

Scenarios:
  Given a function without reserved concurrency and no CloudWatch data, and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then the default limit is set,
    read back and verified, the function is tagged and an applied record is written.
  Given a 14-day ConcurrentExecutions peak, When triggered, Then the limit is the peak plus
    headroom, rounded up, with basis "data"; older datapoints and other functions' are ignored.
  Given a peak whose limit falls outside [min, max], When triggered, Then it is clamped.
  Given min above max, When triggered, Then failed closed: recorded and raised, nothing changes.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a function that already has reserved concurrency, When triggered, Then skipped.
  Given the same event twice, When processed, Then one change and one duplicate record.
  Given an account whose unreserved concurrency would fall below 100 + margin,
    When triggered, Then refused with a record naming the floor.
  Given the kill switch on, When triggered, Then blocked with a record; nothing changes.
  Given a change that does not read back, When triggered, Then failed: recorded and raised.
  Given an applied change, When rolled back, Then the earlier setting (none) is restored,
    verified and recorded; When the limit was changed since, Then the rollback is refused.
  Given an applied change, When the paired rule evaluates the function, Then COMPLIANT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from botocore.exceptions import ClientError

from configguard import checks, settings
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
from configguard.settings import ConfigurationError
from configguard.verdict import Compliance


@dataclass(frozen=True)
class FunctionState:
    name: str
    arn: str
    reserved: int | None
    tags: dict[str, str]


def read_function(lambda_client: Any, name: str) -> FunctionState | None:
    try:
        response = lambda_client.get_function(FunctionName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    conf = response["Configuration"]
    reserved = (response.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    return FunctionState(
        name=conf["FunctionName"],
        arn=conf["FunctionArn"],
        reserved=None if reserved is None else int(reserved),
        tags=dict(response.get("Tags") or {}),
    )


DEFAULT_HEADROOM_PERCENT = 50
DEFAULT_MINIMUM = 5
DEFAULT_MAXIMUM = 200
METRIC_WINDOW = timedelta(days=14)
METRIC_PERIOD_SECONDS = 86_400  # 14 daily datapoints; GetMetricStatistics returns <= 1,440


@dataclass(frozen=True)
class Sizing:
    """The limit to propose and what it is based on."""

    limit: int
    basis: str  # "data" or "default"
    peak: float | None
    headroom_percent: int
    minimum: int
    maximum: int


def peak_concurrency(cloudwatch: Any, name: str, now: datetime) -> float | None:
    """The highest ConcurrentExecutions Maximum of the function in the window, or None."""
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="ConcurrentExecutions",
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - METRIC_WINDOW,
        EndTime=now,
        Period=METRIC_PERIOD_SECONDS,
        Statistics=["Maximum"],
    )
    values = [float(p["Maximum"]) for p in response.get("Datapoints", []) if "Maximum" in p]
    return max(values) if values else None


def sized_limit(
    peak: float | None, default: int, headroom_percent: int, minimum: int, maximum: int
) -> Sizing:
    """Peak x (1 + headroom%), rounded up and clamped; the default when there is no peak."""
    if minimum > maximum:
        raise ConfigurationError(
            f"{settings.CONCURRENCY_MIN} ({minimum}) must not exceed "
            f"{settings.CONCURRENCY_MAX} ({maximum})"
        )
    if peak is None or not math.isfinite(peak):
        return Sizing(default, "default", None, headroom_percent, minimum, maximum)
    scaled = Decimal(str(peak)) * (100 + headroom_percent) / 100
    wanted = int(scaled.to_integral_value(rounding=ROUND_CEILING))
    return Sizing(
        min(max(wanted, minimum), maximum), "data", peak, headroom_percent, minimum, maximum
    )


def size_from_settings(cloudwatch: Any, name: str, now: datetime) -> Sizing:
    """The sizing for one function, with the stack settings (and their defaults)."""
    default = settings.integer(settings.DEFAULT_CONCURRENCY, 10, minimum=1)
    headroom = settings.integer(settings.CONCURRENCY_HEADROOM_PERCENT, DEFAULT_HEADROOM_PERCENT)
    minimum = settings.integer(settings.CONCURRENCY_MIN, DEFAULT_MINIMUM, minimum=1)
    maximum = settings.integer(settings.CONCURRENCY_MAX, DEFAULT_MAXIMUM, minimum=1)
    peak = peak_concurrency(cloudwatch, name, now)
    return sized_limit(peak, default, headroom, minimum, maximum)


def choose_limit(current: int | None, default: int, unreserved: int, floor: int) -> tuple[int, int]:
    """(new limit, unreserved after) or Refusal. Never lowers an existing limit."""
    target = max(default, current or 0)
    delta = target - (current or 0)
    remaining = unreserved - delta
    if remaining < floor:
        raise Refusal(
            f"Setting reserved concurrency {target} would leave {remaining} unreserved "
            f"concurrent executions, below the floor of {floor} "
            f"({settings.LAMBDA_UNRESERVED_MINIMUM} + margin)."
        )
    return target, remaining


class AddConcurrencyLimit(Remediation[FunctionState]):
    spec = REMEDIATIONS["add-concurrency-limit"]

    def read(self, ctx: FixContext) -> FunctionState | None:
        return read_function(ctx.factory.client("lambda"), ctx.request.resource_id)

    def tags(self, state: FunctionState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: FunctionState) -> str:
        return state.arn

    def compliance_reason(self, state: FunctionState) -> str | None:
        verdict = checks.reserved_concurrency(state.reserved, None, None)
        return None if verdict.compliance == Compliance.COMPLIANT else verdict.reason

    def plan(self, ctx: FixContext, state: FunctionState) -> Plan:
        sizing = size_from_settings(ctx.factory.client("cloudwatch"), state.name, datetime.now(UTC))
        margin = settings.integer(settings.UNRESERVED_MARGIN, 50)
        account = ctx.factory.client("lambda").get_account_settings()["AccountLimit"]
        unreserved = int(account["UnreservedConcurrentExecutions"])
        floor = settings.LAMBDA_UNRESERVED_MINIMUM + margin
        target, remaining = choose_limit(state.reserved, sizing.limit, unreserved, floor)
        return Plan(
            action=f"PutFunctionConcurrency {target}",
            before={"reservedConcurrentExecutions": state.reserved},
            after={"reservedConcurrentExecutions": target},
            details={
                "unreservedBefore": unreserved,
                "unreservedAfter": remaining,
                "basis": sizing.basis,
                "peak14d": sizing.peak,
                "headroomPercent": sizing.headroom_percent,
                "clamp": [sizing.minimum, sizing.maximum],
            },
        )

    def verify(self, state: FunctionState, plan: Plan) -> str | None:
        want = plan.after["reservedConcurrentExecutions"]
        if state.reserved != want:
            return f"reserved concurrency reads back as {state.reserved}, expected {want}"
        return None

    def apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        ctx.factory.client("lambda").put_function_concurrency(
            FunctionName=state.name,
            ReservedConcurrentExecutions=plan.after["reservedConcurrentExecutions"],
        )

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("lambda").tag_resource(Resource=arn, Tags=tags)

    def live_values(self, ctx: FixContext, state: FunctionState, plan: Plan) -> dict[str, Any]:
        return {"reservedConcurrentExecutions": state.reserved}

    def rollback_plan(
        self, ctx: FixContext, state: FunctionState, original: dict[str, Any]
    ) -> Plan:
        applied = (original.get("after") or {}).get("reservedConcurrentExecutions")
        earlier = (original.get("before") or {}).get("reservedConcurrentExecutions")
        if state.reserved != applied:
            raise Refusal(
                f"Reserved concurrency is now {state.reserved}, not the {applied} that audit "
                f"{original['audit_id']} set: it changed since, so it is left alone."
            )
        action = (
            "DeleteFunctionConcurrency" if earlier is None else f"PutFunctionConcurrency {earlier}"
        )
        return Plan(
            action=f"rollback: {action}",
            before={"reservedConcurrentExecutions": state.reserved},
            after={"reservedConcurrentExecutions": earlier},
        )

    def rollback_apply(self, ctx: FixContext, state: FunctionState, plan: Plan) -> None:
        client = ctx.factory.client("lambda")
        earlier = plan.after["reservedConcurrentExecutions"]
        if earlier is None:
            client.delete_function_concurrency(FunctionName=state.name)
        else:
            client.put_function_concurrency(
                FunctionName=state.name, ReservedConcurrentExecutions=earlier
            )

    def rollback_verify(self, state: FunctionState, plan: Plan) -> str | None:
        want = plan.after["reservedConcurrentExecutions"]
        if state.reserved != want:
            return f"reserved concurrency reads back as {state.reserved}, expected {want}"
        return None


lambda_handler = remediation_handler(AddConcurrencyLimit)
