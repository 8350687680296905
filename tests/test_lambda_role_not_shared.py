"""Scenarios of rules/lambda_role_not_shared.py (periodic), against the stand-in.

The stand-in also holds configguard's own placeholder rule functions
(`configguard-<rule>`); a periodic run evaluates them too, so the tests assert on
their own functions and check that every listed function got exactly one result.
"""

from __future__ import annotations

import json

import pytest
from conftest import lambda_context, load_event, make_function, scheduled_event, stored_results
from faults import inject_error

from configguard.rulebase import EvaluationError
from configguard_cli.handlers import rule_module

RULE = "lambda-role-not-shared"
module = rule_module(RULE)
handler = module.lambda_handler
CTX = lambda_context(f"configguard-{RULE}")


def results(factory) -> dict[str, tuple[str, str]]:
    return stored_results(factory, RULE)


def scheduled(standin, relative: str = "scheduled.json", at: str | None = None) -> dict:
    return scheduled_event(standin, RULE, relative, at)


def listed(factory) -> set[str]:
    functions = factory.client("lambda").list_functions(MaxItems=50)["Functions"]
    return {f["FunctionName"] for f in functions}


def test_scheduled_event_is_real_shaped():
    event = load_event("lambda_role_not_shared/scheduled.json")
    invoking = json.loads(event["invokingEvent"])
    assert invoking["messageType"] == "ScheduledNotification"
    assert invoking["awsAccountId"] == event["accountId"]
    assert invoking["notificationCreationTime"]
    assert event["configRuleName"] == RULE


def test_functions_with_their_own_roles_are_compliant(standin, factory):
    make_function(factory, "orders", role="orders-role")
    make_function(factory, "billing", role="billing-role")
    handler(scheduled(standin), CTX)
    found = results(factory)
    assert found["orders"] == ("COMPLIANT", "Role orders-role is used by this function only.")
    assert found["billing"] == ("COMPLIANT", "Role billing-role is used by this function only.")
    assert set(found) == listed(factory)  # one result per function, placeholders included
    assert {compliance for compliance, _ in found.values()} == {"COMPLIANT"}


def test_two_functions_sharing_a_role_are_noncompliant(standin, factory):
    make_function(factory, "worker-a", role="workers")
    make_function(factory, "worker-b", role="workers")
    make_function(factory, "loner", role="loner-role")
    handler(scheduled(standin), CTX)
    found = results(factory)
    compliance, note = found["worker-a"]
    assert compliance == "NON_COMPLIANT"
    assert note.startswith("Role workers is shared by 2 functions (also: worker-b).")
    assert found["worker-b"][1].startswith(
        "Role workers is shared by 2 functions (also: worker-a)."
    )
    assert found["loner"][0] == "COMPLIANT"


def test_allowed_shared_role_is_compliant_with_a_note(standin, factory):
    make_function(factory, "batch-1", role="batch-workers")
    make_function(factory, "batch-2", role="batch-workers")
    handler(scheduled(standin, "scheduled-allowed-shared-role.json"), CTX)
    found = results(factory)
    for name in ("batch-1", "batch-2"):
        assert found[name] == (
            "COMPLIANT",
            "Role batch-workers is shared by 2 functions; allowed by AllowedSharedRoles.",
        )


def test_function_deleted_since_the_previous_run_is_not_applicable(standin, factory):
    make_function(factory, "keep", role="shared-role")
    make_function(factory, "gone", role="shared-role")
    handler(scheduled(standin, at="2026-11-21T00:00:12.345Z"), CTX)
    assert results(factory)["gone"][0] == "NON_COMPLIANT"
    factory.client("lambda").delete_function(FunctionName="gone")
    handler(scheduled(standin, at="2026-11-22T00:00:12.345Z"), CTX)
    found = results(factory)
    assert found["gone"] == ("NOT_APPLICABLE", "The resource no longer exists.")
    assert found["keep"] == ("COMPLIANT", "Role shared-role is used by this function only.")


def test_list_functions_throttled_fails_visibly_and_stores_nothing(standin, factory):
    make_function(factory, "orders", role="orders-role")
    with (
        inject_error(factory.client("lambda"), "ListFunctions", "ThrottlingException", 400),
        pytest.raises(EvaluationError, match="ThrottlingException from ListFunctions"),
    ):
        handler(scheduled(standin), CTX)
    assert results(factory) == {}


def test_many_sharers_are_summarised_within_256():
    functions = [
        {"FunctionName": f"a-rather-long-function-name-{i:02d}", "Role": "arn:aws:iam::1:role/r"}
        for i in range(12)
    ]
    functions.append({"FunctionName": "solo", "Role": "arn:aws:iam::1:role/path/solo-role"})
    found = dict(module.verdicts(functions, ("arn:aws:iam::1:role/other",)))
    note = found["a-rather-long-function-name-00"].annotation
    assert len(note) <= 256 and "+" in note and "more)" in note and "[...]" not in note
    assert note.startswith("Role r is shared by 12 functions")
    assert found["solo"].reason == "Role solo-role is used by this function only."


def test_allowed_shared_roles_match_names_or_arns_case_insensitively():
    functions = [
        {"FunctionName": "x", "Role": "arn:aws:iam::1:role/svc/Shared"},
        {"FunctionName": "y", "Role": "arn:aws:iam::1:role/svc/Shared"},
    ]
    for allowed in (("shared",), ("arn:aws:iam::1:role/svc/Shared",)):
        assert all(v.compliance == "COMPLIANT" for _, v in module.verdicts(functions, allowed))
    assert all(v.compliance == "NON_COMPLIANT" for _, v in module.verdicts(functions, ()))
