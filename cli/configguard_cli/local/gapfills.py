"""Gap-fills for moto 5.2.5: real AWS state changes emulated inside moto's backends.

Each gap-fill follows one operation of the AWS API reference, keeps its state on
the moto backend instance of the account and Region (so moto's own reset drops
it) and is read back through the normal API. Remove a gap-fill once moto
implements the operation itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.apigateway.exceptions import DomainNameNotFound
from moto.apigateway.models import APIGatewayBackend
from moto.apigateway.models import DomainName as ApiGatewayDomainName
from moto.apigateway.models import Stage as ApiGatewayStage
from moto.apigateway.responses import APIGatewayResponse
from moto.apigatewayv2 import urls as apigatewayv2_urls
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.models import Stage as ApiGatewayV2Stage
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import (
    InvalidParameterValueException as LambdaInvalidParameterValueException,
)
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import (
    EventInvokeConfig,
    LambdaBackend,
    LambdaFunction,
    lambda_backends,
)
from moto.awslambda.policy import Policy as LambdaPolicy
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.cloudtrail.exceptions import TrailNotFoundException
from moto.cloudtrail.models import Trail as CloudTrailTrail
from moto.cloudtrail.responses import CloudTrailResponse
from moto.config.exceptions import (
    InvalidNextTokenException,
    InvalidParameterValueException,
    InvalidResultTokenException,
    NoSuchConfigRuleException,
    ValidationException,
)
from moto.config.models import ConfigBackend, config_backends
from moto.config.responses import ConfigResponse
from moto.dynamodb.models import DynamoDBBackend
from moto.events.models import events_backends
from moto.iam.models import Role as IamRole
from moto.kms.models import Key as KmsKey
from moto.kms.models import KmsBackend, kms_backends
from moto.kms.responses import KmsResponse
from moto.logs.exceptions import InvalidParameterException as LogsInvalidParameterException
from moto.logs.exceptions import ResourceNotFoundException as LogsResourceNotFoundException
from moto.logs.models import LogGroup, LogsBackend
from moto.logs.responses import LogsResponse
from moto.securityhub import urls as securityhub_urls
from moto.securityhub.exceptions import (
    InvalidInputException as SecurityHubInvalidInputException,
)
from moto.securityhub.exceptions import (
    SecurityHubClientError,
)
from moto.securityhub.models import SecurityHubBackend
from moto.securityhub.responses import SecurityHubResponse

__all__ = [
    "DEFAULT_LAMBDA_CONCURRENCY_QUOTA",
    "AsyncInvocation",
    "UnknownConfigRuleError",
    "install",
    "issue_result_token",
    "reset_state",
    "set_lambda_concurrency_quota",
    "take_async_invocations",
]

# Lambda's default "Concurrent executions" quota per account and Region.
DEFAULT_LAMBDA_CONCURRENCY_QUOTA = 1000
# moto's own opt-in variable for a concurrency quota; honoured as the default.
_MOTO_QUOTA_ENV = "MOTO_LAMBDA_CONCURRENCY_QUOTA"
# Lambda keeps this many unreserved concurrent executions (PutFunctionConcurrency).
_LAMBDA_UNRESERVED_FLOOR = 100
# GetAccountSettings AccountLimit values that are not adjustable per function.
_LAMBDA_TOTAL_CODE_SIZE = 80_530_636_800
_LAMBDA_CODE_SIZE_UNZIPPED = 262_144_000
_LAMBDA_CODE_SIZE_ZIPPED = 52_428_800

_COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA")
_RULE_COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA")
_MAX_EVALUATIONS = 100
_MAX_ANNOTATION = 256
_MAX_RESOURCE_TYPE = 256
_MAX_RESOURCE_ID = 768
_DEFAULT_DETAILS_LIMIT = 10
_MAX_DETAILS_LIMIT = 100
_CONTRIBUTOR_CAP = 100

_LAMBDA_STATE_ATTR = "_configguard_lambda_quota"
_CONFIG_STATE_ATTR = "_configguard_config_state"
_ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
_MARK = "__configguard_gapfill__"

_lock = threading.RLock()


class UnknownConfigRuleError(LookupError):
    """A result token was requested for a Config rule that does not exist."""


@dataclass
class _Evaluation:
    """One stored evaluation result of a rule for a resource."""

    rule_name: str
    resource_type: str
    resource_id: str
    compliance_type: str
    annotation: str | None
    ordering_timestamp: datetime
    result_recorded_time: datetime
    config_rule_invoked_time: datetime


@dataclass
class _ConfigState:
    """Result tokens issued and evaluation results stored, per account and Region."""

    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    results: dict[tuple[str, str, str], _Evaluation] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _iso(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and "Z", as in real Config events."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_timestamp(value: Any, location: str) -> datetime:
    """Accept the JSON protocol's epoch seconds or an ISO-8601 string."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except ValueError:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise ValidationException(f"Value '{value}' at '{location}' is not a valid timestamp")


def _mark(func: Callable[..., Any]) -> Callable[..., Any]:
    setattr(func, _MARK, True)
    return func


def _is_marked(owner: object, name: str) -> bool:
    return bool(getattr(getattr(owner, name, None), _MARK, False))


def _patch(owner: type, name: str, func: Callable[..., Any]) -> None:
    """Set `owner.name` to a gap-fill once; later calls leave it as it is."""
    if not _is_marked(owner, name):
        setattr(owner, name, _mark(func))


Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def _wrap_all(pairs: Iterable[tuple[type, str, Wrapper]]) -> None:
    """Wrap each `owner.name` around moto's own method, once."""
    for owner, name, wrap in pairs:
        if not _is_marked(owner, name):
            _patch(owner, name, wrap(getattr(owner, name)))


def _lambda_backend_dicts() -> Iterator[Any]:
    yield lambda_backends
    try:
        from moto.awslambda_simple.models import lambda_simple_backends
    except ImportError:  # pragma: no cover - depends on the moto build
        return
    yield lambda_simple_backends


def _all_backends(backend_dict: Any) -> Iterable[Any]:
    for per_account in list(backend_dict.values()):
        yield from list(per_account.values())


# ------------------------------------------------------- (a) Lambda GetAccountSettings


def set_lambda_concurrency_quota(account_id: str, region: str, limit: int) -> None:
    """Set the "Concurrent executions" quota of one account and Region.

    Emulates a Service Quotas value (L-B99A9384). GetAccountSettings reports it as
    AccountLimit.ConcurrentExecutions and PutFunctionConcurrency enforces it.
    """
    if limit < 0:
        raise ValueError(f"a concurrency quota cannot be negative, got {limit}")
    backend = get_lambda_backend(account_id, region)
    with _lock:
        backend.__dict__[_LAMBDA_STATE_ATTR] = int(limit)


def _concurrency_quota(backend: LambdaBackend) -> int:
    stored = backend.__dict__.get(_LAMBDA_STATE_ATTR)
    if stored is not None:
        return int(stored)
    from_env = os.environ.get(_MOTO_QUOTA_ENV, "").strip()
    return int(from_env) if from_env else DEFAULT_LAMBDA_CONCURRENCY_QUOTA


def _function_groups(backend: LambdaBackend) -> list[dict[str, Any]]:
    return list(backend._lambdas._functions.values())


def _reserved_total(backend: LambdaBackend, excluding: str | None = None) -> int:
    total = 0
    for group in _function_groups(backend):
        latest = group.get("latest")
        if latest is None or latest.function_name == excluding:
            continue
        total += int(latest.reserved_concurrency or 0)
    return total


def _lambda_get_account_settings(self: LambdaBackend) -> dict[str, Any]:
    """Lambda GetAccountSettings (AWS Lambda API Reference, "GetAccountSettings").

    Computed live from the functions of this account and Region: the unreserved
    concurrency is the quota minus every function-level reservation, and usage
    counts the code of every function version and layer version.
    """
    with _lock:
        quota = _concurrency_quota(self)
        groups = _function_groups(self)
        code_size = 0
        function_count = 0
        for group in groups:
            latest = group.get("latest")
            if latest is not None:
                function_count += 1
                code_size += int(latest.code_size or 0)
            code_size += sum(int(v.code_size or 0) for v in group.get("versions", []))
        for layer in list(self._layers._layers.values()):
            code_size += sum(int(v.code_size or 0) for v in layer.layer_versions.values())
        unreserved = quota - _reserved_total(self)
    return {
        "AccountLimit": {
            "TotalCodeSize": _LAMBDA_TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": _LAMBDA_CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": _LAMBDA_CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": quota,
            "UnreservedConcurrentExecutions": unreserved,
        },
        "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": function_count},
    }


