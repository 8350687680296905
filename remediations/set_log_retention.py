"""set-log-retention: raise a log group's too-short retention to the configured one.

PutRetentionPolicy with CONFIGGUARD_LOG_RETENTION_DAYS (one of CloudWatch Logs' valid
values). Retention only ever grows: a shorter retention makes CloudWatch Logs delete
older events, so the fix never shortens one and never puts a retention on a group whose
events never expire. The target must meet log-group-retention's default MinRetentionTime
(365): a smaller setting would leave the group NON_COMPLIANT and is refused. A rule
deployed with a larger MinRetentionTime needs a setting at least that large.
Rollback would always shorten retention (this fix only lengthens it) and so delete
events: it is refused with the command that does it, for a human to run.

Scenarios:
  Given a log group retaining events 30 days and mode apply,
    When a NON_COMPLIANT compliance change arrives, Then retention becomes the configured
    365 days, read back and verified, the group is tagged and an applied record is written.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false, When triggered, Then skipped, with a record.
  Given a group retaining events 400 days, When triggered, Then skipped (already compliant).
  Given a group whose events never expire,
    When triggered, Then refused: a retention would delete older events.
  Given a configured retention below the rule's default minimum (e.g. 90),
    When triggered, Then refused naming the setting; nothing changes.
  Given a configured retention that is not a CloudWatch Logs value (e.g. 100),
    When triggered, Then failed closed with a configuration error; nothing changes.
  Given a log group deleted since the evaluation, When triggered, Then skipped.
  Given a retention that does not read back, When triggered, Then failed: recorded and raised.
  Given a malformed or unknown trigger, When received, Then InvalidTriggerError and no record.
  Given each trigger source's sample event (Config, Security Hub, CLI),
    When handled by the real handler, Then retention is set.
  Given an applied change, When rolled back, Then refused because restoring the shorter
    retention deletes events (the record names the command);
    When the retention changed since, Then refused as changed.
  Given a fixed group, When log-group-retention runs, Then the group is COMPLIANT.
"""

from __future__ import annotations

from typing import Any

from configguard import settings
from configguard.loggroups import LogGroupState, read_log_group
from configguard.parameters import VALID_RETENTION_DAYS, LogGroupRetentionParameters
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler

RULE_DEFAULT_MINIMUM = int(LogGroupRetentionParameters.model_fields["min_retention_time"].default)


def configured_retention() -> int:
    """CONFIGGUARD_LOG_RETENTION_DAYS (default: the rule's default minimum), a valid value."""
    days = settings.integer(settings.LOG_RETENTION_DAYS, RULE_DEFAULT_MINIMUM, minimum=1)
    if days not in VALID_RETENTION_DAYS:
        raise settings.ConfigurationError(
            f"{settings.LOG_RETENTION_DAYS} must be a CloudWatch Logs retention value "
            f"({', '.join(map(str, VALID_RETENTION_DAYS))}), got {days}"
        )
    return days


def retention_reason(retention: int | None, minimum: int) -> str | None:
    """None when the group keeps events at least `minimum` days, else why not.

    Never-expire is reported too (the rule's default counts it COMPLIANT, a rule with
    NeverExpireCompliant false does not): the plan then explains why it stays as it is.
    """
    if retention is None:
        return "Events never expire."
    if retention < minimum:
        return f"Retention is {retention} days, below the minimum of {minimum} days."
    return None


def choose_retention(name: str, retention: int | None, configured: int) -> int:
    """The retention to set (longer than today's), or Refusal. Never shortens retention."""
    if configured < RULE_DEFAULT_MINIMUM:
        raise Refusal(
            f"{settings.LOG_RETENTION_DAYS} is {configured} days, below log-group-retention's "
            f"default MinRetentionTime of {RULE_DEFAULT_MINIMUM} days: the group would stay "
            f"NON_COMPLIANT. Set {settings.LOG_RETENTION_DAYS} to at least {RULE_DEFAULT_MINIMUM}."
        )
    if retention is None:
        raise Refusal(
            f"Events of {name} never expire. A retention of {configured} days would make "
            "CloudWatch Logs delete older events, and configguard never shortens retention. "
            "Never-expire is COMPLIANT unless the rule sets NeverExpireCompliant false; to "
            "accept the loss, set a retention yourself (aws logs put-retention-policy)."
        )
    if retention >= configured:
        raise Refusal(
            f"Retention is already {retention} days, not below the configured {configured}: "
            "configguard never shortens retention."
        )
    return configured


def rollback_refusal(state: LogGroupState, applied: Any, earlier: Any, audit_id: str) -> str:
    """Why the rollback of `audit_id` is refused: it changed since, or it would delete events."""
    if state.retention != applied:
        now = "never expire" if state.retention is None else f"{state.retention} days"
        return (
            f"Retention is now {now}, not the {applied} days that audit {audit_id} set: "
            "it changed since, so it is left alone."
        )
    return (
        f"Rolling back would shorten retention from {applied} to {earlier} days, and "
        f"CloudWatch Logs would delete events older than {earlier} days: configguard never "
        "deletes log data. If that loss is acceptable, run: aws logs put-retention-policy "
        f"--log-group-name {state.name} --retention-in-days {earlier}"
    )


class SetLogRetention(Remediation[LogGroupState]):
    spec = REMEDIATIONS["set-log-retention"]

    def read(self, ctx: FixContext) -> LogGroupState | None:
        return read_log_group(ctx.factory.client("logs"), ctx.request.resource_id)

    def tags(self, state: LogGroupState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: LogGroupState) -> str:
        return state.arn

    def compliance_reason(self, state: LogGroupState) -> str | None:
        minimum = max(configured_retention(), RULE_DEFAULT_MINIMUM)
        return retention_reason(state.retention, minimum)

    def plan(self, ctx: FixContext, state: LogGroupState) -> Plan:
        target = choose_retention(state.name, state.retention, configured_retention())
        return Plan(
            action=f"PutRetentionPolicy {target} days",
            before={"retentionInDays": state.retention},
            after={"retentionInDays": target},
        )

    def apply(self, ctx: FixContext, state: LogGroupState, plan: Plan) -> None:
        ctx.factory.client("logs").put_retention_policy(
            logGroupName=state.name, retentionInDays=plan.after["retentionInDays"]
        )

    def verify(self, state: LogGroupState, plan: Plan) -> str | None:
        want = plan.after["retentionInDays"]
        if state.retention != want:
            return f"retentionInDays reads back as {state.retention}, expected {want}"
        return None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        ctx.factory.client("logs").tag_resource(resourceArn=arn, tags=tags)

    def live_values(self, ctx: FixContext, state: LogGroupState, plan: Plan) -> dict[str, Any]:
        return {"retentionInDays": state.retention}

    def rollback_plan(
        self, ctx: FixContext, state: LogGroupState, original: dict[str, Any]
    ) -> Plan:
        applied = (original.get("after") or {}).get("retentionInDays")
        earlier = (original.get("before") or {}).get("retentionInDays")
        raise Refusal(rollback_refusal(state, applied, earlier, str(original["audit_id"])))


lambda_handler = remediation_handler(SetLogRetention)
