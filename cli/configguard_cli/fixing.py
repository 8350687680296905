"""Run paired fixes through their real handlers, as `configguard fix` and the demo do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from configguard import registry
from configguard.audit import Outcome
from configguard.clients import ClientFactory
from configguard.remediation import RemediationFailedError
from configguard_cli.events import context_for, fix_request_event
from configguard_cli.handlers import invoke, remediation_module


class NoFixError(LookupError):
    """The rule has no paired remediation."""


def caller_account(factory: ClientFactory) -> str:
    return str(factory.client("sts").get_caller_identity()["Account"])


def run_fix(
    factory: ClientFactory,
    rule: str,
    resource_id: str,
    *,
    actor: str,
    reason: str = "",
    dry_run: bool = False,
    resource_type: str | None = None,
    account: str | None = None,
) -> list[dict[str, Any]]:
    """The audit records of one fix request; RemediationFailedError when the fix failed.

    `account` defaults to the caller's (one STS call).
    """
    spec = registry.remediation_for_rule(rule)
    if spec is None:
        raise NoFixError(f"rule {rule} has no paired remediation")
    account = account or caller_account(factory)
    event = fix_request_event(
        rule,
        resource_id,
        account_id=account,
        region=factory.region or "",
        actor=actor,
        reason=reason,
        dry_run=dry_run,
        resource_type=resource_type,
    )
    handler = remediation_module(spec.name).lambda_handler
    context = context_for(f"configguard-{spec.name}", account, event["region"])
    results: list[dict[str, Any]] = invoke(handler, event, context)["results"]
    return results


def fix_all(
    factory: ClientFactory,
    targets: Iterable[tuple[str, str, str]],
    *,
    actor: str,
    reason: str = "",
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Fix each (rule, resource type, resource id) with a paired fix; one summary per target.

    A failed fix does not stop the others: its summary carries outcome "failed" and the
    error, and its audit record is already stored.
    """
    summaries: list[dict[str, Any]] = []
    account = caller_account(factory)
    for rule, resource_type, resource_id in targets:
        if registry.rule(rule).remediation is None:
            continue
        try:
            summaries.extend(
                run_fix(
                    factory,
                    rule,
                    resource_id,
                    actor=actor,
                    reason=reason,
                    dry_run=dry_run,
                    resource_type=resource_type,
                    account=account,
                )
            )
        except RemediationFailedError as exc:
            summaries.append(
                {
                    "rule": rule,
                    "resource_id": resource_id,
                    "outcome": Outcome.FAILED.value,
                    "reason": str(exc),
                }
            )
    return summaries
