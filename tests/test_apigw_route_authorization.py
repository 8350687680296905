"""Scenarios of rules/apigw_route_authorization.py (periodic), against the stand-in.

The read-only scenarios share one stand-in state (`scan`, built once per module, like an
account holding every kind of API): the real handler runs once per sample event and the
stored results are read back after each run. Scenarios that delete APIs or inject
errors get their own fresh stand-in. Tests assert only on the APIs they create.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import fresh_standin, lambda_context, load_event, scheduled_event, stored_results
from faults import inject_error

from configguard.clients import default_factory
from configguard.parameters import ApigwRouteAuthorizationParameters, parse_parameters
from configguard.rulebase import EvaluationError, RuleClients
from configguard_cli.handlers import rule_module

RULE = "apigw-route-authorization"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
Route = module.Route


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def scheduled(standin, relative: str = "scheduled.json", at: str | None = None) -> dict:
    return scheduled_event(standin, RULE, relative, at)


def rest_api(factory, name: str, methods: dict[str, str]) -> str:
    """A REST API with {"METHOD /path": authorizationType} methods; returns its id."""
    gateway = factory.client("apigateway")
    api_id = gateway.create_rest_api(name=name)["id"]
    root = gateway.get_resources(restApiId=api_id)["items"][0]
    resources = {"/": root["id"]}
    for key, auth in methods.items():
        method, path = key.split(" ", 1)
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            current = f"{parent.rstrip('/')}/{part}"
            if current not in resources:
                resources[current] = gateway.create_resource(
                    restApiId=api_id, parentId=resources[parent], pathPart=part
                )["id"]
            parent = current
        gateway.put_method(
            restApiId=api_id,
            resourceId=resources[path],
            httpMethod=method,
            authorizationType=auth,
        )
    return str(api_id)


def v2_api(factory, name: str, routes: dict[str, str], protocol: str = "HTTP") -> str:
    """An HTTP or WebSocket API with {route key: AuthorizationType} routes."""
    gateway = factory.client("apigatewayv2")
    extra: dict[str, Any] = {}
    if protocol == "WEBSOCKET":
        extra["RouteSelectionExpression"] = "$request.body.action"
    api_id = gateway.create_api(Name=name, ProtocolType=protocol, **extra)["ApiId"]
    for key, auth in routes.items():
        gateway.create_route(ApiId=api_id, RouteKey=key, AuthorizationType=auth)
    return str(api_id)


@dataclass
class Scan:
    """One stand-in holding every read-only scenario's API, scanned once per event file."""

    ids: dict[str, str]
    runs: dict[str, dict[str, tuple[str, str]]]
    calls: Counter[str]
    listed: tuple[int, int]  # REST APIs, v2 APIs


def build(factory) -> dict[str, str]:
    return {
        "authorized": rest_api(
            factory,
            "orders",
            {"GET /orders": "AWS_IAM", "POST /orders": "CUSTOM", "GET /orders/{id}": "AWS_IAM"},
        ),
        "open": rest_api(
            factory,
            "orders-open",
            {"GET /orders": "NONE", "POST /orders": "NONE", "DELETE /orders/{id}": "AWS_IAM"},
        ),
        "http-open": v2_api(
            factory, "items", {"GET /items": "JWT", "POST /items": "NONE", "$default": "NONE"}
        ),
        "ws-guarded": v2_api(
            factory,
            "chat",
            {"$connect": "CUSTOM", "$disconnect": "NONE", "sendmessage": "NONE"},
            "WEBSOCKET",
        ),
        "ws-open": v2_api(factory, "chat-open", {"$connect": "NONE"}, "WEBSOCKET"),
        "ws-bare": v2_api(factory, "chat-bare", {"sendmessage": "NONE"}, "WEBSOCKET"),
        "cors-rest": rest_api(
            factory, "cors", {"GET /orders": "AWS_IAM", "OPTIONS /orders": "NONE"}
        ),
        "cors-http": v2_api(factory, "cors-http", {"GET /items": "JWT", "OPTIONS /items": "NONE"}),
        "site": rest_api(
            factory,
            "site",
            {
                "GET /health": "NONE",
                "GET /public/docs": "NONE",
                "POST /public/feedback/form": "NONE",
                "GET /private": "AWS_IAM",
                "POST /health": "NONE",
            },
        ),
        "site-ok": rest_api(
            factory,
            "site-ok",
            {"GET /health": "NONE", "PUT /public/x": "NONE", "GET /private": "AWS_IAM"},
        ),
        "typed": rest_api(factory, "typed", {"GET /orders": "AWS_IAM", "POST /orders": "NONE"}),
        "typed-http": v2_api(factory, "typed-http", {"GET /items": "JWT"}),
        "empty-rest": rest_api(factory, "empty-rest", {}),
        "empty-http": v2_api(factory, "empty-http", {}),
    }


