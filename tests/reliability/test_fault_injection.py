"""AWS faults injected into the real handlers against the stand-in (issue 10, item 2).

Faults come from faultplan.py: real error answers and timeouts below botocore's retry
handler, chosen by request index or seeded rate, with back-off on virtual time.

1. Throttling: with half of all requests throttled, every evaluation of the rules
   (change-triggered ones for many resources, periodic sweeps) reaches Config: 100 %
   delivered. Each rule runs in its own warm "sandbox" (its own factory and clients),
   as each rule is its own Lambda function. The CLI scan delivers 100 % at 25 %. At 50 %
   botocore's retry quota (500 units per client, a deliberate circuit breaker; past
   about 30 % throttled it drains by about 2 units per call) can run out within one
   scan: a resource it then could not read is an ERROR finding naming the throttle,
   never a verdict.
2. AccessDenied at each request of a run of every rule, and of every fix: each request
   its own steps make (read, plan, apply, verify, tag), and each of the engine's own
   requests (the same 11, in the same places, for every fix, asserted) in the runs of
   add-concurrency-limit. A rule fails its invocation (EvaluationError) and delivers
   nothing; a fix ends failed or blocked with an audit record, or raises; never a silent
   success: `applied` only when the resource really is fixed and the denied call is
   named in the record (a tag, a Security Hub note) or logged (the notification).
3. Half-way failures: every error kind and timeout at every write of the apply step of
   the fixes that write more than once (the four kinds botocore retries before the
   request reaches the service follow one another on the same write, in one run).
   Afterwards the resource is as the plan's `before` or its `after`, never a mix, and
   the audit record's `resource_state` says which; a retryable fault (a read timeout
   too: the write then ran twice) never fails the fix; a failed fix re-run without
   faults finishes the job.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from apigw_stages import rest_stage
from conftest import ACCOUNT, REGION, change_event, lambda_context, make_function, stored_results
from faultplan import (
    ACCESS_DENIED,
    CONFLICT,
    CONNECT_TIMEOUT,
    KINDS,
    NOT_FOUND,
    READ_TIMEOUT,
    RETRYABLE,
    SERVER_ERROR,
    THROTTLING,
    TOO_MANY_REQUESTS,
    Attempt,
    FaultPlan,
)
from secrets_corpus import UPPER_DIGITS, fake

from configguard import cibuilder, clients, registry, settings
from configguard.clients import ClientFactory, default_factory
from configguard.registry import Trigger
from configguard.remediation import Remediation
from configguard.rulebase import EvaluationError
from configguard_cli.auditlog import list_records
from configguard_cli.events import fix_request_event
from configguard_cli.handlers import remediation_module, rule_module
from configguard_cli.local import scenarios
from configguard_cli.scan import scan

SEED = 11
LAMBDA_FUNCTIONS = 20  # functions of the seeded world each Lambda change rule evaluates
LAMBDA_RETRIES = 2  # Lambda's own retries of a failed asynchronous invocation
MULTI_WRITE = ("enable-api-logging", "enable-lambda-env-encryption", "remove-lambda-public-access")
# Requests of one run of each rule / fix on its scenario below (the recording run counts
# them; every one of them gets its AccessDenied run).
RULE_REQUESTS = {
    "apigw-domain-tls-policy": 8,
    "apigw-request-validation": 7,
    "apigw-route-authorization": 8,
    "apigw-stage-access-logging": 3,
    "apigw-stage-cache-encrypted": 3,
    "apigw-stage-execution-logging": 3,
    "apigw-stage-throttling": 3,
    "apigw-stage-tracing": 3,
    "apigw-stage-waf-attached": 3,
    "cloudtrail-security-trail": 7,
    "kms-key-not-pending-deletion": 2,
    "kms-key-policy-safe": 27,
    "kms-key-rotation-enabled": 3,
    "lambda-async-failure-destination": 3,
    "lambda-env-cmk-encrypted": 2,
    "lambda-env-no-plaintext-secrets": 2,
    "lambda-inside-vpc": 3,
    "lambda-public-access-prohibited": 3,
    "lambda-reserved-concurrency": 2,
    "lambda-role-least-privilege": 5,
    "lambda-role-not-shared": 3,
    "lambda-runtime-supported": 2,
    "lambda-tracing-active": 2,
    "log-group-cmk-encrypted": 3,
    "log-group-retention": 3,
}
ENGINE = ""  # the phase label of requests the engine makes itself, outside the fix's steps
ENGINE_REQUESTS = [
    ("ssm", "GetParameter"),  # kill switch
    ("ssm", "GetParameter"),  # mode
    ("sts", "GetCallerIdentity"),  # account allowlist
    ("dynamodb", "PutItem"),  # idempotency record
    ("dynamodb", "GetItem"),  # journal of an interrupted attempt
    ("securityhub", "GetFindings"),  # the resource's findings
    ("dynamodb", "UpdateItem"),  # blast-radius slot
    ("dynamodb", "PutItem"),  # journal
    ("dynamodb", "PutItem"),  # audit record
    ("sns", "Publish"),  # on-call notification
    ("dynamodb", "UpdateItem"),  # idempotency record completed
]
REPRESENTATIVE = "add-concurrency-limit"  # its runs deny the engine's requests too
# AccessDenied runs per fix: one per request of its own steps (and the engine's, above).
FIX_REQUESTS = {
    "add-concurrency-limit": 17,
    "attach-waf": 9,
    "cancel-kms-key-deletion": 6,
    "enable-api-cache-encryption": 4,
    "enable-api-logging": 10,
    "enable-cloudtrail-encryption": 6,
    "enable-kms-key-rotation": 8,
    "enable-lambda-env-encryption": 12,
    "enable-log-group-encryption": 7,
    "remove-lambda-public-access": 13,
    "set-log-retention": 6,
    "strip-env-secrets": 11,
}
# The writes of the apply step of the fixes that write more than once, in order.
WRITES_IN_APPLY = {
    "enable-api-logging": ["UpdateAccount", "CreateLogGroup", "PutRetentionPolicy", "UpdateStage"],
    "enable-lambda-env-encryption": ["PutRolePolicy", "UpdateFunctionConfiguration"],
    "remove-lambda-public-access": [
        "UpdateFunctionUrlConfig",
        "RemovePermission",
        "RemovePermission",
    ],
}
FIGURES: dict[str, int] = {
    "evaluations delivered under 50 % throttling": 302,
    "rule invocations under 50 % throttling": 240,
    "throttles injected (rules)": 395,
    "retries absorbed (rules)": 395,
    "scan verdicts under 25 % throttling": 473,
    "AccessDenied points (rules)": sum(RULE_REQUESTS.values()),
    "AccessDenied points (fixes)": sum(FIX_REQUESTS.values()),
    "half-way failure points": len(KINDS) * sum(len(w) for w in WRITES_IN_APPLY.values()),
}
# Injections whose number the seed fixes (the scans' threaded ones are not counted).
FIGURES["faults injected"] = (
    FIGURES["throttles injected (rules)"]
    + FIGURES["AccessDenied points (rules)"]
    + FIGURES["AccessDenied points (fixes)"]
    + FIGURES["half-way failure points"]
)

# ---------------------------------------------------------------------------- helpers


def handlers_factory() -> ClientFactory:
    """The factory the handlers use now (the Lambda sandbox's own)."""
    return default_factory()


@pytest.fixture(scope="module")
def loader() -> boto3.session.Session:
    """One session whose loader parses each service model once for the whole module."""
    return boto3.session.Session()


@contextmanager
def sandbox(loader: boto3.session.Session) -> Iterator[ClientFactory]:
    """A new Lambda sandbox: the handlers get a factory with clients of their own (their
    own retry quotas and rate limiters); the service models are parsed once, as cached."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clients, "_default", ClientFactory(session=loader))
        yield handlers_factory()


def texts_of(error: BaseException | None) -> str:
    """An exception and everything it was raised from, as text."""
    parts = []
    while error is not None:
        parts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


def resource_type_of(rule: str, resource_id: str) -> str:
    types = registry.RULES[rule].resource_types
    if len(types) == 1:
        return types[0]
    return cibuilder.REST_STAGE if "/restapis/" in resource_id else cibuilder.HTTP_STAGE


def configuration_item(factory: ClientFactory, rule: str, resource_id: str) -> dict[str, Any]:
    """The resource's CI as Config delivers it: JSON, dates as strings."""
    item = cibuilder.read(factory, resource_type_of(rule, resource_id), resource_id)
    assert item is not None, resource_id
    return dict(json.loads(json.dumps(item, default=str)))


def oversized(event: dict[str, Any]) -> dict[str, Any]:
    """A change event turned into the oversized form: the rule must read the resource."""
    invoking = json.loads(event["invokingEvent"])
    item = invoking.pop("configurationItem")
    keep = (
        "configurationItemCaptureTime",
        "configurationItemStatus",
        "configurationStateId",
        "awsAccountId",
        "awsRegion",
        "resourceType",
        "resourceId",
        "resourceName",
        "ARN",
        "availabilityZone",
    )
    invoking["configurationItemSummary"] = {k: item.get(k) for k in keep}
    invoking["messageType"] = "OversizedConfigurationItemChangeNotification"
    return {**event, "invokingEvent": json.dumps(invoking)}


def scheduled(standin: Any, rule: str) -> dict[str, Any]:
    """A periodic rule's ScheduledNotification, as Config sends it."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    invoking = {
        "awsAccountId": ACCOUNT,
        "notificationCreationTime": now,
        "messageType": "ScheduledNotification",
        "recordVersion": "1.0",
    }
    return {
        "version": "1.0",
        "invokingEvent": json.dumps(invoking),
        "ruleParameters": "{}",
        "resultToken": standin.issue_result_token(rule),
        "eventLeftScope": False,
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/config-role",
        "configRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-{rule}",
        "configRuleName": rule,
        "configRuleId": f"config-rule-{rule}",
        "accountId": ACCOUNT,
        "evaluationMode": "DETECTIVE",
    }


# ---------------------------------------------------------------- the seeded world


@pytest.fixture(scope="module")
def standin(module_standin):
    return module_standin


@pytest.fixture(scope="module")
def world(module_standin, module_factory) -> dict[str, dict[str, str]]:
    """Every scenario of `configguard local seed`: rule -> resource id -> expected verdict."""
    return scenarios.seed_all(module_factory)


@dataclass
class RuleJob:
    """One rule's invocations in a test: events and the verdicts they must deliver."""

    rule: str
    events: list[Callable[[], dict[str, Any]]]
    expected: dict[str, str]


def rule_jobs(
    standin: Any, factory: ClientFactory, world: dict[str, dict[str, str]]
) -> list[RuleJob]:
    """Change rules: one event per resource (Lambda rules: the first LAMBDA_FUNCTIONS
    functions); periodic rules: one sweep of the whole world."""
    jobs = []
    for rule in sorted(world):
        verdicts = world[rule]
        if registry.RULES[rule].trigger is Trigger.PERIODIC:
            jobs.append(RuleJob(rule, [lambda r=rule: scheduled(standin, r)], dict(verdicts)))
            continue
        chosen = sorted(verdicts)
        if registry.LAMBDA in registry.RULES[rule].resource_types:
            chosen = chosen[:LAMBDA_FUNCTIONS]
        events = []
        for resource_id in chosen:
            item = configuration_item(factory, rule, resource_id)
            events.append(lambda r=rule, i=item: change_event(standin, r, i))
        jobs.append(RuleJob(rule, events, {rid: verdicts[rid] for rid in chosen}))
    return jobs


# ------------------------------------------------------- property 1: throttling


def test_half_of_all_requests_throttled_and_every_evaluation_is_delivered(
    standin, module_factory, world, loader
):
    jobs = rule_jobs(standin, module_factory, world)
    plan = FaultPlan(seed=SEED).inject(THROTTLING, rate=0.5)
    invocations = failed_invocations = 0
    for job in jobs:
        handler = rule_module(job.rule).lambda_handler
        context = lambda_context(f"configguard-{job.rule}")
        # Each rule is its own function, with its own warm sandbox.
        with sandbox(loader) as factory, plan.attached(factory):
            for make_event in job.events:
                event = make_event()
                for _ in range(1 + LAMBDA_RETRIES):  # what Lambda retries, Config receives
                    invocations += 1
                    try:
                        handler(event, context)
                        break
                    except EvaluationError:
                        failed_invocations += 1
    missing = []
    delivered = 0
    for job in jobs:
        got = stored_results(module_factory, job.rule)
        for resource_id, verdict in job.expected.items():
            found = got.get(resource_id, ("nothing",))[0]
            delivered += found == verdict
            if found != verdict:
                missing.append(f"{job.rule} {resource_id}: expected {verdict}, stored {found}")
    assert not missing, "\n".join(missing)
    print(
        "FIG",
        delivered,
        invocations,
        failed_invocations,
        len(plan.injections),
        len(plan.attempts),
        plan.retries_absorbed,
    )
    assert delivered == FIGURES["evaluations delivered under 50 % throttling"]
    assert invocations == FIGURES["rule invocations under 50 % throttling"]
    assert failed_invocations == 0
    throttled = len(plan.injections)
    assert 0.4 < throttled / len(plan.attempts) < 0.6
    assert throttled == FIGURES["throttles injected (rules)"]
    # Every throttle was retried until the service's real answer came.
    assert plan.retries_absorbed == throttled == FIGURES["retries absorbed (rules)"]
    print(f"virtual seconds of back-off and rate limiting: {plan.clock.slept:.0f}")


def scan_findings(
    factory: ClientFactory, rate: float
) -> tuple[dict[str, dict[str, Any]], FaultPlan]:
    """A fresh CLI process's scan of every rule with `rate` of the requests throttled."""
    plan = FaultPlan(seed=SEED).inject(THROTTLING, rate=rate)
    with plan.attached(factory):
        report = scan(factory, sorted(registry.RULES))
    found: dict[str, dict[str, Any]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule, {})[finding.resource_id] = finding
    return found, plan


def test_a_scan_with_a_quarter_of_requests_throttled_reports_every_verdict(standin, world, loader):
    found, plan = scan_findings(ClientFactory(session=loader), 0.25)
    wrong = [
        f"{rule} {rid}: expected {verdict}, got {found.get(rule, {}).get(rid)}"
        for rule, verdicts in world.items()
        for rid, verdict in verdicts.items()
        if getattr(found.get(rule, {}).get(rid), "compliance", None) != verdict
    ]
    assert not wrong, "\n".join(wrong)
    assert sum(len(v) for v in world.values()) == FIGURES["scan verdicts under 25 % throttling"]
    assert plan.injections and plan.retries_absorbed == len(plan.injections)


def test_a_scan_with_half_of_requests_throttled_never_reports_a_wrong_verdict(
    standin, world, loader
):
    found, plan = scan_findings(ClientFactory(session=loader), 0.5)
    wrong, errors = [], 0
    for rule, verdicts in world.items():
        for rid, verdict in verdicts.items():
            finding = found.get(rule, {}).get(rid)
            if finding is None:
                wrong.append(f"{rule} {rid}: not reported")
            elif finding.compliance == "ERROR":
                errors += 1
                if not re.search(r"(Throttling|TooManyRequests)\w* from \w+", finding.annotation):
                    wrong.append(f"{rule} {rid}: ERROR without its cause: {finding.annotation}")
            elif finding.compliance != verdict:
                wrong.append(f"{rule} {rid}: expected {verdict}, got {finding.compliance}")
    assert not wrong, "\n".join(wrong)
    # Reads that gave up are exactly the calls whose last answer was still a throttle.
    assert bool(errors) == any(c.injected for c in plan.calls)


# --------------------------------------------- property 2: AccessDenied, rules


def rule_event(
    standin: Any, factory: ClientFactory, world: dict[str, dict[str, str]], rule: str
) -> Callable[[], dict[str, Any]]:
    """The event of the rule's AccessDenied runs: a sweep, or an oversized notification for
    its first NON_COMPLIANT resource (so that the rule reads the resource itself)."""
    if registry.RULES[rule].trigger is Trigger.PERIODIC:
        return lambda: scheduled(standin, rule)
    verdicts = world[rule]
    resource_id = min(verdicts, key=lambda r: (verdicts[r] != "NON_COMPLIANT", r))
    item = configuration_item(factory, rule, resource_id)
    return lambda: oversized(change_event(standin, rule, item))


def deliveries(plan: FaultPlan) -> int:
    """PutEvaluations requests that reached Config."""
    return sum(1 for a in plan.attempts if a.operation == "PutEvaluations" and a.fault is None)


def test_access_denied_at_every_request_of_every_rule_fails_visibly(standin, module_factory, world):
    problems: list[str] = []
    points = Counter()
    for rule in sorted(registry.RULES):
        make_event = rule_event(standin, module_factory, world, rule)
        handler = rule_module(rule).lambda_handler
        context = lambda_context(f"configguard-{rule}")
        recording = FaultPlan()
        with recording.attached(handlers_factory()):
            handler(make_event(), context)
        assert deliveries(recording) >= 1, rule
        for index in range(len(recording.attempts)):
            plan = FaultPlan().inject(ACCESS_DENIED, at=index)
            with plan.attached(handlers_factory()):
                try:
                    handler(make_event(), context)
                    outcome = "delivered"
                except EvaluationError as exc:
                    outcome = "failed"
                    assert plan.injections[0].code in texts_of(exc)
            denied = plan.injections[0]
            points[rule] += 1
            if outcome != "failed" or deliveries(plan):
                problems.append(f"{rule}: AccessDenied on {denied.operation} (#{index}): {outcome}")
    assert not problems, "\n".join(problems)
    assert dict(points) == RULE_REQUESTS
    assert sum(points.values()) == FIGURES["AccessDenied points (rules)"]


# ------------------------------------------------------------- the fix scenarios


TRAIL_BUCKET = "configguard-fault-trail-logs"
FUNCTION_URL_GRANT = "FunctionURLAllowPublicAccess"


@dataclass
class FixCase:
    """A fresh noncompliant resource for one fix, and how to read it independently."""

    fix: str
    rule: str
    make: Callable[[ClientFactory, str], str]  # (factory, unique name) -> resource id
    probe: Callable[[ClientFactory, str], dict[str, Any]]  # the plan's keys, live
    resource_type: str | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> ModuleType:
        return remediation_module(self.fix)

    @property
    def fix_class(self) -> type[Remediation[Any]]:
        return next(
            value
            for value in vars(self.module).values()
            if isinstance(value, type)
            and issubclass(value, Remediation)
            and getattr(value, "spec", None) is not None
            and value.spec.name == self.fix
        )


def _function(factory: ClientFactory, name: str, **extra: Any) -> str:
    make_function(factory, name, role=f"{name}-role", **extra)
    return name


def _function_probe(factory: ClientFactory, name: str) -> dict[str, Any]:
    conf = factory.client("lambda").get_function(FunctionName=name)
    reserved = (conf.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    key = conf["Configuration"].get("KMSKeyArn")
    return {"reservedConcurrency": reserved, "stackKey": key == os.environ[settings.KEY_ARN]}


def _public_function(factory: ClientFactory, name: str) -> str:
    """Public through a NONE-auth function URL and the two grants AWS adds for it."""
    _function(factory, name)
    lam = factory.client("lambda")
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.add_permission(
        FunctionName=name,
        StatementId=FUNCTION_URL_GRANT,
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="FunctionURLInvokeAllowPublicAccess",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    return name


def _public_probe(factory: ClientFactory, name: str) -> dict[str, Any]:
    lam = factory.client("lambda")
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        policy = {"Statement": []}
    public = sorted(
        str(s["Sid"]) for s in policy["Statement"] if s.get("Principal") in ("*", {"AWS": "*"})
    )
    auth = lam.get_function_url_config(FunctionName=name)["AuthType"]
    return {"publicStatements": public, "functionUrlAuthType": auth}


def _cached_stage(factory: ClientFactory, name: str) -> str:
    return rest_stage(
        factory,
        name,
        ("/cacheClusterEnabled", "true"),
        ("/*/*/caching/enabled", "true"),
        ("/~1orders/GET/caching/enabled", "true"),
    )


def _stage(factory: ClientFactory, arn: str) -> dict[str, Any]:
    _, api_id, stage_name = cibuilder.parse_stage_arn(arn)
    return dict(factory.client("apigateway").get_stage(restApiId=api_id, stageName=stage_name))


def _cache_probe(factory: ClientFactory, arn: str) -> dict[str, Any]:
    methods = _stage(factory, arn).get("methodSettings") or {}
    return {
        "cacheDataEncrypted": {
            key: bool(value.get("cacheDataEncrypted")) for key, value in methods.items()
        }
    }


def _regional_stage(factory: ClientFactory, name: str) -> str:
    arn = rest_stage(factory, name)
    _, api_id, _ = cibuilder.parse_stage_arn(arn)
    factory.client("apigateway").update_rest_api(
        restApiId=api_id,
        patchOperations=[
            {"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": "REGIONAL"}
        ],
    )
    return arn


def _waf_probe(factory: ClientFactory, arn: str) -> dict[str, Any]:
    wafv2 = factory.client("wafv2")
    try:
        acl = wafv2.get_web_acl_for_resource(ResourceArn=arn).get("WebACL") or {}
    except wafv2.exceptions.WAFNonexistentItemException:
        acl = {}
    return {"stackWebAcl": acl.get("ARN") == os.environ[settings.WEB_ACL_ARN], "any": bool(acl)}


def _logging_stage(factory: ClientFactory, name: str) -> str:
    """A REST stage without logging, in an account without API Gateway's CloudWatch role."""
    factory.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}]
    )
    return rest_stage(factory, name)


