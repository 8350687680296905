"""Scenarios of rules/apigw_stage_waf_attached.py, against the stand-in.

The stand-in is reset once for this module: every test creates its own APIs and web
ACLs and reads back only its own stage's result.
"""

from __future__ import annotations

import pytest
from apigw_stages import REST, V2, read_ci, rest_stage, run_rule
from conftest import (
    REGION,
    change_event,
    lambda_context,
    load_event,
    stored_results,
    with_token,
)
from faults import inject_error

from configguard import cibuilder
from configguard.parameters import ApigwStageWafAttachedParameters
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "apigw-stage-waf-attached"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
CLASSIC = "arn:aws:waf-regional:us-east-1:123456789012:webacl/5c1f7a2e-8d3b-4e6f-9a0b-1c2d3e4f5a6b"


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def factory(module_factory):
    return module_factory


def run(standin, factory, item, **kwargs):
    return run_rule(RULE, standin, factory, item, **kwargs)


def web_acl(factory, name: str) -> str:
    created = factory.client("wafv2").create_web_acl(
        Name=name,
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": name,
        },
    )
    return str(created["Summary"]["ARN"])


def protected_stage(factory, name: str) -> tuple[str, str]:
    """(stage ARN, web ACL ARN) of a REST stage with its own WAFv2 web ACL."""
    arn = rest_stage(factory, name)
    acl = web_acl(factory, f"{name}-acl")
    factory.client("wafv2").associate_web_acl(WebACLArn=acl, ResourceArn=arn)
    return arn, acl


def test_wafv2_web_acl_is_compliant_without_api_call(standin, factory, api_calls):
    arn, acl = protected_stage(factory, "guarded")
    item = read_ci(factory, REST, arn)
    assert item["configuration"]["webAclArn"] == acl
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert compliance == "COMPLIANT"
    assert "guarded-acl (" in note
    assert api_calls.calls == []


def test_stage_without_web_acl_is_noncompliant(standin, factory, api_calls):
    item = read_ci(factory, REST, rest_stage(factory, "unguarded"))
    assert "webAclArn" not in item["configuration"]
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert compliance == "NON_COMPLIANT"
    assert "No AWS WAF web ACL" in note
    assert api_calls.calls == ["GetStage"]  # GetStage omits webAclArn: confirmed once


def test_allowed_web_acl_is_compliant(standin, factory):
    arn, acl = protected_stage(factory, "allowed")
    other = web_acl(factory, "other-allowed-acl")
    params = {"WebAclArns": f"{other},{acl}"}
    assert run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)[0] == (
        "COMPLIANT"
    )


def test_web_acl_outside_allowlist_is_noncompliant_naming_it(standin, factory):
    arn, acl = protected_stage(factory, "stray")
    corporate = web_acl(factory, "corporate-acl")
    params = {"WebAclArns": f'["{corporate}"]'}
    compliance, note = run(standin, factory, read_ci(factory, REST, arn), rule_parameters=params)
    assert compliance == "NON_COMPLIANT"
    acl_id = acl.rsplit("/", 1)[-1]
    assert f"stray-acl ({acl_id}) is not one of WebAclArns" in note


def test_waf_classic_web_acl_is_noncompliant(standin, factory):
    event = with_token(standin, load_event("apigw_stage_waf_attached/change-waf-classic.json"))
    handler(event, CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/m2k8d4f6h1/stages/prod"
    compliance, note = stored_results(factory, RULE)[arn]
    assert compliance == "NON_COMPLIANT"
    assert "WAF Classic is end-of-life" in note
    assert "5c1f7a2e-8d3b-4e6f-9a0b-1c2d3e4f5a6b" in note


@pytest.mark.parametrize("protocol", ["HTTP", "WEBSOCKET"])
def test_v2_stages_are_not_applicable_without_api_call(standin, factory, api_calls, protocol):
    v2 = factory.client("apigatewayv2")
    extra = {"RouteSelectionExpression": "$request.body.action"} if protocol == "WEBSOCKET" else {}
    api = v2.create_api(Name=f"v2-{protocol.lower()}", ProtocolType=protocol, **extra)["ApiId"]
    v2.create_stage(ApiId=api, StageName="prod")
    item = read_ci(factory, V2, cibuilder.http_stage_arn(REGION, api, "prod"))
    api_calls.clear()
    compliance, note = run(standin, factory, item)
    assert (compliance, note) == (
        "NOT_APPLICABLE",
        "HTTP and WebSocket APIs cannot be associated with AWS WAF.",
    )
    assert api_calls.calls == []


def test_real_shaped_http_stage_event_is_not_applicable(standin, factory):
    handler(with_token(standin, load_event("apigw_stage_waf_attached/change-http-stage.json")), CTX)
    arn = "arn:aws:apigateway:us-east-1::/apis/q8r3s6t1/stages/$default"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"


def test_ci_for_a_deleted_stage_is_not_applicable(standin, factory):
    arn = rest_stage(factory, "short-lived")
    item = read_ci(factory, REST, arn)
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").delete_stage(restApiId=api_id, stageName="prod")
    assert run(standin, factory, item) == ("NOT_APPLICABLE", "The stage no longer exists.")


def test_resource_deleted_event_is_not_applicable(standin, factory, api_calls):
    handler(with_token(standin, load_event("apigw_stage_waf_attached/change-deleted.json")), CTX)
    arn = "arn:aws:apigateway:us-east-1::/restapis/w5n8b2v6c0/stages/prod"
    assert stored_results(factory, RULE)[arn][0] == "NOT_APPLICABLE"
    assert api_calls.calls == []


def test_access_denied_fails_visibly_and_reports_nothing(standin, factory):
    item = read_ci(factory, REST, rest_stage(factory, "denied"))
    with (
        inject_error(factory.client("apigateway"), "GetStage", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetStage"),
    ):
        handler(change_event(standin, RULE, item), CTX)
    assert item["resourceId"] not in stored_results(factory, RULE)


@pytest.mark.parametrize(
    ("arn", "label"),
    [
        ("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/edge/1a2b", "edge (1a2b)"),
        (CLASSIC, "WAF Classic 5c1f7a2e-8d3b-4e6f-9a0b-1c2d3e4f5a6b"),
        ("arn:aws:wafv2:us-east-1:123456789012:regional/other", "regional/other"),
    ],
)
def test_acl_label(arn, label):
    assert module.acl_label(arn) == label


def test_judge_web_acl_semantics():
    v2_acl = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/edge/1a2b"
    assert module.judge_web_acl(None, ()).compliance == "NON_COMPLIANT"
    assert module.judge_web_acl(v2_acl, ()).compliance == "COMPLIANT"
    assert module.judge_web_acl(v2_acl, (v2_acl,)).compliance == "COMPLIANT"
    assert module.judge_web_acl(v2_acl, (v2_acl + "x",)).compliance == "NON_COMPLIANT"
    # Even an allow-listed WAF Classic ACL fails: Classic is end-of-life.
    assert module.judge_web_acl(CLASSIC, (CLASSIC,)).compliance == "NON_COMPLIANT"
    params = ApigwStageWafAttachedParameters.model_validate({"WebAclArns": f"{v2_acl}, {CLASSIC}"})
    assert params.web_acl_arns == (v2_acl, CLASSIC)
