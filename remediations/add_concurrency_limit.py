"""add-concurrency-limit: give a function function-level reserved concurrency.

Scenarios:
  Given a function without reserved concurrency and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then the default limit is set,
    read back and verified, the function is tagged and an applied record is written.
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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from configguard import checks, settings
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
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
        default = settings.integer(settings.DEFAULT_CONCURRENCY, 10, minimum=1)
        margin = settings.integer(settings.UNRESERVED_MARGIN, 50)
        account = ctx.factory.client("lambda").get_account_settings()["AccountLimit"]
        unreserved = int(account["UnreservedConcurrentExecutions"])
        floor = settings.LAMBDA_UNRESERVED_MINIMUM + margin
        target, remaining = choose_limit(state.reserved, default, unreserved, floor)
        return Plan(
            action=f"PutFunctionConcurrency {target}",
            before={"reservedConcurrentExecutions": state.reserved},
            after={"reservedConcurrentExecutions": target},
            details={"unreservedBefore": unreserved, "unreservedAfter": remaining},
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
