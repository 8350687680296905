"""Each moto gap-fill, exercised over HTTP and read back through the normal API."""

from __future__ import annotations

import http.client
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from configguard_cli.local import gapfills, seed

pytestmark = pytest.mark.server

REGION = "us-east-1"
RESOURCE_TYPE = "AWS::Lambda::Function"

Clients = Callable[..., Any]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    gapfills.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def account_id() -> str:
    """A fresh account per test keeps tests apart without resetting the server."""
    return str(random.randint(10**11, 10**12 - 1))


@pytest.fixture
def aws(server_url: str, account_id: str) -> Clients:
    cache: dict[tuple[str, str], Any] = {}

    def make(service: str, region: str = REGION) -> Any:
        key = (service, region)
        if key not in cache:
            client = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=server_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 1}),
            )

            def header(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account_id

            client.meta.events.register("before-sign", header)
            cache[key] = client
        return cache[key]

    return make


def make_function(aws: Clients, name: str, region: str = REGION) -> str:
    role_arn = seed.ensure_lambda_role(aws("iam"), "fn-role")
    return str(seed.create_function(aws("lambda", region), name, role_arn)["FunctionArn"])


def make_rule(aws: Clients, name: str) -> None:
    function_arn = make_function(aws, f"rule-{name}")
    aws("config").put_config_rule(
        ConfigRule={
            "ConfigRuleName": name,
            "Scope": {"ComplianceResourceTypes": [RESOURCE_TYPE]},
            "Source": {
                "Owner": "CUSTOM_LAMBDA",
                "SourceIdentifier": function_arn,
                "SourceDetails": [
                    {
                        "EventSource": "aws.config",
                        "MessageType": "ConfigurationItemChangeNotification",
                    }
                ],
            },
        }
    )


def evaluation(resource_id: str, compliance: str, annotation: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ComplianceResourceType": RESOURCE_TYPE,
        "ComplianceResourceId": resource_id,
        "ComplianceType": compliance,
        "OrderingTimestamp": datetime.now(UTC),
    }
    if annotation:
        result["Annotation"] = annotation
    return result


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def account_settings(aws: Clients, region: str = REGION) -> dict[str, Any]:
    return dict(aws("lambda", region).get_account_settings())


def subscribe_queue(aws: Clients, pattern: dict[str, Any]) -> str:
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="compliance-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = aws("events")
    events.put_rule(Name="compliance", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="compliance", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return str(queue_url)


def receive_all(aws: Clients, queue_url: str) -> list[dict[str, Any]]:
    sqs = aws("sqs")
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# ------------------------------------------------------------ install


def test_install_is_idempotent() -> None:
    from moto.awslambda import urls

    gapfills.install()
    before = dict(urls.url_paths)
    gapfills.install()
    assert dict(urls.url_paths) == before
    assert sum("account-settings" in path for path in urls.url_paths) == 1


def test_install_works_under_mock_aws() -> None:
    gapfills.install()
    with mock_aws():
        client = boto3.client("lambda", region_name="eu-west-1")
        settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 0


# ------------------------------------------------ (a) Lambda GetAccountSettings


def test_account_settings_follow_reserved_concurrency(aws: Clients) -> None:
    make_function(aws, "alpha")
    make_function(aws, "beta")
    settings = account_settings(aws)
    assert settings["AccountLimit"] == {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": 1000,
    }
    code_sizes = [
        aws("lambda").get_function(FunctionName=name)["Configuration"]["CodeSize"]
        for name in ("alpha", "beta")
    ]
    assert settings["AccountUsage"] == {"TotalCodeSize": sum(code_sizes), "FunctionCount": 2}

    aws("lambda").put_function_concurrency(FunctionName="alpha", ReservedConcurrentExecutions=120)
    aws("lambda").put_function_concurrency(FunctionName="beta", ReservedConcurrentExecutions=30)
    assert account_settings(aws)["AccountLimit"]["UnreservedConcurrentExecutions"] == 850

    aws("lambda").delete_function_concurrency(FunctionName="alpha")
    assert account_settings(aws)["AccountLimit"]["UnreservedConcurrentExecutions"] == 970
    aws("lambda").delete_function_concurrency(FunctionName="beta")
    assert account_settings(aws)["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_quota_helper_sets_limit_and_enforces_floor(aws: Clients, account_id: str) -> None:
    make_function(aws, "gamma")
    gapfills.set_lambda_concurrency_quota(account_id, REGION, 150)
    limit = account_settings(aws)["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 150
    assert limit["UnreservedConcurrentExecutions"] == 150

    with pytest.raises(ClientError) as exc:
        aws("lambda").put_function_concurrency(
            FunctionName="gamma", ReservedConcurrentExecutions=60
        )
    assert error_code(exc) == "InvalidParameterValueException"
    assert aws("lambda").get_function_concurrency(FunctionName="gamma").get(
        "ReservedConcurrentExecutions"
    ) in (None, 0)

    aws("lambda").put_function_concurrency(FunctionName="gamma", ReservedConcurrentExecutions=50)
    assert account_settings(aws)["AccountLimit"]["UnreservedConcurrentExecutions"] == 100
    # Quotas are per account and Region.
    assert account_settings(aws, "us-west-2")["AccountLimit"]["ConcurrentExecutions"] == 1000
    with pytest.raises(ValueError, match="negative"):
        gapfills.set_lambda_concurrency_quota(account_id, REGION, -1)


# ---------------------------------------------------- (b) Config PutEvaluations


def test_result_token_needs_an_existing_rule(account_id: str) -> None:
    with pytest.raises(gapfills.UnknownConfigRuleError, match="no-such-rule"):
        gapfills.issue_result_token(account_id, REGION, "no-such-rule")


def test_unknown_result_token_is_rejected(aws: Clients) -> None:
    make_rule(aws, "rule-a")
    with pytest.raises(ClientError) as exc:
        aws("config").put_evaluations(
            Evaluations=[evaluation("fn-1", "COMPLIANT")], ResultToken="not-issued-by-config"
        )
    assert error_code(exc) == "InvalidResultTokenException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_request_constraints_are_enforced(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    config = aws("config")
    too_many = [evaluation(f"fn-{i}", "COMPLIANT") for i in range(101)]
    cases: list[tuple[list[dict[str, Any]], str]] = [
        (too_many, "ValidationException"),
        ([evaluation("fn-1", "NON_COMPLIANT", "x" * 257)], "ValidationException"),
        ([evaluation("fn-1", "BROKEN")], "ValidationException"),
        ([evaluation("fn-1", "INSUFFICIENT_DATA")], "InvalidParameterValueException"),
        ([], "InvalidParameterValueException"),
    ]
    for evaluations, expected in cases:
        with pytest.raises(ClientError) as exc:
            config.put_evaluations(Evaluations=evaluations, ResultToken=token)
        assert error_code(exc) == expected, evaluations[:1]
    details = config.get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert details["EvaluationResults"] == []

    accepted = config.put_evaluations(
        Evaluations=[evaluation("fn-1", "NON_COMPLIANT", "x" * 256)], ResultToken=token
    )
    assert accepted["FailedEvaluations"] == []


def test_test_mode_records_nothing(aws: Clients) -> None:
    make_rule(aws, "rule-a")
    queue_url = subscribe_queue(aws, {"source": ["aws.config"]})
    response = aws("config").put_evaluations(
        Evaluations=[evaluation("fn-1", "NON_COMPLIANT")], ResultToken="any", TestMode=True
    )
    assert response["FailedEvaluations"] == []
    details = aws("config").get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert details["EvaluationResults"] == []
    assert receive_all(aws, queue_url) == []


def test_compliance_change_emits_one_config_event(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    rule_arn = aws("config").describe_config_rules(ConfigRuleNames=["rule-a"])["ConfigRules"][0][
        "ConfigRuleArn"
    ]
    queue_url = subscribe_queue(
        aws,
        {
            "source": ["aws.config"],
            "detail-type": ["Config Rules Compliance Change"],
            "detail": {"configRuleName": ["rule-a"]},
        },
    )
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    config = aws("config")

    config.put_evaluations(
        Evaluations=[evaluation("fn-1", "NON_COMPLIANT", "no reserved concurrency")],
        ResultToken=token,
    )
    first = receive_all(aws, queue_url)
    assert len(first) == 1
    event = first[0]
    assert event["source"] == "aws.config"
    assert event["detail-type"] == "Config Rules Compliance Change"
    assert event["account"] == account_id
    assert event["region"] == REGION
    assert event["resources"] == []
    detail = event["detail"]
    assert {k: detail[k] for k in detail if k not in ("newEvaluationResult",)} == {
        "resourceId": "fn-1",
        "awsRegion": REGION,
        "awsAccountId": account_id,
        "configRuleName": "rule-a",
        "recordVersion": "1.0",
        "configRuleARN": rule_arn,
        "messageType": "ComplianceChangeNotification",
        "notificationCreationTime": detail["notificationCreationTime"],
        "resourceType": RESOURCE_TYPE,
    }
    new = detail["newEvaluationResult"]
    assert new["evaluationResultIdentifier"]["evaluationResultQualifier"] == {
        "configRuleName": "rule-a",
        "resourceType": RESOURCE_TYPE,
        "resourceId": "fn-1",
        "evaluationMode": "DETECTIVE",
    }
    assert new["complianceType"] == "NON_COMPLIANT"
    assert new["annotation"] == "no reserved concurrency"
    for stamp in (
        detail["notificationCreationTime"],
        new["resultRecordedTime"],
        new["configRuleInvokedTime"],
        new["evaluationResultIdentifier"]["orderingTimestamp"],
    ):
        assert len(stamp) == 24 and stamp.endswith("Z") and stamp[19] == "."
        datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")

    # The same compliance again is no change: no event.
    config.put_evaluations(Evaluations=[evaluation("fn-1", "NON_COMPLIANT")], ResultToken=token)
    assert receive_all(aws, queue_url) == []

    config.put_evaluations(Evaluations=[evaluation("fn-1", "COMPLIANT")], ResultToken=token)
    changed = receive_all(aws, queue_url)
    assert len(changed) == 1
    assert changed[0]["detail"]["newEvaluationResult"]["complianceType"] == "COMPLIANT"
    assert "annotation" not in changed[0]["detail"]["newEvaluationResult"]
    assert changed[0]["detail"]["oldEvaluationResult"]["complianceType"] == "NON_COMPLIANT"


def test_events_follow_rule_patterns(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    make_rule(aws, "rule-b")
    queue_url = subscribe_queue(
        aws,
        {
            "source": ["aws.config"],
            "detail": {
                "configRuleName": ["rule-a"],
                "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]},
            },
        },
    )
    token_a = gapfills.issue_result_token(account_id, REGION, "rule-a")
    token_b = gapfills.issue_result_token(account_id, REGION, "rule-b")
    config = aws("config")
    config.put_evaluations(
        Evaluations=[evaluation("fn-1", "COMPLIANT"), evaluation("fn-2", "NON_COMPLIANT")],
        ResultToken=token_a,
    )
    config.put_evaluations(Evaluations=[evaluation("fn-3", "NON_COMPLIANT")], ResultToken=token_b)
    received = receive_all(aws, queue_url)
    assert [e["detail"]["resourceId"] for e in received] == ["fn-2"]


# -------------------------------------------- (c) Config compliance read operations


def test_results_are_paged_and_filtered(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    config = aws("config")
    kinds = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE")
    all_evaluations = [evaluation(f"fn-{i:03d}", kinds[i % 3]) for i in range(150)]
    before = datetime.now(UTC) - timedelta(seconds=1)
    config.put_evaluations(Evaluations=all_evaluations[:100], ResultToken=token)
    config.put_evaluations(Evaluations=all_evaluations[100:], ResultToken=token)

    first = config.get_compliance_details_by_config_rule(ConfigRuleName="rule-a", Limit=100)
    assert len(first["EvaluationResults"]) == 100
    second = config.get_compliance_details_by_config_rule(
        ConfigRuleName="rule-a", Limit=100, NextToken=first["NextToken"]
    )
    assert len(second["EvaluationResults"]) == 50
    assert "NextToken" not in second
    ids = [
        r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"]
        for r in first["EvaluationResults"] + second["EvaluationResults"]
    ]
    assert sorted(ids) == sorted(f"fn-{i:03d}" for i in range(150))

    result = first["EvaluationResults"][0]
    assert set(result) == {
        "EvaluationResultIdentifier",
        "ComplianceType",
        "ResultRecordedTime",
        "ConfigRuleInvokedTime",
    }
    assert result["EvaluationResultIdentifier"]["EvaluationResultQualifier"] == {
        "ConfigRuleName": "rule-a",
        "ResourceType": RESOURCE_TYPE,
        "ResourceId": "fn-000",
        "EvaluationMode": "DETECTIVE",
    }
    assert before <= result["ConfigRuleInvokedTime"] <= result["ResultRecordedTime"]
    assert isinstance(result["EvaluationResultIdentifier"]["OrderingTimestamp"], datetime)

    default_page = config.get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert len(default_page["EvaluationResults"]) == 10
    assert "NextToken" in default_page

    paginator = config.get_paginator("get_compliance_details_by_config_rule")
    non_compliant = [
        r
        for page in paginator.paginate(
            ConfigRuleName="rule-a", ComplianceTypes=["NON_COMPLIANT"], Limit=20
        )
        for r in page["EvaluationResults"]
    ]
    assert len(non_compliant) == 50
    assert {r["ComplianceType"] for r in non_compliant} == {"NON_COMPLIANT"}
    both = config.get_compliance_details_by_config_rule(
        ConfigRuleName="rule-a", ComplianceTypes=["COMPLIANT", "NOT_APPLICABLE"], Limit=100
    )
    assert len(both["EvaluationResults"]) == 100

    for bad, code in (
        ({"Limit": 101}, "ValidationException"),
        ({"NextToken": "garbage"}, "InvalidNextTokenException"),
        ({"ConfigRuleName": "nope"}, "NoSuchConfigRuleException"),
    ):
        with pytest.raises(ClientError) as exc:
            config.get_compliance_details_by_config_rule(**{"ConfigRuleName": "rule-a", **bad})
        assert error_code(exc) == code


def test_describe_compliance_by_config_rule(aws: Clients, account_id: str) -> None:
    for name in ("noncompliant", "compliant", "unevaluated", "not-applicable"):
        make_rule(aws, name)
    config = aws("config")

    def put(rule: str, evaluations: list[dict[str, Any]]) -> None:
        token = gapfills.issue_result_token(account_id, REGION, rule)
        config.put_evaluations(Evaluations=evaluations, ResultToken=token)

    put(
        "noncompliant",
        [evaluation(f"fn-{i}", "NON_COMPLIANT") for i in range(3)]
        + [evaluation("fn-9", "COMPLIANT")],
    )
    put("compliant", [evaluation("fn-1", "COMPLIANT"), evaluation("fn-2", "NOT_APPLICABLE")])
    put("not-applicable", [evaluation("fn-1", "NOT_APPLICABLE")])

    described = {
        rule["ConfigRuleName"]: rule["Compliance"]
        for rule in config.describe_compliance_by_config_rule()["ComplianceByConfigRules"]
    }
    assert described == {
        "noncompliant": {
            "ComplianceType": "NON_COMPLIANT",
            "ComplianceContributorCount": {"CappedCount": 3, "CapExceeded": False},
        },
        "compliant": {"ComplianceType": "COMPLIANT"},
        "unevaluated": {"ComplianceType": "INSUFFICIENT_DATA"},
        "not-applicable": {"ComplianceType": "INSUFFICIENT_DATA"},
    }
    filtered = config.describe_compliance_by_config_rule(ComplianceTypes=["COMPLIANT"])
    assert [r["ConfigRuleName"] for r in filtered["ComplianceByConfigRules"]] == ["compliant"]
    named = config.describe_compliance_by_config_rule(ConfigRuleNames=["unevaluated"])
    assert [r["ConfigRuleName"] for r in named["ComplianceByConfigRules"]] == ["unevaluated"]
    with pytest.raises(ClientError) as exc:
        config.describe_compliance_by_config_rule(ConfigRuleNames=["nope"])
    assert error_code(exc) == "NoSuchConfigRuleException"


def test_contributor_count_is_capped(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    config = aws("config")
    for start in (0, 100):
        config.put_evaluations(
            Evaluations=[evaluation(f"fn-{i}", "NON_COMPLIANT") for i in range(start, start + 100)],
            ResultToken=token,
        )
    compliance = config.describe_compliance_by_config_rule(ConfigRuleNames=["rule-a"])[
        "ComplianceByConfigRules"
    ][0]["Compliance"]
    assert compliance["ComplianceContributorCount"] == {"CappedCount": 100, "CapExceeded": True}


def test_deleting_a_rule_drops_its_results(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    config = aws("config")
    config.put_evaluations(Evaluations=[evaluation("fn-1", "NON_COMPLIANT")], ResultToken=token)
    config.delete_config_rule(ConfigRuleName="rule-a")
    make_rule_again = aws("config").put_config_rule
    function_arn = aws("lambda").get_function(FunctionName="rule-rule-a")["Configuration"][
        "FunctionArn"
    ]
    make_rule_again(
        ConfigRule={
            "ConfigRuleName": "rule-a",
            "Source": {
                "Owner": "CUSTOM_LAMBDA",
                "SourceIdentifier": function_arn,
                "SourceDetails": [
                    {"EventSource": "aws.config", "MessageType": "ScheduledNotification"}
                ],
            },
        }
    )
    details = config.get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert details["EvaluationResults"] == []
    with pytest.raises(ClientError) as exc:
        config.put_evaluations(Evaluations=[evaluation("fn-1", "COMPLIANT")], ResultToken=token)
    assert error_code(exc) == "InvalidResultTokenException"


# -------------------------------------------------------------------- reset


def test_reset_state_forgets_gapfill_state(aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    gapfills.set_lambda_concurrency_quota(account_id, REGION, 500)
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    aws("config").put_evaluations(
        Evaluations=[evaluation("fn-1", "NON_COMPLIANT")], ResultToken=token
    )

    gapfills.reset_state()

    assert account_settings(aws)["AccountLimit"]["ConcurrentExecutions"] == 1000
    details = aws("config").get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert details["EvaluationResults"] == []
    with pytest.raises(ClientError) as exc:
        aws("config").put_evaluations(
            Evaluations=[evaluation("fn-1", "COMPLIANT")], ResultToken=token
        )
    assert error_code(exc) == "InvalidResultTokenException"


def test_moto_reset_clears_gapfill_state(server_url: str, aws: Clients, account_id: str) -> None:
    make_rule(aws, "rule-a")
    gapfills.set_lambda_concurrency_quota(account_id, REGION, 500)
    token = gapfills.issue_result_token(account_id, REGION, "rule-a")
    aws("config").put_evaluations(
        Evaluations=[evaluation("fn-1", "NON_COMPLIANT")], ResultToken=token
    )

    host_port = server_url.removeprefix("http://")
    connection = http.client.HTTPConnection(host_port, timeout=30)
    connection.request("POST", "/moto-api/reset")
    assert connection.getresponse().status == 200
    connection.close()

    assert account_settings(aws)["AccountLimit"]["ConcurrentExecutions"] == 1000
    make_rule(aws, "rule-a")
    details = aws("config").get_compliance_details_by_config_rule(ConfigRuleName="rule-a")
    assert details["EvaluationResults"] == []
    with pytest.raises(ClientError) as exc:
        aws("config").put_evaluations(
            Evaluations=[evaluation("fn-1", "COMPLIANT")], ResultToken=token
        )
    assert error_code(exc) == "InvalidResultTokenException"


# ------------------------------- (c) Lambda function configuration fields moto drops


def lambda_with(aws: Clients, name: str, **settings: Any) -> Any:
    role_arn = seed.ensure_lambda_role(aws("iam"), "fn-role")
    seed.create_function(aws("lambda"), name, role_arn, **settings)
    return aws("lambda")


def dlq_arn(aws: Clients, account_id: str, name: str = "fn-dlq") -> str:
    aws("sqs").create_queue(QueueName=name)
    return f"arn:aws:sqs:{REGION}:{account_id}:{name}"


def test_create_function_keeps_dead_letter_config(aws: Clients, account_id: str) -> None:
    target = dlq_arn(aws, account_id)
    lam = lambda_with(aws, "fn", DeadLetterConfig={"TargetArn": target})
    assert lam.get_function_configuration(FunctionName="fn")["DeadLetterConfig"] == {
        "TargetArn": target
    }
    assert lam.get_function(FunctionName="fn")["Configuration"]["DeadLetterConfig"] == {
        "TargetArn": target
    }
    lambda_with(aws, "plain")
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName="plain")


def test_update_dead_letter_config_sets_and_empty_target_removes(
    aws: Clients, account_id: str
) -> None:
    target = dlq_arn(aws, account_id)
    lam = lambda_with(aws, "fn")
    lam.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": target})
    assert lam.get_function_configuration(FunctionName="fn")["DeadLetterConfig"] == {
        "TargetArn": target
    }
    lam.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": ""})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName="fn")


def test_update_tracing_config(aws: Clients) -> None:
    lam = lambda_with(aws, "fn")
    assert lam.get_function_configuration(FunctionName="fn")["TracingConfig"] == {
        "Mode": "PassThrough"
    }
    lam.update_function_configuration(FunctionName="fn", TracingConfig={"Mode": "Active"})
    assert lam.get_function_configuration(FunctionName="fn")["TracingConfig"] == {"Mode": "Active"}
    lam.update_function_configuration(FunctionName="fn", TracingConfig={"Mode": "PassThrough"})
    assert lam.get_function_configuration(FunctionName="fn")["TracingConfig"] == {
        "Mode": "PassThrough"
    }


def test_update_kms_key_and_empty_value_reverts(aws: Clients) -> None:
    key = aws("kms").create_key()["KeyMetadata"]["Arn"]
    lam = lambda_with(aws, "fn", Environment={"Variables": {"STAGE": "test"}})
    assert "KMSKeyArn" not in lam.get_function_configuration(FunctionName="fn")
    lam.update_function_configuration(FunctionName="fn", KMSKeyArn=key)
    assert lam.get_function_configuration(FunctionName="fn")["KMSKeyArn"] == key
    lam.update_function_configuration(FunctionName="fn", KMSKeyArn="")
    assert "KMSKeyArn" not in lam.get_function_configuration(FunctionName="fn")


# ---------------------------------------- (d) Lambda AddPermission FunctionUrlAuthType


def function_statements(lam: Any, name: str) -> dict[str, dict[str, Any]]:
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_add_permission_function_url_auth_type_becomes_a_condition(aws: Clients) -> None:
    lam = lambda_with(aws, "fn")
    lam.add_permission(
        FunctionName="fn",
        StatementId="public-url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName="fn",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
    )
    statements = function_statements(lam, "fn")
    assert statements["public-url"]["Condition"]["StringEquals"] == {
        "lambda:FunctionUrlAuthType": "NONE"
    }
    assert "lambda:FunctionUrlAuthType" not in json.dumps(statements["events"])


# ------------------------------------- (e) Lambda PutFunctionEventInvokeConfig replaces


def test_put_event_invoke_config_replaces_the_previous_one(aws: Clients) -> None:
    lam = lambda_with(aws, "fn")
    queue = "arn:aws:sqs:us-east-1:123456789012:failures"
    lam.put_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={"OnFailure": {"Destination": queue}}
    )
    lam.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    current = lam.get_function_event_invoke_config(FunctionName="fn")
    assert current["MaximumRetryAttempts"] == 0
    assert not current.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    listed = lam.list_function_event_invoke_configs(FunctionName="fn")
    assert len(listed["FunctionEventInvokeConfigs"]) == 1


# ------------------------------- (f) API Gateway method-setting defaults, as AWS sets them


def deployed_rest_api(aws: Clients, stage: str = "prod") -> tuple[Any, str]:
    gateway = aws("apigateway")
    api_id = gateway.create_rest_api(name="orders")["id"]
    root = gateway.get_resources(restApiId=api_id)["items"][0]["id"]
    gateway.put_method(
        restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    gateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    gateway.create_deployment(restApiId=api_id, stageName=stage)
    return gateway, str(api_id)


def test_new_method_setting_starts_from_aws_defaults(aws: Clients) -> None:
    gateway, api_id = deployed_rest_api(aws)
    gateway.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "ERROR"}],
    )
    setting = gateway.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]
    assert setting["loggingLevel"] == "ERROR"
    assert setting["cacheDataEncrypted"] is False
    assert setting["cachingEnabled"] is False
    assert setting["throttlingRateLimit"] == 10000.0
    assert setting["throttlingBurstLimit"] == 5000


def test_explicit_cache_encryption_is_kept(aws: Clients) -> None:
    gateway, api_id = deployed_rest_api(aws)
    gateway.update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
            {"op": "replace", "path": "/*/*/caching/dataEncrypted", "value": "true"},
        ],
    )
    setting = gateway.get_stage(restApiId=api_id, stageName="prod")["methodSettings"]["*/*"]
    assert setting["cachingEnabled"] is True
    assert setting["cacheDataEncrypted"] is True
    assert setting["throttlingBurstLimit"] == 5000  # the fields not set keep AWS's defaults


# --------------------------------------- (g) API Gateway CreateDomainName mutual TLS


def test_create_domain_name_keeps_mutual_tls(aws: Clients) -> None:
    gateway = aws("apigateway")
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    created = gateway.create_domain_name(
        domainName="mtls.example.com",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        securityPolicy="TLS_1_2",
        mutualTlsAuthentication={"truststoreUri": "s3://truststores/clients.pem"},
    )
    gateway.create_domain_name(
        domainName="plain.example.com",
        regionalCertificateArn=certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
        securityPolicy="TLS_1_2",
    )
    assert created["mutualTlsAuthentication"]["truststoreUri"] == "s3://truststores/clients.pem"
    mtls = gateway.get_domain_name(domainName="mtls.example.com")["mutualTlsAuthentication"]
    assert mtls["truststoreUri"] == "s3://truststores/clients.pem"
    assert mtls["truststoreVersion"]
    listed = {d["domainName"]: d for d in gateway.get_domain_names()["items"]}
    assert listed["mtls.example.com"]["mutualTlsAuthentication"]["truststoreUri"] == (
        "s3://truststores/clients.pem"
    )
    assert "mutualTlsAuthentication" not in listed["plain.example.com"]
    plain = gateway.get_domain_name(domainName="plain.example.com")
    assert "mutualTlsAuthentication" not in plain


def test_base_path_mappings_of_an_unmapped_domain_are_empty(aws: Clients) -> None:
    ag = aws("apigateway")
    ag.create_domain_name(
        domainName="unmapped.example.com",
        regionalCertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/c",
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    assert ag.get_base_path_mappings(domainName="unmapped.example.com").get("items", []) == []
    with pytest.raises(ClientError, match="NotFound"):
        ag.get_base_path_mappings(domainName="missing.example.com")
