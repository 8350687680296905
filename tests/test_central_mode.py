"""Central (delegated administrator) mode across two accounts of the stand-in.

Scenarios:
  Given a rule deployed centrally and a member account with configguard's evaluation role,
    When Config in the member invokes the rule with ExecutionRoleName,
    Then the rule reads the member's resource with the member role and reports to the
      member's Config.
  Given a fix deployed centrally, central mode on and the member allowlisted,
    When a member's compliance change reaches the fix,
    Then the fix assumes the member's remediation role, changes the resource there, and
      the audit record (stored centrally) carries the member's account id.
  Given central mode, when the member is not allowlisted or the role cannot be assumed,
    Then nothing changes and the record says why (blocked, fail closed).
  Given central mode, when the resource is in the central account itself,
    Then the fix uses its own role (no AssumeRole).
"""

from __future__ import annotations

import json

import pytest
from conftest import CallCounter, lambda_context, load_event
from faults import inject_error

from configguard import settings
from configguard.clients import ClientFactory
from configguard_cli.auditlog import list_records
from configguard_cli.handlers import remediation_module, rule_module
from configguard_cli.local import gapfills, seed

CENTRAL, MEMBER, REGION = "123456789012", "210987654321", "us-east-1"
EVALUATION_ROLE, REMEDIATION_ROLE = "configguard-evaluation", "configguard-remediation"
FIX, RULE = "set-log-retention", "log-group-retention"
GROUP = "/member/app"


@pytest.fixture
def member(factory) -> ClientFactory:
    """The member account, as the central functions reach it (an assumed role)."""
    return factory.assume(
        f"arn:aws:iam::{MEMBER}:role/{REMEDIATION_ROLE}", session_name="test-setup"
    )


@pytest.fixture
def central_mode(monkeypatch):
    monkeypatch.setenv(settings.REMEDIATION_ROLE_NAME, REMEDIATION_ROLE)
    monkeypatch.setenv(settings.ACCOUNT_ALLOWLIST, f"{CENTRAL},{MEMBER}")
    monkeypatch.setenv(settings.REMEDIATION_MODE, "apply")


def retention(factory: ClientFactory, name: str) -> int | None:
    groups = factory.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    (group,) = [g for g in groups if g["logGroupName"] == name]
    return group.get("retentionInDays")


def compliance_change(account: str, group: str) -> dict:
    event = load_event(f"{FIX.replace('-', '_')}/config-compliance-change.json")
    text = json.dumps(event)
    sample = event["detail"]["resourceId"]
    event = json.loads(text.replace(sample, group).replace(CENTRAL, account))
    event["id"] = f"central-{account}-{group}"
    return event


def run_fix(event: dict) -> list[dict]:
    handler = remediation_module(FIX).lambda_handler
    return handler(event, lambda_context(f"configguard-{FIX}"))["results"]


