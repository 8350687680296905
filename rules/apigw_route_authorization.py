"""apigw-route-authorization: every API Gateway method and route requires authorization.

Periodic (Config records no methods or routes). Each REST API (AWS::ApiGateway::RestApi)
and each HTTP or WebSocket API (AWS::ApiGatewayV2::Api) gets one evaluation: it is
NON_COMPLIANT when a REST method or v2 route has authorization type NONE, or, with
AuthorizationTypes, a type outside that list. Exempt: CORS preflight `OPTIONS` methods and
routes, and routes matching AllowedRoutes: `METHOD /path` patterns with fnmatch wildcards
(`GET /health`, `* /public/*`), or a bare route key (`$connect`, `$default`).
WebSocket APIs authorize only when a connection opens, so only `$connect` is checked: the
other routes run on an authorized connection. A WebSocket API with routes but no
`$connect` route accepts every connection and is NON_COMPLIANT. An API without methods or
routes is COMPLIANT. An API deleted while the run reads it is skipped; APIs evaluated by an
earlier run and gone now are reported NOT_APPLICABLE by the rule base.
Differs from AWS managed rule api-gwv2-authorization-type-configured: it also checks REST
methods, exempts CORS OPTIONS and AllowedRoutes, and checks only $connect on WebSocket APIs.

Data: apigateway GetRestApis, then GetResources (methods embedded) per REST API;
apigatewayv2 GetApis, then GetRoutes per HTTP/WebSocket API (all pages, once per run).

Scenarios:
  Given a REST API whose methods all use an authorizer,
    When the periodic run evaluates, Then the API is COMPLIANT.
  Given a REST API with methods whose authorization type is NONE,
    When the periodic run evaluates,
    Then it is NON_COMPLIANT "2 of 3 routes have no authorization: GET /orders, ...".
  Given an HTTP API with a route without authorization,
    When the periodic run evaluates, Then the API is NON_COMPLIANT naming the route.
  Given a WebSocket API whose $connect route is authorized and other routes are not,
    When the periodic run evaluates, Then it is COMPLIANT; without $connect authorization
    (or without a $connect route) it is NON_COMPLIANT.
  Given CORS OPTIONS methods without authorization,
    When the periodic run evaluates, Then they are exempt.
  Given routes without authorization that match AllowedRoutes (`GET /health`, `* /public/*`),
    When the periodic run evaluates, Then they are exempt.
  Given AuthorizationTypes and a route using another type,
    When the periodic run evaluates, Then the API is NON_COMPLIANT naming route and type.
  Given an API without methods or routes,
    When the periodic run evaluates, Then it is COMPLIANT "The API has no routes.".
  Given an API evaluated by a previous run and deleted since,
    When the periodic run evaluates again, Then it is NOT_APPLICABLE.
  Given an API deleted between the listing and the read of its routes,
    When the periodic run evaluates, Then the API gets no evaluation and the others do.
  Given GetResources is denied,
    When invoked, Then the invocation fails visibly and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rdklib import Evaluation

from configguard.iampolicy import compact_join
from configguard.parameters import ApigwRouteAuthorizationParameters
from configguard.reads import NOT_FOUND_CODES, error_code
from configguard.registry import HTTP_API, REST_API, RULES
from configguard.routes import route_matches
from configguard.rulebase import GuardRule, RuleClients, evaluation, rule_handler
from configguard.verdict import ANNOTATION_LIMIT, Verdict

NONE = "NONE"
CONNECT = "$connect"
_EXEMPT = "CORS OPTIONS or AllowedRoutes"
_FIX = " Fix: attach an authorizer, or list the route in AllowedRoutes."


@dataclass(frozen=True)
class Route:
    """A REST method or v2 route: its key (`GET /orders`, `$connect`) and authorization."""

    key: str
    authorization: str

    @property
    def method(self) -> str:
        method, space, _ = self.key.partition(" ")
        return method.upper() if space else ""

    @property
    def sort_key(self) -> tuple[str, str]:
        method, space, path = self.key.partition(" ")
        return (path, method) if space else (self.key, "")


def rest_routes(resources: Iterable[dict[str, Any]]) -> list[Route]:
    """Every method of a REST API (GetResources items with embedded methods)."""
    routes: list[Route] = []
    for resource in resources:
        path = str(resource.get("path") or "/")
        for method, settings in (resource.get("resourceMethods") or {}).items():
            auth = str((settings or {}).get("authorizationType") or NONE)
            routes.append(Route(f"{str(method).upper()} {path}", auth.upper()))
    return routes


def http_routes(routes: Iterable[dict[str, Any]]) -> list[Route]:
    """Every route of an HTTP or WebSocket API (GetRoutes items)."""
    return [
        Route(str(route["RouteKey"]), str(route.get("AuthorizationType") or NONE).upper())
        for route in routes
    ]


def _count(n: int, of: int) -> str:
    return f"{n} of {of} route{'' if of == 1 else 's'} {'has' if n == 1 else 'have'}"


def _problems(parts: Sequence[tuple[str, list[str]]]) -> str:
    """`head: a, b +N more.` for each part within the annotation limit.

    Earlier parts take what they need; each later part keeps room for its first item.
    """
    fixed = sum(len(head) + len(": .") + 1 for head, _ in parts) + len(_FIX)
    reserve = [len(items[0]) + len(f" +{len(items)} more") for _, items in parts]
    remaining = ANNOTATION_LIMIT - fixed
    texts: list[str] = []
    for index, (head, items) in enumerate(parts):
        listed = compact_join(items, max(remaining - sum(reserve[index + 1 :]), 0))
        remaining -= len(listed)
        texts.append(f"{head}: {listed}.")
    return " ".join(texts) + _FIX


def verdict(
    routes: Sequence[Route],
    *,
    websocket: bool = False,
    allowed_routes: Iterable[str] = (),
    authorization_types: Iterable[str] = (),
) -> Verdict:
    """The verdict for one API's routes."""
    if not routes:
        return Verdict.compliant("The API has no routes.")
    allowed = tuple(allowed_routes)
    types = tuple(t.upper() for t in authorization_types)
    if websocket:
        connect = [r for r in routes if r.key == CONNECT]
        if not connect and not route_matches(CONNECT, allowed):
            return Verdict.non_compliant(
                "The WebSocket API has no $connect route, so connections are never "
                "authorized. Fix: add a $connect route with an authorizer, or list $connect "
                "in AllowedRoutes."
            )
        routes = connect
    checked: list[Route] = []
    exempt = 0
    for route in sorted(routes, key=lambda r: r.sort_key):
        if route.method == "OPTIONS" or route_matches(route.key, allowed):
            exempt += 1
        else:
            checked.append(route)
    unauthorized = [r.key for r in checked if r.authorization == NONE]
    outside = [
        f"{r.key} ({r.authorization})"
        for r in checked
        if r.authorization != NONE and types and r.authorization not in types
    ]
    parts: list[tuple[str, list[str]]] = []
    if unauthorized:
        parts.append((f"{_count(len(unauthorized), len(checked))} no authorization", unauthorized))
    if outside:
        head = (
            f"{_count(len(outside), len(checked))} an authorization type outside "
            f"AuthorizationTypes ({'/'.join(types)})"
        )
        parts.append((head, outside))
    if parts:
        return Verdict.non_compliant(_problems(parts))
    return _compliant(checked, exempt, websocket)