def _logging_probe(factory: ClientFactory, arn: str) -> dict[str, Any]:
    """The stage's logging; its log group's retention once it has one."""
    stage = _stage(factory, arn)
    level = ((stage.get("methodSettings") or {}).get("*/*") or {}).get("loggingLevel")
    destination = (stage.get("accessLogSettings") or {}).get("destinationArn")
    retention = None
    if destination:
        name = destination.split(":log-group:", 1)[1]
        retention = _log_group_probe(factory, name)["retentionInDays"]
    return {"executionLogging": level or "OFF", "accessLogs": bool(destination), "kept": retention}


def _log_group(factory: ClientFactory, name: str, days: int | None = None) -> str:
    logs = factory.client("logs")
    logs.create_log_group(logGroupName=f"/fault/{name}")
    if days:
        logs.put_retention_policy(logGroupName=f"/fault/{name}", retentionInDays=days)
    return f"/fault/{name}"


def _log_group_probe(factory: ClientFactory, name: str) -> dict[str, Any]:
    found = factory.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next(g for g in found if g["logGroupName"] == name)
    key = group.get("kmsKeyId")
    return {"retentionInDays": group.get("retentionInDays"), "kms": key and key[-36:]}


def _key(factory: ClientFactory, name: str, pending: bool = False) -> str:
    kms = factory.client("kms")
    key_id = str(kms.create_key(Description=name)["KeyMetadata"]["KeyId"])
    if pending:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    return key_id


