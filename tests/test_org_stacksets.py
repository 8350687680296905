"""org/member-roles.yaml as a SERVICE_MANAGED StackSet, deployed to an OU in the stand-in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from configguard.clients import ClientFactory
from configguard_cli.local.standin import StandIn

ROOT = Path(__file__).resolve().parents[1]
MEMBER_ROLES = ROOT / "org" / "member-roles.yaml"
REGIONS = ["us-east-1", "eu-west-1"]
STACK_SET = "configguard-member-roles"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


@dataclass
class Org:
    org_id: str
    ou_id: str
    members: list[str]
    outsider: str


@pytest.fixture
def org(factory: ClientFactory) -> Org:
    """An organization managed by the stand-in's account: two members in a workloads OU."""
    orgs = factory.client("organizations")
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]
    members = []
    for name in ("app-a", "app-b", "sandbox"):
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")
        members.append(status["CreateAccountStatus"]["AccountId"])
    for account in members[:2]:
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou["Id"])
    return Org(org_id=org_id, ou_id=ou["Id"], members=members[:2], outsider=members[2])


def _create_stack_set(factory: ClientFactory, org: Org, central: str) -> str:
    cfn = factory.client("cloudformation")
    return str(
        cfn.create_stack_set(
            StackSetName=STACK_SET,
            TemplateBody=MEMBER_ROLES.read_text(),
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
            Capabilities=CAPABILITIES,
            Parameters=[
                {"ParameterKey": "CentralAccountId", "ParameterValue": central},
                {"ParameterKey": "OrganizationId", "ParameterValue": org.org_id},
            ],
        )["StackSetId"]
    )


def _member(factory: ClientFactory, account: str) -> ClientFactory:
    """Credentials in a member account (the stand-in keys accounts by assumed role)."""
    return factory.assume(f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")


def test_stack_set_deploys_the_member_roles_to_every_account_of_the_ou(
    standin: StandIn, factory: ClientFactory, org: Org
) -> None:
    central = standin.account_id
    cfn = factory.client("cloudformation")
    stack_set_id = _create_stack_set(factory, org, central)
    described = cfn.describe_stack_set(StackSetName=STACK_SET)["StackSet"]
    assert described["StackSetId"] == stack_set_id
    assert described["PermissionModel"] == "SERVICE_MANAGED"
    # moto 5.2.5 accepts but does not store Capabilities and AutoDeployment, so they are
    # not read back here.

    operation = cfn.create_stack_instances(
        StackSetName=STACK_SET,
        DeploymentTargets={"OrganizationalUnitIds": [org.ou_id]},
        Regions=REGIONS,
        OperationPreferences={"RegionConcurrencyType": "PARALLEL", "FailureToleranceCount": 0},
    )["OperationId"]
    result = cfn.describe_stack_set_operation(StackSetName=STACK_SET, OperationId=operation)
    assert result["StackSetOperation"]["Status"] == "SUCCEEDED"

    summaries = cfn.list_stack_instances(StackSetName=STACK_SET)["Summaries"]
    deployed = {(s["Account"], s["Region"]) for s in summaries}
    # The OU's accounts in both Regions; neither the management account nor the
    # account outside the OU.
    assert deployed == {(a, r) for a in org.members for r in REGIONS}
    for account in org.members:
        instance = cfn.describe_stack_instance(
            StackSetName=STACK_SET, StackInstanceAccount=account, StackInstanceRegion=REGIONS[1]
        )["StackInstance"]
        assert instance["Status"] == "CURRENT"

    # The stacks really exist in the members: their roles carry the generated trust. IAM
    # is global, so only the RolesRegion instance creates them (a second instance making
    # the same fixed-name roles would fail, in AWS as here).
    for account in org.members:
        iam = _member(factory, account).client("iam")
        role = iam.get_role(RoleName="configguard-evaluation")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/configguard-evaluation"
        document = role["AssumeRolePolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        (trust,) = document["Statement"]
        assert trust["Principal"]["AWS"] == f"arn:aws:iam::{central}:root"
        assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": org.org_id}
        iam.get_role(RoleName="configguard-remediation")
        iam.get_role(RoleName="configguard-remediation-apigateway-logs")
        # Every Region forwards compliance changes.
        for region in REGIONS:
            rules = _member(factory, account).client("events", region=region).list_rules()
            assert "configguard-forward-compliance" in {r["Name"] for r in rules["Rules"]}
    outsider = _member(factory, org.outsider).client("iam")
    with pytest.raises(outsider.exceptions.NoSuchEntityException):
        outsider.get_role(RoleName="configguard-evaluation")


def test_member_forwards_noncompliant_results_to_the_central_bus(
    standin: StandIn, factory: ClientFactory, org: Org
) -> None:
    central = standin.account_id
    cfn = factory.client("cloudformation")
    _create_stack_set(factory, org, central)
    cfn.create_stack_instances(
        StackSetName=STACK_SET,
        DeploymentTargets={"OrganizationalUnitIds": [org.ou_id]},
        Regions=[standin.region],
    )
    # The central account catches what reaches its default bus in a queue.
    sqs = factory.client("sqs")
    queue_url = sqs.create_queue(QueueName="central-compliance")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = factory.client("events")
    events.put_rule(Name="catch-all-config", EventPattern=json.dumps({"source": ["aws.config"]}))
    events.put_targets(Rule="catch-all-config", Targets=[{"Id": "q", "Arn": queue_arn}])

    member = _member(factory, org.members[0]).client("events")

    def compliance_change(rule: str, compliance: str) -> dict[str, str]:
        detail = {
            "resourceId": "orders-api",
            "awsRegion": standin.region,
            "awsAccountId": org.members[0],
            "configRuleName": f"OrgConfigRule-configguard-{rule}-a1b2c3d4",
            "messageType": "ComplianceChangeNotification",
            "resourceType": "AWS::Lambda::Function",
            "newEvaluationResult": {"complianceType": compliance},
        }
        return {
            "Source": "aws.config",
            "DetailType": "Config Rules Compliance Change",
            "Detail": json.dumps(detail),
        }

    member.put_events(
        Entries=[
            compliance_change("lambda-reserved-concurrency", "NON_COMPLIANT"),
            compliance_change("lambda-reserved-concurrency", "COMPLIANT"),
            # A configguard rule without a fix: nothing to do centrally.
            compliance_change("lambda-tracing-active", "NON_COMPLIANT"),
        ]
    )
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    # Only the NON_COMPLIANT result of a rule with a fix crossed to the central bus.
    seen = [(b["detail"]["awsAccountId"], b["detail"]["newEvaluationResult"]) for b in bodies]
    assert seen == [(org.members[0], {"complianceType": "NON_COMPLIANT"})]
    assert bodies[0]["detail"]["configRuleName"].startswith(
        "OrgConfigRule-configguard-lambda-reserved-concurrency-"
    )
