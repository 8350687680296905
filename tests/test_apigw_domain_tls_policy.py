"""Scenarios of rules/apigw_domain_tls_policy.py (periodic), against the stand-in.

The read-only scenarios share one stand-in state (`scan`, built once per module): the
real handler runs once and the stored results are read back. Scenarios that change
state or inject errors get their own fresh stand-in. Tests assert only on their own
domains. In moto the v1 and v2 domain backends are separate, so a domain "listed by both
APIs" is created in both.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import fresh_standin, lambda_context, load_event
from faults import inject_error

from configguard.clients import default_factory
from configguard.parameters import ApigwDomainTlsPolicyParameters, parse_parameters
from configguard.reads import Reads
from configguard.registry import HTTP_DOMAIN, REST_DOMAIN
from configguard.rulebase import EvaluationError, RuleClients
from configguard_cli.handlers import rule_module

RULE = "apigw-domain-tls-policy"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
TRUSTSTORE = "s3://configguard-truststores/clients.pem"
POLICY_FIX = "Fix: switch the domain to TLS_1_2 or a SecurityPolicy_TLS13_* policy."
MTLS_FIX = "Fix: disable the default execute-api endpoint of those APIs."


def results(factory) -> dict[str, tuple[str, str, str]]:
    """resource id -> (resource type, verdict, annotation) as Config stored them."""
    found = factory.client("config").get_compliance_details_by_config_rule(
        ConfigRuleName=RULE, Limit=100
    )["EvaluationResults"]
    out: dict[str, tuple[str, str, str]] = {}
    for item in found:
        qualifier = item["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        out[qualifier["ResourceId"]] = (
            qualifier["ResourceType"],
            item["ComplianceType"],
            item.get("Annotation", ""),
        )
    return out


def scheduled(standin, relative: str = "scheduled.json") -> dict:
    """A real-shaped ScheduledNotification with a live result token."""
    event = copy.deepcopy(load_event(f"apigw_domain_tls_policy/{relative}"))
    event["resultToken"] = standin.issue_result_token(RULE)
    return event


def v1_domain(factory, name: str, policy: str | None, mtls: bool = False) -> str:
    extra: dict[str, Any] = {}
    if policy:
        extra["securityPolicy"] = policy
    if mtls:
        extra["mutualTlsAuthentication"] = {"truststoreUri": TRUSTSTORE}
    factory.client("apigateway").create_domain_name(
        domainName=name,
        regionalCertificateArn=CERT,
        endpointConfiguration={"types": ["REGIONAL"]},
        **extra,
    )
    return name


def v2_domain(factory, name: str, policy: str | None = "TLS_1_2", mtls: bool = False) -> str:
    config: dict[str, Any] = {"CertificateArn": CERT, "EndpointType": "REGIONAL"}
    if policy:
        config["SecurityPolicy"] = policy
    extra: dict[str, Any] = {}
    if mtls:
        extra["MutualTlsAuthentication"] = {"TruststoreUri": TRUSTSTORE}
    factory.client("apigatewayv2").create_domain_name(
        DomainName=name, DomainNameConfigurations=[config], **extra
    )
    return name


def mapped_rest_api(factory, domain: str, name: str, disabled: bool, base_path: str = "") -> str:
    """A deployed REST API mapped to a v1 domain."""
    gateway = factory.client("apigateway")
    api_id = gateway.create_rest_api(name=name, disableExecuteApiEndpoint=disabled)["id"]
    root = gateway.get_resources(restApiId=api_id)["items"][0]["id"]
    gateway.put_method(
        restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="AWS_IAM"
    )
    gateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    gateway.create_deployment(restApiId=api_id, stageName="prod")
    mapping: dict[str, Any] = {"basePath": base_path} if base_path else {}
    gateway.create_base_path_mapping(domainName=domain, restApiId=api_id, stage="prod", **mapping)
    return str(api_id)


def mapped_http_api(factory, domain: str, name: str, disabled: bool, key: str = "") -> str:
    """An HTTP API with a stage, mapped to a v2 domain."""
    gateway = factory.client("apigatewayv2")
    api_id = gateway.create_api(Name=name, ProtocolType="HTTP", DisableExecuteApiEndpoint=disabled)[
        "ApiId"
    ]
    gateway.create_stage(ApiId=api_id, StageName="prod")
    mapping: dict[str, Any] = {"ApiMappingKey": key} if key else {}
    gateway.create_api_mapping(DomainName=domain, ApiId=api_id, Stage="prod", **mapping)
    return str(api_id)


@dataclass
class Scan:
    """One stand-in holding every read-only scenario's domain, scanned once."""

    apis: dict[str, str]
    results: dict[str, tuple[str, str, str]]
    calls: Counter[str]