def _key_probe(factory: ClientFactory, key_id: str) -> dict[str, Any]:
    kms = factory.client("kms")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    rotation = kms.get_key_rotation_status(KeyId=key_id) if meta["KeyState"] == "Enabled" else {}
    return {
        "keyState": meta["KeyState"],
        "pendingDeletion": bool(meta.get("DeletionDate")),
        "keyRotationEnabled": bool(rotation.get("KeyRotationEnabled")),
    }


def _trail(factory: ClientFactory, name: str) -> str:
    factory.client("s3").create_bucket(Bucket=TRAIL_BUCKET)  # idempotent in us-east-1
    factory.client("cloudtrail").create_trail(Name=name, S3BucketName=TRAIL_BUCKET)
    return name


def _trail_probe(factory: ClientFactory, name: str) -> dict[str, Any]:
    trail = factory.client("cloudtrail").get_trail(Name=name)["Trail"]
    return {
        "kmsKeyId": bool(trail.get("KmsKeyId")),
        "logFileValidationEnabled": bool(trail.get("LogFileValidationEnabled")),
    }


def _secret_function(factory: ClientFactory, name: str) -> str:
    token = fake("AKIA", 16, UPPER_DIGITS, seed=len(name))
    return _function(factory, name, Environment={"Variables": {"AWS_KEY": token, "MODE": "x"}})


