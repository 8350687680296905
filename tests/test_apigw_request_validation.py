"""Scenarios of rules/apigw_request_validation.py (periodic), against the stand-in.

The read-only scenarios share one stand-in state (`scan`, built once per module): the
real handler runs once per sample event and the stored results are read back after each
run. The error scenario gets its own fresh stand-in. Tests assert only on their own APIs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import fresh_standin, lambda_context, load_event, scheduled_event, stored_results
from faults import inject_error

from configguard.clients import default_factory
from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "apigw-request-validation"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")
EVENT_FILES = ("scheduled", "scheduled-allowed-routes")
FIX = (
    "Fix: set a request validator with validateRequestBody (and a request model), "
    "or list the route in AllowedRoutes."
)


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def scheduled(standin, relative: str = "scheduled.json", at: str | None = None) -> dict:
    return scheduled_event(standin, RULE, relative, at)


VALIDATORS = {"body": (True, True), "body-only": (True, False), "params-only": (False, True)}


def rest_api(factory, name: str, methods: dict[str, str | None]) -> str:
    """A REST API with {"METHOD /path": validator name or None} methods; returns its id.

    Validators (VALIDATORS: name -> (validateRequestBody, validateRequestParameters))
    are created for each API.
    """
    gateway = factory.client("apigateway")
    api_id = gateway.create_rest_api(name=name)["id"]
    validator_ids = {
        label: gateway.create_request_validator(
            restApiId=api_id,
            name=label,
            validateRequestBody=body,
            validateRequestParameters=parameters,
        )["id"]
        for label, (body, parameters) in VALIDATORS.items()
    }
    resources = {"/": gateway.get_resources(restApiId=api_id)["items"][0]["id"]}
    for key, validator in methods.items():
        method, path = key.split(" ", 1)
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            current = f"{parent.rstrip('/')}/{part}"
            if current not in resources:
                resources[current] = gateway.create_resource(
                    restApiId=api_id, parentId=resources[parent], pathPart=part
                )["id"]
            parent = current
        extra: dict[str, Any] = {}
        if validator:
            extra["requestValidatorId"] = validator_ids[validator]
        gateway.put_method(
            restApiId=api_id,
            resourceId=resources[path],
            httpMethod=method,
            authorizationType="AWS_IAM",
            **extra,
        )
    return str(api_id)


def build(factory) -> dict[str, str]:
    return {
        "validated": rest_api(
            factory,
            "orders",
            {
                "GET /orders": None,
                "POST /orders": "body",
                "PUT /orders/{id}": "body-only",
                "PATCH /orders/{id}": "body",
            },
        ),
        "no-validator": rest_api(factory, "no-validator", {"POST /orders": None}),
        "params-only": rest_api(
            factory,
            "params-only",
            {"POST /orders": "body", "PUT /orders/{id}": "params-only"},
        ),
        "webhooks": rest_api(
            factory,
            "webhooks",
            {"POST /webhooks/github": None, "POST /webhooks/stripe": None, "PUT /x": "body"},
        ),
        "read-only": rest_api(
            factory, "read-only", {"GET /orders": "params-only", "OPTIONS /orders": None}
        ),
    }


@dataclass
class Scan:
    """One stand-in holding every read-only scenario's API, scanned once per event file."""

    ids: dict[str, str]
    runs: dict[str, dict[str, tuple[str, str]]]
    validator_reads: list[str]  # restApiId of each GetRequestValidators call, first run


@pytest.fixture(scope="module")
def scan(standin_server) -> Iterator[Scan]:
    with fresh_standin(standin_server):
        factory = default_factory()
        ids = build(factory)
        events = factory.client("apigateway").meta.events
        validator_reads: list[str] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            validator_reads.append(params["restApiId"])

        runs: dict[str, dict[str, tuple[str, str]]] = {}
        for hour, name in enumerate(EVENT_FILES):
            hook = "provide-client-params.apigateway.GetRequestValidators"
            if hour == 0:  # count the reads of the first run only
                events.register(hook, record, unique_id="count-validators")
            event = scheduled(standin_server, f"{name}.json", f"2026-11-21T0{hour}:00:00Z")
            handler(event, CTX)
            events.unregister(hook, unique_id="count-validators")
            runs[name] = results(factory)
        yield Scan(ids, runs, validator_reads)


