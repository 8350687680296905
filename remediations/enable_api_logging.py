"""enable-api-logging: turn on API Gateway execution and access logging for a stage.

One request brings the stage up to both paired rules, so the second rule's compliance
change for the same configuration change finds the stage already compliant:
- execution logging (apigw-stage-execution-logging): REST stages get the stage-wide
  `*/*` loggingLevel settings.API_EXECUTION_LOG_LEVEL (ERROR by default), WebSocket
  stages the default route's LoggingLevel; method or route overrides that log below
  ERROR (OFF) are raised to the same level. A level that is already ERROR or INFO is
  never changed, so INFO is never lowered. HTTP APIs have no execution logging.
- access logging (apigw-stage-access-logging): a stage without an access log
  destination gets `/aws/apigateway/configguard/<api-id>/<stage>`, a log group created
  (or reused) with the stack key settings.KEY_ARN, settings.LOG_RETENTION_DAYS
  retention and a configguard tag, and a JSON access log format with the request id.
  A reused managed group without retention (a run failed between creating it and
  setting its retention) gets the retention then.
  An existing destination is never replaced or edited. HTTP APIs are refused: their
  log delivery needs CloudWatch Logs permissions that cannot be scoped to resources
  (logs:CreateLogDelivery and others), which configguard's role does not hold.
The part of the request's own rule must be doable, else the fix refuses; a needed
part of the other rule that cannot be done is left out and named in the plan.
REST and WebSocket logging need the account's API Gateway CloudWatch role
(GetAccount cloudwatchRoleArn): when unset it is set to settings.API_CLOUDWATCH_ROLE_ARN
(never replaced); when unset and no role is configured, the fix refuses. A rollback
reverts only the stage settings it set that are still as it left them; it keeps the
account role (other stages may log through it by then) and the log group (its logs).

Scenarios:
  Given a REST stage without execution or access logging, an account without a
    CloudWatch role and mode apply, When an apigw-stage-execution-logging NON_COMPLIANT
    change arrives, Then the account role is set, */* logs at ERROR, access logs go to a
    new KMS-encrypted managed log group with retention and a tag, all is read back and
    verified, the stage is tagged, an applied record is written and both paired rules
    evaluate the stage COMPLIANT.
  Given a REST stage logging INFO at */* but OFF for GET /orders, When fixed,
    Then GET /orders logs at ERROR and */* keeps INFO.
  Given a REST stage logging INFO with access logs, When triggered, Then skipped as
    already compliant.
  Given a WebSocket stage without logging, When the change of one rule arrives, Then
    its default route logs at ERROR (other default route settings kept) and its access
    logs go to the managed log group; the other rule's change is then skipped.
  Given mode dry-run, When triggered, Then nothing changes and a dry-run record shows the plan.
  Given the tag configguard:auto-remediate=false on the stage, When triggered, Then skipped.
  Given an account without a CloudWatch role and no role configured, When triggered,
    Then refused.
  Given an access log destination with an empty format, When the access-logging rule
    asks, Then refused (an existing destination is never replaced); When the
    execution-logging rule asks, Then execution logging is fixed and access left out.
  Given an HTTP API stage, When triggered for either rule, Then refused.
  Given an UpdateStage that does not take effect, When triggered, Then failed: recorded
    and raised.
  Given a CreateLogGroup whose answer was lost (its retry finds the group), When fixed,
    Then the group still gets its retention.
  Given a run that failed after creating the group, When fixed again, Then the reused
    group gets its retention.
  Given an UpdateStage that fails after the account role was set, When triggered, Then
    failed with the stage unchanged and the role kept (named in the record).
  Given a stage that no longer exists, When triggered, Then skipped with a record.
  Given an applied change, When rolled back, Then the logging levels and access log
    settings it set are reverted and verified, the log group and account role stay,
    and a later fix reuses the log group; When something it set changed since, Then
    only the rest is reverted; When everything changed since, Then refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from configguard import settings
from configguard.cibuilder import http_stage_arn, parse_stage_arn, rest_stage_arn
from configguard.reads import NOT_FOUND_CODES, error_code
from configguard.registry import REMEDIATIONS
from configguard.remediation import FixContext, Plan, Refusal, Remediation, remediation_handler
from configguard.routes import STAGE_WIDE, method_label

EXECUTION_RULE = "apigw-stage-execution-logging"
ACCESS_RULE = "apigw-stage-access-logging"
REST, WEBSOCKET, HTTP = "REST", "WEBSOCKET", "HTTP"
LOGGING_LEVELS = ("ERROR", "INFO")  # the paired rule's default LoggingLevels
OFF = "OFF"
LOG_GROUP_PREFIX = "/aws/apigateway/configguard"
MANAGED_TAG = "configguard:managed-by"
DEFAULT_RETENTION_DAYS = 365
HTTP_NO_EXECUTION = (
    "HTTP APIs have no execution logging (apigw-stage-execution-logging reports them "
    "NOT_APPLICABLE); only access logging applies to them."
)
KEPT = (
    "The account's CloudWatch role and the log group are kept: other stages may log "
    "through the role by now, and the log group holds logs."
)
_FORMAT_FIELDS = {
    REST: {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "user": "$context.identity.user",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
    },
    WEBSOCKET: {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "eventType": "$context.eventType",
        "routeKey": "$context.routeKey",
        "connectionId": "$context.connectionId",
        "status": "$context.status",
    },
}
ACCESS_FORMATS = {kind: json.dumps(f, separators=(",", ":")) for kind, f in _FORMAT_FIELDS.items()}


@dataclass(frozen=True)
class LoggingState:
    arn: str
    kind: str  # REST | WEBSOCKET | HTTP
    rule: str
    api_id: str
    stage_name: str
    default_level: str | None  # REST */* loggingLevel, WebSocket default route LoggingLevel
    overrides: dict[str, str | None]  # REST method keys / WebSocket route keys -> level
    access: dict[str, str] | None  # {"destinationArn", "format"}; None when logging is off
    account_role: str | None
    tags: dict[str, str]
    default_route: dict[str, Any] = field(default_factory=dict)  # WebSocket, as GetStage says
    route_settings: dict[str, dict[str, Any]] = field(default_factory=dict)


# ------------------------------------------------------------------------ reading


def level(value: Any) -> str | None:
    return str(value).upper() if value else None


def get(mapping: Any, name: str) -> Any:
    """`name` from a settings object, camelCase (apigateway) or PascalCase (apigatewayv2)."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(name, mapping.get(name[:1].upper() + name[1:]))