def _secret_probe(factory: ClientFactory, name: str) -> dict[str, Any]:
    """Whether the plaintext key is in the environment, and whether it is in the vault."""
    conf = factory.client("lambda").get_function_configuration(FunctionName=name)
    values = ((conf.get("Environment") or {}).get("Variables") or {}).values()
    secrets = factory.client("secretsmanager")
    vault = remediation_module("strip-env-secrets").vault_name(name)
    try:
        stored = secrets.get_secret_value(SecretId=vault)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException:
        stored = ""
    plaintext = any(str(v).startswith("AKIA") for v in values)
    return {"plaintext": plaintext, "vaulted": "AKIA" in stored}


CASES = {
    case.fix: case
    for case in (
        FixCase("add-concurrency-limit", "lambda-reserved-concurrency", _function, _function_probe),
        FixCase(
            "strip-env-secrets",
            "lambda-env-no-plaintext-secrets",
            _secret_function,
            _secret_probe,
        ),
        FixCase(
            "enable-lambda-env-encryption",
            "lambda-env-cmk-encrypted",
            lambda f, n: _function(f, n, Environment={"Variables": {"MODE": "x"}}),
            _function_probe,
        ),
        FixCase(
            "remove-lambda-public-access",
            "lambda-public-access-prohibited",
            _public_function,
            _public_probe,
            settings={settings.FIX_FUNCTION_URL_AUTH: "true"},
        ),
        FixCase(
            "attach-waf",
            "apigw-stage-waf-attached",
            _regional_stage,
            _waf_probe,
            resource_type=cibuilder.REST_STAGE,
        ),
        FixCase(
            "enable-api-cache-encryption",
            "apigw-stage-cache-encrypted",
            _cached_stage,
            _cache_probe,
            resource_type=cibuilder.REST_STAGE,
        ),
        FixCase(
            "enable-api-logging",
            "apigw-stage-execution-logging",
            _logging_stage,
            _logging_probe,
            resource_type=cibuilder.REST_STAGE,
        ),
        FixCase(
            "enable-log-group-encryption", "log-group-cmk-encrypted", _log_group, _log_group_probe
        ),
        FixCase(
            "set-log-retention",
            "log-group-retention",
            lambda f, n: _log_group(f, n, days=30),
            _log_group_probe,
        ),
        FixCase("enable-kms-key-rotation", "kms-key-rotation-enabled", _key, _key_probe),
        FixCase(
            "cancel-kms-key-deletion",
            "kms-key-not-pending-deletion",
            lambda f, n: _key(f, n, pending=True),
            _key_probe,
        ),
        FixCase("enable-cloudtrail-encryption", "cloudtrail-security-trail", _trail, _trail_probe),
    )
}
assert sorted(CASES) == sorted(registry.REMEDIATIONS)