def test_member_resource_is_fixed_with_the_member_role_and_audited_centrally(
    standin, factory, member, central_mode
):
    member.client("logs").create_log_group(logGroupName=GROUP)
    member.client("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    counter = CallCounter(factory.client("sts"))
    try:
        (record,) = run_fix(compliance_change(MEMBER, GROUP))
    finally:
        counter.close()
    assert (record["outcome"], record["account_id"]) == ("applied", MEMBER)
    assert record["resource_arn"].startswith(f"arn:aws:logs:{REGION}:{MEMBER}:")
    assert counter.calls.count("AssumeRole") == 1
    assert retention(member, GROUP) == 365
    (stored,) = list_records(factory, resource_id=GROUP)  # the central audit table
    assert stored["account_id"] == MEMBER and stored["audit_id"] == record["audit_id"]


def test_central_account_resource_uses_the_own_role(standin, factory, central_mode):
    factory.client("logs").create_log_group(logGroupName=GROUP)
    factory.client("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    counter = CallCounter(factory.client("sts"))
    try:
        (record,) = run_fix(compliance_change(CENTRAL, GROUP))
    finally:
        counter.close()
    assert (record["outcome"], record["account_id"]) == ("applied", CENTRAL)
    assert "AssumeRole" not in counter.calls
    assert retention(factory, GROUP) == 365


def test_member_not_allowlisted_is_blocked_before_any_assume(
    standin, factory, member, central_mode, monkeypatch
):
    monkeypatch.setenv(settings.ACCOUNT_ALLOWLIST, CENTRAL)
    member.client("logs").create_log_group(logGroupName=GROUP)
    member.client("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    (record,) = run_fix(compliance_change(MEMBER, GROUP))
    assert record["outcome"] == "blocked"
    assert f"Account {MEMBER} is not in the account allowlist" in record["reason"]
    assert retention(member, GROUP) == 7


def test_role_that_cannot_be_assumed_fails_closed(standin, factory, member, central_mode):
    member.client("logs").create_log_group(logGroupName=GROUP)
    member.client("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    with inject_error(factory.client("sts"), "AssumeRole", "AccessDenied", status=403):
        (record,) = run_fix(compliance_change(MEMBER, GROUP))
    assert record["outcome"] == "blocked"
    assert f"cannot assume arn:aws:iam::{MEMBER}:role/{REMEDIATION_ROLE}" in record["reason"]
    assert retention(member, GROUP) == 7


def test_rule_evaluates_a_member_resource_with_the_execution_role(standin, factory):
    evaluation = factory.assume(f"arn:aws:iam::{MEMBER}:role/{EVALUATION_ROLE}")
    evaluation.client("logs").create_log_group(logGroupName=GROUP)
    # In AWS the member's organization rule names the central function; moto's
    # PutConfigRule only accepts a function of the member's own, so a placeholder
    # stands in for it there. The rule code below is the real central handler.
    role = seed.ensure_lambda_role(evaluation.client("iam"), "placeholder", "placeholder")
    placeholder = seed.create_function(
        evaluation.client("lambda"), f"configguard-{RULE}", role, code=seed.function_zip()
    )
    function_arn = placeholder["FunctionArn"]
    member_rule = f"OrgConfigRule-{RULE}-abc123"
    evaluation.client("config").put_config_rule(
        ConfigRule={
            "ConfigRuleName": member_rule,
            "Source": {
                "Owner": "CUSTOM_LAMBDA",
                "SourceIdentifier": function_arn,
                "SourceDetails": [
                    {
                        "EventSource": "aws.config",
                        "MessageType": "ScheduledNotification",
                        "MaximumExecutionFrequency": "TwentyFour_Hours",
                    }
                ],
            },
        }
    )
    token = gapfills.issue_result_token(MEMBER, REGION, member_rule)
    event = json.loads(json.dumps(load_event(f"{RULE.replace('-', '_')}/scheduled.json")))
    invoking = json.loads(event["invokingEvent"])
    invoking["awsAccountId"] = MEMBER
    event.update(
        invokingEvent=json.dumps(invoking),
        resultToken=token,
        configRuleName=member_rule,
        accountId=MEMBER,
        executionRoleArn=f"arn:aws:iam::{MEMBER}:role/aws-service-role/config-role",
        ruleParameters=json.dumps({"ExecutionRoleName": EVALUATION_ROLE}),
    )
    handler = rule_module(RULE).lambda_handler
    handler(event, lambda_context(f"configguard-{RULE}"))
    details = evaluation.client("config").get_compliance_details_by_config_rule(
        ConfigRuleName=member_rule
    )["EvaluationResults"]
    verdicts = {
        d["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]: d[
            "ComplianceType"
        ]
        for d in details
    }
    assert verdicts.get(GROUP) == "COMPLIANT"  # never-expire is compliant by default
    # The central account's Config heard nothing of it.
    with pytest.raises(Exception, match="NoSuchConfigRule"):
        factory.client("config").get_compliance_details_by_config_rule(ConfigRuleName=member_rule)
