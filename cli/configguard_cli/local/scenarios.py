"""Scenario functions for the stand-in: one function per rule scenario, with expected verdicts.

Every scenario starts from a baseline function that passes every Lambda rule (its
own least-privilege role, reserved concurrency, active tracing, a dead-letter queue,
a customer-managed key, a supported runtime, no resource policy) and changes one
thing. `configguard local seed` creates them; a scan of the stand-in must then give
exactly `expected()` for every (rule, function) pair.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from configguard.clients import ClientFactory
from configguard_cli.local import apigw_scenarios, security_scenarios, seed

PREFIX = "scenario-"

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"

BASELINE: dict[str, str] = {
    "lambda-reserved-concurrency": COMPLIANT,
    "lambda-env-no-plaintext-secrets": COMPLIANT,
    "lambda-env-cmk-encrypted": COMPLIANT,
    "lambda-public-access-prohibited": COMPLIANT,
    "lambda-runtime-supported": COMPLIANT,
    "lambda-async-failure-destination": COMPLIANT,
    "lambda-tracing-active": COMPLIANT,
    "lambda-inside-vpc": NOT_APPLICABLE,
    "lambda-role-least-privilege": COMPLIANT,
    "lambda-role-not-shared": COMPLIANT,
}

LEAST_PRIVILEGE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/app:*",
        }
    ],
}


def fake_token(prefix: str, length: int, seed_value: int) -> str:
    """A secret-shaped value made at run time, so no token literal lives in the repo."""
    rng = random.Random(seed_value)
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


@dataclass
class World:
    """Shared resources scenario functions point at."""

    factory: ClientFactory
    key_arn: str = ""
    queue_arn: str = ""
    subnets_by_az: dict[str, str] = field(default_factory=dict)


Setup = Callable[[World, str], None]


@dataclass(frozen=True)
class Scenario:
    """One function: CreateFunction overrides, extra setup, and verdicts that differ."""

    name: str
    expect: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    role: str | None = None  # None: the function's own role
    role_policy: dict[str, Any] | None = None
    managed_policies: tuple[str, ...] = ()
    setup: Setup | None = None

    @property
    def function(self) -> str:
        return PREFIX + self.name

    def verdicts(self) -> dict[str, str]:
        return {**BASELINE, **self.expect}


def _url_public(world: World, name: str) -> None:
    lam = world.factory.client("lambda")
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.add_permission(
        FunctionName=name,
        StatementId="FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )


def _open_to_world(world: World, name: str) -> None:
    world.factory.client("lambda").add_permission(
        FunctionName=name,
        StatementId="AnyoneMayInvoke",
        Action="lambda:InvokeFunction",
        Principal="*",
    )


def _s3_source_account(world: World, name: str) -> None:
    world.factory.client("lambda").add_permission(
        FunctionName=name,
        StatementId="S3Notifications",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads-bucket",
        SourceAccount="123456789012",
    )


def _s3_without_account(world: World, name: str) -> None:
    world.factory.client("lambda").add_permission(
        FunctionName=name,
        StatementId="S3NoAccount",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads-bucket",
    )


def _grant(sid: str, **permission: str) -> Setup:
    """A setup step that adds one AddPermission statement."""

    def setup(world: World, name: str) -> None:
        request = {"Action": "lambda:InvokeFunction", **permission}
        world.factory.client("lambda").add_permission(FunctionName=name, StatementId=sid, **request)

    return setup


def _inline(sid: str, action: str, resource: str | list[str]) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _delete_own_role(world: World, name: str) -> None:
    iam = world.factory.client("iam")
    role = f"{name}-role"
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    iam.delete_role(RoleName=role)


def _retries_only(world: World, name: str) -> None:
    world.factory.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0
    )


def _on_failure_destination(world: World, name: str) -> None:
    world.factory.client("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": world.queue_arn}}
    )


def _vpc(world: World, azs: int) -> dict[str, Any]:
    subnets = [world.subnets_by_az[az] for az in sorted(world.subnets_by_az)[:azs]]
    return {"VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": []}}


def _base64_json(data: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def scenarios() -> list[Scenario]:
    """Every scenario, with what differs from BASELINE."""
    key_id = fake_token("AKIA", 16, 7).upper()
    return [
        Scenario("baseline", {}),
        # lambda-reserved-concurrency
        Scenario(
            "no-reserved-concurrency",
            {"lambda-reserved-concurrency": NON_COMPLIANT},
            settings={"_reserved": None},
        ),
        # lambda-env-no-plaintext-secrets
        Scenario(
            "env-access-key",
            {"lambda-env-no-plaintext-secrets": NON_COMPLIANT},
            settings={"Environment": {"Variables": {"UPLOAD_KEY_ID": key_id}}},
        ),
        Scenario(
            "env-url-credentials",
            {"lambda-env-no-plaintext-secrets": NON_COMPLIANT},
            settings={
                "Environment": {
                    "Variables": {
                        "DATABASE_URL": "postgres://app:"
                        + fake_token("", 20, 11)
                        + "@db.internal:5432/orders"
                    }
                }
            },
        ),
        Scenario(
            "env-references-only",
            {},
            settings={
                "Environment": {
                    "Variables": {
                        "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:"
                        "secret:prod/orders/db-AbCdEf",
                        "SECRET_NAME": "prod/orders/db",
                        "API_TOKEN_PARAM": "/prod/orders/api-token",
                        "PASSWORD_MIN_LENGTH": "12",
                        "MYSQL_ALLOW_EMPTY_PASSWORD": "yes",
                        "APP_CONFIG": _base64_json({"region": "us-east-1", "feature": "on"}),
                    }
                }
            },
        ),
        # lambda-env-cmk-encrypted
        Scenario(
            "env-default-key",
            {"lambda-env-cmk-encrypted": NON_COMPLIANT},
            settings={"KMSKeyArn": None},
        ),
        Scenario(
            "no-env-default-key",
            {},
            settings={"KMSKeyArn": None, "Environment": None},
        ),
        Scenario("cmk-without-env", {}, settings={"Environment": None}),
        # lambda-public-access-prohibited
        Scenario(
            "public-invoke",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_open_to_world,
        ),
        Scenario(
            "public-function-url",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_url_public,
        ),
        Scenario("s3-with-source-account", {}, setup=_s3_source_account),
        Scenario(
            "s3-without-source-account",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_s3_without_account,
        ),
        Scenario("cross-account-grant", {}, setup=_grant("Partner", Principal="111122223333")),
        Scenario(
            "star-with-source-account",
            {},
            setup=_grant("Scoped", Principal="*", SourceAccount="111122223333"),
        ),
        Scenario(
            "star-with-org",
            {},
            setup=_grant("OrgOnly", Principal="*", PrincipalOrgID="o-a1b2c3d4e5"),
        ),
        Scenario(
            "events-without-source",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_grant("AnyRule", Principal="events.amazonaws.com"),
        ),
        Scenario(
            "sns-with-source-arn",
            {},
            setup=_grant(
                "Topic",
                Principal="sns.amazonaws.com",
                SourceArn="arn:aws:sns:us-east-1:123456789012:orders",
            ),
        ),
        Scenario(
            "star-with-wildcard-arn",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_grant("AnyBucket", Principal="*", SourceArn="arn:aws:s3:::*"),
        ),
        Scenario(
            "function-url-aws-iam-star",
            {"lambda-public-access-prohibited": NON_COMPLIANT},
            setup=_grant(
                "UrlIam",
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="AWS_IAM",
            ),
        ),
        # lambda-runtime-supported
        Scenario(
            "runtime-deprecated",
            {"lambda-runtime-supported": NON_COMPLIANT},
            settings={"Runtime": "python3.9"},
        ),
        Scenario(
            "runtime-recently-deprecated",
            {"lambda-runtime-supported": NON_COMPLIANT},
            settings={"Runtime": "python3.10"},
        ),
        Scenario("runtime-python312", {}, settings={"Runtime": "python3.12"}),
        Scenario(
            "container-image",
            {"lambda-runtime-supported": NOT_APPLICABLE},
            settings={
                "PackageType": "Image",
                "Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"},
            },
        ),
        # lambda-async-failure-destination
        Scenario(
            "no-failure-destination",
            {"lambda-async-failure-destination": NON_COMPLIANT},
            settings={"DeadLetterConfig": None},
        ),
        Scenario(
            "on-failure-destination",
            {},
            settings={"DeadLetterConfig": None},
            setup=_on_failure_destination,
        ),
        Scenario(
            "retries-only-invoke-config",
            {"lambda-async-failure-destination": NON_COMPLIANT},
            settings={"DeadLetterConfig": None},
            setup=_retries_only,
        ),
        # lambda-tracing-active
        Scenario(
            "tracing-passthrough",
            {"lambda-tracing-active": NON_COMPLIANT},
            settings={"TracingConfig": {"Mode": "PassThrough"}},
        ),
        # lambda-inside-vpc
        Scenario("vpc-two-azs", {"lambda-inside-vpc": COMPLIANT}, settings={"_vpc_azs": 2}),
        Scenario("vpc-one-az", {"lambda-inside-vpc": NON_COMPLIANT}, settings={"_vpc_azs": 1}),
        # lambda-role-least-privilege
        Scenario(
            "role-administrator",
            {"lambda-role-least-privilege": NON_COMPLIANT},
            managed_policies=("arn:aws:iam::aws:policy/AdministratorAccess",),
        ),
        Scenario(
            "role-passrole-anywhere",
            {"lambda-role-least-privilege": NON_COMPLIANT},
            role_policy=_inline("PassAnyRole", "iam:PassRole", "*"),
        ),
        Scenario(
            "role-power-user",
            {"lambda-role-least-privilege": NON_COMPLIANT},
            managed_policies=("arn:aws:iam::aws:policy/PowerUserAccess",),
        ),
        Scenario(
            "role-action-star",
            {"lambda-role-least-privilege": NON_COMPLIANT},
            role_policy=_inline("Everything", "*", "*"),
        ),
        Scenario(
            "role-s3-everywhere",
            {"lambda-role-least-privilege": NON_COMPLIANT},
            role_policy=_inline("AllS3", "s3:*", "*"),
        ),
        Scenario(
            "role-s3-one-bucket",
            {},
            role_policy=_inline(
                "OneBucket", "s3:*", ["arn:aws:s3:::orders", "arn:aws:s3:::orders/*"]
            ),
        ),
        Scenario("role-logs-everywhere", {}, role_policy=_inline("AllLogs", "logs:*", "*")),
        Scenario(
            "role-deleted",
            {"lambda-role-least-privilege": NOT_APPLICABLE},
            setup=_delete_own_role,
        ),
        # lambda-role-not-shared
        Scenario(
            "shared-role-a",
            {"lambda-role-not-shared": NON_COMPLIANT},
            role="scenario-shared-role",
        ),
        Scenario(
            "shared-role-b",
            {"lambda-role-not-shared": NON_COMPLIANT},
            role="scenario-shared-role",
        ),
    ]


def _world(factory: ClientFactory) -> World:
    world = World(factory)
    kms = factory.client("kms")
    key = kms.create_key(Description="scenario key")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])  # the shared key passes the KMS rules too
    world.key_arn = key["Arn"]
    sqs = factory.client("sqs")
    url = sqs.create_queue(QueueName="scenario-failures")["QueueUrl"]
    world.queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    for subnet in factory.client("ec2").describe_subnets()["Subnets"]:
        world.subnets_by_az.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
    return world


def _role(world: World, scenario: Scenario) -> str:
    iam = world.factory.client("iam")
    name = scenario.role or f"{scenario.function}-role"
    arn = seed.ensure_lambda_role(iam, name)
    iam.put_role_policy(
        RoleName=name,
        PolicyName="least-privilege",
        PolicyDocument=json.dumps(scenario.role_policy or LEAST_PRIVILEGE_POLICY),
    )
    for policy_arn in scenario.managed_policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def create(world: World, scenario: Scenario) -> None:
    """Create one scenario function from the baseline plus its overrides."""
    settings: dict[str, Any] = {
        "TracingConfig": {"Mode": "Active"},
        "DeadLetterConfig": {"TargetArn": world.queue_arn},
        "KMSKeyArn": world.key_arn,
        "Environment": {"Variables": {"LOG_LEVEL": "INFO"}},
        "_reserved": 10,
    }
    settings.update(scenario.settings)
    reserved = settings.pop("_reserved")
    azs = settings.pop("_vpc_azs", 0)
    if azs:
        settings.update(_vpc(world, azs))
    settings = {k: v for k, v in settings.items() if v is not None}
    seed.create_function(
        world.factory.client("lambda"),
        scenario.function,
        _role(world, scenario),
        reserved=reserved,
        **settings,
    )
    if scenario.setup:
        scenario.setup(world, scenario.function)


def seed_all(factory: ClientFactory) -> dict[str, dict[str, str]]:
    """Create every scenario (functions, APIs, stages, domains).

    Returns the expected verdicts: rule -> resource id -> verdict.
    """
    world = _world(factory)
    for scenario in scenarios():
        create(world, scenario)
    table = expected()
    for rule, verdicts in apigw_scenarios.seed(factory).expected.items():
        table.setdefault(rule, {}).update(verdicts)
    for rule, verdicts in security_scenarios.seed(factory).items():
        table.setdefault(rule, {}).update(verdicts)
    return table


def expected() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for scenario in scenarios():
        for rule, verdict in scenario.verdicts().items():
            table.setdefault(rule, {})[scenario.function] = verdict
    return table