_names = Counter[str]()


def unique(fix: str) -> str:
    _names[fix] += 1
    short = "".join(word[0] for word in fix.split("-"))
    return f"fault-{short}-{_names[fix]}"


@pytest.fixture
def fix_settings(monkeypatch) -> Iterator[Callable[[FixCase], None]]:
    """A case's settings, no blast-radius cap in the way of hundreds of runs, and no
    IAM propagation pause (the stand-in's IAM is consistent at once)."""

    def apply(case: FixCase) -> None:
        monkeypatch.setenv(settings.MAX_CHANGES_PER_HOUR, "100000")
        for name, value in case.settings.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(
            remediation_module("enable-lambda-env-encryption"), "GRANT_PROPAGATION_SECONDS", 0.0
        )

    yield apply


@dataclass
class FixRun:
    """What one invocation of a fix came to."""

    resource_id: str
    record: dict[str, Any] | None  # the audit record of this run, as stored
    error: BaseException | None
    plan: FaultPlan

    @property
    def outcome(self) -> str | None:
        return None if self.record is None else str(self.record["outcome"])

    def text(self) -> str:
        record = self.record or {}
        parts = [str(record.get(k) or "") for k in ("reason", "error")]
        return "\n".join([*parts, *record.get("notes", []), texts_of(self.error)])


