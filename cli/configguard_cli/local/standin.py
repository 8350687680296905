"""The embedded AWS stand-in: an in-process moto server with gap-fills and the stack's resources.

`StandIn` runs moto's threaded server on 127.0.0.1, installs the gap-fills and
creates what template.yaml creates for real (tables, topic, kill switch, key,
web ACL, Config rules). EventBridge rules send remediation events to an SQS
queue instead of a Lambda target, which moto cannot invoke.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from configguard import registry, settings
from configguard_cli.local import gapfills, seed
from configguard_cli.local.requestlog import RequestLog

__all__ = [
    "AUDIT_TABLE_NAME",
    "DISPATCH_QUEUE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "KEY_ALIAS",
    "ONCALL_TOPIC_NAME",
    "WEB_ACL_NAME",
    "StackResources",
    "StandIn",
    "StandInError",
]

AUDIT_TABLE_NAME = "configguard-audit"
IDEMPOTENCY_TABLE_NAME = "configguard-idempotency"
ONCALL_TOPIC_NAME = "configguard-oncall"
KEY_ALIAS = "alias/configguard"
WEB_ACL_NAME = "configguard-default"
DISPATCH_QUEUE_NAME = "configguard-local-dispatch"
# template.yaml's AWS::SecurityHub::ActionTarget (Id at most 20 alphanumerics).
ACTION_TARGET_ID = "ConfigGuardFix"
ACTION_TARGET_NAME = "configguard fix"
ACTION_TARGET_DESCRIPTION = "Remediate with configguard: run the paired fix, with its safety gates."
REMEDIATION_FUNCTION_CONCURRENCY = 2  # ReservedConcurrentExecutions of fix functions
ROUTER_FUNCTION_CONCURRENCY = 5
DEFAULT_RESERVED_CONCURRENCY = "10"
LOG_RETENTION_DAYS = "365"
API_CLOUDWATCH_ROLE_NAME = "configguard-apigateway-cloudwatch"
UNRESERVED_MARGIN = "50"
DUMMY_CREDENTIAL = "testing"
_HOST = "127.0.0.1"
_READY_TIMEOUT = 10.0
_STUB_HANDLER = (
    '"""Stand-in placeholder: the local runner calls the real handler in-process."""\n\n\n'
    "def lambda_handler(event, context):\n"
    '    raise RuntimeError("the local stand-in does not invoke Lambda functions")\n'
)


class StandInError(RuntimeError):
    """The stand-in could not start, answer or be provisioned."""


@dataclass(frozen=True)
class StackResources:
    """The stack's own resources as created in the stand-in."""

    audit_table: str
    idempotency_table: str
    topic_arn: str
    kill_switch_parameter: str
    key_arn: str
    web_acl_arn: str
    dispatch_queue_url: str
    action_target_arn: str


