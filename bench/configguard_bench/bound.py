"""The least number of API calls each check needs, and a tool's ratio to it.

A check must list its resources (every page) and make the per-resource reads that no
listing answers. Everything else is avoidable. Pages are counted with the page size the
server honours: moto returns some listings whole where AWS caps a page (ListFunctions at
50), so `AWS_PAGE_LIMITS` gives the figure for a real account too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from configguard_bench.dataset import CHECKS, Plan

# Largest page each listing returns; None: the whole listing in one answer.
STANDIN_PAGE_LIMITS: Mapping[str, int | None] = {
    "lambda:ListFunctions": None,
    "apigateway:GetRestApis": None,
    "apigatewayv2:GetApis": None,
    "kms:ListKeys": None,
    "logs:DescribeLogGroups": 50,
}
AWS_PAGE_LIMITS: Mapping[str, int | None] = {
    "lambda:ListFunctions": 50,
    "apigateway:GetRestApis": 500,
    "apigatewayv2:GetApis": None,  # GetApis pages by NextToken; no documented cap
    "kms:ListKeys": 1000,
    "logs:DescribeLogGroups": 50,
}
PUT_EVALUATIONS_BATCH = 100


@dataclass(frozen=True)
class Counts:
    """What the account holds, as the bound needs it."""

    functions: int
    rest_apis: int
    stages: int
    keys: int
    rotatable_keys: int  # customer-managed, symmetric, enabled: GetKeyRotationStatus applies
    log_groups: int
    http_apis: int = 0

    @classmethod
    def of(cls, plan: Plan, stages_per_api: int) -> Counts:
        keys = plan.of("key")
        return cls(
            functions=len(plan.of("function")),
            rest_apis=math.ceil(len(plan.of("stage")) / stages_per_api),
            stages=len(plan.of("stage")),
            keys=len(keys),
            rotatable_keys=sum("kms-key-not-pending-deletion" not in k.violates for k in keys),
            log_groups=len(plan.of("log_group")),
        )


def pages(items: int, limit: int | None) -> int:
    """Pages to list `items` (an empty listing is still one call)."""
    if limit is None or items <= limit:
        return 1
    return math.ceil(items / limit)


def calls(counts: Counts, check: str, limits: Mapping[str, int | None]) -> dict[str, int]:
    """The unavoidable calls of one check, per operation."""
    lambda_list = {"lambda:ListFunctions": pages(counts.functions, limits["lambda:ListFunctions"])}
    rest = {
        "apigateway:GetRestApis": pages(counts.rest_apis, limits["apigateway:GetRestApis"]),
        "apigateway:GetStages": counts.rest_apis,  # stages carry every setting judged
    }
    keys = {
        "kms:ListKeys": pages(counts.keys, limits["kms:ListKeys"]),
        "kms:DescribeKey": counts.keys,  # ListKeys returns ids only
    }
    logs = {"logs:DescribeLogGroups": pages(counts.log_groups, limits["logs:DescribeLogGroups"])}
    table: dict[str, dict[str, int]] = {
        # ListFunctions carries neither reserved concurrency nor the resource policy.
        "lambda-reserved-concurrency": {
            **lambda_list,
            "lambda:GetFunctionConcurrency": counts.functions,
        },
        "lambda-env-cmk-encrypted": lambda_list,
        "lambda-public-access-prohibited": {**lambda_list, "lambda:GetPolicy": counts.functions},
        "lambda-runtime-supported": lambda_list,
        "apigw-stage-waf-attached": rest,
        # configguard's execution-logging check also covers WebSocket (v2) stages.
        "apigw-stage-execution-logging": {
            **rest,
            "apigatewayv2:GetApis": pages(counts.http_apis, limits["apigatewayv2:GetApis"]),
            **({"apigatewayv2:GetStages": counts.http_apis} if counts.http_apis else {}),
        },
        "apigw-stage-cache-encrypted": rest,
        "apigw-stage-tracing": rest,
        "kms-key-rotation-enabled": {
            **keys,
            "kms:GetKeyRotationStatus": counts.rotatable_keys,
        },
        "kms-key-not-pending-deletion": keys,
        "log-group-cmk-encrypted": logs,
        "log-group-retention": logs,
    }
    if check not in table:
        raise KeyError(f"no bound for {check!r}; benchmarked checks: {', '.join(CHECKS)}")
    return dict(table[check])


def union(
    counts: Counts, checks: Iterable[str], limits: Mapping[str, int | None]
) -> dict[str, int]:
    """The unavoidable calls of several checks run together: shared reads count once."""
    merged: dict[str, int] = {}
    for check in checks:
        for operation, number in calls(counts, check, limits).items():
            merged[operation] = max(merged.get(operation, 0), number)
    return merged


def put_evaluations(resources: int) -> int:
    """PutEvaluations batches a Config rule needs to report `resources` verdicts."""
    return math.ceil(resources / PUT_EVALUATIONS_BATCH)


def ratio(measured: int, bound: int) -> float:
    return round(measured / bound, 3) if bound else math.inf