EVENT_FILES = ("scheduled", "scheduled-allowed-routes", "scheduled-authorization-types")


@pytest.fixture(scope="module")
def scan(standin_server) -> Iterator[Scan]:
    with fresh_standin(standin_server):
        factory = default_factory()
        ids = build(factory)
        runs: dict[str, dict[str, tuple[str, str]]] = {}
        for hour, name in enumerate(EVENT_FILES):
            event = scheduled(standin_server, f"{name}.json", f"2026-11-21T0{hour}:00:00Z")
            handler(event, CTX)
            runs[name] = results(factory)
        clients = RuleClients(factory)
        params = parse_parameters(ApigwRouteAuthorizationParameters, {})
        module.ApigwRouteAuthorization().evaluate_periodic(None, clients, params)
        listed = (
            len(factory.client("apigateway").get_rest_apis()["items"]),
            len(factory.client("apigatewayv2").get_apis()["Items"]),
        )
        yield Scan(ids, runs, clients.reads.calls, listed)


def verdict_of(scan: Scan, api: str, run: str = "scheduled") -> tuple[str, str]:
    return scan.runs[run][scan.ids[api]]


def test_scheduled_events_are_real_shaped():
    for name in EVENT_FILES:
        event = load_event(f"apigw_route_authorization/{name}.json")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE


def test_rest_api_with_authorized_methods_is_compliant(scan):
    assert verdict_of(scan, "authorized") == (
        "COMPLIANT",
        "All 3 routes require authorization (AWS_IAM/CUSTOM).",
    )


def test_rest_methods_without_authorization_are_noncompliant(scan):
    compliance, note = verdict_of(scan, "open")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("2 of 3 routes have no authorization: GET /orders, POST /orders.")
    assert note.endswith("Fix: attach an authorizer, or list the route in AllowedRoutes.")


def test_http_route_without_authorization_is_noncompliant(scan):
    compliance, note = verdict_of(scan, "http-open")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("2 of 3 routes have no authorization: $default, POST /items.")


def test_websocket_checks_only_the_connect_route(scan):
    assert verdict_of(scan, "ws-guarded") == (
        "COMPLIANT",
        "$connect requires authorization (CUSTOM); the other WebSocket routes run on the "
        "authorized connection.",
    )
    compliance, note = verdict_of(scan, "ws-open")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("1 of 1 route has no authorization: $connect.")
    compliance, note = verdict_of(scan, "ws-bare")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("The WebSocket API has no $connect route")


def test_cors_options_methods_are_exempt(scan):
    exempt = "1 exempt (CORS OPTIONS or AllowedRoutes)"
    assert verdict_of(scan, "cors-rest") == (
        "COMPLIANT",
        f"All 1 routes require authorization (AWS_IAM); {exempt}.",
    )
    assert verdict_of(scan, "cors-http") == (
        "COMPLIANT",
        f"All 1 routes require authorization (JWT); {exempt}.",
    )


def test_allowed_routes_are_exempt(scan):
    # AllowedRoutes: "GET /health,* /public/*"; only GET /health is allowed, not POST /health.
    run = "scheduled-allowed-routes"
    compliance, note = verdict_of(scan, "site", run)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("1 of 2 routes has no authorization: POST /health.")
    assert verdict_of(scan, "site-ok", run) == (
        "COMPLIANT",
        "All 1 routes require authorization (AWS_IAM); 2 exempt (CORS OPTIONS or AllowedRoutes).",
    )
    assert verdict_of(scan, "site-ok")[0] == "NON_COMPLIANT"  # without AllowedRoutes