def _lambda_response_get_account_settings(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    """HTTP side of GetAccountSettings: GET /2016-08-19/account-settings/."""
    return 200, {}, json.dumps(_lambda_get_account_settings(self.backend))


def _lambda_put_function_concurrency(
    self: LambdaBackend, function_name: str, reserved_concurrency: Any
) -> Any:
    """Lambda PutFunctionConcurrency (AWS Lambda API Reference, "PutFunctionConcurrency").

    AWS rejects a reservation that would leave fewer than 100 unreserved concurrent
    executions in the account; the quota is the one GetAccountSettings reports.
    """
    with _lock:
        fn = self.get_function(function_name)
        requested = int(reserved_concurrency)
        others = _reserved_total(self, excluding=fn.function_name)
        if _concurrency_quota(self) - others - requested < _LAMBDA_UNRESERVED_FLOOR:
            raise LambdaInvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of "
                f"[{_LAMBDA_UNRESERVED_FLOOR}]."
            )
        fn.reserved_concurrency = requested
        return fn.reserved_concurrency


def _install_lambda_account_settings() -> None:
    """Wire GetAccountSettings into moto's Lambda URL map, responses and backend."""
    lambda_urls.url_paths.setdefault(_ACCOUNT_SETTINGS_PATH, LambdaResponse.dispatch)
    _patch(LambdaBackend, "get_account_settings", _lambda_get_account_settings)
    _patch(LambdaResponse, "get_account_settings", _lambda_response_get_account_settings)
    _patch(LambdaBackend, "put_function_concurrency", _lambda_put_function_concurrency)


# ------------------------------------- (c) Lambda function configuration fields moto drops

_DLQ_ATTR = "_configguard_dead_letter_target"


