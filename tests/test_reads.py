"""configguard.reads: each read happens once, absent things are None, errors surface."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import CallCounter, make_function
from faults import inject_error

from configguard import cibuilder
from configguard.reads import Reads


def test_a_read_is_made_once_and_counted(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    reads = Reads(factory)
    first = reads.function("fn")
    second = reads.function("fn")
    assert first is second
    assert lambda_calls.calls == ["GetFunction"]
    assert reads.calls == {"lambda:GetFunction": 1}


def test_configuration_reuses_get_function(factory, lambda_calls):
    make_function(factory, "fn", Environment={"Variables": {"A": "1"}})
    lambda_calls.calls.clear()
    reads = Reads(factory)
    cibuilder.read(reads, "AWS::Lambda::Function", "fn")
    assert reads.function_configuration("fn")["Environment"] == {"Variables": {"A": "1"}}
    assert lambda_calls.calls == ["GetFunction"]


def test_configuration_without_get_function_reads_it(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    assert Reads(factory).function_configuration("fn")["FunctionName"] == "fn"
    assert lambda_calls.calls == ["GetFunctionConfiguration"]


def test_missing_things_are_none_and_cached(factory, lambda_calls):
    make_function(factory, "fn")
    lambda_calls.calls.clear()
    reads = Reads(factory)
    assert reads.function("gone") is None
    assert reads.function_policy("fn") is None
    assert reads.event_invoke_config("fn") is None
    assert reads.function_policy("fn") is None
    assert lambda_calls.calls == ["GetFunction", "GetPolicy", "GetFunctionEventInvokeConfig"]


def test_other_errors_propagate_and_are_not_cached(factory):
    make_function(factory, "fn")
    reads = Reads(factory)
    with (
        inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException", 403),
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        reads.function_policy("fn")
    assert reads.function_policy("fn") is None  # the retry reaches the service


def test_policy_document_is_parsed(factory):
    make_function(factory, "fn")
    factory.client("lambda").add_permission(
        FunctionName="fn",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceAccount="123456789012",
    )
    policy = Reads(factory).function_policy("fn")
    assert [s["Sid"] for s in policy["Statement"]] == ["s3"]


def test_role_policies_read_attached_and_inline_once(factory):
    iam = factory.client("iam")
    make_function(factory, "fn", role="worker")
    iam.attach_role_policy(RoleName="worker", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    inline = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="worker", PolicyName="own", PolicyDocument=json.dumps(inline))
    counter = CallCounter(iam)
    reads = Reads(factory)
    policies = reads.role_policies("worker")
    again = reads.role_policies("worker")
    counter.close()
    assert policies == again
    assert {(p.name, p.arn is None) for p in policies} == {("ReadOnlyAccess", False), ("own", True)}
    assert next(p for p in policies if p.name == "own").document == inline
    assert sorted(counter.calls) == sorted(
        [
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "GetPolicy",
            "GetPolicyVersion",
            "GetRolePolicy",
        ]
    )


def test_role_policies_of_a_missing_role_are_none(factory):
    assert Reads(factory).role_policies("no-such-role") is None


def test_functions_are_listed_once(factory):
    make_function(factory, "a")
    make_function(factory, "b")
    reads = Reads(factory)
    names = {f["FunctionName"] for f in reads.functions()}
    assert {"a", "b"} <= names
    reads.functions()
    assert reads.calls["lambda:ListFunctions"] == 1


# ------------------------------------------------------------------ API Gateway


def _rest_stage(factory, name: str = "shop", stage: str = "prod") -> str:
    ag = factory.client("apigateway")
    api_id = ag.create_rest_api(name=name)["id"]
    root = ag.get_resources(restApiId=api_id)["items"][0]["id"]
    ag.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    ag.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def test_rest_stage_cis_carry_the_stage_and_are_read_once(factory):
    api_id = _rest_stage(factory)
    factory.client("apigateway").update_stage(
        restApiId=api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/tracingEnabled", "value": "true"}],
    )
    reads = Reads(factory)
    (ci,) = [
        c
        for c in cibuilder.list_items(reads, "AWS::ApiGateway::Stage")
        if api_id in c["resourceId"]
    ]
    assert ci["resourceId"] == f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod"
    assert ci["resourceName"] == "prod"
    assert ci["configuration"]["tracingEnabled"] is True
    assert ci["configuration"]["restApiId"] == api_id
    again = cibuilder.read(reads, "AWS::ApiGateway::Stage", ci["resourceId"])
    assert again["configuration"] == ci["configuration"]
    assert reads.calls["apigateway:GetStage"] == 0  # served from GetStages


def test_http_stage_ci_uses_camel_case_but_keeps_route_keys(factory):
    v2 = factory.client("apigatewayv2")
    api_id = v2.create_api(Name="items", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(
        ApiId=api_id,
        StageName="$default",
        DefaultRouteSettings={"ThrottlingRateLimit": 5.0, "ThrottlingBurstLimit": 2},
        RouteSettings={"GET /items": {"ThrottlingRateLimit": 1.0}},
        StageVariables={"Backend": "blue"},
    )
    arn = cibuilder.http_stage_arn("us-east-1", api_id, "$default")
    ci = cibuilder.read(factory, "AWS::ApiGatewayV2::Stage", arn)
    conf = ci["configuration"]
    assert conf["defaultRouteSettings"] == {"throttlingRateLimit": 5.0, "throttlingBurstLimit": 2}
    assert conf["routeSettings"] == {"GET /items": {"throttlingRateLimit": 1.0}}
    assert conf["stageVariables"] == {"Backend": "blue"}
    assert conf["apiId"] == api_id and ci["resourceId"] == arn


def test_a_stage_that_is_gone_reads_as_none(factory):
    api_id = _rest_stage(factory)
    gone = cibuilder.rest_stage_arn("us-east-1", api_id, "nope")
    assert cibuilder.read(factory, "AWS::ApiGateway::Stage", gone) is None


def test_a_malformed_stage_id_is_a_clear_error(factory):
    with pytest.raises(ValueError, match="not an API Gateway stage ARN"):
        cibuilder.read(factory, "AWS::ApiGateway::Stage", "prod")


def test_rest_resources_embed_methods(factory):
    api_id = _rest_stage(factory)
    (root,) = Reads(factory).rest_resources(api_id)
    assert root["resourceMethods"]["GET"]["authorizationType"] == "NONE"


def test_concurrent_callers_of_one_read_share_one_call(factory, lambda_calls):
    from concurrent.futures import ThreadPoolExecutor

    make_function(factory, "fn")
    lambda_calls.calls.clear()
    reads = Reads(factory)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: reads.function("fn"), range(32)))
    assert all(answer is answers[0] for answer in answers)
    assert lambda_calls.calls == ["GetFunction"]
    assert reads.calls == {"lambda:GetFunction": 1}


def test_a_failed_read_fails_every_waiter_and_is_not_cached(factory):
    from concurrent.futures import ThreadPoolExecutor

    reads = Reads(factory)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(reads.function_configuration, "gone") for _ in range(8)]
    assert all(f.result() is None for f in futures)  # ResourceNotFound is "missing"
    with (
        inject_error(factory.client("lambda"), "GetPolicy", "AccessDeniedException"),
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        reads.function_policy("fn")
    make_function(factory, "fn")
    assert reads.function_policy("fn") is None  # read again, not the cached failure


def test_a_map_inside_the_pool_runs_inline_so_it_cannot_starve_it(factory):
    from concurrent.futures import ThreadPoolExecutor

    from configguard.reads import pool_thread

    with ThreadPoolExecutor(1, initializer=pool_thread) as pool:
        reads = Reads(factory, executor=pool)
        outer = pool.submit(reads.map, lambda n: n * 2, [1, 2, 3])
        assert outer.result(timeout=10) == [2, 4, 6]  # one worker: a nested submit would hang
        assert reads.map(lambda n: n + 1, [1, 2]) == [2, 3]  # from outside: on the pool