def test_authorization_types_outside_the_list_are_noncompliant(scan):
    # AuthorizationTypes: "COGNITO_USER_POOLS,JWT"
    run = "scheduled-authorization-types"
    compliance, note = verdict_of(scan, "typed", run)
    assert compliance == "NON_COMPLIANT"
    assert note.startswith(
        "1 of 2 routes has no authorization: POST /orders. 1 of 2 routes has an authorization "
        "type outside AuthorizationTypes (COGNITO_USER_POOLS/JWT): GET /orders (AWS_IAM)."
    )
    assert verdict_of(scan, "typed-http", run) == (
        "COMPLIANT",
        "All 1 routes require authorization (JWT).",
    )
    assert verdict_of(scan, "authorized", run)[0] == "NON_COMPLIANT"  # AWS_IAM, CUSTOM


def test_api_without_routes_is_compliant(scan):
    assert verdict_of(scan, "empty-rest") == ("COMPLIANT", "The API has no routes.")
    assert verdict_of(scan, "empty-http") == ("COMPLIANT", "The API has no routes.")


def test_each_api_is_read_once_per_run(scan):
    assert scan.calls["apigateway:GetRestApis"] == 1
    assert scan.calls["apigatewayv2:GetApis"] == 1
    assert scan.calls["apigateway:GetResources"] == scan.listed[0]
    assert scan.calls["apigatewayv2:GetRoutes"] == scan.listed[1]
    assert scan.listed[0] + scan.listed[1] >= len(scan.ids)


def test_api_deleted_since_the_previous_run_is_not_applicable(standin, factory):
    keep = rest_api(factory, "keep", {"GET /a": "AWS_IAM"})
    gone = rest_api(factory, "gone", {"GET /b": "NONE"})
    gone_v2 = v2_api(factory, "gone-v2", {"GET /c": "NONE"})
    handler(scheduled(standin, at="2026-11-21T00:00:12.345Z"), CTX)
    assert results(factory)[gone][0] == "NON_COMPLIANT"
    factory.client("apigateway").delete_rest_api(restApiId=gone)
    factory.client("apigatewayv2").delete_api(ApiId=gone_v2)
    handler(scheduled(standin, at="2026-11-21T01:00:12.345Z"), CTX)
    found = results(factory)
    assert found[gone] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found[gone_v2] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found[keep][0] == "COMPLIANT"


def test_api_deleted_between_listing_and_reading_gets_no_evaluation(standin, factory):
    rest = rest_api(factory, "vanishing", {"GET /a": "NONE"})
    http = v2_api(factory, "staying", {"GET /b": "NONE"})
    with inject_error(
        factory.client("apigateway"), "GetResources", "NotFoundException", 404
    ) as seen:
        handler(scheduled(standin), CTX)
    assert seen
    found = results(factory)
    assert rest not in found
    assert found[http][0] == "NON_COMPLIANT"


def test_get_resources_denied_fails_visibly_and_stores_nothing(standin, factory):
    rest_api(factory, "orders", {"GET /orders": "NONE"})
    v2_api(factory, "items", {"GET /items": "NONE"})
    with (
        inject_error(factory.client("apigateway"), "GetResources", "AccessDeniedException", 403),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetResources"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


def test_route_patterns_match_method_and_path_with_wildcards():
    allowed = ("GET /health", "* /public/*", "$connect", "get /v?/status")
    assert module.route_matches("GET /health", allowed)
    assert not module.route_matches("POST /health", allowed)
    assert module.route_matches("DELETE /public/a/b", allowed)
    assert not module.route_matches("GET /publicity", allowed)
    assert module.route_matches("$connect", allowed)
    assert not module.route_matches("$default", allowed)
    assert module.route_matches("GET /v1/status", allowed)


def test_many_open_routes_are_summarised_within_256():
    routes = [Route(f"GET /a-rather-long-resource-path/{i:02d}", "NONE") for i in range(12)]
    routes += [Route(f"PUT /other/{i}", "AWS_IAM") for i in range(3)]
    note = module.verdict(routes, authorization_types=("JWT",)).annotation
    assert len(note) <= 256
    assert note.startswith("12 of 15 routes have no authorization: GET /a-rather-long")
    assert "more." in note and "[...]" not in note
    assert "3 of 15 routes have an authorization type outside" in note


def test_missing_authorization_type_counts_as_none():
    routes = module.rest_routes(
        [{"path": "/x", "resourceMethods": {"get": {}}}, {"path": "/", "id": "root"}]
    )
    assert routes == [Route("GET /x", "NONE")]
    assert module.verdict(routes).compliance == "NON_COMPLIANT"