def _wrap_function_init(original: Callable[..., Any]) -> Callable[..., Any]:
    def __init__(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
        """CreateFunction keeps DeadLetterConfig (AWS Lambda API Reference, CreateFunction)."""
        original(self, *args, **kwargs)
        spec = kwargs.get("spec") if "spec" in kwargs else (args[1] if len(args) > 1 else {})
        target = ((spec or {}).get("DeadLetterConfig") or {}).get("TargetArn")
        self.__dict__[_DLQ_ATTR] = target or None

    return __init__


def _wrap_get_configuration(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
        """GetFunctionConfiguration carries DeadLetterConfig when a target is set."""
        config: dict[str, Any] = original(self, on_create=on_create)
        target = self.__dict__.get(_DLQ_ATTR)
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        if not config.get("KMSKeyArn"):
            config.pop("KMSKeyArn", None)
        return config

    return get_configuration


def _wrap_update_configuration(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
        """UpdateFunctionConfiguration applies DeadLetterConfig, TracingConfig and KMSKeyArn.

        An empty TargetArn removes the queue and an empty KMSKeyArn returns the
        environment to the AWS managed key, as in the AWS Lambda API Reference.
        """
        if "DeadLetterConfig" in config_updates:
            target = (config_updates.get("DeadLetterConfig") or {}).get("TargetArn")
            self.__dict__[_DLQ_ATTR] = target or None
        if "TracingConfig" in config_updates:
            mode = (config_updates.get("TracingConfig") or {}).get("Mode") or "PassThrough"
            self.tracing_config = {"Mode": mode}
        if "KMSKeyArn" in config_updates:
            self.kms_key_arn = config_updates.get("KMSKeyArn") or None
        return original(self, config_updates)

    return update_configuration


# ------------------------------------------- (d) Lambda AddPermission FunctionUrlAuthType


def _wrap_decode_policy(original: Callable[..., Any]) -> Callable[..., Any]:
    def decode_policy(self: LambdaPolicy, obj: dict[str, Any]) -> Any:
        """AddPermission's FunctionUrlAuthType becomes a lambda:FunctionUrlAuthType condition.

        AWS Lambda API Reference, AddPermission: the statement AWS writes for a function
        URL grant carries {"StringEquals": {"lambda:FunctionUrlAuthType": <type>}}.
        """
        auth_type = obj.pop("FunctionUrlAuthType", None) if isinstance(obj, dict) else None
        policy = original(self, obj)
        if auth_type is not None and getattr(policy, "statements", None):
            statement = policy.statements[0]
            condition = statement.setdefault("Condition", {})
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth_type
        return policy

    return decode_policy


def _lambda_put_function_event_invoke_config(
    self: LambdaBackend, function_name: str, config: dict[str, Any]
) -> dict[str, Any]:
    """PutFunctionEventInvokeConfig replaces the function's whole configuration.

    AWS Lambda API Reference: "this operation overwrites the existing configuration";
    moto appends a second entry and keeps returning the first.
    """
    fn = self.get_function(function_name)
    with _lock:
        fn.event_invoke_config = []
        event_config = EventInvokeConfig(fn.function_arn, fn.last_modified, config)
        fn.event_invoke_config.append(event_config)
    return dict(event_config.response())


def _install_lambda_configuration() -> None:
    pairs: tuple[tuple[type, str, Wrapper], ...] = (
        (LambdaFunction, "__init__", _wrap_function_init),
        (LambdaFunction, "get_configuration", _wrap_get_configuration),
        (LambdaFunction, "update_configuration", _wrap_update_configuration),
        (LambdaPolicy, "decode_policy", _wrap_decode_policy),
    )
    _wrap_all(pairs)
    _patch(
        LambdaBackend,
        "put_function_event_invoke_config",
        _lambda_put_function_event_invoke_config,
    )


# ------------------------------------- (f) API Gateway method-setting defaults, as AWS sets them

# What UpdateStage fills in for a method setting it creates: the account-level throttle
# (API Gateway GetAccount defaults: 10,000 requests/s, burst 5,000) and an unencrypted
# cache (MethodSetting.cacheDataEncrypted defaults to false).
_DEFAULT_METHOD_SETTING = {
    "metricsEnabled": False,
    "dataTraceEnabled": False,
    "throttlingBurstLimit": 5000,
    "throttlingRateLimit": 10000.0,
    "cachingEnabled": False,
    "cacheTtlInSeconds": 300,
    "cacheDataEncrypted": False,
    "requireAuthorizationForCacheControl": True,
    "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER",
}


def _apigateway_default_method_settings(self: ApiGatewayStage) -> dict[str, Any]:
    """API Gateway UpdateStage: a new method setting starts from AWS's defaults.

    moto starts new settings with cacheDataEncrypted true and a 1,000/2,000 throttle;
    AWS starts them unencrypted with the account throttle.
    """
    return dict(_DEFAULT_METHOD_SETTING)


# --------------------------------------- (g) API Gateway CreateDomainName mutual TLS

_MTLS_ATTR = "_configguard_mutual_tls"


def _wrap_create_domain_name_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_domain_name(self: APIGatewayResponse) -> Any:
        """CreateDomainName keeps mutualTlsAuthentication (API Gateway API Reference)."""
        status, headers, _ = original(self)
        domain = self.backend.get_domain_name(self._get_param("domainName"))
        mtls = self._get_param("mutualTlsAuthentication")
        if isinstance(mtls, dict) and mtls.get("truststoreUri"):
            domain.__dict__[_MTLS_ATTR] = {
                "truststoreUri": mtls["truststoreUri"],
                "truststoreVersion": mtls.get("truststoreVersion") or "1",
                "truststoreWarnings": [],
            }
        return status, headers, json.dumps(domain.to_json())

    return create_domain_name


def _wrap_domain_to_json(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_json(self: ApiGatewayDomainName) -> dict[str, Any]:
        """GetDomainName(s) report mutualTlsAuthentication when it is configured."""
        data: dict[str, Any] = original(self)
        mtls = self.__dict__.get(_MTLS_ATTR)
        if mtls:
            data["mutualTlsAuthentication"] = dict(mtls)
        return data

    return to_json


def _apigateway_get_base_path_mappings(self: APIGatewayBackend, domain_name: str) -> list[Any]:
    """GetBasePathMappings of a domain without mappings is an empty list, not a 500."""
    if domain_name not in self.domain_names:
        raise DomainNameNotFound()
    return list(self.base_path_mappings.get(domain_name, {}).values())


def _install_apigateway() -> None:
    _patch(APIGatewayBackend, "get_base_path_mappings", _apigateway_get_base_path_mappings)
    _patch(ApiGatewayStage, "_get_default_method_settings", _apigateway_default_method_settings)
    pairs: tuple[tuple[type, str, Wrapper], ...] = (
        (APIGatewayResponse, "create_domain_name", _wrap_create_domain_name_response),
        (ApiGatewayDomainName, "to_json", _wrap_domain_to_json),
    )
    _wrap_all(pairs)


# ------------------------- (k) API Gateway v2 UpdateStage, DeleteAccessLogSettings, stage tags

_V2_ACCESS_LOG_PATH = (
    r"{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/accesslogsettings$"
)
_V2_STAGE_TAGS_PATH = (
    r"{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/apis/(?P<resource_arn_pt2>[^/]+)"
    r"/stages/(?P<resource_arn_pt3>[^/]+)$"
)
# UpdateStage fields that replace the stage's value, by moto Stage attribute.
_V2_REPLACED_STAGE_FIELDS = {
    "accessLogSettings": "access_log_settings",
    "autoDeploy": "auto_deploy",
    "clientCertificateId": "client_certificate_id",
    "description": "description",
}


def _v2_stage_path(path: str) -> tuple[str, str]:
    """(api id, stage name) of /v2/apis/<api>/stages/<stage>[/...]."""
    parts = path.split("/")
    index = parts.index("apis")
    return parts[index + 1], unquote(parts[index + 3])


def _v2_update_stage(
    self: ApiGatewayV2Backend, api_id: str, stage_name: str, changes: dict[str, Any]
) -> ApiGatewayV2Stage:
    """apigatewayv2 UpdateStage: the given fields change, the others stay as they are.

    DefaultRouteSettings, each RouteSettings entry and StageVariables are merged
    key by key; AccessLogSettings, AutoDeploy, ClientCertificateId and Description
    are replaced. DeleteAccessLogSettings is the only way to turn access logs off.
    """
    stage = self.get_stage(api_id, stage_name)
    if isinstance(changes.get("defaultRouteSettings"), dict):
        default = stage.default_route_settings or {}
        stage.default_route_settings = {**default, **changes["defaultRouteSettings"]}
    for route, settings in (changes.get("routeSettings") or {}).items():
        stage.route_settings[route] = {**stage.route_settings.get(route, {}), **settings}
    if isinstance(changes.get("stageVariables"), dict):
        stage.stage_variables = {**stage.stage_variables, **changes["stageVariables"]}
    for name, attribute in _V2_REPLACED_STAGE_FIELDS.items():
        if name in changes:
            setattr(stage, attribute, changes[name])
    stage.updated = datetime.now()
    return stage


def _v2_response_update_stage(self: ApiGatewayV2Response) -> tuple[int, dict[str, str], str]:
    """HTTP side of UpdateStage: PATCH /v2/apis/<api>/stages/<stage>."""
    api_id, stage_name = _v2_stage_path(self.path)
    changes = json.loads(self.body or "{}")
    stage = _v2_update_stage(self.apigatewayv2_backend, api_id, stage_name, changes)
    return 200, {}, json.dumps(stage.to_json())


def _v2_response_delete_access_log_settings(
    self: ApiGatewayV2Response,
) -> tuple[int, dict[str, str], str]:
    """DeleteAccessLogSettings: DELETE /v2/apis/<api>/stages/<stage>/accesslogsettings."""
    api_id, stage_name = _v2_stage_path(self.path)
    self.apigatewayv2_backend.get_stage(api_id, stage_name).access_log_settings = None
    return 204, {}, ""


def _v2_tagged_stage(backend: ApiGatewayV2Backend, resource_arn: str) -> ApiGatewayV2Stage | None:
    """The stage a tag request names (arn:...:apigateway:<region>::/apis/<id>/stages/<name>)."""
    _, _, path = resource_arn.partition("::/")
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != "apis" or parts[2] != "stages":
        return None
    stage: ApiGatewayV2Stage = backend.get_stage(parts[1], parts[3])
    return stage


def _wrap_v2_tag_resource(original: Callable[..., Any]) -> Callable[..., Any]:
    def tag_resource(self: ApiGatewayV2Backend, resource_arn: str, tags: dict[str, str]) -> None:
        """TagResource on a stage ARN tags the stage: GetStage reports the tags."""
        stage = _v2_tagged_stage(self, resource_arn)
        if stage is None:
            original(self, resource_arn, tags)
        else:
            stage.tags = {**(stage.tags or {}), **(tags or {})}

    return tag_resource


def _wrap_v2_untag_resource(original: Callable[..., Any]) -> Callable[..., Any]:
    def untag_resource(self: ApiGatewayV2Backend, resource_arn: str, tag_keys: list[str]) -> None:
        """UntagResource on a stage ARN removes the stage's tags."""
        stage = _v2_tagged_stage(self, resource_arn)
        if stage is None:
            original(self, resource_arn, tag_keys)
        else:
            stage.tags = {k: v for k, v in (stage.tags or {}).items() if k not in tag_keys}

    return untag_resource


def _wrap_v2_get_tags(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_tags(self: ApiGatewayV2Backend, resource_id: str) -> dict[str, str]:
        """GetTags on a stage ARN: the stage's tags."""
        stage = _v2_tagged_stage(self, resource_id)
        if stage is None:
            tags: dict[str, str] = original(self, resource_id)
            return tags
        return dict(stage.tags or {})

    return get_tags


def _install_apigatewayv2() -> None:
    apigatewayv2_urls.url_paths.setdefault(_V2_ACCESS_LOG_PATH, ApiGatewayV2Response.dispatch)
    apigatewayv2_urls.url_paths.setdefault(_V2_STAGE_TAGS_PATH, ApiGatewayV2Response.dispatch)
    _patch(ApiGatewayV2Backend, "update_stage", _v2_update_stage)
    _patch(ApiGatewayV2Response, "update_stage", _v2_response_update_stage)
    _patch(
        ApiGatewayV2Response, "delete_access_log_settings", _v2_response_delete_access_log_settings
    )
    pairs: tuple[tuple[type, str, Wrapper], ...] = (
        (ApiGatewayV2Backend, "tag_resource", _wrap_v2_tag_resource),
        (ApiGatewayV2Backend, "untag_resource", _wrap_v2_untag_resource),
        (ApiGatewayV2Backend, "get_tags", _wrap_v2_get_tags),
    )
    _wrap_all(pairs)


# ------------------------------------ (h) KMS rotation period and AWS-managed default keys

_ROTATION_PERIOD_ATTR = "_configguard_rotation_period"
_DEFAULT_ROTATION_DAYS = 365


def _wrap_kms_enable_key_rotation(original: Callable[..., Any]) -> Callable[..., Any]:
    def enable_key_rotation(self: KmsResponse) -> Any:
        """EnableKeyRotation keeps RotationPeriodInDays (90-2560, default 365)."""
        period = self._get_param("RotationPeriodInDays")
        result = original(self)
        key = self.kms_backend.keys[self.kms_backend.any_id_to_key_id(self._get_param("KeyId"))]
        key.__dict__[_ROTATION_PERIOD_ATTR] = int(period or _DEFAULT_ROTATION_DAYS)
        return result

    return enable_key_rotation


def _wrap_kms_get_key_rotation_status(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_key_rotation_status(self: KmsResponse) -> str:
        """GetKeyRotationStatus reports KeyId and, when rotation is on, RotationPeriodInDays."""
        body = json.loads(original(self))
        key = self.kms_backend.keys[self.kms_backend.any_id_to_key_id(self._get_param("KeyId"))]
        body["KeyId"] = key.id
        if body.get("KeyRotationEnabled"):
            body["RotationPeriodInDays"] = key.__dict__.get(
                _ROTATION_PERIOD_ATTR, _DEFAULT_ROTATION_DAYS
            )
        return json.dumps(body)

    return get_key_rotation_status


def _wrap_kms_generate_default_keys(original: Callable[..., Any]) -> Callable[..., Any]:
    def _generate_default_keys(self: KmsBackend, alias_name: str) -> str | None:
        """Keys behind reserved `alias/aws/*` aliases are AWS managed (KeyManager AWS)."""
        key_id: str | None = original(self, alias_name)
        if key_id is not None:
            key = self.keys[key_id]
            key.key_manager = "AWS"
            key.key_rotation_status = True  # AWS rotates its managed keys yearly
        return key_id

    return _generate_default_keys


def _install_kms() -> None:
    pairs: tuple[tuple[type, str, Wrapper], ...] = (
        (KmsResponse, "enable_key_rotation", _wrap_kms_enable_key_rotation),
        (KmsResponse, "get_key_rotation_status", _wrap_kms_get_key_rotation_status),
        (KmsBackend, "_generate_default_keys", _wrap_kms_generate_default_keys),
    )
    _wrap_all(pairs)


# ---------------------------------------------- (i) CloudTrail default event selectors

# CreateTrail without selectors logs all management events, read and write (AWS
# CloudTrail User Guide, "Logging management events"); GetEventSelectors reports it.
_DEFAULT_EVENT_SELECTOR = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}


def _wrap_trail_get_event_selectors(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_event_selectors(self: CloudTrailTrail) -> tuple[list[Any], list[Any]]:
        """A trail that never had selectors put reports AWS's default selector."""
        basic, advanced = original(self)
        if not basic and not advanced:
            return [dict(_DEFAULT_EVENT_SELECTOR)], []
        return basic, advanced

    return get_event_selectors


def _install_cloudtrail() -> None:
    _wrap_all([(CloudTrailTrail, "get_event_selectors", _wrap_trail_get_event_selectors)])


# ------------------------- (l) CloudWatch Logs AssociateKmsKey / DisassociateKmsKey

# kmsKeyId must be a key ARN (CloudWatch Logs API Reference, AssociateKmsKey: "The
# Amazon Resource Name (ARN) of the KMS key", at most 256 characters).
_LOGS_KEY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":key/(?P<key_id>[A-Za-z0-9-]+)"
)
_LOGS_MAX_KMS_KEY_ID = 256


def _logs_group(
    self: LogsBackend, log_group_name: str | None, resource_identifier: Any
) -> LogGroup:
    """The log group an association call names: logGroupName or resourceIdentifier, not both."""
    if log_group_name and resource_identifier:
        raise LogsInvalidParameterException(
            "You can't specify both logGroupName and resourceIdentifier in the same operation."
        )
    if resource_identifier:
        # Query-result associations (arn:...:query-result:*) are not emulated.
        raise NotImplementedError("the stand-in emulates log group key associations only")
    if not log_group_name:
        raise LogsInvalidParameterException(
            "Either logGroupName or resourceIdentifier is required."
        )
    group = self.groups.get(log_group_name)
    if group is None:
        raise LogsResourceNotFoundException()
    return group


def _logs_check_key(kms_key_id: str, group: LogGroup) -> None:
    """AWS answers InvalidParameterException unless the key exists, is enabled and symmetric."""
    match = _LOGS_KEY_ARN.fullmatch(kms_key_id)
    if match is None or len(kms_key_id) > _LOGS_MAX_KMS_KEY_ID:
        raise LogsInvalidParameterException(f"Invalid KMS key ARN: {kms_key_id[:256]}")
    try:
        key = kms_backends[match["account"]][match["region"]].keys.get(match["key_id"])
    except KeyError:
        key = None
    usable = (
        key is not None
        and key.key_state == "Enabled"
        and key.key_spec == "SYMMETRIC_DEFAULT"
        # moto keeps no usage for keys created without one: SYMMETRIC_DEFAULT encrypts.
        and (key.key_usage or "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
    )
    if not usable:
        raise LogsInvalidParameterException(
            f"Specified KMS key {kms_key_id} does not exist, is disabled or is not a "
            f"symmetric encryption key, so it cannot be used with log group {group.arn}."
        )


def _logs_associate_kms_key(
    self: LogsBackend, log_group_name: str | None, kms_key_id: str, resource_identifier: Any = None
) -> None:
    """CloudWatch Logs AssociateKmsKey (API Reference) for a log group.

    Replaces any earlier association; DescribeLogGroups then reports the key ARN as
    kmsKeyId. The key must be named by its ARN and be an existing, enabled, symmetric
    encryption key (InvalidParameterException otherwise); an unknown log group is
    ResourceNotFoundException. Key policies are not evaluated (moto evaluates none).
    """
    group = _logs_group(self, log_group_name, resource_identifier)
    _logs_check_key(kms_key_id, group)
    with _lock:
        group.kms_key_id = kms_key_id


def _logs_disassociate_kms_key(
    self: LogsBackend, log_group_name: str | None, resource_identifier: Any = None
) -> None:
    """CloudWatch Logs DisassociateKmsKey (API Reference) for a log group.

    New events are no longer encrypted with the key and DescribeLogGroups reports no
    kmsKeyId; events ingested before stay encrypted with it (moto stores no ciphertext).
    """
    group = _logs_group(self, log_group_name, resource_identifier)
    with _lock:
        group.kms_key_id = None


def _logs_response_associate_kms_key(self: LogsResponse) -> str:
    _logs_associate_kms_key(
        self.logs_backend,
        self._get_param("logGroupName"),
        str(self._get_param("kmsKeyId") or ""),
        self._get_param("resourceIdentifier"),
    )
    return ""


def _logs_response_disassociate_kms_key(self: LogsResponse) -> str:
    _logs_disassociate_kms_key(
        self.logs_backend, self._get_param("logGroupName"), self._get_param("resourceIdentifier")
    )
    return ""


def _install_logs() -> None:
    pairs: tuple[tuple[type, str, Callable[..., Any]], ...] = (
        (LogsBackend, "associate_kms_key", _logs_associate_kms_key),
        (LogsBackend, "disassociate_kms_key", _logs_disassociate_kms_key),
        (LogsResponse, "associate_kms_key", _logs_response_associate_kms_key),
        (LogsResponse, "disassociate_kms_key", _logs_response_disassociate_kms_key),
    )
    for owner, name, func in pairs:
        _patch(owner, name, func)


# -------------------------- (m) CloudTrail GetTrail: HomeRegion, shadow trails by ARN


def _shadow_trail(self: CloudTrailResponse, name: str) -> CloudTrailTrail | None:
    """The multi-Region trail of another Region that `name` (a trail ARN) names, if any."""
    if not name.startswith("arn:"):
        return None
    for trail in self.cloudtrail_backend.describe_trails(include_shadow_trails=True):
        if trail.arn == name:
            return trail
    return None


def _wrap_cloudtrail_get_trail(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_trail(self: CloudTrailResponse) -> str:
        """GetTrail answers with the trail's HomeRegion (AWS's Trail shape has it), and
        answers for a shadow trail (a multi-Region trail homed elsewhere) given its ARN,
        as GetTrailStatus does. Changes still need the home Region."""
        name = str(self._get_param("Name") or "")
        try:
            body = json.loads(original(self))
            trail = self.cloudtrail_backend.get_trail(name)
        except TrailNotFoundException:
            shadow = _shadow_trail(self, name)
            if shadow is None:
                raise
            trail = shadow
            body = {"Trail": shadow.description()}
        body["Trail"]["HomeRegion"] = trail.region_name
        return json.dumps(body)

    return get_trail


def _install_cloudtrail_home_region() -> None:
    _wrap_all([(CloudTrailResponse, "get_trail", _wrap_cloudtrail_get_trail)])


# ------------------------------------------------- (j) Security Hub BatchUpdateFindings

_BATCH_UPDATE_PATH = r"{0}/findings/batchupdate$"
_WORKFLOW_STATUSES = ("NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED")
_MAX_BATCH_FINDINGS = 100
_MAX_NOTE = 512


class _InvalidFindingsUpdateError(ValueError):
    """BatchUpdateFindings rejects the whole request (InvalidInputException)."""


def _securityhub_batch_update_findings(
    self: SecurityHubBackend, request: dict[str, Any]
) -> dict[str, Any]:
    """Security Hub BatchUpdateFindings (AWS Security Hub API Reference).

    Updates the customer-controlled fields of existing findings: Workflow.Status (NEW,
    NOTIFIED, RESOLVED, SUPPRESSED), Note (one note per finding, each update replaces
    it; Text and UpdatedBy at most 512 characters), and sets UpdatedAt. At most 100
    findings per call; unknown findings come back in UnprocessedFindings.
    """
    identifiers = request.get("FindingIdentifiers")
    if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= _MAX_BATCH_FINDINGS:
        raise _InvalidFindingsUpdateError("FindingIdentifiers must hold 1 to 100 findings")
    note = request.get("Note")
    if note is not None:
        text, updated_by = note.get("Text"), note.get("UpdatedBy")
        if not text or not updated_by:
            raise _InvalidFindingsUpdateError("Note needs Text and UpdatedBy")
        if len(text) > _MAX_NOTE or len(updated_by) > _MAX_NOTE:
            raise _InvalidFindingsUpdateError("Note.Text and Note.UpdatedBy are at most 512")
    workflow = request.get("Workflow")
    if workflow is not None and workflow.get("Status") not in _WORKFLOW_STATUSES:
        raise _InvalidFindingsUpdateError(f"Workflow.Status must be one of {_WORKFLOW_STATUSES}")
    now = _iso(_now())
    processed: list[dict[str, str]] = []
    unprocessed: list[dict[str, Any]] = []
    with _lock:
        by_key = {(f.id, f.data.get("ProductArn")): f for f in self.findings}
        for identifier in identifiers:
            key = (identifier.get("Id"), identifier.get("ProductArn"))
            finding = by_key.get(key)
            if finding is None:
                unprocessed.append(
                    {
                        "FindingIdentifier": identifier,
                        "ErrorCode": "FindingNotFound",
                        "ErrorMessage": "Finding Not Found",
                    }
                )
                continue
            if workflow is not None:
                finding.data["Workflow"] = {"Status": workflow["Status"]}
            if note is not None:
                finding.data["Note"] = {
                    "Text": note["Text"],
                    "UpdatedBy": note["UpdatedBy"],
                    "UpdatedAt": now,
                }
            finding.data["UpdatedAt"] = now
            processed.append({"Id": key[0], "ProductArn": key[1]})
    return {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}


def _securityhub_response_batch_update_findings(
    self: SecurityHubResponse,
) -> tuple[int, dict[str, str], str]:
    """HTTP side of BatchUpdateFindings: PATCH /findings/batchupdate."""
    raw = self.body.decode("utf-8") if isinstance(self.body, bytes) else self.body
    try:
        request = json.loads(raw or "{}")
        result = _securityhub_batch_update_findings(self.securityhub_backend, request)
    except (json.JSONDecodeError, _InvalidFindingsUpdateError) as exc:
        raise SecurityHubInvalidInputException(op="BatchUpdateFindings", msg=str(exc)) from None
    return 200, {}, json.dumps(result)


def _install_securityhub() -> None:
    securityhub_urls.url_paths.setdefault(_BATCH_UPDATE_PATH, SecurityHubResponse.dispatch)
    _patch(SecurityHubBackend, "batch_update_findings", _securityhub_batch_update_findings)
    _patch(
        SecurityHubResponse, "batch_update_findings", _securityhub_response_batch_update_findings
    )


# ----------------------------------------- (o) Lambda Invoke, InvocationType=Event

_ASYNC_STATE_ATTR = "_configguard_async_invocations"
# Lambda API Reference, Invoke: an asynchronous payload is at most 256 KB (1 MB since
# 2025 for some Regions; the stricter limit is kept) and must be JSON.
_MAX_ASYNC_PAYLOAD = 256 * 1024


@dataclass(frozen=True)
class AsyncInvocation:
    """An event Lambda accepted (HTTP 202) for a function, not yet run."""

    function_name: str
    function_arn: str
    payload: bytes
    accepted_at: str


def _wrap_lambda_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    @_mark
    def invoke(
        self: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        """Lambda Invoke with InvocationType=Event (AWS Lambda API Reference, Invoke).

        Lambda validates the function and the payload, answers 202 with an empty
        body and queues the event for the function. moto runs the function in Docker
        (or not at all) even for Event; here the event is queued on the backend, and
        `take_async_invocations` hands it to whoever plays the Lambda service.
        """
        if headers.get("X-Amz-Invocation-Type") != "Event":
            return original(self, function_name, qualifier, body, headers, response_headers)
        fn = self.get_function(function_name, qualifier)
        payload = body if isinstance(body, bytes) else str(body or "").encode()
        if len(payload) > _MAX_ASYNC_PAYLOAD:
            raise LambdaInvalidParameterValueException(
                f"Request must be smaller than {_MAX_ASYNC_PAYLOAD} bytes for the Event "
                "invocation type"
            )
        try:
            json.loads(payload or b"{}")
        except ValueError:
            raise LambdaInvalidRequestContentError() from None
        with _lock:
            self.__dict__.setdefault(_ASYNC_STATE_ATTR, []).append(
                AsyncInvocation(fn.function_name, fn.function_arn, payload, _iso(_now()))
            )
        return b""

    return invoke


class LambdaInvalidRequestContentError(LambdaClientError):
    def __init__(self) -> None:
        super().__init__("InvalidRequestContentException", "Could not parse request body into json")


def take_async_invocations(account_id: str, region: str) -> list[AsyncInvocation]:
    """Remove and return the queued asynchronous invocations, oldest first."""
    backend = get_lambda_backend(account_id, region)
    with _lock:
        queued: list[AsyncInvocation] = backend.__dict__.pop(_ASYNC_STATE_ATTR, [])
    return queued


def _install_lambda_async_invoke() -> None:
    _wrap_all([(LambdaBackend, "invoke", _wrap_lambda_invoke)])


# ------------------------------------- (p) Security Hub custom actions (action targets)

_ACTION_TARGETS_ATTR = "_configguard_action_targets"
_ACTION_TARGET_ID = re.compile(r"^[A-Za-z0-9]{1,20}$")


def _securityhub_action_targets(backend: SecurityHubBackend) -> dict[str, dict[str, str]]:
    targets: dict[str, dict[str, str]] = backend.__dict__.setdefault(_ACTION_TARGETS_ATTR, {})
    return targets


def _securityhub_create_action_target(self: SecurityHubResponse) -> tuple[int, dict[str, str], str]:
    """CreateActionTarget (AWS Security Hub API Reference): POST /actionTargets.

    Name and Id at most 20 characters (Id alphanumeric), Description required; the
    ARN is arn:<partition>:securityhub:<region>:<account>:action/custom/<Id>; an Id
    in use is a ResourceConflictException.
    """
    request = json.loads(self.body or "{}")
    name, description, target_id = (
        request.get("Name"),
        request.get("Description"),
        request.get("Id"),
    )
    if not name or len(name) > 20 or not description:
        raise SecurityHubInvalidInputException(
            op="CreateActionTarget", msg="Name (1-20 characters) and Description are required"
        )
    if not isinstance(target_id, str) or not _ACTION_TARGET_ID.fullmatch(target_id):
        raise SecurityHubInvalidInputException(
            op="CreateActionTarget", msg="Id must be 1-20 alphanumeric characters"
        )
    backend = self.securityhub_backend
    partition = getattr(backend, "partition", "aws")
    arn = (
        f"arn:{partition}:securityhub:{self.region}:{self.current_account}"
        f":action/custom/{target_id}"
    )
    with _lock:
        targets = _securityhub_action_targets(backend)
        if arn in targets:
            raise SecurityHubClientError(
                "ResourceConflictException", f"Action target {target_id} already exists"
            )
        targets[arn] = {"ActionTargetArn": arn, "Name": name, "Description": description}
    return 200, {}, json.dumps({"ActionTargetArn": arn})


def _securityhub_describe_action_targets(
    self: SecurityHubResponse,
) -> tuple[int, dict[str, str], str]:
    """DescribeActionTargets: POST /actionTargets/get, optionally for given ARNs."""
    request = json.loads(self.body or "{}")
    wanted = request.get("ActionTargetArns") or None
    targets = _securityhub_action_targets(self.securityhub_backend)
    found = [dict(t) for arn, t in sorted(targets.items()) if wanted is None or arn in wanted]
    return 200, {}, json.dumps({"ActionTargets": found})


def _securityhub_delete_action_target(
    self: SecurityHubResponse,
) -> tuple[int, dict[str, str], str]:
    """DeleteActionTarget: DELETE /actionTargets/{ActionTargetArn+}."""
    arn = unquote(self.path.split("/actionTargets/", 1)[1])
    with _lock:
        removed = _securityhub_action_targets(self.securityhub_backend).pop(arn, None)
    if removed is None:
        raise SecurityHubClientError("ResourceNotFoundException", f"{arn} not found")
    return 200, {}, json.dumps({"ActionTargetArn": arn})


def _install_securityhub_action_targets() -> None:
    securityhub_urls.url_paths.setdefault(r"{0}/actionTargets$", SecurityHubResponse.dispatch)
    securityhub_urls.url_paths.setdefault(r"{0}/actionTargets/get$", SecurityHubResponse.dispatch)
    securityhub_urls.url_paths.setdefault(
        r"{0}/actionTargets/(?P<arn>.+)$", SecurityHubResponse.dispatch
    )
    _patch(SecurityHubResponse, "create_action_target", _securityhub_create_action_target)
    _patch(SecurityHubResponse, "describe_action_targets", _securityhub_describe_action_targets)
    _patch(SecurityHubResponse, "delete_action_target", _securityhub_delete_action_target)


# ------------------------------------------- (q) DynamoDB writes are atomic per request
#
# DynamoDB applies each write (its ConditionExpression check and its change) atomically:
# of two concurrent conditional updates of one item, one sees the other's result. moto
# checks and writes without a lock, so its threaded server lets both pass. Writes are
# serialised here, one backend-wide lock for every write operation (reads stay free).

_DYNAMODB_WRITES = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)
_dynamodb_write_lock = threading.RLock()


def _atomic(original: Callable[..., Any]) -> Callable[..., Any]:
    def write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _dynamodb_write_lock:
            return original(self, *args, **kwargs)

    return write


def _install_dynamodb_atomic_writes() -> None:
    _wrap_all((DynamoDBBackend, name, _atomic) for name in _DYNAMODB_WRITES)


# ------------------------------- (r) CloudFormation properties that moto's models drop
#
# A stack creates each resource with every property the CloudFormation reference lists.
# moto's CloudFormation models pass only some of them on, or pass objects where the
# service stores JSON text:
# - AWS::KMS::Key KeyPolicy (an object or a string): KMS stores JSON text; moto hands
#   the object to create_key and its own policy check then fails (HTTP 500);
# - AWS::IAM::Role Policies[].PolicyDocument: IAM stores JSON text; moto keeps the
#   object, and GetRolePolicy then returns a Python repr that is not JSON;
# - AWS::Logs::LogGroup KmsKeyId: dropped (the API's parameter is kmsKeyId);
# - AWS::Lambda::Function KmsKeyArn, TracingConfig, DeadLetterConfig, Layers,
#   Architectures, Tags: dropped (and a Ref to a LayerVersion resolves to moto's object).
# Each wrapper rewrites the resource's properties the way the service would store them
# and calls moto's own model.

_LAMBDA_CFN_PROPERTIES = {
    "KmsKeyArn": "KMSKeyArn",
    "TracingConfig": "TracingConfig",
    "DeadLetterConfig": "DeadLetterConfig",
    "Layers": "Layers",
    "Architectures": "Architectures",
}


def _as_json_text(document: Any) -> Any:
    return json.dumps(document) if isinstance(document, (dict, list)) else document


def _kms_key_properties(properties: dict[str, Any]) -> dict[str, Any]:
    return {**properties, "KeyPolicy": _as_json_text(properties.get("KeyPolicy"))}


def _role_properties(properties: dict[str, Any]) -> dict[str, Any]:
    policies = [
        {**policy, "PolicyDocument": _as_json_text(policy.get("PolicyDocument"))}
        for policy in properties.get("Policies") or []
    ]
    return {**properties, "Policies": policies}


def _log_group_properties(properties: dict[str, Any]) -> dict[str, Any]:
    changed = dict(properties)
    if "KmsKeyId" in changed:
        changed["kmsKeyId"] = changed.pop("KmsKeyId")
    return changed


def _wrap_cfn_model(
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_from_cloudformation_json(
            cls: type, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
        ) -> Any:
            properties = rewrite(dict(cloudformation_json.get("Properties") or {}))
            template = {**cloudformation_json, "Properties": properties}
            return original(resource_name, template, *args, **kwargs)

        return create_from_cloudformation_json

    return wrap


def _wrap_cfn_lambda_function(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_from_cloudformation_json(
        cls: type, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        function = original(resource_name, cloudformation_json, *args, **kwargs)
        properties = cloudformation_json.get("Properties") or {}
        spec = {
            api: properties[cfn] for cfn, api in _LAMBDA_CFN_PROPERTIES.items() if cfn in properties
        }
        if "Layers" in spec:
            # moto resolves a Ref to AWS::Lambda::LayerVersion to its model object; real
            # CloudFormation gives the layer version ARN.
            spec["Layers"] = [getattr(layer, "arn", layer) for layer in spec["Layers"]]
        if "Architectures" in spec:
            function.architectures = list(spec.pop("Architectures"))
        if spec:
            # The rest as UpdateFunctionConfiguration applies them (with gap-fill (a)).
            function.update_configuration(spec)
        tags = {t["Key"]: t["Value"] for t in properties.get("Tags") or []}
        if tags:
            function.tags.update(tags)
        return function

    return create_from_cloudformation_json


def _install_cloudformation_properties() -> None:
    name = "create_from_cloudformation_json"
    models: tuple[tuple[type, Callable[[Callable[..., Any]], Callable[..., Any]]], ...] = (
        (KmsKey, _wrap_cfn_model(_kms_key_properties)),
        (IamRole, _wrap_cfn_model(_role_properties)),
        (LogGroup, _wrap_cfn_model(_log_group_properties)),
        (LambdaFunction, _wrap_cfn_lambda_function),
    )
    for model, wrap in models:
        if not _is_marked(model, name):
            setattr(model, name, classmethod(_mark(wrap(getattr(model, name)))))


# ------------------------------------------------------------ (b) Config PutEvaluations


def _config_state(backend: ConfigBackend) -> _ConfigState:
    state = backend.__dict__.get(_CONFIG_STATE_ATTR)
    if state is None:
        state = _ConfigState()
        backend.__dict__[_CONFIG_STATE_ATTR] = state
    return state


def issue_result_token(account_id: str, region: str, config_rule_name: str) -> str:
    """Emulate Config invoking a custom rule: issue the ResultToken of that invocation.

    The token is what Config puts in the invocation event's "resultToken"; the
    rule then passes it to PutEvaluations. The issue time becomes the results'
    ConfigRuleInvokedTime.
    """
    backend = config_backends[account_id][region]
    with _lock:
        if config_rule_name not in backend.config_rules:
            raise UnknownConfigRuleError(
                f"no Config rule named {config_rule_name!r} in account {account_id} "
                f"region {region}; create it with put_config_rule first"
            )
        token = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode("ascii")
        _config_state(backend).tokens[token] = (config_rule_name, _now())
    return token


def _validate_evaluations(evaluations: list[dict[str, Any]]) -> None:
    """Apply the PutEvaluations request constraints of the Config API model."""
    if len(evaluations) > _MAX_EVALUATIONS:
        raise ValidationException(
            "1 validation error detected: Value at 'evaluations' failed to satisfy "
            f"constraint: Member must have length less than or equal to {_MAX_EVALUATIONS}"
        )
    errors: list[str] = []
    for index, evaluation in enumerate(evaluations, start=1):
        where = f"evaluations.{index}.member"
        checks: tuple[tuple[str, str, int], ...] = (
            ("ComplianceResourceType", "complianceResourceType", _MAX_RESOURCE_TYPE),
            ("ComplianceResourceId", "complianceResourceId", _MAX_RESOURCE_ID),
        )
        for key, location, maximum in checks:
            value = evaluation.get(key)
            if not isinstance(value, str) or not value:
                errors.append(
                    f"Value null at '{where}.{location}' failed to satisfy "
                    "constraint: Member must not be null"
                )
            elif len(value) > maximum:
                errors.append(
                    f"Value at '{where}.{location}' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {maximum}"
                )
        compliance = evaluation.get("ComplianceType")
        if compliance not in _COMPLIANCE_TYPES:
            errors.append(
                f"Value '{compliance}' at '{where}.complianceType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: "
                f"[{', '.join(_COMPLIANCE_TYPES)}]"
            )
        if evaluation.get("OrderingTimestamp") is None:
            errors.append(
                f"Value null at '{where}.orderingTimestamp' failed to satisfy "
                "constraint: Member must not be null"
            )
        annotation = evaluation.get("Annotation")
        if annotation is not None and not 1 <= len(str(annotation)) <= _MAX_ANNOTATION:
            errors.append(
                f"Value at '{where}.annotation' failed to satisfy constraint: "
                f"Member must have length between 1 and {_MAX_ANNOTATION}"
            )
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(errors))
    for evaluation in evaluations:
        # Config documents that PutEvaluations does not accept INSUFFICIENT_DATA.
        if evaluation["ComplianceType"] == "INSUFFICIENT_DATA":
            raise InvalidParameterValueException(
                "The ComplianceType INSUFFICIENT_DATA is not valid for an evaluation. "
                "Use COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE."
            )


def _config_put_evaluations(
    self: ConfigBackend,
    evaluations: list[dict[str, Any]] | None = None,
    result_token: str | None = None,
    test_mode: bool | None = False,
) -> dict[str, list[Any]]:
    """Config PutEvaluations (AWS Config API Reference, "PutEvaluations").

    Validates the request, checks the ResultToken that Config issued when it
    invoked the rule, stores each result for (rule, resource type, resource id)
    and sends a "Config Rules Compliance Change" event to the default event bus
    when a resource's compliance changes. TestMode records nothing.
    """
    if not evaluations:
        raise InvalidParameterValueException(
            "The Evaluations object in your request cannot be null. "
            "Add the required parameters and try again."
        )
    _validate_evaluations(evaluations)
    if not result_token:
        raise InvalidResultTokenException()
    if test_mode:
        return {"FailedEvaluations": []}
    with _lock:
        state = _config_state(self)
        issued = state.tokens.get(result_token)
        if issued is None:
            raise InvalidResultTokenException()
        rule_name, invoked_at = issued
        rule = self.config_rules.get(rule_name)
        if rule is None:
            raise NoSuchConfigRuleException(rule_name)
        ordering = [
            _parse_timestamp(e["OrderingTimestamp"], f"evaluations.{i}.member.orderingTimestamp")
            for i, e in enumerate(evaluations, start=1)
        ]
        for evaluation, ordering_timestamp in zip(evaluations, ordering, strict=True):
            record = _Evaluation(
                rule_name=rule_name,
                resource_type=evaluation["ComplianceResourceType"],
                resource_id=evaluation["ComplianceResourceId"],
                compliance_type=evaluation["ComplianceType"],
                annotation=evaluation.get("Annotation"),
                ordering_timestamp=ordering_timestamp,
                result_recorded_time=_now(),
                config_rule_invoked_time=invoked_at,
            )
            key = (rule_name, record.resource_type, record.resource_id)
            previous = state.results.get(key)
            state.results[key] = record
            if previous is None or previous.compliance_type != record.compliance_type:
                _emit_compliance_change(self, rule.config_rule_arn, previous, record)
    return {"FailedEvaluations": []}


def _event_result(record: _Evaluation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "evaluationResultIdentifier": {
            "evaluationResultQualifier": {
                "configRuleName": record.rule_name,
                "resourceType": record.resource_type,
                "resourceId": record.resource_id,
                "evaluationMode": "DETECTIVE",
            },
            "orderingTimestamp": _iso(record.ordering_timestamp),
        },
        "complianceType": record.compliance_type,
        "resultRecordedTime": _iso(record.result_recorded_time),
        "configRuleInvokedTime": _iso(record.config_rule_invoked_time),
    }
    if record.annotation:
        result["annotation"] = record.annotation
    return result


def _emit_compliance_change(
    backend: ConfigBackend, rule_arn: str, previous: _Evaluation | None, current: _Evaluation
) -> None:
    """Send Config's ComplianceChangeNotification through the default event bus.

    Follows "Amazon EventBridge events for AWS Config" in the Config developer
    guide. Every enabled rule on the bus is matched on its own, as EventBridge
    does; a delivery moto cannot make is a warning, never a PutEvaluations error,
    since real delivery happens after the call returns.
    """
    created = _now()
    detail: dict[str, Any] = {
        "resourceId": current.resource_id,
        "awsRegion": backend.region_name,
        "awsAccountId": backend.account_id,
        "configRuleName": current.rule_name,
        "recordVersion": "1.0",
        "configRuleARN": rule_arn,
        "messageType": "ComplianceChangeNotification",
        "notificationCreationTime": _iso(created),
        "resourceType": current.resource_type,
        "newEvaluationResult": _event_result(current),
    }
    if previous is not None:
        detail["oldEvaluationResult"] = _event_result(previous)
    events = events_backends[backend.account_id][backend.region_name]
    bus = events.event_buses.get("default")
    if bus is None:  # pragma: no cover - moto always creates the default bus
        return
    event_id = str(uuid.uuid4())
    for rule in list(bus.rules.values()):
        if getattr(rule, "state", "ENABLED") != "ENABLED":
            continue
        message: Any = {
            "version": "0",
            "id": event_id,
            "detail-type": "Config Rules Compliance Change",
            "source": "aws.config",
            "account": backend.account_id,
            "time": _epoch(created),
            "region": backend.region_name,
            "resources": [],
            "detail": json.loads(json.dumps(detail)),
        }
        # moto's default input template drops "account"; EventBridge delivers the whole
        # event unless a target has an input transformer, so only transform then.
        transform = any("InputTransformer" in target for target in rule.targets)
        if transform:
            message["ingestion-time"] = _epoch(created)
        try:
            rule.send_to_targets(message, transform_input=transform)
        except Exception as exc:
            warnings.warn(
                f"configguard gap-fill: rule {rule.name} matched a Config compliance change "
                f"but moto could not deliver it to the rule's targets: {exc!r}",
                RuntimeWarning,
                stacklevel=2,
            )


def _wrap_delete_config_rule(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_config_rule(self: ConfigBackend, rule_name: str) -> None:
        """Config DeleteConfigRule (AWS Config API Reference): drops the rule's results too."""
        original(self, rule_name)
        with _lock:
            state = _config_state(self)
            for key in [k for k in state.results if k[0] == rule_name]:
                del state.results[key]
            for token in [t for t, (name, _) in state.tokens.items() if name == rule_name]:
                del state.tokens[token]

    return delete_config_rule


def _install_config_put_evaluations() -> None:
    """Replace moto's TestMode-only PutEvaluations with the emulation above."""
    _patch(ConfigBackend, "put_evaluations", _config_put_evaluations)
    if not _is_marked(ConfigBackend, "delete_config_rule"):
        original = ConfigBackend.delete_config_rule
        _patch(ConfigBackend, "delete_config_rule", _wrap_delete_config_rule(original))


# --------------------------------- (c) Config compliance reads from the stored results


def _result_shape(record: _Evaluation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": record.rule_name,
                "ResourceType": record.resource_type,
                "ResourceId": record.resource_id,
                "EvaluationMode": "DETECTIVE",
            },
            "OrderingTimestamp": _epoch(record.ordering_timestamp),
        },
        "ComplianceType": record.compliance_type,
        "ResultRecordedTime": _epoch(record.result_recorded_time),
        "ConfigRuleInvokedTime": _epoch(record.config_rule_invoked_time),
    }
    if record.annotation:
        result["Annotation"] = record.annotation
    return result


def _check_compliance_filter(values: Any, allowed: tuple[str, ...], location: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or len(values) > 3:
        raise ValidationException(
            f"1 validation error detected: Value at '{location}' failed to satisfy "
            "constraint: Member must have length less than or equal to 3"
        )
    for value in values:
        if value not in allowed:
            raise InvalidParameterValueException(
                f"The ComplianceType {value} is not valid here. Valid values: " + ", ".join(allowed)
            )
    return list(values)


def _encode_next_token(rule_name: str, offset: int) -> str:
    raw = json.dumps({"r": rule_name, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_next_token(token: str, rule_name: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        offset = int(data["o"])
        valid = data["r"] == rule_name and offset >= 0
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        valid = False
    if not valid:
        raise InvalidNextTokenException()
    return offset


def _config_get_compliance_details_by_config_rule(
    self: ConfigBackend,
    config_rule_name: str,
    compliance_types: list[str] | None = None,
    limit: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """Config GetComplianceDetailsByConfigRule (AWS Config API Reference).

    Returns the stored results of one rule, filtered by ComplianceTypes
    (COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE), Limit per page (default 10,
    at most 100, 0 means the default) and NextToken.
    """
    if config_rule_name not in self.config_rules:
        raise NoSuchConfigRuleException(config_rule_name)
    wanted = _check_compliance_filter(compliance_types, _COMPLIANCE_TYPES[:3], "complianceTypes")
    page = int(limit or 0)
    if page < 0 or page > _MAX_DETAILS_LIMIT:
        raise ValidationException(
            f"1 validation error detected: Value '{page}' at 'limit' failed to satisfy "
            f"constraint: Member must have value between 0 and {_MAX_DETAILS_LIMIT}"
        )
    page = page or _DEFAULT_DETAILS_LIMIT
    offset = _decode_next_token(next_token, config_rule_name) if next_token else 0
    with _lock:
        matching = [
            record
            for key, record in _config_state(self).results.items()
            if key[0] == config_rule_name and (not wanted or record.compliance_type in wanted)
        ]
    selected = matching[offset : offset + page]
    response: dict[str, Any] = {"EvaluationResults": [_result_shape(r) for r in selected]}
    if offset + page < len(matching):
        response["NextToken"] = _encode_next_token(config_rule_name, offset + page)
    return response


def _rule_compliance(records: list[_Evaluation]) -> dict[str, Any]:
    non_compliant = sum(1 for r in records if r.compliance_type == "NON_COMPLIANT")
    if non_compliant:
        return {
            "ComplianceType": "NON_COMPLIANT",
            "ComplianceContributorCount": {
                "CappedCount": min(non_compliant, _CONTRIBUTOR_CAP),
                "CapExceeded": non_compliant > _CONTRIBUTOR_CAP,
            },
        }
    if any(r.compliance_type == "COMPLIANT" for r in records):
        return {"ComplianceType": "COMPLIANT"}
    # No results, or only NOT_APPLICABLE ones: Config reports INSUFFICIENT_DATA.
    return {"ComplianceType": "INSUFFICIENT_DATA"}


def _config_describe_compliance_by_config_rule(
    self: ConfigBackend,
    config_rule_names: list[str] | None = None,
    compliance_types: list[str] | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """Config DescribeComplianceByConfigRule (AWS Config API Reference).

    A rule is NON_COMPLIANT (with the capped count of noncompliant resources) if
    any result is NON_COMPLIANT, COMPLIANT if some are COMPLIANT, and
    INSUFFICIENT_DATA when it has no results or only NOT_APPLICABLE ones.
    """
    if next_token:
        raise InvalidNextTokenException()
    wanted = _check_compliance_filter(compliance_types, _RULE_COMPLIANCE_TYPES, "complianceTypes")
    names = list(config_rule_names) if config_rule_names else list(self.config_rules)
    for name in names:
        if name not in self.config_rules:
            raise NoSuchConfigRuleException(name)
    with _lock:
        results = list(_config_state(self).results.values())
    rules: list[dict[str, Any]] = []
    for name in names:
        compliance = _rule_compliance([r for r in results if r.rule_name == name])
        if wanted and compliance["ComplianceType"] not in wanted:
            continue
        rules.append({"ConfigRuleName": name, "Compliance": compliance})
    return {"ComplianceByConfigRules": rules}


def _config_response_get_compliance_details_by_config_rule(self: ConfigResponse) -> str:
    """HTTP side of GetComplianceDetailsByConfigRule."""
    result = _config_get_compliance_details_by_config_rule(
        self.config_backend,
        self._get_param("ConfigRuleName"),
        self._get_param("ComplianceTypes"),
        self._get_param("Limit"),
        self._get_param("NextToken"),
    )
    return json.dumps(result)


def _config_response_describe_compliance_by_config_rule(self: ConfigResponse) -> str:
    """HTTP side of DescribeComplianceByConfigRule."""
    result = _config_describe_compliance_by_config_rule(
        self.config_backend,
        self._get_param("ConfigRuleNames"),
        self._get_param("ComplianceTypes"),
        self._get_param("NextToken"),
    )
    return json.dumps(result)


def _install_config_compliance_reads() -> None:
    """Add the two compliance read operations to moto's Config backend and responses."""
    pairs: tuple[tuple[type, str, Callable[..., Any]], ...] = (
        (
            ConfigBackend,
            "get_compliance_details_by_config_rule",
            _config_get_compliance_details_by_config_rule,
        ),
        (
            ConfigBackend,
            "describe_compliance_by_config_rule",
            _config_describe_compliance_by_config_rule,
        ),
        (
            ConfigResponse,
            "get_compliance_details_by_config_rule",
            _config_response_get_compliance_details_by_config_rule,
        ),
        (
            ConfigResponse,
            "describe_compliance_by_config_rule",
            _config_response_describe_compliance_by_config_rule,
        ),
    )
    for owner, name, func in pairs:
        _patch(owner, name, func)


# ------------------- (n) Lambda permissions: RemovePermission RevisionId, InvokedViaFunctionUrl


def _lambda_response_remove_permission(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    """RemovePermission honours RevisionId (AWS Lambda API Reference, RemovePermission).

    AWS removes the statement only when RevisionId (if given) matches the policy's
    current revision (else PreconditionFailedException). moto compares the whole
    query-string list with the revision, so any RevisionId failed.
    """
    parts = self.path.split("?", 1)[0].split("/")
    function_name, statement_id = unquote(parts[-3]), unquote(parts[-1])
    revision = (self.querystring.get("RevisionId") or [""])[0]
    self.backend.get_function(function_name)
    self.backend.remove_permission(function_name, statement_id, revision)
    return 204, {"status": "204"}, "{}"


def _wrap_add_statement(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_statement(self: LambdaPolicy, raw: str, qualifier: str | None = None) -> Any:
        """AddPermission's InvokedViaFunctionUrl becomes a lambda:InvokedViaFunctionUrl condition.

        AWS Lambda API Reference, AddPermission: with InvokedViaFunctionUrl=true the
        statement AWS writes carries {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}};
        moto kept the request field in the statement itself.
        """
        request = json.loads(raw)
        via_url = request.pop("InvokedViaFunctionUrl", None)
        statement, revision = original(self, json.dumps(request), qualifier)
        if via_url is not None:
            condition = statement.setdefault("Condition", {})
            flag = "true" if via_url in (True, "true", "True") else "false"
            condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = flag
        return statement, revision

    return add_statement


def _install_lambda_permissions() -> None:
    _patch(LambdaResponse, "remove_permission", _lambda_response_remove_permission)
    _wrap_all([(LambdaPolicy, "add_statement", _wrap_add_statement)])


# ------------------------------------------------------------------------ lifecycle


def install() -> None:
    """Apply every gap-fill to moto's classes and URL maps; safe to call repeatedly.

    Call it before a moto server handles its first Lambda request: the server
    builds each service's URL map on first use.
    """
    with _lock:
        _install_lambda_account_settings()
        _install_lambda_configuration()
        _install_lambda_permissions()
        _install_apigateway()
        _install_apigatewayv2()
        _install_kms()
        _install_cloudtrail()
        _install_logs()
        _install_cloudtrail_home_region()
        _install_securityhub()
        _install_securityhub_action_targets()
        _install_lambda_async_invoke()
        _install_config_put_evaluations()
        _install_config_compliance_reads()
        _install_dynamodb_atomic_writes()
        _install_cloudformation_properties()


def reset_state() -> None:
    """Forget every gap-fill state: quotas, result tokens and evaluation results."""
    with _lock:
        for backend_dict in _lambda_backend_dicts():
            for backend in _all_backends(backend_dict):
                backend.__dict__.pop(_LAMBDA_STATE_ATTR, None)
        for backend in _all_backends(config_backends):
            backend.__dict__.pop(_CONFIG_STATE_ATTR, None)
