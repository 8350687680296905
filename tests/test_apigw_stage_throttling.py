"""Scenarios of rules/apigw_stage_throttling.py, against the stand-in.

The stand-in is reset once for this module: every test creates its own APIs and reads
back only its own stage's result. The stand-in's account throttle is AWS's default,
10,000 requests/s with a burst of 5,000.
"""

from __future__ import annotations

import pytest
from apigw_stages import REST, V2, read_ci, rest_stage, run_rule, v2_stage
from conftest import (
    change_event,
    lambda_context,
    load_event,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.parameters import ApigwStageThrottlingParameters
from configguard.reads import Reads
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "apigw-stage-throttling"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
NO_LIMITS = ApigwStageThrottlingParameters()
ACCOUNT = module.Throttle(10000.0, 5000.0)


STAGE_THROTTLE = (("/*/*/throttling/rateLimit", "100"), ("/*/*/throttling/burstLimit", "50"))


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


def test_stage_throttle_below_account_default_is_compliant(standin, factory, api_calls):
    item = read_ci(factory, REST, rest_stage(factory, "throttled", *STAGE_THROTTLE))
    api_calls.clear()
    assert run(standin, factory, item) == (
        "COMPLIANT",
        "The stage-wide */* setting throttles at 100 requests/s, burst 50.",
    )
    assert api_calls.calls == ["GetAccount"]


def test_stage_throttle_at_account_default_is_noncompliant(standin, factory):
    # Setting only the log level creates */* with the account's values (10000 / 5000).
    arn = rest_stage(factory, "defaulted", ("/*/*/logging/loglevel", "INFO"))
    item = read_ci(factory, REST, arn)
    assert item["configuration"]["methodSettings"]["*/*"]["throttlingRateLimit"] == 10000
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert "rate 10000 is not below the account default 10000" in note
    assert "burst 5000 is not below the account default 5000" in note


def test_stage_without_stage_wide_setting_is_noncompliant_without_reads(
    standin, factory, api_calls
):
    item = read_ci(factory, REST, rest_stage(factory, "bare"))
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("No stage throttling: there is no stage-wide */* setting")
    assert api_calls.calls == []


def test_rate_above_max_rate_limit_is_noncompliant(standin, factory):
    arn = rest_stage(factory, "too-fast", *STAGE_THROTTLE)
    params = {"MaxRateLimit": "50"}
    compliance, note = run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert "rate 100 above MaxRateLimit 50" in note


def test_method_override_above_max_burst_limit_is_noncompliant_naming_it(standin, factory):
    arn = rest_stage(
        factory,
        "bursty-orders",
        ("/*/*/throttling/rateLimit", "10"),
        ("/*/*/throttling/burstLimit", "5"),
        ("/~1orders/GET/throttling/rateLimit", "10"),
        ("/~1orders/GET/throttling/burstLimit", "100"),
    )
    params = {"MaxBurstLimit": "20"}
    compliance, note = run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    assert "GET /orders (burst 100 above MaxBurstLimit 20)" in note


def test_http_stage_with_default_route_throttling_is_compliant(standin, factory, api_calls):
    arn = v2_stage(
        factory,
        "items",
        "HTTP",
        DefaultRouteSettings={"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 20},
    )
    item = read_ci(factory, V2, arn)
    api_calls.clear()
    params = {"MaxRateLimit": "50", "MaxBurstLimit": "20"}
    assert run(standin, factory, item, rule_parameters=params) == (
        "COMPLIANT",
        "The default route throttles at 50 requests/s, burst 20.",
    )
    assert api_calls.calls == ["GetAccount"]


def test_websocket_stage_without_default_route_throttling_is_noncompliant(standin, factory):
    arn = v2_stage(factory, "chat", "WEBSOCKET", DefaultRouteSettings={"LoggingLevel": "INFO"})
    compliance, note = run(standin, factory, read_ci(factory, V2, arn))
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("No stage throttling: the default route lacks a limit")


def test_ci_without_method_settings_for_a_deleted_stage_is_not_applicable(standin, factory):
    arn = rest_stage(factory, "short-lived", *STAGE_THROTTLE)
    item = read_ci(factory, REST, arn)
    del item["configuration"]["methodSettings"]
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")


def test_resource_deleted_event_is_not_applicable(standin, factory, api_calls):
    handler(with_token(standin, load_event("apigw_stage_throttling/change-deleted.json")), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/h2t4r6o8t0/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert api_calls.calls == []


@pytest.mark.parametrize(
    ("name", "api_id", "fragment"),
    [
        ("change-account-default-throttle.json", "b7u9r1s3t5", "not below the account default"),
        ("change-override-above-maximum.json", "g4o6v8e0r2", "POST /orders (rate 500 above"),
    ],
)
def test_real_shaped_events_are_noncompliant(standin, factory, name, api_id, fragment):
    rest_stage(factory, f"orders-{api_id}", api_id=api_id)
    handler(with_token(standin, load_event(f"apigw_stage_throttling/{name}")), CTX)
    compliance, note = stored_results(factory, RULE)[
        f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod"
    ]
    assert compliance == "NON_COMPLIANT"
    assert fragment in note


def test_throttled_get_account_fails_visibly_and_reports_nothing(standin, factory):
    item = read_ci(factory, REST, rest_stage(factory, "throttled-read", *STAGE_THROTTLE))
    with (
        inject_error(factory.client("apigateway"), "GetAccount", "TooManyRequestsException", 429),
        pytest.raises(EvaluationError, match="TooManyRequestsException from GetAccount"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


# ------------------------------------------------------------ pure semantics


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        (module.Throttle(9999.0, 4999.0), "COMPLIANT"),
        (module.Throttle(0.0, 0.0), "COMPLIANT"),  # a stage that blocks all traffic
        (module.Throttle(10000.0, 100.0), "NON_COMPLIANT"),  # equal: no stage throttle
        (module.Throttle(100.0, 5000.0), "NON_COMPLIANT"),
        (module.Throttle(20000.0, 100.0), "NON_COMPLIANT"),  # above: the account caps it
        (module.Throttle(100.0, None), "NON_COMPLIANT"),
        (module.Throttle(None, None), "NON_COMPLIANT"),
        (None, "NON_COMPLIANT"),
    ],
)
def test_judge_throttle_against_the_account_default(default, expected):
    verdict = module.judge_throttle(default, {}, ACCOUNT, NO_LIMITS, "stage-wide */* setting")
    assert verdict.compliance == expected


def test_overrides_are_judged_only_against_the_maximums():
    default = module.Throttle(100.0, 50.0)
    overrides = {"GET /orders": module.Throttle(10000.0, 5000.0)}
    judge = module.judge_throttle
    assert judge(default, overrides, ACCOUNT, NO_LIMITS, "x").compliance == "COMPLIANT"
    capped = ApigwStageThrottlingParameters(MaxRateLimit=1000)
    verdict = judge(default, overrides, ACCOUNT, capped, "x")
    assert verdict.compliance == "NON_COMPLIANT"
    assert "GET /orders (rate 10000 above MaxRateLimit 1000)" in verdict.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100, 100.0), ("50.5", 50.5), (None, None), ("x", None), (-1, None), (True, None)],
)
def test_number_tolerates_config_serialisations(value, expected):
    assert module.number(value) == expected


def test_account_default_reads_get_account_and_falls_back_to_aws_defaults(factory):
    reads = Reads(factory)
    assert module.account_default(reads) == ACCOUNT
    assert reads.calls["apigateway:GetAccount"] == 1
    lowered = Reads(factory)
    lowered.seed("apigateway", "get_account", {"throttleSettings": {"rateLimit": 500.0}})
    assert module.account_default(lowered) == module.Throttle(500.0, 5000.0)
    assert lowered.total_calls() == 0


def test_method_label_decodes_json_pointer_escapes():
    assert module.method_label("~1orders~1{id}/GET") == "GET /orders/{id}"
    assert module.method_label("~1/POST") == "POST /"
