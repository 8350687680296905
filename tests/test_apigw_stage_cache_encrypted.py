"""Scenarios of rules/apigw_stage_cache_encrypted.py, against the stand-in.

The stand-in is reset once for this module: every test creates its own REST API and
reads back only its own stage's result.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apigw_stages import REST, read_ci, rest_stage, run_rule
from conftest import (
    CallCounter,
    change_event,
    lambda_context,
    load_event,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "apigw-stage-cache-encrypted"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
CACHE_ON = ("/cacheClusterEnabled", "true")


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


@pytest.fixture
def apigw_calls(factory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("apigateway"))
    yield counter
    counter.close()


def test_stage_without_cache_cluster_is_compliant_without_api_call(standin, factory, apigw_calls):
    # */* would cache unencrypted, but without a cache cluster nothing is cached.
    arn = rest_stage(factory, "no-cache", ("/*/*/caching/enabled", "true"))
    item = read_ci(factory, REST, arn)
    apigw_calls.calls.clear()
    assert run(standin, factory, item) == (
        "COMPLIANT",
        "The stage has no cache cluster: nothing is cached.",
    )
    assert apigw_calls.calls == []


def test_encrypted_stage_wide_cache_is_compliant(standin, factory):
    arn = rest_stage(
        factory,
        "encrypted",
        CACHE_ON,
        ("/*/*/caching/enabled", "true"),
        ("/*/*/caching/dataEncrypted", "true"),
    )
    compliance, note = run(standin, factory, read_ci(factory, REST, arn))
    assert compliance == "COMPLIANT"
    assert "all 1 caching setting(s)" in note


def test_unencrypted_stage_wide_cache_is_named_even_when_the_override_encrypts(standin, factory):
    # The hazard: only the existing method key was patched; */* still caches in clear.
    arn = rest_stage(
        factory,
        "half-fixed",
        CACHE_ON,
        ("/*/*/caching/enabled", "true"),
        ("/~1orders/GET/caching/enabled", "true"),
        ("/~1orders/GET/caching/dataEncrypted", "true"),
    )
    item = read_ci(factory, REST, arn)
    assert item["configuration"]["methodSettings"]["*/*"]["cacheDataEncrypted"] is False
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert "stage-wide */* (inherited by every method without its own setting)" in note
    assert "GET /orders" not in note
    assert "/*/*/caching/dataEncrypted" in note


def test_unencrypted_method_override_is_named(standin, factory):
    arn = rest_stage(
        factory,
        "override-clear",
        CACHE_ON,
        ("/~1orders/GET/caching/enabled", "true"),
    )
    compliance, note = run(standin, factory, read_ci(factory, REST, arn))
    assert compliance == "NON_COMPLIANT"
    assert "not encrypted for GET /orders;" in note
    assert "/~1orders/GET/caching/dataEncrypted" in note


def test_ci_without_method_settings_for_a_deleted_stage_is_not_applicable(standin, factory):
    arn = rest_stage(factory, "short-lived", CACHE_ON)
    item = read_ci(factory, REST, arn)
    del item["configuration"]["methodSettings"]
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")


def test_real_shaped_event_with_stage_wide_cache_unencrypted_is_noncompliant(standin, factory):
    rest_stage(factory, "orders", api_id="r6c8a0c2h4")
    event = load_event("apigw_stage_cache_encrypted/change-stage-wide-cache-unencrypted.json")
    handler(with_token(standin, event), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/r6c8a0c2h4/stages/prod"
    compliance, note = stored_results(factory, RULE)[arn]
    assert compliance == "NON_COMPLIANT"
    assert "stage-wide */*" in note
    assert "GET /orders/{id}" not in note


def test_resource_deleted_event_is_not_applicable(standin, factory, apigw_calls):
    event = load_event("apigw_stage_cache_encrypted/change-deleted.json")
    handler(with_token(standin, event), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/c1a3c5h7e9/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert apigw_calls.calls == []


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory):
    item = read_ci(factory, REST, rest_stage(factory, "denied", CACHE_ON))
    del item["configuration"]["cacheClusterEnabled"]
    with (
        inject_error(factory.client("apigateway"), "GetStage", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetStage"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


@pytest.mark.parametrize(
    ("cluster", "settings", "expected"),
    [
        (False, {"*/*": {"cachingEnabled": True, "cacheDataEncrypted": False}}, "COMPLIANT"),
        (True, {}, "COMPLIANT"),
        (True, None, "COMPLIANT"),
        (True, {"*/*": {"cachingEnabled": False}}, "COMPLIANT"),
        (True, {"*/*": {"cachingEnabled": True, "cacheDataEncrypted": True}}, "COMPLIANT"),
        (True, {"*/*": {"cachingEnabled": "true", "cacheDataEncrypted": "true"}}, "COMPLIANT"),
        # An absent cacheDataEncrypted is API Gateway's default, false; never inherited.
        (True, {"*/*": {"cachingEnabled": True}}, "NON_COMPLIANT"),
        (
            True,
            {
                "*/*": {"cachingEnabled": True, "cacheDataEncrypted": True},
                "~1a/GET": {"cachingEnabled": True},
            },
            "NON_COMPLIANT",
        ),
        (True, {"*/*": {"cachingEnabled": True, "cacheDataEncrypted": "false"}}, "NON_COMPLIANT"),
    ],
)
def test_judge_cache_combinations(cluster, settings, expected):
    assert module.judge_cache(cluster, settings).compliance == expected


def test_judge_cache_lists_stage_wide_first_and_decodes_paths():
    settings = {
        "~1b~1{id}/PUT": {"cachingEnabled": True},
        "*/*": {"cachingEnabled": True},
        "~1a/GET": {"cachingEnabled": True, "cacheDataEncrypted": True},
    }
    reason = module.judge_cache(True, settings).reason
    assert reason.index("stage-wide */*") < reason.index("PUT /b/{id}")
    assert "GET /a" not in reason


def test_is_true_accepts_config_serialisations():
    assert [module.is_true(v) for v in (True, "true", "True", False, "false", None, 1)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
