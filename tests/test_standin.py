"""The local stand-in: start, provision, environment, dispatch, reset and stop."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from configguard import registry, settings
from configguard_cli.local.standin import StackResources, StandIn, StandInError

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with StandIn() as running:
        yield running


@pytest.fixture
def resources(standin: StandIn) -> StackResources:
    """A freshly reset and provisioned stand-in for each test."""
    return standin.reset()


def _evaluate(standin: StandIn, rule_name: str, resource_id: str, compliance: str) -> None:
    token = standin.issue_result_token(rule_name)
    spec = registry.rule(rule_name)
    standin.client("config").put_evaluations(
        Evaluations=[
            {
                "ComplianceResourceType": spec.resource_types[0],
                "ComplianceResourceId": resource_id,
                "ComplianceType": compliance,
                "OrderingTimestamp": datetime.now(UTC),
            }
        ],
        ResultToken=token,
    )


def test_starts_on_loopback(standin: StandIn) -> None:
    assert standin.running
    assert standin.url == f"http://127.0.0.1:{standin.port}"
    identity = standin.client("sts").get_caller_identity()
    assert identity["Account"] == standin.account_id


def test_provision_creates_every_resource(standin: StandIn, resources: StackResources) -> None:
    dynamodb = standin.client("dynamodb")
    audit = dynamodb.describe_table(TableName=resources.audit_table)["Table"]
    assert resources.audit_table == "configguard-audit"
    assert audit["KeySchema"] == [{"AttributeName": "AuditId", "KeyType": "HASH"}]
    assert audit["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [index] = audit["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "ByResource"
    assert index["KeySchema"] == [
        {"AttributeName": "ResourceId", "KeyType": "HASH"},
        {"AttributeName": "Time", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "ALL"
    types = {a["AttributeName"]: a["AttributeType"] for a in audit["AttributeDefinitions"]}
    assert types == {"AuditId": "S", "ResourceId": "S", "Time": "S"}

    idempotency = dynamodb.describe_table(TableName=resources.idempotency_table)["Table"]
    assert resources.idempotency_table == "configguard-idempotency"
    assert idempotency["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName=resources.idempotency_table)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiration",
    }

    assert resources.topic_arn.endswith(":configguard-oncall")
    standin.client("sns").get_topic_attributes(TopicArn=resources.topic_arn)
    assert resources.topic_arn == standin.topic_arn()

    parameter = standin.client("ssm").get_parameter(Name=resources.kill_switch_parameter)
    assert resources.kill_switch_parameter == "/configguard/kill-switch"
    assert parameter["Parameter"]["Type"] == "String"
    assert parameter["Parameter"]["Value"] == "off"

    kms = standin.client("kms")
    key = kms.describe_key(KeyId="alias/configguard")["KeyMetadata"]
    assert key["Arn"] == resources.key_arn
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert kms.get_key_rotation_status(KeyId=resources.key_arn)["KeyRotationEnabled"] is True

    wafv2 = standin.client("wafv2")
    name, acl_id = resources.web_acl_arn.rsplit("/", 2)[-2:]
    acl = wafv2.get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)["WebACL"]
    assert acl["Name"] == "configguard-default"
    assert "Allow" in acl["DefaultAction"]
    assert acl["VisibilityConfig"]["MetricName"]

    config_rules = {
        rule["ConfigRuleName"]: rule
        for rule in standin.client("config").describe_config_rules()["ConfigRules"]
    }
    assert set(config_rules) == set(registry.RULES)
    for spec in registry.RULES.values():
        rule = config_rules[spec.name]
        assert rule["Source"]["Owner"] == "CUSTOM_LAMBDA"
        function = standin.client("lambda").get_function(FunctionName=f"configguard-{spec.name}")
        assert rule["Source"]["SourceIdentifier"] == function["Configuration"]["FunctionArn"]
        if spec.trigger is registry.Trigger.CHANGE:
            assert rule["Scope"]["ComplianceResourceTypes"] == list(spec.resource_types)
        else:
            assert rule["Source"]["SourceDetails"][0]["MessageType"] == "ScheduledNotification"

    sqs = standin.client("sqs")
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=resources.dispatch_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert queue_arn.endswith(":configguard-local-dispatch")
    events = standin.client("events")
    for remediation in registry.REMEDIATIONS.values():
        name = f"configguard-{remediation.name}"
        event_rule = events.describe_rule(Name=name)
        pattern = registry.compliance_change_pattern(remediation)
        assert json.loads(event_rule["EventPattern"]) == pattern
        targets = events.list_targets_by_rule(Rule=name)["Targets"]
        assert [t["Arn"] for t in targets] == [queue_arn]


def test_provision_is_idempotent(standin: StandIn, resources: StackResources) -> None:
    standin.client("ssm").put_parameter(
        Name=resources.kill_switch_parameter, Value="on", Type="String", Overwrite=True
    )
    again = standin.provision()
    assert again == resources
    parameter = standin.client("ssm").get_parameter(Name=resources.kill_switch_parameter)
    assert parameter["Parameter"]["Value"] == "on"


def test_environ_points_everything_at_the_standin(
    standin: StandIn, resources: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = standin.environ()
    assert env["AWS_ENDPOINT_URL"] == standin.url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == standin.region
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env.get("AWS_SESSION_TOKEN", "testing") == "testing"
    assert env[settings.AUDIT_TABLE] == resources.audit_table
    assert env[settings.IDEMPOTENCY_TABLE] == resources.idempotency_table
    assert env[settings.ONCALL_TOPIC] == resources.topic_arn
    assert env[settings.KILL_SWITCH_PARAMETER] == resources.kill_switch_parameter
    assert env[settings.SETTINGS_PREFIX] == "/configguard"
    assert env[settings.REMEDIATION_MODE] == "apply"
    assert env[settings.OPT_OUT_TAG] == "configguard:auto-remediate"
    assert env[settings.DEFAULT_CONCURRENCY] == "10"
    assert env[settings.UNRESERVED_MARGIN] == "50"
    assert env["POWERTOOLS_SERVICE_NAME"] == env["POWERTOOLS_METRICS_NAMESPACE"] == "configguard"
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["POWERTOOLS_PARAMETERS_MAX_AGE"] == "0"
    assert all(isinstance(value, str) for value in env.values())

    # A plain boto3 client configured only by these variables reaches the stand-in.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    ssm = boto3.session.Session().client("ssm")
    value = ssm.get_parameter(Name=env[settings.KILL_SWITCH_PARAMETER])["Parameter"]["Value"]
    assert value == "off"


def test_drain_dispatch_receives_noncompliant_changes(
    standin: StandIn, resources: StackResources
) -> None:
    assert standin.drain_dispatch() == []
    rule_name = next(iter(registry.RULES))
    _evaluate(standin, rule_name, "fn-compliant", "COMPLIANT")
    assert standin.drain_dispatch() == []

    _evaluate(standin, rule_name, "fn-open", "NON_COMPLIANT")
    [event] = standin.drain_dispatch()
    assert event["source"] == "aws.config"
    assert event["detail-type"] == "Config Rules Compliance Change"
    assert event["account"] == standin.account_id
    assert event["detail"]["configRuleName"] == rule_name
    assert event["detail"]["resourceId"] == "fn-open"
    assert event["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"
    assert standin.drain_dispatch() == []


def test_drain_dispatch_respects_max_messages(standin: StandIn, resources: StackResources) -> None:
    rule_name = next(iter(registry.RULES))
    for index in range(12):
        _evaluate(standin, rule_name, f"fn-{index}", "NON_COMPLIANT")
    assert len(standin.drain_dispatch(max_messages=5)) == 5
    assert len(standin.drain_dispatch()) == 7


def test_issue_result_token_needs_a_rule(standin: StandIn, resources: StackResources) -> None:
    with pytest.raises(LookupError):
        standin.issue_result_token("not-a-configguard-rule")


def test_reset_reprovisions(standin: StandIn, resources: StackResources) -> None:
    ssm = standin.client("ssm")
    ssm.put_parameter(Name=resources.kill_switch_parameter, Value="on", Overwrite=True)
    ssm.put_parameter(Name="/configguard/extra", Value="x", Type="String")
    _evaluate(standin, next(iter(registry.RULES)), "fn-1", "NON_COMPLIANT")

    fresh = standin.reset()

    assert ssm.get_parameter(Name=fresh.kill_switch_parameter)["Parameter"]["Value"] == "off"
    with pytest.raises(ClientError):
        ssm.get_parameter(Name="/configguard/extra")
    assert fresh.key_arn != resources.key_arn
    assert standin.drain_dispatch() == []
    details = standin.client("config").get_compliance_details_by_config_rule(
        ConfigRuleName=next(iter(registry.RULES))
    )
    assert details["EvaluationResults"] == []


def test_stop_frees_the_port() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    standin = StandIn(port=port, region="eu-west-1", account_id="210987654321")
    with standin:
        assert standin.url == f"http://127.0.0.1:{port}"
        identity = standin.client("sts").get_caller_identity()
        assert identity["Account"] == "210987654321"
    assert not standin.running
    with pytest.raises(StandInError):
        _ = standin.url

    rebound = socket.socket()
    try:
        rebound.bind(("127.0.0.1", port))
    finally:
        rebound.close()


def test_requests_land_in_the_account_their_credentials_belong_to(standin, monkeypatch):
    """Dummy keys: the stand-in's account. Assumed-role keys: the role's account. The
    lookup creates no IAM backend (moto's own would, for every partition)."""
    from moto.iam.models import iam_backends

    from configguard.clients import ClientFactory

    for key, value in standin.environ().items():
        monkeypatch.setenv(key, value)
    factory = ClientFactory(region=standin.region, endpoint_url=standin.url)
    member = factory.assume("arn:aws:iam::210987654321:role/anything")
    factory.client("sqs").create_queue(QueueName="own-queue")
    member.client("sqs").create_queue(QueueName="member-queue")
    assert factory.client("sts").get_caller_identity()["Account"] == standin.account_id
    assert member.client("sts").get_caller_identity()["Account"] == "210987654321"
    own = {u.rsplit("/", 1)[1] for u in factory.client("sqs").list_queues()["QueueUrls"]}
    theirs = {u.rsplit("/", 1)[1] for u in member.client("sqs").list_queues()["QueueUrls"]}
    assert "own-queue" in own and "member-queue" not in own
    assert theirs == {"member-queue"}
    partitions = {p for account in iam_backends.values() for p in dict.keys(account)}
    assert partitions == {"aws"}


def test_concurrent_conditional_writes_to_one_item_are_atomic(standin):
    """Gap-fill (q): of 24 concurrent "increment while below 5" updates, exactly 5 succeed."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.exceptions import ClientError

    ddb = standin.client("dynamodb")
    ddb.create_table(
        TableName="counter",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def increment(_: int) -> bool:
        try:
            ddb.update_item(
                TableName="counter",
                Key={"pk": {"S": "hour"}},
                UpdateExpression="ADD used :one",
                ConditionExpression="attribute_not_exists(used) OR used < :cap",
                ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": "5"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # The server runs in this process: switching threads as often as possible exposes
    # any check-then-write window, as a loaded machine does now and then.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            ddb.delete_item(TableName="counter", Key={"pk": {"S": "hour"}})
            with ThreadPoolExecutor(max_workers=10) as pool:
                granted = sum(pool.map(increment, range(24)))
            item = ddb.get_item(TableName="counter", Key={"pk": {"S": "hour"}})["Item"]
            assert (granted, item["used"]["N"]) == (5, "5")
    finally:
        sys.setswitchinterval(interval)
