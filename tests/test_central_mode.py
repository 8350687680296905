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
from conftest import ROOT, CallCounter, lambda_context, load_event
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


ORG_RULE = f"OrgConfigRule-{RULE}-k3x9qa"  # the member's copy of the organization rule


def compliance_change(account: str, group: str) -> dict:
    """A compliance change as the member's Config emits it (and forwards it here)."""
    event = load_event(f"{FIX.replace('-', '_')}/config-compliance-change.json")
    text = json.dumps(event)
    sample = event["detail"]["resourceId"]
    event = json.loads(text.replace(sample, group).replace(CENTRAL, account))
    event["id"] = f"central-{account}-{group}"
    if account != CENTRAL:
        event["detail"]["configRuleName"] = ORG_RULE
        qualifier = event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
        qualifier["evaluationResultQualifier"]["configRuleName"] = ORG_RULE
    return event


def test_forwarded_change_of_an_organization_rule_reaches_the_fix(standin, factory):
    """The fix's EventBridge rule matches the members' OrgConfigRule-<rule>-<suffix> names."""
    event = compliance_change(MEMBER, GROUP)
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
    }
    assert factory.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    (delivered,) = standin.drain_dispatch()
    assert delivered["detail"]["configRuleName"] == ORG_RULE


def run_fix(event: dict) -> list[dict]:
    handler = remediation_module(FIX).lambda_handler
    return handler(event, lambda_context(f"configguard-{FIX}"))["results"]


def fix_short_retention(factory, logs, account: str) -> tuple[dict, list[str]]:
    """Give GROUP 7-day retention through `logs`, run the fix for it, and return the audit
    record with the STS calls the central factory made meanwhile."""
    logs.create_log_group(logGroupName=GROUP)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    counter = CallCounter(factory.client("sts"))
    try:
        (record,) = run_fix(compliance_change(account, GROUP))
    finally:
        counter.close()
    return record, list(counter.calls)


def test_member_resource_is_fixed_with_the_member_role_and_audited_centrally(
    standin, factory, member, central_mode
):
    record, sts_calls = fix_short_retention(factory, member.client("logs"), MEMBER)
    assert (record["outcome"], record["account_id"]) == ("applied", MEMBER)
    assert record["rule"] == RULE  # the member's copy maps back to the registry rule
    assert record["resource_arn"].startswith(f"arn:aws:logs:{REGION}:{MEMBER}:")
    assert sts_calls.count("AssumeRole") == 1
    assert retention(member, GROUP) == 365
    (stored,) = list_records(factory, resource_id=GROUP)  # the central audit table
    assert stored["account_id"] == MEMBER and stored["audit_id"] == record["audit_id"]


def test_central_account_resource_uses_the_own_role(standin, factory, central_mode):
    record, sts_calls = fix_short_retention(factory, factory.client("logs"), CENTRAL)
    assert (record["outcome"], record["account_id"]) == ("applied", CENTRAL)
    assert "AssumeRole" not in sts_calls
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


def test_api_logging_uses_the_member_logging_role_in_central_mode(monkeypatch):
    """enable-api-logging sets a member's own API Gateway role (org/member-roles.yaml)."""
    logging_role = remediation_module("enable-api-logging").logging_role
    own = f"arn:aws:iam::{CENTRAL}:role/configguard-apigateway-cloudwatch"
    monkeypatch.setenv(settings.API_CLOUDWATCH_ROLE_ARN, own)
    monkeypatch.delenv(settings.REMEDIATION_ROLE_NAME, raising=False)
    assert logging_role(MEMBER) == own  # single-account mode: the stack's role
    monkeypatch.setenv(settings.REMEDIATION_ROLE_NAME, REMEDIATION_ROLE)
    assert logging_role(CENTRAL) == own
    assert logging_role(MEMBER) == (
        f"arn:aws:iam::{MEMBER}:role/{REMEDIATION_ROLE}-apigateway-logs"
    )
    org = (ROOT / "org" / "member-roles.yaml").read_text()
    assert "RoleName: !Sub ${RemediationRoleName}-apigateway-logs" in org


def test_custom_action_on_a_member_finding_fixes_it_in_the_member(
    standin, factory, member, monkeypatch
):
    """Security Hub aggregates members' findings centrally; the router sends them to the
    fix, which (deployed in central mode) assumes the member's role."""
    from configguard_cli.handlers import router_module
    from configguard_cli.local import hubfeed, lambdaservice

    member.client("logs").create_log_group(logGroupName=GROUP)
    member.client("logs").put_retention_policy(logGroupName=GROUP, retentionInDays=7)
    central = {
        settings.REMEDIATION_ROLE_NAME: REMEDIATION_ROLE,
        settings.ACCOUNT_ALLOWLIST: f"{CENTRAL},{MEMBER}",
    }
    awslambda = factory.client("lambda")
    name = f"configguard-{FIX}"
    variables = awslambda.get_function_configuration(FunctionName=name)["Environment"]
    awslambda.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**variables["Variables"], **central}}
    )
    factory.client("ssm").put_parameter(
        Name=f"/configguard/remediations/{FIX}/mode", Value="apply", Type="String"
    )
    finding = hubfeed.config_finding(RULE, "AWS::Logs::LogGroup", GROUP, MEMBER, REGION)
    hubfeed.import_findings(factory, [finding])
    (held,) = hubfeed.get_findings(factory, [finding["Id"]])
    event = hubfeed.custom_action_event(
        standin.resources.action_target_arn, [held], CENTRAL, REGION
    )
    router = router_module().lambda_handler
    monkeypatch.delenv(settings.REMEDIATION_ROLE_NAME, raising=False)
    single = router(event, lambda_context("configguard-securityhub-router"))
    assert single["started"] == [] and "run the fix there" in single["unrouted"][0]["reason"]

    monkeypatch.setenv(settings.REMEDIATION_ROLE_NAME, REMEDIATION_ROLE)
    summary = router(event, lambda_context("configguard-securityhub-router"))
    assert [s["resource_id"] for s in summary["started"]] == [GROUP]
    (run,) = lambdaservice.run_queued(standin)
    assert run.error is None
    (record,) = run.result["results"]
    assert (record["outcome"], record["account_id"]) == ("applied", MEMBER)
    assert retention(member, GROUP) == 365
    (now,) = hubfeed.get_findings(factory, [finding["Id"]])
    assert now["Workflow"]["Status"] == "RESOLVED"
