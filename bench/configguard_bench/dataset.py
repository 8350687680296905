"""The benchmark account: the same resources, seeded into each fresh stand-in.

Every resource carries independent, seeded coin flips, one per check that applies to
it, so roughly half of each kind violates each check and the mix is identical in every
run. The plan knows the truth: `expected()` counts the violations per check.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from configguard_cli.local.seed import LAMBDA_TRUST_POLICY, function_zip

# The twelve benchmarked checks, by configguard rule name.
LAMBDA_CHECKS = (
    "lambda-reserved-concurrency",
    "lambda-env-cmk-encrypted",
    "lambda-public-access-prohibited",
    "lambda-runtime-supported",
)
STAGE_CHECKS = (
    "apigw-stage-waf-attached",
    "apigw-stage-execution-logging",
    "apigw-stage-cache-encrypted",
    "apigw-stage-tracing",
)
KEY_CHECKS = ("kms-key-rotation-enabled", "kms-key-not-pending-deletion")
LOG_GROUP_CHECKS = ("log-group-cmk-encrypted", "log-group-retention")
CHECKS = LAMBDA_CHECKS + STAGE_CHECKS + KEY_CHECKS + LOG_GROUP_CHECKS

PREFIX = "bench"
SUPPORTED_RUNTIME = "python3.13"
DEPRECATED_RUNTIME = "python3.7"  # deprecated 2023-12-04: every tool agrees
SHORT_RETENTION, LONG_RETENTION = 30, 400  # days; the minimum everywhere is 365
STAGES_PER_API = 2
ROLE_NAME = f"{PREFIX}-function-role"
ClientOf = Callable[[str], Any]


@dataclass(frozen=True)
class Size:
    functions: int
    stages: int
    keys: int
    log_groups: int

    def scaled(self, factor: float) -> Size:
        return Size(
            *(
                max(STAGES_PER_API, round(n * factor))
                for n in (self.functions, self.stages, self.keys, self.log_groups)
            )
        )

    def as_json(self) -> dict[str, int]:
        return {
            "functions": self.functions,
            "stages": self.stages,
            "keys": self.keys,
            "log_groups": self.log_groups,
        }


DEFAULT_SIZE = Size(functions=1000, stages=200, keys=200, log_groups=1000)
QUICK_SIZE = DEFAULT_SIZE.scaled(0.1)


@dataclass(frozen=True)
class Resource:
    kind: str  # function | stage | key | log_group
    name: str
    violates: frozenset[str]


@dataclass
class Plan:
    size: Size
    resources: list[Resource] = field(default_factory=list)

    def of(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def expected(self) -> dict[str, int]:
        """Violations per check, by construction.

        A key pending deletion cannot rotate: its rotation flip does not count (every tool
        skips or marks it not applicable for rotation).
        """
        counts = dict.fromkeys(CHECKS, 0)
        for resource in self.resources:
            for check in resource.violates:
                if check == "kms-key-rotation-enabled" and (
                    "kms-key-not-pending-deletion" in resource.violates
                ):
                    continue
                counts[check] += 1
        return counts


def plan(size: Size, seed: int = 20261121) -> Plan:
    """Which resource violates which check: independent coin flips, the same every run."""
    rng = random.Random(seed)
    out = Plan(size)

    def add(kind: str, count: int, checks: Iterable[str], name: Callable[[int], str]) -> None:
        checks = tuple(checks)
        for index in range(count):
            flips = frozenset(c for c in checks if rng.random() < 0.5)
            out.resources.append(Resource(kind, name(index), flips))

    add("function", size.functions, LAMBDA_CHECKS, lambda i: f"{PREFIX}-fn-{i:05d}")
    add("stage", size.stages, STAGE_CHECKS, lambda i: f"s{i % STAGES_PER_API}-{i:05d}")
    # Key 0 is the CMK the compliant functions and log groups use: never a violator.
    add("key", size.keys, KEY_CHECKS, lambda i: f"{PREFIX}-key-{i:05d}")
    first = out.resources[-size.keys]
    out.resources[-size.keys] = Resource(first.kind, first.name, frozenset())
    add("log_group", size.log_groups, LOG_GROUP_CHECKS, lambda i: f"/{PREFIX}/group-{i:05d}")
    return out


def _replace(path: str, value: str) -> dict[str, str]:
    return {"op": "replace", "path": path, "value": value}


def _seed_keys(client: ClientOf, keys: list[Resource], pool: ThreadPoolExecutor) -> list[str]:
    kms = client("kms")

    def one(resource: Resource) -> str:
        metadata = kms.create_key(Description=resource.name)["KeyMetadata"]
        if "kms-key-rotation-enabled" not in resource.violates:
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        if "kms-key-not-pending-deletion" in resource.violates:
            kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=30)
        return str(metadata["Arn"])

    return list(pool.map(one, keys))


def _seed_functions(
    client: ClientOf, functions: list[Resource], key_arn: str, pool: ThreadPoolExecutor
) -> None:
    lam = client("lambda")
    role = client("iam").create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY)
    )["Role"]["Arn"]
    code = function_zip()

    def one(resource: Resource) -> None:
        v = resource.violates
        request: dict[str, Any] = {
            "FunctionName": resource.name,
            "Role": role,
            "Handler": "handler.lambda_handler",
            "Code": {"ZipFile": code},
            "Runtime": DEPRECATED_RUNTIME if "lambda-runtime-supported" in v else SUPPORTED_RUNTIME,
            "Environment": {"Variables": {"STAGE": "bench", "LOG_LEVEL": "INFO"}},
        }
        if "lambda-env-cmk-encrypted" not in v:
            request["KMSKeyArn"] = key_arn
        lam.create_function(**request)
        if "lambda-reserved-concurrency" not in v:
            lam.put_function_concurrency(FunctionName=resource.name, ReservedConcurrentExecutions=1)
        if "lambda-public-access-prohibited" in v:
            lam.add_permission(
                FunctionName=resource.name,
                StatementId="public-invoke",
                Action="lambda:InvokeFunction",
                Principal="*",
            )

    list(pool.map(one, functions))


def _seed_stages(client: ClientOf, stages: list[Resource], pool: ThreadPoolExecutor) -> None:
    ag, waf = client("apigateway"), client("wafv2")
    acl = waf.create_web_acl(
        Name=f"{PREFIX}-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": f"{PREFIX}-acl",
        },
    )["Summary"]["ARN"]
    groups = [stages[i : i + STAGES_PER_API] for i in range(0, len(stages), STAGES_PER_API)]

    def one(index_and_group: tuple[int, list[Resource]]) -> None:
        index, group = index_and_group
        api = ag.create_rest_api(name=f"{PREFIX}-api-{index:04d}")["id"]
        root = ag.get_resources(restApiId=api)["items"][0]["id"]
        ag.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        ag.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        for stage in group:
            v = stage.violates
            ag.create_deployment(restApiId=api, stageName=stage.name)
            patches = [
                _replace(
                    "/*/*/logging/loglevel",
                    "OFF" if "apigw-stage-execution-logging" in v else "ERROR",
                ),
                _replace("/tracingEnabled", "false" if "apigw-stage-tracing" in v else "true"),
                _replace("/cacheClusterEnabled", "true"),
                _replace("/*/*/caching/enabled", "true"),
                _replace(
                    "/*/*/caching/dataEncrypted",
                    "false" if "apigw-stage-cache-encrypted" in v else "true",
                ),
            ]
            ag.update_stage(restApiId=api, stageName=stage.name, patchOperations=patches)
            if "apigw-stage-waf-attached" not in v:
                arn = (
                    f"arn:aws:apigateway:{ag.meta.region_name}::/restapis/{api}/stages/{stage.name}"
                )
                waf.associate_web_acl(WebACLArn=acl, ResourceArn=arn)

    list(pool.map(one, enumerate(groups)))


def _seed_log_groups(
    client: ClientOf, groups: list[Resource], key_arn: str, pool: ThreadPoolExecutor
) -> None:
    logs = client("logs")

    def one(resource: Resource) -> None:
        request: dict[str, Any] = {"logGroupName": resource.name}
        if "log-group-cmk-encrypted" not in resource.violates:
            request["kmsKeyId"] = key_arn
        logs.create_log_group(**request)
        days = SHORT_RETENTION if "log-group-retention" in resource.violates else LONG_RETENTION
        logs.put_retention_policy(logGroupName=resource.name, retentionInDays=days)

    list(pool.map(one, groups))


def seed(client: ClientOf, the_plan: Plan, workers: int = 8) -> None:
    """Create the plan's resources through the API (the server's own code paths)."""
    with ThreadPoolExecutor(workers) as pool:
        key_arns = _seed_keys(client, the_plan.of("key"), pool)
        _seed_functions(client, the_plan.of("function"), key_arns[0], pool)
        _seed_stages(client, the_plan.of("stage"), pool)
        _seed_log_groups(client, the_plan.of("log_group"), key_arns[0], pool)