FIX_STEPS = ("read", "plan", "apply", "verify", "tag_resource")


@contextmanager
def fix_phases(plan: FaultPlan, case: FixCase) -> Iterator[None]:
    """Label the requests each step of the fix makes (plan.phase: "read", "apply" ...);
    the engine's own requests (gates, idempotency, findings, audit) keep the label ""."""
    cls = case.fix_class
    with pytest.MonkeyPatch.context() as patch:
        for step in FIX_STEPS:
            original = getattr(cls, step)

            def labelled(
                self: Any, *args: Any, _step: str = step, _original: Any = original
            ) -> Any:
                with plan.during(_step):
                    return _original(self, *args)

            patch.setattr(cls, step, labelled)
        yield


def run_fix(case: FixCase, resource_id: str, plan: FaultPlan | None = None) -> FixRun:
    """The fix's real handler on a CLI fix request for the resource, under `plan`."""
    plan = plan or FaultPlan()
    event = fix_request_event(
        case.rule,
        resource_id,
        account_id=ACCOUNT,
        region=REGION,
        actor="fault-injection",
        resource_type=case.resource_type,
    )
    handler = case.module.lambda_handler
    error: BaseException | None = None
    factory = handlers_factory()
    before = {r["audit_id"] for r in list_records(factory, resource_id=resource_id)}
    with plan.attached(factory), fix_phases(plan, case):
        try:
            handler(event, lambda_context(f"configguard-{case.fix}"))
        except Exception as exc:
            error = exc
    records = [
        r for r in list_records(factory, resource_id=resource_id) if r["audit_id"] not in before
    ]
    assert len(records) <= 1, records
    return FixRun(resource_id, records[0] if records else None, error, plan)