RULE_FUNCTION_CONCURRENCY = 5  # ReservedConcurrentExecutions of rule functions


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _account_of_request(self: Any) -> str:
    """moto's account resolution (BaseResponse.get_current_account), without its cost.

    Same order as moto: MOTO_ACCOUNT_ID, the x-moto-account-id header, then the account
    whose IAM backend issued the request's access key (assumed-role credentials), else
    moto's default account. moto's own lookup indexes every partition's IAM backend of
    every account, creating (and loading AWS managed policies into) the missing ones on
    the first request after each reset; this one reads only the backends that exist.
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in self.headers:
        return str(self.headers["x-moto-account-id"])
    access_key = self.get_access_key()
    for account_id, by_partition in list(iam_backends.items()):
        for backend in list(dict.values(by_partition)):
            if access_key in backend.access_keys:
                return str(account_id)
    return DEFAULT_ACCOUNT_ID


def _install_account_resolution() -> None:
    from moto.core.responses import BaseResponse

    BaseResponse.get_current_account = _account_of_request  # type: ignore[method-assign]


def _install_dispatch_cache() -> None:
    """moto's server lists its package's folders on disk for every request it routes
    (backends.list_of_moto_modules, under the dispatcher's global lock). The folders of
    an installed package do not change: list them once."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "cache_info", None) is not None:
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = functools.cache(lambda: modules)
    _install_method_names_cache()


def _install_method_names_cache() -> None:
    """moto's BaseResponse.setup_class inspects the response class's members on every
    request. Remember the names per class; a class that gains or loses an attribute
    (a gap-fill installed later) changes the key, so the answer is never stale."""
    from moto.core import responses

    original = responses.method_names_from_class  # type: ignore[attr-defined]
    if getattr(original, "configguard_cached", False):
        return
    known: dict[tuple[Any, ...], list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        key = (clazz, *(len(vars(c)) for c in clazz.__mro__))
        names = known.get(key)
        if names is None:
            names = known[key] = original(clazz)
        return list(names)

    method_names_from_class.configguard_cached = True  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined]


def _logging_server_class() -> type[Any]:
    """moto's threaded server with `RequestLog` in front of its app."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class LoggingServer(ThreadedMotoServer):
        log_path: Path | None = None

        request_log: RequestLog | None = None
        latency: float = 0.0

        def _server_entry(self) -> None:
            assert self.log_path is not None
            app = RequestLog(
                DomainDispatcherApplication(create_backend_app), self.log_path, self.latency
            )
            self.request_log = app
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

        def stop(self) -> None:
            super().stop()
            if self.request_log is not None:
                self.request_log.close()  # every answered request is in the file

    return LoggingServer


class StandIn:
    """An in-process moto server on 127.0.0.1 with gap-fills, for the CLI and tests."""

    def __init__(
        self,
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        *,
        quiet: bool = True,
        request_log: Path | None = None,
        latency: float = 0.0,
        stock_dispatch: bool = False,
    ) -> None:
        self.region = region
        self.request_log = request_log
        self.latency = latency  # seconds added to every answer (needs request_log)
        self.stock_dispatch = stock_dispatch  # moto's own routing, uncached (benchmarks)
        self.account_id = account_id
        self._requested_port = port
        self._port: int | None = None
        self._server: Any = None
        self._quiet = quiet
        self._clients: dict[str, Any] = {}
        self._resources: StackResources | None = None
        self.partition = boto3.session.Session().get_partition_for_region(region)

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise StandInError("the stand-in is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def resources(self) -> StackResources | None:
        """What the last provision() created, if anything."""
        return self._resources

    def start(self) -> Self:
        """Install the gap-fills, start moto's server and wait until it answers."""
        if self._server is not None:
            return self
        from moto.server import ThreadedMotoServer

        gapfills.install()
        _install_account_resolution()
        if not self.stock_dispatch:
            _install_dispatch_cache()
        # Real accounts have the AWS managed policies (AdministratorAccess, ...): moto
        # loads them only on request. The server runs in this process, so it reads this.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        if self._quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Port 0 lets the OS bind a free port atomically; the real one is read back.
        server: Any
        if self.request_log is None:
            server = ThreadedMotoServer(ip_address=_HOST, port=self._requested_port, verbose=False)
        else:
            server = _logging_server_class()(_HOST, self._requested_port, verbose=False)
            server.log_path = self.request_log
            server.latency = self.latency
        try:
            server.start()
        except OSError as exc:
            raise StandInError(f"cannot listen on {_HOST}:{self._requested_port}: {exc}") from exc
        self._server = server
        self._port = int(server.get_host_and_port()[1])
        try:
            self._wait_until_ready()
        except StandInError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and free its port."""
        server, self._server = self._server, None
        self._clients.clear()
        if server is not None:
            server.stop()
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _request(self, method: str, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(_HOST, self.port, timeout=30)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                status, _ = self._request("GET", "/")
                if status < 500:
                    return
            except OSError as exc:
                last_error = exc
            time.sleep(0.05)
        raise StandInError(f"the stand-in on {self.url} did not answer: {last_error}")

    # ---------------------------------------------------------------- environment

    def topic_arn(self) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account_id}:{ONCALL_TOPIC_NAME}"

    def environ(self) -> dict[str, str]:
        """Every variable a configguard function or the CLI needs to use this stand-in."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIAL,
            "AWS_SESSION_TOKEN": DUMMY_CREDENTIAL,
            # No profile, credential process or IMDS lookup can reach a real account.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            **self._account_variables(),
            settings.AUDIT_TABLE: AUDIT_TABLE_NAME,
            settings.IDEMPOTENCY_TABLE: IDEMPOTENCY_TABLE_NAME,
            settings.ONCALL_TOPIC: self.topic_arn(),
            settings.KILL_SWITCH_PARAMETER: settings.DEFAULT_KILL_SWITCH_PARAMETER,
            settings.SETTINGS_PREFIX: settings.DEFAULT_SETTINGS_PREFIX,
            settings.REMEDIATION_MODE: "apply",
            settings.OPT_OUT_TAG: settings.DEFAULT_OPT_OUT_TAG,
            settings.DEFAULT_CONCURRENCY: DEFAULT_RESERVED_CONCURRENCY,
            settings.UNRESERVED_MARGIN: UNRESERVED_MARGIN,
            settings.ACCOUNT_ALLOWLIST: "",
            settings.MAX_CHANGES_PER_HOUR: str(settings.DEFAULT_MAX_CHANGES_PER_HOUR),
            settings.STRIP_SECRETS_MODE: "vault",
            settings.FIX_FUNCTION_URL_AUTH: "false",
            settings.API_EXECUTION_LOG_LEVEL: "ERROR",
            settings.LOG_RETENTION_DAYS: LOG_RETENTION_DAYS,
            settings.API_CLOUDWATCH_ROLE_ARN: self.api_cloudwatch_role_arn(),
            **self._resource_settings(),
            "POWERTOOLS_SERVICE_NAME": "configguard",
            "POWERTOOLS_METRICS_NAMESPACE": "configguard",
            "POWERTOOLS_TRACE_DISABLED": "true",
            # Powertools skips its parameter cache when max age is 0 (base.add_to_cache).
            "POWERTOOLS_PARAMETERS_MAX_AGE": "0",
        }

    def _account_variables(self) -> dict[str, str]:
        """moto's default account needs no pin: requests with the dummy keys land there, and
        assumed-role credentials land in the role's account, so central mode can reach a
        second account. Any other account is pinned for every request (one account only)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return {} if self.account_id == DEFAULT_ACCOUNT_ID else {"MOTO_ACCOUNT_ID": self.account_id}

    def api_cloudwatch_role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{API_CLOUDWATCH_ROLE_NAME}"

    def _resource_settings(self) -> dict[str, str]:
        """Settings naming provisioned resources (known once provisioned)."""
        if self._resources is None:
            return {}
        return {
            settings.KEY_ARN: self._resources.key_arn,
            settings.WEB_ACL_ARN: self._resources.web_acl_arn,
        }

    # -------------------------------------------------------------------- clients

    def client(self, service: str) -> Any:
        """A boto3 client bound to this stand-in, Region and account (no global env)."""
        cached = self._clients.get(service)
        if cached is not None:
            return cached
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIAL,
            aws_secret_access_key=DUMMY_CREDENTIAL,
            aws_session_token=DUMMY_CREDENTIAL,
            region_name=self.region,
        )
        made = session.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            config=Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        account_id = self.account_id

        def add_account_header(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account_id

        made.meta.events.register("before-sign", add_account_header)
        self._clients[service] = made
        return made

    # ------------------------------------------------------------------ provision

    def provision(self) -> StackResources:
        """Create the stack's supporting resources, as template.yaml does; idempotent."""
        key_arn = self._provision_key()
        self._provision_tables(key_arn)
        topic_arn = self._provision_topic(key_arn)
        self._provision_kill_switch()
        web_acl_arn = self._provision_web_acl()
        self._provision_api_cloudwatch_role()
        self._provision_config_rules(key_arn)
        self._provision_remediation_functions(key_arn, web_acl_arn, topic_arn)
        self._provision_router(key_arn)
        action_target_arn = self._provision_security_hub()
        queue_url = self._provision_dispatch()
        self._resources = StackResources(
            audit_table=AUDIT_TABLE_NAME,
            idempotency_table=IDEMPOTENCY_TABLE_NAME,
            topic_arn=topic_arn,
            kill_switch_parameter=settings.DEFAULT_KILL_SWITCH_PARAMETER,
            key_arn=key_arn,
            web_acl_arn=web_acl_arn,
            dispatch_queue_url=queue_url,
            action_target_arn=action_target_arn,
        )
        return self._resources

    def _provision_key(self) -> str:
        kms = self.client("kms")
        try:
            return str(kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Arn"])
        except ClientError as exc:
            if _error_code(exc) != "NotFoundException":
                raise
        metadata = kms.create_key(
            Description="configguard stack key (local stand-in)",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
        )["KeyMetadata"]
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=metadata["KeyId"])
        return str(metadata["Arn"])

    def _table_exists(self, name: str) -> bool:
        try:
            self.client("dynamodb").describe_table(TableName=name)
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _provision_tables(self, key_arn: str) -> None:
        dynamodb = self.client("dynamodb")
        encryption = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn}
        if not self._table_exists(AUDIT_TABLE_NAME):
            dynamodb.create_table(
                TableName=AUDIT_TABLE_NAME,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "AuditId", "AttributeType": "S"},
                    {"AttributeName": "ResourceId", "AttributeType": "S"},
                    {"AttributeName": "Time", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "AuditId", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "ByResource",
                        "KeySchema": [
                            {"AttributeName": "ResourceId", "KeyType": "HASH"},
                            {"AttributeName": "Time", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                SSESpecification=encryption,
            )
        if not self._table_exists(IDEMPOTENCY_TABLE_NAME):
            dynamodb.create_table(
                TableName=IDEMPOTENCY_TABLE_NAME,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                SSESpecification=encryption,
            )
            dynamodb.update_time_to_live(
                TableName=IDEMPOTENCY_TABLE_NAME,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
            )

    def _provision_topic(self, key_arn: str) -> str:
        created = self.client("sns").create_topic(
            Name=ONCALL_TOPIC_NAME,
            Attributes={"DisplayName": "configguard on-call", "KmsMasterKeyId": key_arn},
        )
        return str(created["TopicArn"])

    def _provision_kill_switch(self) -> None:
        try:
            self.client("ssm").put_parameter(
                Name=settings.DEFAULT_KILL_SWITCH_PARAMETER,
                Type="String",
                Value="off",
                Description='configguard kill switch: "on" halts all remediations, "off" allows.',
            )
        except ClientError as exc:
            if _error_code(exc) != "ParameterAlreadyExists":
                raise

    def _provision_web_acl(self) -> str:
        wafv2 = self.client("wafv2")
        for summary in wafv2.list_web_acls(Scope="REGIONAL").get("WebACLs", []):
            if summary["Name"] == WEB_ACL_NAME:
                return str(summary["ARN"])
        created = wafv2.create_web_acl(
            Name=WEB_ACL_NAME,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            Description="configguard default web ACL (local stand-in)",
            Rules=[],
            VisibilityConfig={
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": "configguard-default",
            },
        )
        return str(created["Summary"]["ARN"])

    def _provision_api_cloudwatch_role(self) -> None:
        """The role API Gateway writes execution logs with (the stack provides one)."""
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=API_CLOUDWATCH_ROLE_NAME)
            return
        except ClientError as exc:
            if _error_code(exc) != "NoSuchEntity":
                raise
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=API_CLOUDWATCH_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust)
        )
        iam.attach_role_policy(
            RoleName=API_CLOUDWATCH_ROLE_NAME,
            PolicyArn=f"arn:{self.partition}:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs",
        )

    def _rule_role_arn(self, spec: registry.RuleSpec) -> str:
        """One role per rule function, granting exactly the registry's actions."""
        iam = self.client("iam")
        name = f"configguard-{spec.name}"
        arn = seed.ensure_lambda_role(iam, name, f"configguard rule {spec.name} (stand-in)")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DeclaredPermissions",
                    "Effect": "Allow",
                    "Action": sorted(registry.rule_permissions(spec)),
                    "Resource": "*",
                }
            ],
        }
        iam.put_role_policy(RoleName=name, PolicyName=spec.name, PolicyDocument=json.dumps(policy))
        return arn

    def _dead_letter_queue_arn(self, function_name: str) -> str:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"{function_name}-dlq")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def _rule_function_arn(self, spec: registry.RuleSpec, key_arn: str) -> str:
        awslambda = self.client("lambda")
        name = f"configguard-{spec.name}"
        try:
            return str(awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
        # Mirror template.yaml's Globals and per-function resources: own role, own DLQ,
        # reserved concurrency, active tracing, environment encrypted with the stack key.
        created = seed.create_function(
            awslambda,
            name,
            self._rule_role_arn(spec),
            reserved=RULE_FUNCTION_CONCURRENCY,
            code=seed.function_zip(_STUB_HANDLER),
            description=f"configguard rule {spec.name} (local stand-in placeholder)",
            Architectures=["arm64"],
            TracingConfig={"Mode": "Active"},
            KMSKeyArn=key_arn,
            DeadLetterConfig={"TargetArn": self._dead_letter_queue_arn(name)},
            Environment={
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "configguard",
                    "POWERTOOLS_METRICS_NAMESPACE": "configguard",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                }
            },
        )
        return str(created["FunctionArn"])

    def _function_exists(self, name: str) -> bool:
        try:
            self.client("lambda").get_function(FunctionName=name)
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                return False
            raise
        return True

    def _role_with(self, name: str, description: str, actions: frozenset[str]) -> str:
        iam = self.client("iam")
        arn = seed.ensure_lambda_role(iam, name, description)
        statements: list[dict[str, Any]] = [
            {
                "Sid": "DeclaredPermissions",
                "Effect": "Allow",
                "Action": sorted(actions - {"iam:PassRole"}),
                "Resource": "*",
            }
        ]
        if "iam:PassRole" in actions:
            # As in template.yaml: only the role API Gateway writes execution logs with.
            statements.append(
                {
                    "Sid": "PassApiGatewayLoggingRole",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": self.api_cloudwatch_role_arn(),
                }
            )
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        return arn

    def _stub_function(
        self, name: str, role_arn: str, key_arn: str, reserved: int, variables: dict[str, str]
    ) -> None:
        """A stand-in function with the template's settings; the local runner runs its code."""
        seed.create_function(
            self.client("lambda"),
            name,
            role_arn,
            reserved=reserved,
            code=seed.function_zip(_STUB_HANDLER),
            description=f"{name} (local stand-in placeholder)",
            Architectures=["arm64"],
            Timeout=300,
            TracingConfig={"Mode": "Active"},
            KMSKeyArn=key_arn,
            DeadLetterConfig={"TargetArn": self._dead_letter_queue_arn(name)},
            Environment={
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "configguard",
                    "POWERTOOLS_METRICS_NAMESPACE": "configguard",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    **variables,
                }
            },
        )

    def _provision_remediation_functions(self, key_arn: str, web_acl_arn: str, topic: str) -> None:
        """One function per fix, with the environment template.yaml gives it (default modes)."""
        known = {
            **self.environ(),
            settings.ONCALL_TOPIC: topic,
            settings.KEY_ARN: key_arn,
            settings.WEB_ACL_ARN: web_acl_arn,
        }
        for spec in registry.REMEDIATIONS.values():
            name = registry.fix_function_name(spec)
            if self._function_exists(name):
                continue
            names = (*settings.COMMON_REMEDIATION_SETTINGS, *spec.settings)
            variables = {key: known[key] for key in names if known.get(key)}
            variables[settings.REMEDIATION_MODE] = spec.default_mode
            role = self._role_with(
                name,
                f"configguard remediation {spec.name} (stand-in)",
                registry.remediation_permissions(spec),
            )
            self._stub_function(name, role, key_arn, REMEDIATION_FUNCTION_CONCURRENCY, variables)

    def _provision_router(self, key_arn: str) -> None:
        name = registry.ROUTER_FUNCTION_NAME
        if self._function_exists(name):
            return
        role = self._role_with(
            name,
            "configguard Security Hub router (stand-in)",
            frozenset(registry.ROUTER.permissions),
        )
        # The template's default: custom action only, no auto-trigger.
        variables = {settings.AUTO_TRIGGER_CONTROLS: "", settings.REMEDIATION_ROLE_NAME: ""}
        self._stub_function(name, role, key_arn, ROUTER_FUNCTION_CONCURRENCY, variables)

    def _provision_security_hub(self) -> str:
        """Security Hub enabled, with the stack's custom action; its ARN."""
        hub = self.client("securityhub")
        try:
            hub.enable_security_hub(EnableDefaultStandards=False)
        except ClientError as exc:
            if _error_code(exc) != "ResourceConflictException":
                raise
        for target in hub.describe_action_targets().get("ActionTargets", []):
            if target["ActionTargetArn"].endswith(f"/{ACTION_TARGET_ID}"):
                return str(target["ActionTargetArn"])
        created = hub.create_action_target(
            Name=ACTION_TARGET_NAME, Description=ACTION_TARGET_DESCRIPTION, Id=ACTION_TARGET_ID
        )
        return str(created["ActionTargetArn"])

    def _provision_config_rules(self, key_arn: str) -> None:
        config = self.client("config")
        for spec in registry.RULES.values():
            function_arn = self._rule_function_arn(spec, key_arn)
            rule: dict[str, Any] = {
                "ConfigRuleName": spec.name,
                "Description": spec.description,
                # The template sets this too: rdklib must not assume a role offline.
                "InputParameters": json.dumps({"AssumeRoleMode": "false"}),
            }
            if spec.trigger is registry.Trigger.PERIODIC:
                rule["Source"] = {
                    "Owner": "CUSTOM_LAMBDA",
                    "SourceIdentifier": function_arn,
                    "SourceDetails": [
                        {
                            "EventSource": "aws.config",
                            "MessageType": "ScheduledNotification",
                            "MaximumExecutionFrequency": spec.maximum_execution_frequency
                            or "TwentyFour_Hours",
                        }
                    ],
                }
            else:
                rule["Scope"] = {"ComplianceResourceTypes": list(spec.resource_types)}
                rule["Source"] = {
                    "Owner": "CUSTOM_LAMBDA",
                    "SourceIdentifier": function_arn,
                    "SourceDetails": [
                        {
                            "EventSource": "aws.config",
                            "MessageType": "ConfigurationItemChangeNotification",
                        },
                        {
                            "EventSource": "aws.config",
                            "MessageType": "OversizedConfigurationItemChangeNotification",
                        },
                    ],
                }
            config.put_config_rule(ConfigRule=rule)

    def _provision_dispatch(self) -> str:
        sqs = self.client("sqs")
        events = self.client("events")
        queue_url = str(sqs.create_queue(QueueName=DISPATCH_QUEUE_NAME)["QueueUrl"])
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        rule_prefix = f"arn:{self.partition}:events:{self.region}:{self.account_id}:rule/"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ConfigGuardRulesDispatch",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"{rule_prefix}configguard-*"}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        for spec in registry.REMEDIATIONS.values():
            rule_name = f"configguard-{spec.name}"
            events.put_rule(
                Name=rule_name,
                EventPattern=json.dumps(registry.compliance_change_pattern(spec)),
                State="ENABLED",
                Description=f"NON_COMPLIANT results of {', '.join(spec.rules)} to {spec.name}.",
            )
            events.put_targets(Rule=rule_name, Targets=[{"Id": "local-dispatch", "Arn": queue_arn}])
        return queue_url

    # ------------------------------------------------------------------- helpers

    def _dispatch_queue_url(self) -> str:
        if self._resources is not None:
            return self._resources.dispatch_queue_url
        try:
            return str(self.client("sqs").get_queue_url(QueueName=DISPATCH_QUEUE_NAME)["QueueUrl"])
        except ClientError as exc:
            raise StandInError("the dispatch queue does not exist; call provision()") from exc

    def drain_dispatch(self, max_messages: int = 100) -> list[dict[str, Any]]:
        """Receive and delete up to `max_messages` EventBridge events from the dispatch queue."""
        sqs = self.client("sqs")
        queue_url = self._dispatch_queue_url()
        drained: list[dict[str, Any]] = []
        while len(drained) < max_messages:
            batch = min(10, max_messages - len(drained))
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=batch, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                drained.append(json.loads(message["Body"]))
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(messages)
                ],
            )
        return drained

    def issue_result_token(self, rule_name: str) -> str:
        """Emulate Config invoking `rule_name` in this account and Region; return its token."""
        return str(gapfills.issue_result_token(self.account_id, self.region, rule_name))

    def reset(self) -> StackResources:
        """Reset every moto backend (POST /moto-api/reset), then provision again."""
        status, body = self._request("POST", "/moto-api/reset")
        if status >= 300:
            raise StandInError(f"moto reset failed with HTTP {status}: {body[:200]!r}")
        self._resources = None
        return self.provision()