def _compliant(checked: Sequence[Route], exempt: int, websocket: bool) -> Verdict:
    if websocket:
        if not checked:
            return Verdict.compliant("$connect is exempt by AllowedRoutes.")
        return Verdict.compliant(
            f"$connect requires authorization ({checked[0].authorization}); the other "
            "WebSocket routes run on the authorized connection."
        )
    if not checked:
        return Verdict.compliant(f"All {exempt} routes are exempt ({_EXEMPT}).")
    used = "/".join(sorted({r.authorization for r in checked}))
    note = f"; {exempt} exempt ({_EXEMPT})" if exempt else ""
    return Verdict.compliant(f"All {len(checked)} routes require authorization ({used}){note}.")


def _gone(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


class ApigwRouteAuthorization(GuardRule):
    spec = RULES["apigw-route-authorization"]

    def evaluate_periodic(
        self,
        event: dict[str, Any] | None,
        client_factory: RuleClients,
        valid_rule_parameters: ApigwRouteAuthorizationParameters,
    ) -> list[Evaluation]:
        reads = client_factory.reads
        allowed = valid_rule_parameters.allowed_routes
        types = valid_rule_parameters.authorization_types
        out: list[Evaluation] = []
        for api in reads.rest_apis():
            try:
                routes = rest_routes(reads.rest_resources(api["id"]))
            except ClientError as exc:
                if _gone(exc):
                    continue  # deleted since the listing
                raise
            found = verdict(routes, allowed_routes=allowed, authorization_types=types)
            out.append(evaluation(found, api["id"], REST_API))
        for api in reads.http_apis():
            try:
                routes = http_routes(reads.http_routes(api["ApiId"]))
            except ClientError as exc:
                if _gone(exc):
                    continue
                raise
            websocket = api.get("ProtocolType") == "WEBSOCKET"
            found = verdict(
                routes, websocket=websocket, allowed_routes=allowed, authorization_types=types
            )
            out.append(evaluation(found, api["ApiId"], HTTP_API))
        return out


lambda_handler = rule_handler(ApigwRouteAuthorization)