def verdict_of(scan: Scan, api: str, run: str = "scheduled") -> tuple[str, str]:
    return scan.runs[run][scan.ids[api]]


def test_scheduled_events_are_real_shaped():
    for name in EVENT_FILES:
        event = load_event(f"apigw_request_validation/{name}.json")
        invoking = json.loads(event["invokingEvent"])
        assert invoking["messageType"] == "ScheduledNotification"
        assert invoking["awsAccountId"] == event["accountId"]
        assert event["configRuleName"] == RULE


def test_body_methods_with_body_validators_are_compliant(scan):
    assert verdict_of(scan, "validated") == (
        "COMPLIANT",
        "All 3 POST/PUT/PATCH methods validate the request body.",
    )


def test_post_without_validator_is_noncompliant(scan):
    assert verdict_of(scan, "no-validator") == (
        "NON_COMPLIANT",
        "1 of 1 POST/PUT/PATCH method does not validate the request body: "
        f"POST /orders (no validator). {FIX}",
    )


def test_put_with_parameters_only_validator_is_noncompliant_naming_it(scan):
    assert verdict_of(scan, "params-only") == (
        "NON_COMPLIANT",
        "1 of 2 POST/PUT/PATCH methods does not validate the request body: "
        f"PUT /orders/{{id}} (validator params-only checks parameters only). {FIX}",
    )


def test_body_method_matching_allowed_routes_is_exempt(scan):
    # AllowedRoutes: ["POST /webhooks/*"]
    assert verdict_of(scan, "webhooks", "scheduled-allowed-routes") == (
        "COMPLIANT",
        "All 1 POST/PUT/PATCH methods validate the request body; 2 exempt by AllowedRoutes.",
    )
    compliance, note = verdict_of(scan, "webhooks")
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("2 of 3 POST/PUT/PATCH methods do not validate the request body:")
    assert "POST /webhooks/github (no validator), POST /webhooks/stripe (no validator)." in note


def test_api_without_body_methods_is_compliant_without_reading_validators(scan):
    api = scan.ids["read-only"]
    assert verdict_of(scan, "read-only") == (
        "COMPLIANT",
        "The API has no POST, PUT or PATCH methods.",
    )
    assert api not in scan.validator_reads
    assert scan.ids["no-validator"] not in scan.validator_reads
    assert sorted(scan.validator_reads) == sorted(
        scan.ids[k] for k in ("validated", "params-only", "webhooks")
    )


def test_get_request_validators_denied_fails_visibly_and_stores_nothing(standin, factory):
    rest_api(factory, "orders", {"POST /orders": "body"})
    with (
        inject_error(
            factory.client("apigateway"), "GetRequestValidators", "AccessDeniedException", 403
        ),
        pytest.raises(EvaluationError, match="AccessDeniedException from GetRequestValidators"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


# ------------------------------------------------------------------ pure functions


def test_unknown_validator_id_is_noncompliant():
    resources = [
        {"path": "/a", "resourceMethods": {"PATCH": {"requestValidatorId": "gone1"}}},
        {"path": "/", "id": "root"},
    ]
    found = module.verdict(resources, [{"id": "v1", "name": "body", "validateRequestBody": True}])
    assert found.compliance == "NON_COMPLIANT"
    assert "PATCH /a (validator gone1 not found)" in found.reason


def test_many_failing_methods_are_summarised_within_256():
    resources = [
        {"path": f"/a-rather-long-resource-path/{i:02d}", "resourceMethods": {"POST": {}}}
        for i in range(15)
    ]
    note = module.verdict(resources).annotation
    assert len(note) <= 256
    assert note.startswith("15 of 15 POST/PUT/PATCH methods do not validate the request body:")
    assert "more." in note and "[...]" not in note and note.endswith("AllowedRoutes.")