def build(factory) -> dict[str, str]:
    v1_domain(factory, "tls12.example.com", "TLS_1_2")
    v1_domain(factory, "tls13.example.com", "SecurityPolicy_TLS13_1_3_2025_09")
    v1_domain(factory, "edge.example.com", "SecurityPolicy_TLS12_PFS_2025_EDGE")
    v1_domain(factory, "legacy.example.com", "TLS_1_0")
    v1_domain(factory, "nopolicy.example.com", None)
    # v2, as moto's GetBasePathMappings fails (500) for a v1 domain without mappings.
    v2_domain(factory, "mtls-unmapped.example.com", mtls=True)
    v2_domain(factory, "ws.example.com", mtls=True)
    v2_domain(factory, "plain-v2.example.com")
    # Listed by both APIs: v1 maps a locked REST API, v2 maps an HTTP API left open.
    v1_domain(factory, "shared.example.com", "TLS_1_2", mtls=True)
    v2_domain(factory, "shared.example.com", mtls=True)
    return {
        "ws-chat": mapped_http_api(factory, "ws.example.com", "chat", True, "chat"),
        "ws-feed": mapped_http_api(factory, "ws.example.com", "feed", True, "feed"),
        "shared-rest": mapped_rest_api(factory, "shared.example.com", "orders-locked", True),
        "shared-http": mapped_http_api(factory, "shared.example.com", "items-open", False, "v2"),
        "plain-http": mapped_http_api(factory, "plain-v2.example.com", "plain", False),
    }


@pytest.fixture(scope="module")
def scan(standin_server) -> Iterator[Scan]:
    with fresh_standin(standin_server):
        factory = default_factory()
        apis = build(factory)
        handler(scheduled(standin_server), CTX)
        stored = results(factory)
        clients = RuleClients(factory)
        params = parse_parameters(ApigwDomainTlsPolicyParameters, {})
        module.ApigwDomainTlsPolicy().evaluate_periodic(None, clients, params)
        yield Scan(apis, stored, clients.reads.calls)


def test_scheduled_events_are_real_shaped():
    for name in ("scheduled", "scheduled-six-hours-later"):
        event = load_event(f"apigw_domain_tls_policy/{name}.json")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE


def test_domain_with_tls12_or_enhanced_policy_is_compliant(scan):
    assert scan.results["tls12.example.com"] == (
        REST_DOMAIN,
        "COMPLIANT",
        "Security policy TLS_1_2 requires TLS 1.2+.",
    )
    for domain, policy in (
        ("tls13.example.com", "SecurityPolicy_TLS13_1_3_2025_09"),
        ("edge.example.com", "SecurityPolicy_TLS12_PFS_2025_EDGE"),
    ):
        assert scan.results[domain] == (
            REST_DOMAIN,
            "COMPLIANT",
            f"Security policy {policy} requires TLS 1.2+.",
        )


def test_domain_with_tls10_policy_is_noncompliant(scan):
    assert scan.results["legacy.example.com"] == (
        REST_DOMAIN,
        "NON_COMPLIANT",
        f"Security policy TLS_1_0 accepts TLS 1.0. {POLICY_FIX}",
    )


def test_domain_without_security_policy_is_noncompliant(scan):
    assert scan.results["nopolicy.example.com"] == (
        REST_DOMAIN,
        "NON_COMPLIANT",
        f"No security policy reported. {POLICY_FIX}",
    )


