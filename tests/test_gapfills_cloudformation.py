"""Gap-fill (r): resources a CloudFormation stack creates carry every property, stored
the way the service stores it (KMS key policy and IAM inline policies as JSON text; log
group KMS key; Lambda KMS key, tracing, DLQ, layers, architectures and tags)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from configguard_cli.local.seed import LAMBDA_TRUST_POLICY

INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def _stack(factory: Any, name: str, resources: dict[str, Any]) -> dict[str, str]:
    cloudformation = factory.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps({"Resources": resources}),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def test_key_policy_object_is_stored_as_json_text(factory):
    ids = _stack(
        factory, "key", {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": KEY_POLICY}}}
    )
    kms = factory.client("kms")
    assert kms.describe_key(KeyId=ids["Key"])["KeyMetadata"]["KeyState"] == "Enabled"
    policy = kms.get_key_policy(KeyId=ids["Key"], PolicyName="default")["Policy"]
    assert json.loads(policy) == KEY_POLICY


def test_role_inline_policy_object_is_stored_as_json_text(factory):
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": "cfn-role",
            "AssumeRolePolicyDocument": LAMBDA_TRUST_POLICY,
            "Policies": [{"PolicyName": "logs", "PolicyDocument": INLINE}],
        },
    }
    _stack(factory, "role", {"Role": role})
    found = factory.client("iam").get_role_policy(RoleName="cfn-role", PolicyName="logs")
    assert found["PolicyDocument"] == INLINE  # boto3 decodes IAM's URL-encoded JSON


def test_log_group_kms_key_is_kept(factory):
    key = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    group = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": "/cfn/group", "KmsKeyId": key, "RetentionInDays": 30},
    }
    _stack(factory, "group", {"Group": group})
    [found] = factory.client("logs").describe_log_groups(logGroupNamePrefix="/cfn/group")[
        "logGroups"
    ]
    assert (found.get("kmsKeyId"), found.get("retentionInDays")) == (key, 30)


def test_function_keeps_key_tracing_dlq_layers_architectures_and_tags(factory):
    key = factory.client("kms").create_key()["KeyMetadata"]["Arn"]
    queue = factory.client("sqs").create_queue(QueueName="cfn-dlq")["QueueUrl"]
    dlq = factory.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    code = {"ZipFile": "def handler(event, context):\n    return event\n"}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("python/helper.py", "VALUE = 1\n")
    factory.client("s3").create_bucket(Bucket="cfn-layer-code")
    factory.client("s3").put_object(
        Bucket="cfn-layer-code", Key="layer.zip", Body=archive.getvalue()
    )
    resources = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "cfn-fn-role",
                "AssumeRolePolicyDocument": LAMBDA_TRUST_POLICY,
            },
        },
        "Layer": {
            "Type": "AWS::Lambda::LayerVersion",
            "Properties": {
                "LayerName": "cfn-layer",
                "Content": {"S3Bucket": "cfn-layer-code", "S3Key": "layer.zip"},
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "cfn-fn",
                "Runtime": "python3.13",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": code,
                "KmsKeyArn": key,
                "TracingConfig": {"Mode": "Active"},
                "DeadLetterConfig": {"TargetArn": dlq["Attributes"]["QueueArn"]},
                "Layers": [{"Ref": "Layer"}],
                "Architectures": ["arm64"],
                "Tags": [{"Key": "team", "Value": "platform"}],
            },
        },
    }
    _stack(factory, "function", resources)
    found = factory.client("lambda").get_function(FunctionName="cfn-fn")
    configuration = found["Configuration"]
    assert configuration["KMSKeyArn"] == key
    assert configuration["TracingConfig"] == {"Mode": "Active"}
    assert configuration["DeadLetterConfig"] == {"TargetArn": dlq["Attributes"]["QueueArn"]}
    assert configuration["Architectures"] == ["arm64"]
    [layer] = configuration["Layers"]
    layers = factory.client("lambda").list_layers()["Layers"]
    assert layer["Arn"] in {v["LatestMatchingVersion"]["LayerVersionArn"] for v in layers}
    assert found["Tags"]["team"] == "platform"