def access_settings(raw: Any) -> dict[str, str] | None:
    destination = get(raw, "destinationArn")
    if not destination:
        return None
    return {"destinationArn": str(destination), "format": str(get(raw, "format") or "")}


def account_role(apigateway: Any) -> str | None:
    return apigateway.get_account().get("cloudwatchRoleArn") or None


def read_rest(apigateway: Any, rule: str, region: str, api_id: str, name: str) -> LoggingState:
    stage = apigateway.get_stage(restApiId=api_id, stageName=name)
    methods = {str(k): dict(v or {}) for k, v in (stage.get("methodSettings") or {}).items()}
    return LoggingState(
        arn=rest_stage_arn(region, api_id, name),
        kind=REST,
        rule=rule,
        api_id=api_id,
        stage_name=name,
        default_level=level(methods.get(STAGE_WIDE, {}).get("loggingLevel")),
        overrides={k: level(v.get("loggingLevel")) for k, v in methods.items() if k != STAGE_WIDE},
        access=access_settings(stage.get("accessLogSettings")),
        account_role=account_role(apigateway),
        tags=dict(stage.get("tags") or {}),
    )


def read_v2(factory: Any, rule: str, region: str, api_id: str, name: str) -> LoggingState:
    v2 = factory.client("apigatewayv2")
    kind = WEBSOCKET if v2.get_api(ApiId=api_id).get("ProtocolType") == WEBSOCKET else HTTP
    stage = v2.get_stage(ApiId=api_id, StageName=name)
    default_route = dict(stage.get("DefaultRouteSettings") or {})
    routes = {str(k): dict(v or {}) for k, v in (stage.get("RouteSettings") or {}).items()}
    return LoggingState(
        arn=http_stage_arn(region, api_id, name),
        kind=kind,
        rule=rule,
        api_id=api_id,
        stage_name=name,
        default_level=level(default_route.get("LoggingLevel")),
        overrides={k: level(v.get("LoggingLevel")) for k, v in routes.items()},
        access=access_settings(stage.get("AccessLogSettings")),
        account_role=account_role(factory.client("apigateway")) if kind == WEBSOCKET else None,
        tags=dict(stage.get("Tags") or {}),
        default_route=default_route,
        route_settings=routes,
    )