def test_mtls_domain_with_default_endpoint_enabled_is_noncompliant_until_disabled(standin, factory):
    domain = v1_domain(factory, "mtls.example.com", "TLS_1_2", mtls=True)
    open_api = mapped_rest_api(factory, domain, "orders", False, "orders")
    locked = mapped_rest_api(factory, domain, "billing", True, "billing")
    handler(scheduled(standin), CTX)
    assert results(factory)[domain] == (
        REST_DOMAIN,
        "NON_COMPLIANT",
        f"mTLS can be bypassed via the default endpoint of API orders ({open_api}). {MTLS_FIX}",
    )
    assert locked not in results(factory)[domain][2]
    factory.client("apigateway").update_rest_api(
        restApiId=open_api,
        patchOperations=[{"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "True"}],
    )
    handler(scheduled(standin, "scheduled-six-hours-later.json"), CTX)
    assert results(factory)[domain] == (
        REST_DOMAIN,
        "COMPLIANT",
        "Security policy TLS_1_2 requires TLS 1.2+. Mutual TLS: the default endpoint of all "
        "2 mapped APIs is disabled.",
    )


def test_v2_mtls_domain_with_disabled_default_endpoints_is_compliant(scan):
    assert scan.results["ws.example.com"] == (
        HTTP_DOMAIN,
        "COMPLIANT",
        "Security policy TLS_1_2 requires TLS 1.2+. Mutual TLS: the default endpoint of all "
        "2 mapped APIs is disabled.",
    )
    assert scan.results["mtls-unmapped.example.com"] == (
        HTTP_DOMAIN,
        "COMPLIANT",
        "Security policy TLS_1_2 requires TLS 1.2+. Mutual TLS: no APIs are mapped.",
    )
    # Without mTLS an enabled default endpoint does not matter.
    assert scan.results["plain-v2.example.com"][1] == "COMPLIANT"


def test_domain_listed_by_both_apis_is_evaluated_once_from_both_views(scan):
    kind, compliance, note = scan.results["shared.example.com"]
    assert (kind, compliance) == (REST_DOMAIN, "NON_COMPLIANT")
    assert note == (
        "mTLS can be bypassed via the default endpoint of API items-open "
        f"({scan.apis['shared-http']}). {MTLS_FIX}"
    )
    assert scan.apis["shared-rest"] not in note  # mapped through v1, endpoint disabled


def test_get_domain_names_denied_fails_visibly_and_stores_nothing(standin, factory):
    v1_domain(factory, "tls12.example.com", "TLS_1_2")
    with (
        inject_error(factory.client("apigateway"), "GetDomainNames", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetDomainNames"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


def test_mapping_and_api_reads_happen_only_for_mtls_domains(scan):
    calls = scan.calls
    assert calls["apigateway:GetDomainNames"] == 1
    assert calls["apigatewayv2:GetDomainNames"] == 1
    # mTLS domains: shared (v1 listing); ws, mtls-unmapped and shared (v2 listing).
    assert calls["apigateway:GetBasePathMappings"] == 1
    assert calls["apigatewayv2:GetApiMappings"] == 3
    assert calls["apigateway:GetRestApi"] == 1  # orders-locked
    assert calls["apigatewayv2:GetApi"] == 3  # chat, feed, items-open; never plain


# ------------------------------------------------------------------ pure functions


@pytest.mark.parametrize(
    ("policy", "minor"),
    [
        ("TLS_1_0", 0),
        ("TLS_1_2", 2),
        ("SecurityPolicy_TLS12_2018_EDGE", 2),
        ("SecurityPolicy_TLS12_PFS_2025_EDGE", 2),
        ("SecurityPolicy_TLS13_1_2_2021_06", 2),
        ("SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09", 2),
        ("SecurityPolicy_TLS13_1_3_2025_09", 3),
        ("SecurityPolicy_TLS13_1_3_FIPS_2025_09", 3),
        ("SecurityPolicy_TLS13_2025_EDGE", 3),
        ("SecurityPolicy_TLS13_1_0_2021_06", 0),
        ("TLS-1-2-2099", None),
    ],
)
def test_minimum_tls_version_of_security_policy_names(policy, minor):
    assert module.minimum_tls_minor(policy) == minor


def test_weak_or_unknown_policy_names_are_rejected():
    assert module.policy_problem("TLS_1_1") == "Security policy TLS_1_1 accepts TLS 1.1."
    assert module.policy_problem("tls-1-0-legacy") == (
        "Security policy tls-1-0-legacy allows TLS 1.0/1.1."
    )
    assert "not a recognised TLS 1.2+ policy" in module.policy_problem("Custom_Policy")
    assert module.policy_problem("SecurityPolicy_TLS13_1_2_PQ_2025_09") is None


def test_both_views_weakest_policy_wins_and_one_missing_policy_is_tolerated():
    views = module.DomainViews(
        "a.example.com",
        v1={"domainName": "a.example.com", "securityPolicy": "TLS_1_2"},
        v2={"DomainName": "a.example.com", "DomainNameConfigurations": [{}]},
    )
    assert views.reported_policies() == (["TLS_1_2"], False)
    assert views.resource_type == REST_DOMAIN
    views.v2 = {"DomainNameConfigurations": [{"SecurityPolicy": "TLS_1_0"}]}
    policies, missing = views.reported_policies()
    assert module.verdict(policies, missing).compliance == "NON_COMPLIANT"
    v2_only = module.DomainViews("b", v2={"DomainNameConfigurations": [{}, {}]})
    assert v2_only.reported_policies() == ([], True)
    assert v2_only.resource_type == HTTP_DOMAIN


def test_v2_mapping_to_a_rest_api_falls_back_to_get_rest_api(standin, factory):
    # moto rejects v2 API mappings to REST APIs; real AWS allows them. Seed the listing.
    api_id = factory.client("apigateway").create_rest_api(
        name="rest-behind-v2", disableExecuteApiEndpoint=False
    )["id"]
    reads = Reads(factory)
    reads.seed(
        "apigatewayv2",
        "get_api_mappings",
        {"Items": [{"ApiId": api_id, "Stage": "prod"}]},
        DomainName="c.example.com",
    )
    views = module.DomainViews("c.example.com", v2={"DomainName": "c.example.com"})
    assert module.mapped_apis(reads, views) == {api_id: ("rest-behind-v2", False)}
    assert reads.calls["apigatewayv2:GetApi"] == 1
    assert reads.calls["apigateway:GetRestApi"] == 1


def test_long_api_lists_and_both_problems_fit_256():
    exposed = [f"a-rather-long-api-name-{i:02d} (abcdefghij)" for i in range(8)]
    found = module.verdict(["TLS_1_0"], False, mutual_tls=True, mapped=8, exposed=exposed)
    assert found.compliance == "NON_COMPLIANT"
    assert len(found.annotation) <= 256 and "[...]" not in found.annotation
    assert found.annotation.startswith("Security policy TLS_1_0 accepts TLS 1.0.")
    assert "mTLS can be bypassed via the default endpoint of API" in found.annotation
    assert found.annotation.endswith(MTLS_FIX)
