"""Gap-fill (k) API Gateway v2 UpdateStage, DeleteAccessLogSettings and stage tags,
exercised through the stand-in's API as enable-api-logging and the rules use it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/chat"


@pytest.fixture(scope="module")
def v2(module_factory):
    return module_factory.client("apigatewayv2")


def websocket_stage(v2, name: str, **stage) -> tuple[str, str]:
    """(api id, stage ARN) of a WebSocket API with stage prod."""
    api = v2.create_api(
        Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    v2.create_stage(ApiId=api, StageName="prod", **stage)
    return api, f"arn:aws:apigateway:us-east-1::/apis/{api}/stages/prod"


def test_update_stage_sets_access_logs_and_merges_route_settings(v2):
    api, _ = websocket_stage(
        v2,
        "merge",
        DefaultRouteSettings={"ThrottlingBurstLimit": 50, "LoggingLevel": "OFF"},
        RouteSettings={"$connect": {"ThrottlingRateLimit": 5.0}},
    )
    answer = v2.update_stage(
        ApiId=api,
        StageName="prod",
        AccessLogSettings={"DestinationArn": LOG_GROUP, "Format": "$context.requestId"},
        DefaultRouteSettings={"LoggingLevel": "ERROR"},
        RouteSettings={"$connect": {"LoggingLevel": "INFO"}},
        Description="logged",
    )
    assert answer["AccessLogSettings"] == {
        "DestinationArn": LOG_GROUP,
        "Format": "$context.requestId",
    }
    stage = v2.get_stage(ApiId=api, StageName="prod")
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 50, "LoggingLevel": "ERROR"}
    assert stage["RouteSettings"] == {
        "$connect": {"ThrottlingRateLimit": 5.0, "LoggingLevel": "INFO"}
    }
    assert stage["Description"] == "logged"
    assert stage["LastUpdatedDate"] >= stage["CreatedDate"]


def test_update_stage_leaves_fields_it_is_not_given(v2):
    api, _ = websocket_stage(v2, "partial")
    v2.update_stage(
        ApiId=api,
        StageName="prod",
        AccessLogSettings={"DestinationArn": LOG_GROUP, "Format": "$context.requestId"},
    )
    v2.update_stage(ApiId=api, StageName="prod", Description="later")
    stage = v2.get_stage(ApiId=api, StageName="prod")
    assert stage["AccessLogSettings"]["DestinationArn"] == LOG_GROUP
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "OFF"


def test_update_stage_of_a_missing_stage_is_not_found(v2):
    api, _ = websocket_stage(v2, "missing")
    with pytest.raises(ClientError) as caught:
        v2.update_stage(ApiId=api, StageName="nope", Description="x")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_delete_access_log_settings_turns_access_logs_off(v2):
    api, _ = websocket_stage(
        v2,
        "delete",
        AccessLogSettings={"DestinationArn": LOG_GROUP, "Format": "$context.requestId"},
    )
    v2.delete_access_log_settings(ApiId=api, StageName="prod")
    assert "AccessLogSettings" not in v2.get_stage(ApiId=api, StageName="prod")


def test_stage_tags_are_the_stage_s_tags(v2):
    api, arn = websocket_stage(v2, "tags", Tags={"team": "chat"})
    v2.tag_resource(ResourceArn=arn, Tags={"configguard:last-remediation": "a1"})
    assert v2.get_stage(ApiId=api, StageName="prod")["Tags"] == {
        "team": "chat",
        "configguard:last-remediation": "a1",
    }
    v2.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"configguard:last-remediation": "a1"}
    # API tags still go through moto's own tagging.
    api_arn = f"arn:aws:apigateway:us-east-1::/apis/{api}"
    v2.tag_resource(ResourceArn=api_arn, Tags={"owner": "chat"})
    assert v2.get_tags(ResourceArn=api_arn)["Tags"] == {"owner": "chat"}
    assert "owner" not in v2.get_stage(ApiId=api, StageName="prod")["Tags"]


def test_tagging_a_missing_stage_is_not_found(v2):
    api, _ = websocket_stage(v2, "tag-missing")
    with pytest.raises(ClientError) as caught:
        v2.tag_resource(
            ResourceArn=f"arn:aws:apigateway:us-east-1::/apis/{api}/stages/nope", Tags={"a": "b"}
        )
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