def read_stage(factory: Any, rule: str, resource_id: str) -> LoggingState | None:
    """The stage's logging and the account's CloudWatch role; None when the stage is gone."""
    try:
        region, api_id, name = parse_stage_arn(resource_id)
    except ValueError as exc:
        raise Refusal(str(exc)) from None
    try:
        if "/restapis/" in resource_id:
            return read_rest(factory.client("apigateway"), rule, region, api_id, name)
        return read_v2(factory, rule, region, api_id, name)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            return None
        raise


# ---------------------------------------------------------------------- judging


def label(state: LoggingState, key: str) -> str:
    return method_label(key) if state.kind == REST else key


def low_overrides(state: LoggingState) -> list[str]:
    """Override keys with their own level outside ERROR/INFO (an unset one inherits)."""
    return sorted(k for k, v in state.overrides.items() if v and v not in LOGGING_LEVELS)


def execution_problem(state: LoggingState) -> str | None:
    if state.kind == HTTP:
        return "HTTP APIs have no execution logging."
    where = "Stage-wide (*/*)" if state.kind == REST else "Default route"
    if state.default_level not in LOGGING_LEVELS:
        return f"{where} execution logging is {state.default_level or 'not set (OFF)'}."
    low = low_overrides(state)
    if low:
        names = ", ".join(f"{label(state, k)} ({state.overrides[k]})" for k in low[:8])
        return f"Override(s) log outside ERROR/INFO: {names}."
    return None


def access_problem(state: LoggingState) -> str | None:
    if state.access is None:
        return "Access logging is off."
    if not state.access["format"].strip():
        return "Access logs have a destination but an empty format."
    return None


# ----------------------------------------------------------------------- planning


def execution_level() -> str:
    value = settings.optional(settings.API_EXECUTION_LOG_LEVEL, "ERROR").upper()
    if value not in LOGGING_LEVELS:
        raise settings.ConfigurationError(
            f"{settings.API_EXECUTION_LOG_LEVEL} must be ERROR or INFO, got {value[:20]!r}"
        )
    return value


def logging_role(account_id: str) -> str:
    """The role API Gateway should log with in `account_id`: the stack's own, or in central
    mode a member's `<RemediationRoleName>-apigateway-logs` (org/member-roles.yaml)."""
    configured = settings.optional(settings.API_CLOUDWATCH_ROLE_ARN, "")
    member_role = settings.optional(settings.REMEDIATION_ROLE_NAME, "")
    parts = configured.split(":")
    if configured and member_role and len(parts) > 5 and parts[4] != account_id:
        return f"arn:{parts[1]}:iam::{account_id}:role/{member_role}-apigateway-logs"
    return configured


def role_change(state: LoggingState, account_id: str = "") -> dict[str, str]:
    """{'cloudwatchRoleArn': role} when the account role must be set first; Refusal if none."""
    if state.kind == HTTP or state.account_role:
        return {}
    configured = logging_role(account_id)
    if not configured:
        raise Refusal(
            "API Gateway has no CloudWatch role for this account (GetAccount "
            f"cloudwatchRoleArn) and {settings.API_CLOUDWATCH_ROLE_ARN} is not set: logging "
            "cannot be turned on. Set the account's role in API Gateway settings first."
        )
    return {"cloudwatchRoleArn": configured}


