"""Run paired fixes through their real handlers, as `configguard fix` and the demo do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from configguard import registry
from configguard.audit import Outcome
from configguard.clients import ClientFactory, current_region
from configguard.remediation import RemediationFailedError, RequestInProgressError
from configguard_cli.events import context_for, fix_request_event, rollback_request_event
from configguard_cli.handlers import (
    deployed_environment,
    environment,
    invoke,
    remediation_module,
)


class NoFixError(LookupError):
    """The rule has no paired remediation."""


@dataclass(frozen=True)
class CallerIdentity:
    """Who the CLI acts as: sts:GetCallerIdentity's account and ARN."""

    account: str
    arn: str


def caller_identity(factory: ClientFactory) -> CallerIdentity:
    """The caller's account and ARN (one sts:GetCallerIdentity call)."""
    identity = factory.client("sts").get_caller_identity()
    return CallerIdentity(account=str(identity["Account"]), arn=str(identity["Arn"]))


def caller_account(factory: ClientFactory) -> str:
    return caller_identity(factory).account


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
        region=factory.region or current_region(),
        actor=actor,
        reason=reason,
        dry_run=dry_run,
        resource_type=resource_type,
    )
    handler = remediation_module(spec.name).lambda_handler
    name = registry.fix_function_name(spec)
    context = context_for(name, account, event["region"])
    with environment(deployed_environment(factory, name)):
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
        except (RemediationFailedError, RequestInProgressError) as exc:
            failed = isinstance(exc, RemediationFailedError)
            summaries.append(
                {
                    "rule": rule,
                    "resource_id": resource_id,
                    "outcome": (Outcome.FAILED if failed else Outcome.DUPLICATE).value,
                    "reason": str(exc),
                }
            )
    return summaries


def run_rollback(
    factory: ClientFactory,
    record: dict[str, Any],
    *,
    actor: str,
    reason: str = "",
    dry_run: bool = False,
    restore_plaintext: bool = False,
) -> list[dict[str, Any]]:
    """The audit records of one rollback request for the stored `record`.

    RemediationFailedError when the rollback failed.
    """
    spec = registry.remediation(record["remediation"])
    event = rollback_request_event(
        record,
        actor=actor,
        reason=reason,
        dry_run=dry_run,
        restore_plaintext=restore_plaintext,
    )
    handler = remediation_module(spec.name).lambda_handler
    name = registry.fix_function_name(spec)
    context = context_for(name, event["account"], event["region"])
    with environment(deployed_environment(factory, name)):
        results: list[dict[str, Any]] = invoke(handler, event, context)["results"]
    return results