def fresh_run(case: FixCase, plan: FaultPlan | None = None) -> FixRun:
    return run_fix(case, case.make(handlers_factory(), unique(case.fix)), plan)


@dataclass(frozen=True)
class Views:
    """A case's resource as its probe sees it before and after a fix without faults."""

    unfixed: dict[str, Any]
    fixed: dict[str, Any]
    attempts: list[Attempt]  # the requests of that run, labelled with the fix's steps

    @property
    def writes(self) -> list[tuple[int, str]]:
        """(request index, operation) of the writes of its apply step."""
        return [(a.index, a.operation) for a in self.attempts if a.phase == "apply" and a.write]

    @property
    def engine(self) -> list[tuple[str, str]]:
        """The engine's own requests (gates, idempotency, findings, audit), in order."""
        return [(a.service, a.operation) for a in self.attempts if a.phase == ENGINE]


def views(case: FixCase) -> Views:
    factory = handlers_factory()
    resource_id = case.make(factory, unique(case.fix))
    unfixed = case.probe(factory, resource_id)
    run = run_fix(case, resource_id)
    assert run.error is None and run.outcome == "applied", run.text()
    fixed = case.probe(factory, resource_id)
    assert fixed != unfixed
    return Views(unfixed, fixed, list(run.plan.attempts))


# ------------------------------------------ property 2: AccessDenied, fixes


