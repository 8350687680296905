"""The benchmark harness's API-call counter and lower bound are right.

The counter names requests from the stand-in's own request log; the bound is the least
number of calls each check needs. configguard's scan of a small seeded account must
make exactly the bound (plus one GetCallerIdentity) and find exactly the seeded truth.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from configguard_bench import bound, counter, dataset, measure, server
from configguard_bench.peers import configguard as configguard_tool
from configguard_cli.local.standin import StandIn

pytestmark = pytest.mark.server
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _client(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def test_the_counter_names_every_protocol_from_the_request_log(tmp_path):
    log = tmp_path / "requests.jsonl"
    with StandIn(request_log=log) as standin:
        deadline = time.monotonic() + 10
        while counter.line_count(log) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # the readiness probe's record: count what follows it
        ready = counter.line_count(log)
        c = lambda service: _client(standin.url, service)  # noqa: E731
        c("lambda").list_functions()
        with pytest.raises(ClientError):
            c("lambda").get_policy(FunctionName="missing")  # an error is still a call
        c("lambda").get_account_settings()
        c("apigateway").get_rest_apis()
        c("apigatewayv2").get_apis()
        c("kms").list_keys()
        c("kms").list_keys()
        c("logs").describe_log_groups(limit=50)
        c("sts").get_caller_identity()
        c("iam").list_roles()
        stages = c("apigateway")
        api = stages.create_rest_api(name="counted")["id"]
        stages.get_stages(restApiId=api)
    records = counter.read_records(log, ready)
    assert counter.count(records) == Counter(
        {
            "lambda:ListFunctions": 1,
            "lambda:GetPolicy": 1,
            "lambda:GetAccountSettings": 1,
            "apigateway:GetRestApis": 1,
            "apigatewayv2:GetApis": 1,
            "kms:ListKeys": 2,
            "logs:DescribeLogGroups": 1,
            "sts:GetCallerIdentity": 1,
            "iam:ListRoles": 1,
            "apigateway:CreateRestApi": 1,
            "apigateway:GetStages": 1,
        }
    )
    assert {r["status"] for r in records if r["path"].endswith("/missing/policy")} == {"404"}


def test_an_unknown_request_is_counted_not_dropped():
    record = {"method": "GET", "path": "/nowhere", "service": "lambda"}
    assert counter.operation_name(record) == "lambda:?"
    assert counter.count([record, record]) == Counter({"lambda:?": 2})


def test_pages_count_an_empty_listing_as_one_call():
    assert bound.pages(0, 50) == 1
    assert bound.pages(50, 50) == 1
    assert bound.pages(51, 50) == 2
    assert bound.pages(20_000, None) == 1


def test_the_bound_of_each_check_by_hand():
    counts = bound.Counts(
        functions=120, rest_apis=3, stages=6, keys=7, rotatable_keys=5, log_groups=101
    )
    aws = bound.AWS_PAGE_LIMITS
    assert bound.calls(counts, "lambda-reserved-concurrency", aws) == {
        "lambda:ListFunctions": 3,
        "lambda:GetFunctionConcurrency": 120,
    }
    assert bound.calls(counts, "lambda-runtime-supported", aws) == {"lambda:ListFunctions": 3}
    assert sum(bound.calls(counts, "lambda-public-access-prohibited", aws).values()) == 123
    assert bound.calls(counts, "apigw-stage-tracing", aws) == {
        "apigateway:GetRestApis": 1,
        "apigateway:GetStages": 3,
    }
    assert bound.calls(counts, "kms-key-rotation-enabled", aws) == {
        "kms:ListKeys": 1,
        "kms:DescribeKey": 7,
        "kms:GetKeyRotationStatus": 5,
    }
    assert bound.calls(counts, "log-group-retention", aws) == {"logs:DescribeLogGroups": 3}
    # Together, shared reads count once: 3+240 + 1+3+1 + 1+7+5 + 3.
    together = bound.union(counts, dataset.CHECKS, aws)
    assert sum(together.values()) == 243 + 5 + 13 + 3
    assert bound.put_evaluations(101) == 2
    assert bound.ratio(105, 100) == 1.05
    with pytest.raises(KeyError, match="no bound"):
        bound.calls(counts, "no-such-check", aws)


def test_the_plan_is_the_same_every_time_and_about_half_violates():
    first, second = dataset.plan(dataset.QUICK_SIZE), dataset.plan(dataset.QUICK_SIZE)
    assert first.resources == second.resources
    expected = first.expected()
    functions = dataset.QUICK_SIZE.functions
    for check in dataset.LAMBDA_CHECKS:
        assert 0.3 * functions < expected[check] < 0.7 * functions
    assert dataset.DEFAULT_SIZE.scaled(0.1) == dataset.QUICK_SIZE


def test_configguard_scan_meets_the_bound_and_finds_the_truth(tmp_path):
    plan = dataset.plan(dataset.Size(functions=12, stages=6, keys=6, log_groups=60))
    counts = bound.Counts.of(plan, dataset.STAGES_PER_API)
    floor = bound.union(counts, dataset.CHECKS, bound.STANDIN_PAGE_LIMITS)
    with server.Server(tmp_path / "requests.jsonl") as srv:
        dataset.seed(srv.client, plan)
        mark = srv.mark()
        result = measure.run(
            configguard_tool.command(server_repo(), tmp_path),
            {**os.environ, **srv.env()},
            tmp_path,
            tmp_path / "scan.log",
        )
        calls = srv.calls_since(mark)
    assert result.exit_code == 0, (tmp_path / "scan.log").read_text()[-2000:]
    assert result.wall_s > 0 and result.cpu_s > 0 and result.peak_rss_mb > 10
    assert configguard_tool.verdicts(tmp_path) == plan.expected()
    extra = calls - Counter(floor)
    missing = Counter(floor) - calls
    assert not missing, f"the bound counts calls the scan never made: {missing}"
    assert extra == Counter({"sts:GetCallerIdentity": 1}), extra


def server_repo():
    from pathlib import Path

    return Path(REPO)


@pytest.mark.parametrize("name", ["c7n", "prowler"])
def test_each_peer_runs_the_version_the_makefile_installs(name):
    from pathlib import Path

    from configguard_bench.peers import custodian, prowler

    module = {"c7n": custodian, "prowler": prowler}[name]
    pins = (Path(REPO) / "bench" / f"requirements-{name}.txt").read_text()
    assert f"=={module.VERSION}" in pins
    assert Path(".bench") / name == module.VENV
    assert set(module.CHECKS) == set(dataset.CHECKS)
