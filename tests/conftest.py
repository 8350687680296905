"""Shared fixtures: one stand-in server per test worker, reset before each test."""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from configguard.clients import ClientFactory, default_factory, reset_default_factory
from configguard_cli.events import config_change_event, context_for
from configguard_cli.local import seed
from configguard_cli.local.standin import StandIn

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    with StandIn(region=REGION, account_id=ACCOUNT) as server:
        yield server


@contextmanager
def fresh_standin(server: StandIn) -> Iterator[StandIn]:
    """Reset the stand-in and point the environment and default factory at it."""
    with pytest.MonkeyPatch.context() as patch:
        server.reset()
        for key, value in server.environ().items():
            patch.setenv(key, value)
        reset_default_factory()
        try:
            yield server
        finally:
            reset_default_factory()


@pytest.fixture
def standin(standin_server: StandIn) -> Iterator[StandIn]:
    with fresh_standin(standin_server) as server:
        yield server


@pytest.fixture(scope="module")
def module_standin(standin_server: StandIn) -> Iterator[StandIn]:
    """One reset for a whole test module; its tests use their own resource names."""
    with fresh_standin(standin_server) as server:
        yield server


@pytest.fixture(scope="module")
def module_factory(module_standin: StandIn) -> ClientFactory:
    return default_factory()


@pytest.fixture
def factory(standin: StandIn) -> ClientFactory:
    """The same factory (and cached clients) the handlers use."""
    return default_factory()


def make_function(
    factory: ClientFactory,
    name: str,
    *,
    reserved: int | None = None,
    tags: dict[str, str] | None = None,
    role: str = "app-role",
    **settings: Any,
) -> dict[str, Any]:
    """A function in the stand-in; `settings` are further CreateFunction parameters."""
    role_arn = seed.ensure_lambda_role(factory.client("iam"), role)
    return seed.create_function(
        factory.client("lambda"), name, role_arn, reserved=reserved, tags=tags, **settings
    )


def load_event(relative: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / relative).read_text()))


def compliance_change(module: str, resource_id: str) -> dict[str, Any]:
    """events/<module>/config-compliance-change.json aimed at `resource_id`, new event id."""
    event = load_event(f"{module}/config-compliance-change.json")
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["resourceId"] = resource_id
    result = detail["newEvaluationResult"]
    result["evaluationResultIdentifier"]["evaluationResultQualifier"]["resourceId"] = resource_id
    return event


def config_finding(
    finding_id: str, rule: str, resource_arn: str, product_arn: str
) -> dict[str, Any]:
    """An active, NEW Security Hub finding of Config rule `rule` for the Lambda function."""
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id,
        "ProductArn": product_arn,
        "GeneratorId": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-q7fx2b",
        "AwsAccountId": ACCOUNT,
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": "2026-11-21T10:00:00Z",
        "UpdatedAt": "2026-11-21T10:00:00Z",
        "Severity": {"Label": "HIGH"},
        "Title": f"{rule} NON_COMPLIANT",
        "Description": "Config rule evaluation",
        "Resources": [{"Type": "AwsLambdaFunction", "Id": resource_arn}],
        "ProductFields": {"aws/config/ConfigRuleName": rule},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }


def change_event(
    standin: StandIn, rule: str, item: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    return config_change_event(rule, item, standin.issue_result_token(rule), **kwargs)


def stored_results(factory: ClientFactory, rule: str) -> dict[str, tuple[str, str]]:
    """The rule's evaluation results as Config stored them: resource id -> (verdict, note)."""
    found = factory.client("config").get_compliance_details_by_config_rule(
        ConfigRuleName=rule, Limit=100
    )["EvaluationResults"]
    return {
        r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]: (
            r["ComplianceType"],
            r.get("Annotation", ""),
        )
        for r in found
    }


def with_token(standin: StandIn, event: dict[str, Any]) -> dict[str, Any]:
    """A sample event with a result token the stand-in accepts."""
    event = json.loads(json.dumps(event))
    event["resultToken"] = standin.issue_result_token(event["configRuleName"])
    return event


def scheduled_event(
    standin: StandIn, rule: str, relative: str = "scheduled.json", at: str | None = None
) -> dict[str, Any]:
    """The rule's sample ScheduledNotification with a live result token (and a new time)."""
    event = load_event(f"{rule.replace('-', '_')}/{relative}")
    event["resultToken"] = standin.issue_result_token(rule)
    if at:
        invoking = json.loads(event["invokingEvent"])
        invoking["notificationCreationTime"] = at
        event["invokingEvent"] = json.dumps(invoking)
    return event


def lambda_context(name: str) -> Any:
    return context_for(name, ACCOUNT, REGION)


class CallCounter:
    """Counts AWS API calls made through a client, by operation name."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.*.*", self._count)
        self._client = client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def close(self) -> None:
        self._client.meta.events.unregister("before-call.*.*", self._count)


class ApiCalls:
    """API Gateway calls (v1 and v2) made through the shared factory's clients."""

    def __init__(self, factory: ClientFactory) -> None:
        self.counters = [CallCounter(factory.client(s)) for s in ("apigateway", "apigatewayv2")]

    @property
    def calls(self) -> list[str]:
        return [call for counter in self.counters for call in counter.calls]

    def clear(self) -> None:
        for counter in self.counters:
            counter.calls.clear()


@pytest.fixture
def api_calls(factory: ClientFactory) -> Iterator[ApiCalls]:
    calls = ApiCalls(factory)
    yield calls
    for counter in calls.counters:
        counter.close()


@pytest.fixture
def lambda_calls(factory: ClientFactory) -> Iterator[CallCounter]:
    counter = CallCounter(factory.client("lambda"))
    yield counter
    counter.close()


sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the configguard Powertools logger writes during the test, as JSON lines."""
    import logging

    from configguard.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)
