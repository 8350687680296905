"""Stand-in API Gateway stages and rule runs shared by the stage rules' tests."""

from __future__ import annotations

import json
from typing import Any

from conftest import REGION, change_event, lambda_context, stored_results

from configguard import cibuilder
from configguard_cli.handlers import rule_module

REST = cibuilder.REST_STAGE
V2 = cibuilder.HTTP_STAGE


def rest_stage(
    factory: Any, name: str, *patches: tuple[str, str], api_id: str | None = None
) -> str:
    """REST API `name` with GET /orders deployed to stage prod, patched; the stage ARN."""
    ag = factory.client("apigateway")
    api = ag.create_rest_api(name=name, tags={"_custom_id_": api_id} if api_id else {})["id"]
    root = ag.get_resources(restApiId=api)["items"][0]["id"]
    orders = ag.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    ag.put_method(restApiId=api, resourceId=orders, httpMethod="GET", authorizationType="NONE")
    ag.put_integration(restApiId=api, resourceId=orders, httpMethod="GET", type="MOCK")
    ag.create_deployment(restApiId=api, stageName="prod")
    if patches:
        operations = [{"op": "replace", "path": p, "value": v} for p, v in patches]
        ag.update_stage(restApiId=api, stageName="prod", patchOperations=operations)
    return cibuilder.rest_stage_arn(REGION, api, "prod")


def v2_stage(factory: Any, name: str, protocol: str, **stage: Any) -> str:
    """An HTTP or WebSocket API `name` with stage prod; the stage ARN."""
    v2 = factory.client("apigatewayv2")
    extra = {"RouteSelectionExpression": "$request.body.action"} if protocol == "WEBSOCKET" else {}
    api = v2.create_api(Name=name, ProtocolType=protocol, **extra)["ApiId"]
    v2.create_stage(ApiId=api, StageName="prod", **stage)
    return cibuilder.http_stage_arn(REGION, api, "prod")


def read_ci(factory: Any, resource_type: str, arn: str) -> dict[str, Any]:
    """The stage's CI as Config delivers it: JSON, dates as strings."""
    item = cibuilder.read(factory, resource_type, arn)
    assert item is not None
    return dict(json.loads(json.dumps(item, default=str)))


def run_rule(
    rule: str, standin: Any, factory: Any, item: dict[str, Any], **kwargs: Any
) -> tuple[str, str]:
    """Run the rule's real handler on a change event for `item`; its stored result."""
    handler = rule_module(rule).lambda_handler
    handler(change_event(standin, rule, item, **kwargs), lambda_context(f"configguard-{rule}"))
    return stored_results(factory, rule)[item["resourceId"]]
