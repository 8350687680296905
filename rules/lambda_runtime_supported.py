"""lambda-runtime-supported: functions run on a runtime that is not (nearly) deprecated.

Data: `configuration.runtime` and `configuration.packageType` from the CI, judged
against configguard.runtimes (a dated table) merged with `RuntimeDeprecations`;
lambda:GetFunction only when a Zip function's CI lacks the runtime. Today is UTC.

Scenarios:
  Given python3.13 (deprecated 2029-06-30) and today well before WarningDays of it,
    When evaluated, Then COMPLIANT naming the date, and no Lambda API call is made.
  Given python3.9 (deprecated 2025-12-15), When evaluated,
    Then NON_COMPLIANT "python3.9 was deprecated on 2025-12-15 ...".
  Given a runtime deprecating within WarningDays (default 180),
    When evaluated, Then NON_COMPLIANT "... is deprecated on <date> (in N days) ...".
  Given RuntimeDeprecations moving python3.13 to 30 days from today,
    When evaluated, Then NON_COMPLIANT (the parameter overrides the table).
  Given WarningDays=0 and a runtime deprecating tomorrow, Then COMPLIANT.
  Given a container image function (packageType Image), Then NOT_APPLICABLE.
  Given a runtime the table does not list, Then COMPLIANT, saying it is not in the
    table (as of its date), so that new runtimes page no one.
  Given a Zip CI without a runtime, When evaluated, Then the rule reads GetFunction
    and judges its runtime; NOT_APPLICABLE if the function no longer exists.
  Given a ResourceDeleted configuration item, Then NOT_APPLICABLE.
  Given invalid parameters (negative WarningDays, a non-date in RuntimeDeprecations),
    When invoked, Then it fails with a clear error and reports nothing.
  Given AccessDenied on GetFunction, Then the invocation fails visibly, reports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from rdklib import Evaluation

from configguard import runtimes
from configguard.cibuilder import MISSING, ci_typed
from configguard.parameters import LambdaRuntimeSupportedParameters
from configguard.reads import Reads
from configguard.registry import RULES
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import Verdict


def judge_runtime(
    runtime: str,
    today: date,
    warning_days: int,
    overrides: Mapping[str, date] | None = None,
) -> Verdict:
    """The verdict for one runtime identifier on `today`."""
    deprecated_on = runtimes.deprecation(runtime, overrides)
    if deprecated_on is None:
        return Verdict.compliant(
            f"{runtime} is not in the deprecation table (as of {runtimes.TABLE_AS_OF}); "
            "add it to RuntimeDeprecations if it has a date."
        )
    days = (deprecated_on - today).days
    if days <= 0:
        when = (
            f"by {deprecated_on}"
            if runtimes.is_approximate(runtime, overrides)
            else f"on {deprecated_on}"
        )
        blocked = runtimes.block_update(runtime, overrides)
        block_note = f"; function updates are blocked from {blocked}" if blocked else ""
        return Verdict.non_compliant(
            f"{runtime} was deprecated {when}{block_note}. "
            "Upgrade the function to a supported runtime."
        )
    if days <= warning_days:
        unit = "day" if days == 1 else "days"
        return Verdict.non_compliant(
            f"{runtime} is deprecated on {deprecated_on} (in {days} {unit}, within "
            f"WarningDays {warning_days}). Upgrade the function before then."
        )
    return Verdict.compliant(f"{runtime} is supported; deprecation is due {deprecated_on}.")


def evaluate(
    configuration_item: dict[str, Any],
    params: LambdaRuntimeSupportedParameters,
    reads: Reads,
    today: date,
) -> Verdict:
    """The verdict for one function's CI on `today`."""
    package_type = ci_typed(configuration_item, str, "configuration", "packageType")
    runtime = ci_typed(configuration_item, str, "configuration", "runtime")
    if package_type == "Image":
        return Verdict.not_applicable("Container image functions have no managed runtime.")
    if runtime is MISSING or not runtime:
        response = reads.function(configuration_item["resourceId"])
        if response is None:
            return Verdict.not_applicable("The function no longer exists.")
        api_conf = response.get("Configuration") or {}
        if api_conf.get("PackageType") == "Image":
            return Verdict.not_applicable("Container image functions have no managed runtime.")
        runtime = api_conf.get("Runtime")
        if not runtime:
            return Verdict.non_compliant(
                "Lambda reports no runtime for this Zip function; check its configuration."
            )
    return judge_runtime(str(runtime), today, params.warning_days, params.runtime_deprecations)


def utc_today() -> date:
    return datetime.now(UTC).date()


class LambdaRuntimeSupported(GuardRule):
    spec = RULES["lambda-runtime-supported"]

    def evaluate_change(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        configuration_item: dict[str, Any],
        valid_rule_parameters: LambdaRuntimeSupportedParameters,
    ) -> list[Evaluation]:
        verdict = evaluate(
            configuration_item, valid_rule_parameters, client_factory.reads, utc_today()
        )
        return [evaluation(verdict)]


lambda_handler = rule_handler(LambdaRuntimeSupported)