@pytest.mark.parametrize("fix", sorted(CASES))
def test_access_denied_at_every_request_of_a_fix_is_never_a_silent_success(
    standin, fix_settings, log_output, fix
):
    case = CASES[fix]
    fix_settings(case)
    seen = views(case)
    # The engine's requests are the same, in the same places, for every fix: each of them
    # is denied in the representative's runs; every fix's own requests in its own runs.
    assert seen.engine == ENGINE_REQUESTS
    points = [a.index for a in seen.attempts if fix == REPRESENTATIVE or a.phase != ENGINE]
    problems = []
    pristine = None  # a resource no run changed yet: reused while runs fail before apply
    runs = 0
    for index in points:
        runs += 1
        resource_id = pristine or case.make(handlers_factory(), unique(case.fix))
        run = run_fix(case, resource_id, FaultPlan().inject(ACCESS_DENIED, at=index))
        untouched = not any(a.phase == "apply" for a in run.plan.attempts)
        pristine = resource_id if untouched and run.outcome != "applied" else None
        (denied,) = run.plan.injections
        where = f"AccessDenied on {denied.service} {denied.operation} (#{index})"
        live = case.probe(handlers_factory(), run.resource_id)
        if run.outcome in (None, "failed", "blocked"):
            if run.record is None and run.error is None:
                problems.append(f"{where}: no record and no error")
            elif run.record is not None and not (run.record["reason"] or run.record["error"]):
                problems.append(f"{where}: {run.outcome} without a reason")
        elif run.outcome == "applied":
            # True only when the resource is fixed, and the denied call is not hidden.
            named = denied.code in run.text() or denied.code in log_output.getvalue()
            if live != seen.fixed or not named:
                problems.append(f"{where}: applied (fixed: {live == seen.fixed}, named: {named})")
        else:
            problems.append(f"{where}: {run.outcome}: {run.record and run.record['reason']}")
    assert not problems, "\n".join(problems)
    assert runs == FIX_REQUESTS[fix]


# ------------------------------------------- property 3: half-way failures


# Faults botocore retries before the request reaches the service: injected one after
# the other into the same write (its retries), in one run; the write then goes through.
RETRIED_UNSENT = (THROTTLING, TOO_MANY_REQUESTS, SERVER_ERROR, CONNECT_TIMEOUT)
# Each in a run of its own: the write went through and its answer was lost (it runs
# again), or the write failed for good.
ALONE = (READ_TIMEOUT, ACCESS_DENIED, NOT_FOUND, CONFLICT)
assert sorted(RETRIED_UNSENT + ALONE) == sorted(KINDS)


@pytest.mark.parametrize("fix", MULTI_WRITE)
def test_a_fix_failing_half_way_leaves_the_old_or_the_new_state_and_says_which(
    standin, fix_settings, fix
):
    case = CASES[fix]
    fix_settings(case)
    seen = views(case)
    assert [operation for _, operation in seen.writes] == WRITES_IN_APPLY[fix]
    problems, points = [], 0
    rerun: set[tuple[int, str]] = set()  # once per write and state a failure left there
    for index, operation in seen.writes:
        for kinds in (RETRIED_UNSENT, *((kind,) for kind in ALONE)):
            plan = FaultPlan()
            for offset, kind in enumerate(kinds):
                plan.inject(kind, at=index + offset)
            run = fresh_run(case, plan)
            points += len(run.plan.injections)
            where = f"{'+'.join(kinds)} on {operation} (#{index})"
            if [(a.fault, a.operation) for a in run.plan.injections] != [
                (kind, operation) for kind in kinds
            ]:
                problems.append(f"{where}: injected {run.plan.injections}")
            live = case.probe(handlers_factory(), run.resource_id)
            if live not in (seen.unfixed, seen.fixed):
                problems.append(f"{where}: a mix: {live}")
                continue
            state = "changed" if live == seen.fixed else "unchanged"
            if run.record is None or run.record["resource_state"] != state:
                said = run.record and run.record["resource_state"]
                problems.append(f"{where}: {state}, but the record says {said}")
            if set(kinds) <= RETRYABLE and run.outcome != "applied":
                problems.append(f"{where}: retried, yet {run.outcome}")
            left = (index, json.dumps(live, sort_keys=True))
            if run.outcome == "applied" or state == "changed" or left in rerun:
                continue
            rerun.add(left)
            again = run_fix(case, run.resource_id)  # Lambda's retry, or the engineer's
            finished = case.probe(handlers_factory(), run.resource_id)
            if again.outcome != "applied" or finished != seen.fixed:
                problems.append(f"{where}: the re-run ended {again.outcome}: {finished}")
    assert not problems, "\n".join(problems)
    assert points == len(KINDS) * len(WRITES_IN_APPLY[fix])
