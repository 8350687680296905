"""Scenarios of rules/lambda_runtime_supported.py, against the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import (
    change_event,
    lambda_context,
    load_event,
    make_function,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder, runtimes
from configguard.parameters import InvalidRuleParametersError
from configguard.rulebase import EvaluationError
from configguard.verdict import Compliance
from configguard_cli.handlers import rule_module

RULE = "lambda-runtime-supported"
TYPE = "AWS::Lambda::Function"
rule = rule_module(RULE)
handler = rule.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/thumbnailer:1.4.2"


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def run(standin, factory, item, **kwargs) -> tuple[str, str]:
    handler(change_event(standin, RULE, item, **kwargs), CTX)
    return results(factory)[item["resourceId"]]


def in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


# ------------------------------------------------------------- the handler, end to end


def test_supported_runtime_is_compliant_without_api_call(standin, factory, lambda_calls):
    make_function(factory, "orders-api", Runtime="python3.13")
    handler(
        with_token(standin, load_event("lambda_runtime_supported/change-supported-python313.json")),
        CTX,
    )
    assert lambda_calls.calls == ["CreateFunction"]  # the seeding call only
    assert results(factory)["orders-api"] == (
        "COMPLIANT",
        "python3.13 is supported; deprecation is due 2029-06-30.",
    )


def test_deprecated_runtime_is_noncompliant(standin, factory):
    make_function(factory, "legacy-reports", Runtime="python3.9")
    handler(
        with_token(standin, load_event("lambda_runtime_supported/change-deprecated-python39.json")),
        CTX,
    )
    compliance, note = results(factory)["legacy-reports"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("python3.9 was deprecated on 2025-12-15.")
    assert "Upgrade" in note


def test_runtime_within_warning_window_is_noncompliant_with_date(standin, factory):
    make_function(factory, "fn", Runtime="python3.13")
    item = cibuilder.read(factory, TYPE, "fn")
    due = in_days(30)
    params = {"RuntimeDeprecations": json.dumps({"python3.13": due})}
    compliance, note = run(standin, factory, item, rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        f"python3.13 is deprecated on {due} (in 30 days, within WarningDays 180)"
    )


def test_override_parameter_changes_the_verdict(standin, factory):
    make_function(factory, "fn", Runtime="python3.9")
    item = cibuilder.read(factory, TYPE, "fn")
    assert run(standin, factory, item)[0] == "NON_COMPLIANT"
    params = {"RuntimeDeprecations": json.dumps({"python3.9": in_days(1000)})}
    compliance, note = run(standin, factory, item, rule_parameters=params)
    assert compliance == "COMPLIANT"
    assert note == f"python3.9 is supported; deprecation is due {in_days(1000)}."


def test_warning_days_zero_reports_only_deprecated_runtimes(standin, factory):
    make_function(factory, "fn", Runtime="python3.13")
    item = cibuilder.read(factory, TYPE, "fn")
    soon = {"RuntimeDeprecations": json.dumps({"python3.13": in_days(1)})}
    assert run(standin, factory, item, rule_parameters=soon)[0] == "NON_COMPLIANT"
    compliance, _ = run(standin, factory, item, rule_parameters={**soon, "WarningDays": "0"})
    assert compliance == "COMPLIANT"


def test_container_image_is_not_applicable(standin, factory, lambda_calls):
    make_function(factory, "thumbnailer", PackageType="Image", Code={"ImageUri": IMAGE})
    lambda_calls.calls.clear()
    handler(
        with_token(standin, load_event("lambda_runtime_supported/change-container-image.json")),
        CTX,
    )
    assert lambda_calls.calls == []
    assert results(factory)["thumbnailer"] == (
        "NOT_APPLICABLE",
        "Container image functions have no managed runtime.",
    )


def test_unknown_runtime_is_compliant_and_says_so(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    item["configuration"]["runtime"] = "python3.15"
    compliance, note = run(standin, factory, item)
    assert compliance == "COMPLIANT"
    assert f"not in the deprecation table (as of {runtimes.TABLE_AS_OF})" in note


def test_zip_ci_without_runtime_reads_get_function(standin, factory, lambda_calls):
    make_function(factory, "fn", Runtime="python3.9")
    item = cibuilder.read(factory, TYPE, "fn")
    del item["configuration"]["runtime"]
    lambda_calls.calls.clear()
    compliance, note = run(standin, factory, item)
    assert lambda_calls.calls == ["GetFunction"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("python3.9 was deprecated on 2025-12-15")


def test_zip_ci_without_runtime_for_a_vanished_function_is_not_applicable(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    item["configuration"]["runtime"] = None
    factory.client("lambda").delete_function(FunctionName="fn")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The function no longer exists.")


def test_deleted_resource_is_not_applicable(standin, factory, lambda_calls):
    handler(with_token(standin, load_event("lambda_runtime_supported/change-deleted.json")), CTX)
    assert results(factory)["legacy-reports"][0] == "NOT_APPLICABLE"
    assert lambda_calls.calls == []


def test_access_denied_on_get_function_fails_visibly(standin, factory):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    del item["configuration"]["runtime"]
    with (
        inject_error(factory.client("lambda"), "GetFunction", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetFunction"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert results(factory) == {}


@pytest.mark.parametrize(
    "params",
    [
        {"WarningDays": "-1"},
        {"RuntimeDeprecations": '{"python3.13": "next year"}'},
    ],
)
def test_invalid_parameters_fail_clearly_and_report_nothing(standin, factory, params):
    make_function(factory, "fn")
    item = cibuilder.read(factory, TYPE, "fn")
    with pytest.raises(InvalidRuleParametersError, match="invalid rule parameters"):
        handler(change_event(standin, RULE, item, rule_parameters=params), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions

TODAY = date(2026, 8, 31)


@pytest.mark.parametrize(
    ("runtime", "warning_days", "compliance", "fragment"),
    [
        ("python3.9", 180, Compliance.NON_COMPLIANT, "was deprecated on 2025-12-15"),
        ("python3.10", 180, Compliance.NON_COMPLIANT, "deprecated on 2026-10-31 (in 61 days"),
        ("python3.10", 60, Compliance.COMPLIANT, "deprecation is due 2026-10-31"),
        ("python3.10", 61, Compliance.NON_COMPLIANT, "(in 61 days"),
        ("python3.12", 180, Compliance.COMPLIANT, "deprecation is due 2028-10-31"),
        ("java8", 180, Compliance.NON_COMPLIANT, "was deprecated on 2024-01-08"),
        ("nodejs4.3", 180, Compliance.NON_COMPLIANT, "was deprecated by 2020-12-31"),
        ("nodejs24.x", 180, Compliance.COMPLIANT, "not in the deprecation table"),
    ],
)
def test_judge_runtime(runtime, warning_days, compliance, fragment):
    verdict = rule.judge_runtime(runtime, TODAY, warning_days)
    assert verdict.compliance == compliance
    assert fragment in verdict.reason


def test_deprecation_day_itself_counts_as_deprecated():
    verdict = rule.judge_runtime("python3.10", date(2026, 10, 31), 0)
    assert verdict.compliance == Compliance.NON_COMPLIANT
    assert verdict.reason.startswith(
        "python3.10 was deprecated on 2026-10-31; function updates are blocked from 2027-03-03."
    )


def test_one_day_left_is_singular():
    verdict = rule.judge_runtime("python3.10", date(2026, 10, 30), 180)
    assert "(in 1 day," in verdict.reason


def test_overrides_replace_the_table_entry():
    overrides = {"python3.10": date(2027, 12, 31), "nodejs24.x": date(2026, 9, 1)}
    assert runtimes.deprecation("python3.10", overrides) == date(2027, 12, 31)
    assert runtimes.block_update("python3.10", overrides) is None
    assert runtimes.deprecation("python3.10") == date(2026, 10, 31)
    assert runtimes.deprecation("nodejs24.x") is None
    assert rule.judge_runtime("nodejs24.x", TODAY, 0, overrides).compliance == (
        Compliance.COMPLIANT
    )
    assert rule.judge_runtime("nodejs24.x", TODAY, 1, overrides).compliance == (
        Compliance.NON_COMPLIANT
    )


def test_table_lists_the_published_runtimes():
    for runtime in ("python3.11", "java17", "java11", "java8.al2"):
        assert runtimes.deprecation(runtime) == date(2027, 6, 30)
    for runtime in ("python3.13", "python3.14", "java21", "java25", "provided.al2023"):
        assert runtimes.deprecation(runtime) == date(2029, 6, 30)
    assert all(runtimes.deprecation(r) < runtimes.TABLE_AS_OF for r in ("dotnet6", "go1.x"))
