"""The rule base's own promises: batching, tolerance of real event variations."""

from __future__ import annotations

import json

from conftest import CallCounter, lambda_context, load_event, make_function

from configguard.rulebase import deliver
from configguard_cli.handlers import rule_module

RULE = "lambda-reserved-concurrency"


def _evaluations(count: int) -> list[dict]:
    return [
        {
            "ComplianceResourceId": f"fn-{i}",
            "ComplianceResourceType": "AWS::Lambda::Function",
            "ComplianceType": "COMPLIANT",
            "OrderingTimestamp": "2026-11-21T10:00:00.000Z",
        }
        for i in range(count)
    ]


def test_put_evaluations_in_batches_of_100(standin, factory):
    config = factory.client("config")
    counter = CallCounter(config)
    token = standin.issue_result_token(RULE)
    assert deliver(config, token, _evaluations(250)) == 250
    counter.close()
    assert counter.calls == ["PutEvaluations"] * 3
    stored = config.get_compliance_details_by_config_rule(ConfigRuleName=RULE, Limit=100)
    assert len(stored["EvaluationResults"]) == 100 and stored.get("NextToken")


def test_empty_result_sends_nothing(standin, factory):
    config = factory.client("config")
    counter = CallCounter(config)
    assert deliver(config, standin.issue_result_token(RULE), []) == 0
    counter.close()
    assert counter.calls == []


def test_missing_event_left_scope_and_oversized_timestamps_are_tolerated(standin, factory):
    make_function(factory, "orders-api", reserved=3)
    event = load_event("lambda_reserved_concurrency/oversized.json")
    del event["eventLeftScope"]
    invoking = json.loads(event["invokingEvent"])
    invoking.pop("notificationCreationTime", None)
    invoking.pop("recordVersion", None)
    event["invokingEvent"] = json.dumps(invoking)
    event["resultToken"] = standin.issue_result_token(RULE)
    result = rule_module(RULE).lambda_handler(event, lambda_context("configguard-rule"))
    assert result == {"rule": RULE, "delivered": 1, "compliance": {"COMPLIANT": 1}}