def execution_change(state: LoggingState, target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of the levels to raise: 'default' and per-override keys."""
    before: dict[str, Any] = {"overrides": {}}
    after: dict[str, Any] = {"overrides": {}}
    if state.default_level not in LOGGING_LEVELS:
        before["default"], after["default"] = state.default_level, target
    for key in low_overrides(state):
        before["overrides"][key], after["overrides"][key] = state.overrides[key], target
    return before, after


def log_group_name(api_id: str, stage_name: str) -> str:
    """The managed log group of a stage; characters log group names forbid become '_'."""
    return f"{LOG_GROUP_PREFIX}/{api_id}/{re.sub(r'[^A-Za-z0-9._/#-]', '_', stage_name)}"


def find_log_group(logs: Any, name: str) -> dict[str, Any] | None:
    found = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    return next((g for g in found if g.get("logGroupName") == name), None)


def access_change(
    state: LoggingState, logs: Any, partition: str, region: str, account: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(accessLogSettings to set, log group details); Refusal for HTTP APIs and old ones."""
    if state.kind == HTTP:
        raise Refusal(
            "HTTP API access logging needs CloudWatch Logs log-delivery permissions "
            "(logs:CreateLogDelivery, logs:PutResourcePolicy and others) that cannot be scoped "
            "to resources; configguard's role does not hold them. Set AccessLogSettings by hand."
        )
    if state.access is not None:
        raise Refusal(
            f"Access logs already go to {state.access['destinationArn'].split(':', 5)[-1]} "
            "with an empty format; configguard never replaces or edits an existing destination."
        )
    name = log_group_name(state.api_id, state.stage_name)
    existing = find_log_group(logs, name)
    retention = settings.integer(settings.LOG_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, minimum=1)
    group = {
        "name": name,
        "created": existing is None,
        "kmsKeyId": settings.require(settings.KEY_ARN)
        if existing is None
        else existing.get("kmsKeyId"),
        "retentionInDays": retention if existing is None else existing.get("retentionInDays"),
    }
    if existing is not None and existing.get("retentionInDays") is None:
        # configguard's own group, left without retention by a run that failed after
        # creating it: this run finishes it.
        group["retentionInDays"], group["setRetention"] = retention, True
    arn = f"arn:{partition}:logs:{region}:{account}:log-group:{name}"
    return {"destinationArn": arn, "format": ACCESS_FORMATS[state.kind]}, group


def describe(change: dict[str, Any], state: LoggingState) -> str:
    """The plan's action text."""
    parts = []
    if "cloudwatchRoleArn" in change:
        parts.append("UpdateAccount cloudwatchRoleArn")
    execution = change.get("executionLogging")
    if execution:
        keys = ["*/*" if state.kind == REST else "default route"] if "default" in execution else []
        keys += [label(state, k) for k in execution["overrides"]]
        parts.append(f"UpdateStage loggingLevel {execution_level()} for {', '.join(keys)}")
    if "accessLogSettings" in change:
        parts.append("UpdateStage accessLogSettings to the managed log group")
    return "; ".join(parts)


# ----------------------------------------------------------------------- applying


def ensure_log_group(logs: Any, group: dict[str, Any]) -> None:
    """Create the managed log group (stack key, tag) and set its retention, as planned."""
    if group["created"]:
        try:
            logs.create_log_group(
                logGroupName=group["name"],
                kmsKeyId=group["kmsKeyId"],
                tags={MANAGED_TAG: "enable-api-logging"},
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            # Created meanwhile: by the paired rule's fix of this stage, or by this very
            # request when its answer was lost and botocore sent it again. Both are
            # configguard's, and the retention below is what either would set.
    if group["created"] or group.get("setRetention"):
        logs.put_retention_policy(
            logGroupName=group["name"], retentionInDays=int(group["retentionInDays"])
        )


def set_rest_stage(apigateway: Any, state: LoggingState, after: dict[str, Any]) -> None:
    patches = []
    execution = after.get("executionLogging") or {}
    levels = {STAGE_WIDE: execution["default"]} if "default" in execution else {}
    levels.update(execution.get("overrides") or {})
    for key, value in levels.items():
        patches.append({"op": "replace", "path": f"/{key}/logging/loglevel", "value": value or OFF})
    access = after.get("accessLogSettings")
    if access:
        for name in ("destinationArn", "format"):
            patches.append(
                {"op": "replace", "path": f"/accessLogSettings/{name}", "value": access[name]}
            )
    elif "accessLogSettings" in after:  # a rollback to none
        patches.append({"op": "remove", "path": "/accessLogSettings"})
    if patches:
        apigateway.update_stage(
            restApiId=state.api_id, stageName=state.stage_name, patchOperations=patches
        )


def set_websocket_stage(v2: Any, state: LoggingState, after: dict[str, Any]) -> None:
    """UpdateStage with whole settings objects, so no other field can be reset."""
    request: dict[str, Any] = {}
    execution = after.get("executionLogging") or {}
    if "default" in execution:
        request["DefaultRouteSettings"] = {
            **state.default_route,
            "LoggingLevel": execution["default"] or OFF,
        }
    if execution.get("overrides"):
        request["RouteSettings"] = {
            key: {**state.route_settings.get(key, {}), "LoggingLevel": value or OFF}
            for key, value in execution["overrides"].items()
        }
    access = after.get("accessLogSettings")
    if access:
        request["AccessLogSettings"] = {
            "DestinationArn": access["destinationArn"],
            "Format": access["format"],
        }
    if request:
        v2.update_stage(ApiId=state.api_id, StageName=state.stage_name, **request)
    if "accessLogSettings" in after and not access:  # a rollback to none
        v2.delete_access_log_settings(ApiId=state.api_id, StageName=state.stage_name)


def set_stage(factory: Any, state: LoggingState, after: dict[str, Any]) -> None:
    if state.kind == REST:
        set_rest_stage(factory.client("apigateway"), state, after)
    else:
        set_websocket_stage(factory.client("apigatewayv2"), state, after)


def mismatches(state: LoggingState, want: dict[str, Any]) -> list[str]:
    """What reads back differently from `want` (a plan's after, or a rollback's)."""
    problems = []
    if "cloudwatchRoleArn" in want and state.account_role != want["cloudwatchRoleArn"]:
        problems.append(f"account cloudwatchRoleArn reads back as {state.account_role}")
    execution = want.get("executionLogging") or {}
    levels: dict[str | None, Any] = {None: execution["default"]} if "default" in execution else {}
    levels.update(execution.get("overrides") or {})
    for key, value in levels.items():  # an unset level is OFF, API Gateway's default
        now = state.default_level if key is None else state.overrides.get(key)
        if (now or OFF) != (value or OFF):
            where = "default" if key is None else label(state, key)
            problems.append(f"{where} loggingLevel reads back as {now}")
    if "accessLogSettings" in want and state.access != want["accessLogSettings"]:
        problems.append(f"accessLogSettings read back as {state.access}")
    return problems


def current_values(state: LoggingState, want: dict[str, Any]) -> dict[str, Any]:
    """The stage's (and account's) live values of the keys in `want`, in the plan's terms."""
    values: dict[str, Any] = {}
    if "cloudwatchRoleArn" in want:
        values["cloudwatchRoleArn"] = state.account_role
    if "executionLogging" in want:
        execution = want["executionLogging"]
        now: dict[str, Any] = {"default": state.default_level} if "default" in execution else {}
        now["overrides"] = {k: state.overrides.get(k) for k in execution.get("overrides") or {}}
        values["executionLogging"] = now
    if "accessLogSettings" in want:
        values["accessLogSettings"] = state.access
    return values


# ---------------------------------------------------------------------- rollback


def rollback_change(
    state: LoggingState, original: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(before, after, left alone) for reverting what `original` set and is still as set."""
    applied, earlier = original.get("after") or {}, original.get("before") or {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    left: list[str] = []
    execution, was = applied.get("executionLogging") or {}, earlier.get("executionLogging") or {}
    if execution:
        now: dict[str, Any] = {"overrides": {}}
        then: dict[str, Any] = {"overrides": {}}
        if "default" in execution:
            if state.default_level == execution["default"]:
                now["default"], then["default"] = state.default_level, was.get("default")
            else:
                left.append("default loggingLevel")
        for key, value in (execution.get("overrides") or {}).items():
            if state.overrides.get(key) == value:
                now["overrides"][key] = value
                then["overrides"][key] = (was.get("overrides") or {}).get(key)
            else:
                left.append(f"{label(state, key)} loggingLevel")
        if "default" in now or now["overrides"]:
            before["executionLogging"], after["executionLogging"] = now, then
    access = applied.get("accessLogSettings")
    if access:
        if state.access == access:
            before["accessLogSettings"], after["accessLogSettings"] = access, None
        else:
            left.append("accessLogSettings")
    return before, after, left


# ------------------------------------------------------------------------- the fix


class EnableApiLogging(Remediation[LoggingState]):
    spec = REMEDIATIONS["enable-api-logging"]
    # The account's CloudWatch role is set first and stays if the stage update fails:
    # other stages of the account may log through it by then (a rollback keeps it too).
    preparations = frozenset({"cloudwatchRoleArn"})

    def read(self, ctx: FixContext) -> LoggingState | None:
        return read_stage(ctx.factory, ctx.request.rule, ctx.request.resource_id)

    def tags(self, state: LoggingState) -> dict[str, str]:
        return state.tags

    def resource_arn(self, state: LoggingState) -> str:
        return state.arn

    def compliance_reason(self, state: LoggingState) -> str | None:
        execution = execution_problem(state) if state.kind != HTTP else None
        problems = [p for p in (execution, access_problem(state)) if p]
        return " ".join(problems) or None

    def plan(self, ctx: FixContext, state: LoggingState) -> Plan:
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        details: dict[str, Any] = {}
        role = role_change(state, ctx.request.account_id)
        if state.kind == HTTP and state.rule == EXECUTION_RULE:
            raise Refusal(HTTP_NO_EXECUTION)
        if state.kind != HTTP and execution_problem(state):
            before["executionLogging"], after["executionLogging"] = execution_change(
                state, execution_level()
            )
        if access_problem(state):
            partition = state.arn.split(":")[1]
            region, _, _ = parse_stage_arn(state.arn)
            try:
                after["accessLogSettings"], details["logGroup"] = access_change(
                    state, ctx.factory.client("logs"), partition, region, ctx.request.account_id
                )
                before["accessLogSettings"] = None
            except Refusal as exc:
                if state.rule == ACCESS_RULE or not after:
                    raise
                details["notFixed"] = str(exc)  # the other rule's part; this one is fixed
        if role:
            before["cloudwatchRoleArn"] = None
            after.update(role)
        return Plan(action=describe(after, state), before=before, after=after, details=details)

    def apply(self, ctx: FixContext, state: LoggingState, plan: Plan) -> None:
        if "cloudwatchRoleArn" in plan.after:
            ctx.factory.client("apigateway").update_account(
                patchOperations=[
                    {
                        "op": "replace",
                        "path": "/cloudwatchRoleArn",
                        "value": plan.after["cloudwatchRoleArn"],
                    }
                ]
            )
        if "logGroup" in plan.details:
            ensure_log_group(ctx.factory.client("logs"), plan.details["logGroup"])
        set_stage(ctx.factory, state, plan.after)

    def verify(self, state: LoggingState, plan: Plan) -> str | None:
        problems = mismatches(state, plan.after)
        if "executionLogging" in plan.after:
            problems.append(execution_problem(state) or "")
        if "accessLogSettings" in plan.after:
            problems.append(access_problem(state) or "")
        return "; ".join(p for p in problems if p) or None

    def tag_resource(self, ctx: FixContext, arn: str, tags: dict[str, str]) -> None:
        if "/restapis/" in arn:
            ctx.factory.client("apigateway").tag_resource(resourceArn=arn, tags=tags)
        else:
            ctx.factory.client("apigatewayv2").tag_resource(ResourceArn=arn, Tags=tags)

    def live_values(self, ctx: FixContext, state: LoggingState, plan: Plan) -> dict[str, Any]:
        return current_values(state, plan.after)

    def rollback_plan(self, ctx: FixContext, state: LoggingState, original: dict[str, Any]) -> Plan:
        before, after, left = rollback_change(state, original)
        if not after:
            raise Refusal(
                f"Nothing audit {original.get('audit_id')} set is still as it left it "
                f"({', '.join(left) or 'nothing recorded'} changed since): left alone."
            )
        parts = []
        if "executionLogging" in after:
            parts.append("UpdateStage loggingLevel back")
        if "accessLogSettings" in after:
            parts.append("remove accessLogSettings")
        details: dict[str, Any] = {"kept": KEPT}
        if left:
            details["leftAlone"] = left
        return Plan(
            action=f"rollback: {'; '.join(parts)}", before=before, after=after, details=details
        )

    def rollback_apply(self, ctx: FixContext, state: LoggingState, plan: Plan) -> None:
        set_stage(ctx.factory, state, plan.after)

    def rollback_verify(self, state: LoggingState, plan: Plan) -> str | None:
        problems = mismatches(state, plan.after)
        return "; ".join(problems) if problems else None


lambda_handler = remediation_handler(EnableApiLogging)
