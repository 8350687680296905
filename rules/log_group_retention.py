"""log-group-retention: CloudWatch log groups keep their events long enough.

Periodic (Security Hub CloudWatch.16): one evaluation per log group
(AWS::Logs::LogGroup, resource id = the log group name). A group whose
`retentionInDays` is below MinRetentionTime (default 365; only CloudWatch Logs' valid
retention values are accepted) is NON_COMPLIANT. A group without `retentionInDays`
never expires its events: COMPLIANT unless NeverExpireCompliant is false. Groups outside
LogGroupNamePrefixes are reported NOT_APPLICABLE so that results of an earlier, wider
scope are cleared. Groups evaluated before but gone now are reported NOT_APPLICABLE by
the rule base.

Data: logs:DescribeLogGroups (all pages, once per run; shared with
log-group-cmk-encrypted in a scan).

Scenarios:
  Given a log group retaining events 400 days,
    When the periodic run evaluates with the default minimum (365), Then it is COMPLIANT.
  Given a log group retaining events 30 days,
    When the periodic run evaluates,
    Then it is NON_COMPLIANT "Retention is 30 days, below the minimum of 365 days. ...".
  Given a log group whose events never expire,
    When the periodic run evaluates, Then it is COMPLIANT;
    with NeverExpireCompliant false it is NON_COMPLIANT.
  Given MinRetentionTime 731 and a group retaining events 400 days,
    When the periodic run evaluates, Then it is NON_COMPLIANT.
  Given MinRetentionTime that is not a valid retention value (e.g. 100),
    When invoked, Then it fails with an invalid-parameters error and stores nothing.
  Given LogGroupNamePrefixes and a group outside them,
    When the periodic run evaluates, Then that group is NOT_APPLICABLE.
  Given a scan running both log group rules,
    When it evaluates, Then DescribeLogGroups is swept once for both.
  Given a log group evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given DescribeLogGroups is denied or throttled,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rdklib import Evaluation

from configguard.parameters import LogGroupRetentionParameters
from configguard.registry import LOG_GROUP, RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict

OUT_OF_SCOPE = "The log group is outside LogGroupNamePrefixes."


def in_scope(name: str, prefixes: Iterable[str]) -> bool:
    """Every group is in scope without prefixes; otherwise its name must start with one."""
    wanted = tuple(prefixes)
    return not wanted or name.startswith(wanted)


def verdict(
    group: dict[str, Any], min_days: int = 365, never_expire_compliant: bool = True
) -> Verdict:
    """The verdict for one DescribeLogGroups item."""
    fix = f" Fix: set a retention of at least {min_days} days (logs:PutRetentionPolicy)."
    days = group.get("retentionInDays")
    if days is None:
        if never_expire_compliant:
            return Verdict.compliant("Events never expire.")
        return Verdict.non_compliant("Events never expire and NeverExpireCompliant is false." + fix)
    if int(days) < min_days:
        return Verdict.non_compliant(
            f"Retention is {int(days)} days, below the minimum of {min_days} days." + fix
        )
    return Verdict.compliant(f"Retention is {int(days)} days (minimum {min_days}).")


def verdicts(
    groups: Iterable[dict[str, Any]], params: LogGroupRetentionParameters
) -> list[tuple[str, Verdict]]:
    """(log group name, verdict) for every listed group."""
    scope = tuple(params.log_group_name_prefixes)
    out: list[tuple[str, Verdict]] = []
    for group in groups:
        name = str(group["logGroupName"])
        if not in_scope(name, scope):
            out.append((name, Verdict.not_applicable(OUT_OF_SCOPE)))
        else:
            found = verdict(group, params.min_retention_time, params.never_expire_compliant)
            out.append((name, found))
    return out


class LogGroupRetention(GuardRule):
    spec = RULES["log-group-retention"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: LogGroupRetentionParameters,
    ) -> list[Evaluation]:
        groups = client_factory.reads.log_groups()
        found = verdicts(groups, valid_rule_parameters)
        return [evaluation(result, name, LOG_GROUP) for name, result in found]


lambda_handler = rule_handler(LogGroupRetention)
