"""Memoised, read-only API calls for one rule invocation or one whole scan.

Rules read through a `Reads` so that a scan evaluating ten rules reads each
function, policy and role once, and a Lambda invocation never repeats a read.
Every call is counted per operation, which is how the scan reports its cost.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from botocore.exceptions import ClientError

from configguard.clients import ClientFactory

NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})
_V1_PAGES = ("position", "position")  # API Gateway v1: request param, response key
_V2_PAGES = ("NextToken", "NextToken")
_LOGS_PAGES = ("nextToken", "nextToken")
_TRAIL_NOT_FOUND = frozenset({"TrailNotFoundException", *NOT_FOUND_CODES})


_T = TypeVar("_T")
_R = TypeVar("_R")
_worker = threading.local()  # `active` in the threads of a Reads executor


def pool_thread() -> None:
    """ThreadPoolExecutor initializer for a Reads executor: marks its threads."""
    _worker.active = True


class _Flight:
    """One request in progress, which other threads asking for it wait on."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def succeed(self, value: Any) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def _key(service: str, operation: str, params: dict[str, Any]) -> str:
    return f"{service}:{operation}:{json.dumps(params, sort_keys=True, default=str)}"


@dataclass(frozen=True)
class NamedPolicy:
    """One policy document of an IAM role, with where it came from."""

    name: str
    arn: str | None  # None for inline policies
    document: dict[str, Any]


def _document(raw: Any) -> dict[str, Any]:
    """IAM returns documents URL-encoded (or already decoded by some SDKs)."""
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = json.loads(unquote(text))
    if not isinstance(value, dict):
        raise ValueError("policy document is not a JSON object")
    return value


class Reads:
    """A read-through cache over one ClientFactory."""

    def __init__(self, factory: ClientFactory, executor: Executor | None = None) -> None:
        self.factory = factory
        self.executor = executor
        self.calls: Counter[str] = Counter()
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._inflight: dict[str, _Flight] = {}
        self._listed_functions: set[str] = set()

    def call(
        self,
        service: str,
        operation: str,
        *,
        missing: frozenset[str] = frozenset(),
        **params: Any,
    ) -> Any:
        """client.<operation>(**params), once; None when the error code is in `missing`.

        Thread-safe: concurrent callers of the same request wait for one call.
        """
        key = _key(service, operation, params)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            flight = self._inflight.get(key)
            leader = flight is None
            if flight is None:
                flight = self._inflight[key] = _Flight()
                self.calls[f"{service}:{_camel(operation)}"] += 1
        if not leader:
            return flight.result()
        try:
            try:
                value = getattr(self.factory.client(service), operation)(**params)
            except ClientError as exc:
                if error_code(exc) not in missing:
                    raise
                value = None
        except BaseException as exc:
            with self._lock:
                del self._inflight[key]
            flight.fail(exc)
            raise
        with self._lock:
            self._cache[key] = value
            del self._inflight[key]
        flight.succeed(value)
        return value

    def seed(self, service: str, operation: str, value: Any, **params: Any) -> None:
        """Record a response obtained another way (e.g. a page of a listing)."""
        with self._lock:
            self._cache[_key(service, operation, params)] = value

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def map(self, func: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """[func(item) ...], concurrently on `executor` when one is set.

        In a thread of that executor (see `pool_thread`) it runs inline: a task waiting
        for tasks queued behind it on the same pool could otherwise starve it.
        """
        pool = self.executor
        if pool is None or getattr(_worker, "active", False):
            return [func(item) for item in items]
        return list(pool.map(func, items))

    def _collect(
        self,
        service: str,
        operation: str,
        items_key: str,
        token: tuple[str, str],
        **params: Any,
    ) -> list[dict[str, Any]]:
        """Every item of a paginated listing; `token` is (request param, response key)."""
        items: list[dict[str, Any]] = []
        request_param, response_key = token
        position: str | None = None
        while True:
            request: dict[str, Any] = dict(params)
            if position:
                request[request_param] = position
            page = self.call(service, operation, **request)
            items.extend(page.get(items_key, []))
            position = page.get(response_key)
            if not position:
                return items

    # ------------------------------------------------------------------ Lambda

    def functions(self) -> list[dict[str, Any]]:
        """Every function in the Region (ListFunctions, all pages), once.

        Each listed configuration is also cached as its GetFunctionConfiguration answer
        (ListFunctions returns the same FunctionConfiguration, environment included).
        """
        functions = self._collect(
            "lambda", "list_functions", "Functions", ("Marker", "NextMarker"), MaxItems=50
        )
        for function in functions:
            self.seed(
                "lambda",
                "get_function_configuration",
                function,
                FunctionName=function["FunctionName"],
            )
        with self._lock:
            self._listed_functions.update(f["FunctionName"] for f in functions)
        return functions

    def function_exists(self, name: str) -> bool:
        """Listed in this scan, or found by GetFunction now."""
        with self._lock:
            if name in self._listed_functions:
                return True
        return self.function(name) is not None

    def function_concurrency(self, name: str) -> dict[str, Any] | None:
        """GetFunctionConcurrency; None when the function no longer exists."""
        response: dict[str, Any] | None = self.call(
            "lambda", "get_function_concurrency", missing=NOT_FOUND_CODES, FunctionName=name
        )
        return response

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunction; None when the function no longer exists."""
        response: dict[str, Any] | None = self.call(
            "lambda", "get_function", missing=NOT_FOUND_CODES, FunctionName=name
        )
        return response

    def function_configuration(self, name: str) -> dict[str, Any] | None:
        """The function's configuration (with Environment): reuses GetFunction when read."""
        with self._lock:
            cached = self._cache.get(_key("lambda", "get_function", {"FunctionName": name}))
        if cached is not None:
            return dict(cached["Configuration"])
        response: dict[str, Any] | None = self.call(
            "lambda",
            "get_function_configuration",
            missing=NOT_FOUND_CODES,
            FunctionName=name,
        )
        return response

    def function_policy(self, name: str) -> dict[str, Any] | None:
        """The function's resource policy document; None when it has none."""
        response = self.call("lambda", "get_policy", missing=NOT_FOUND_CODES, FunctionName=name)
        if response is None or not response.get("Policy"):
            return None
        return _document(response["Policy"])

    def event_invoke_config(self, name: str) -> dict[str, Any] | None:
        """The function's asynchronous invocation settings; None when unset."""
        response: dict[str, Any] | None = self.call(
            "lambda",
            "get_function_event_invoke_config",
            missing=NOT_FOUND_CODES,
            FunctionName=name,
        )
        return response

    # --------------------------------------------------------------------- IAM

    def managed_policy(self, arn: str) -> NamedPolicy:
        """A managed policy's default version."""
        policy = self.call("iam", "get_policy", PolicyArn=arn)["Policy"]
        version = self.call(
            "iam", "get_policy_version", PolicyArn=arn, VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        return NamedPolicy(policy["PolicyName"], arn, _document(version["Document"]))

    def _iam_pages(self, operation: str, items_key: str, **params: Any) -> list[Any] | None:
        """Every item of a Marker/IsTruncated IAM listing; None when the entity is gone."""
        items: list[Any] = []
        marker: str | None = None
        while True:
            page = self.call(
                "iam",
                operation,
                missing=NOT_FOUND_CODES,
                **params,
                **({"Marker": marker} if marker else {}),
            )
            if page is None:
                return None
            items.extend(page.get(items_key, []))
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                return items

    def role_policies(self, role_name: str) -> list[NamedPolicy] | None:
        """Every attached and inline policy of a role; None when the role is gone."""
        attached = self._iam_pages(
            "list_attached_role_policies", "AttachedPolicies", RoleName=role_name
        )
        if attached is None:
            return None
        inline = self._iam_pages("list_role_policies", "PolicyNames", RoleName=role_name)
        if inline is None:
            return None
        policies = [self.managed_policy(item["PolicyArn"]) for item in attached]
        for name in inline:
            response = self.call("iam", "get_role_policy", RoleName=role_name, PolicyName=name)
            policies.append(NamedPolicy(name, None, _document(response["PolicyDocument"])))
        return policies

    # -------------------------------------------------------------- API Gateway

    def rest_apis(self) -> list[dict[str, Any]]:
        """Every REST API (apigateway GetRestApis, all pages), each also cached as its
        GetRestApi answer."""
        apis = self._collect("apigateway", "get_rest_apis", "items", _V1_PAGES, limit=500)
        for api in apis:
            self.seed("apigateway", "get_rest_api", api, restApiId=api["id"])
        return apis

    def rest_api(self, api_id: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "apigateway", "get_rest_api", missing=NOT_FOUND_CODES, restApiId=api_id
        )
        return response

    def rest_stages(self, api_id: str) -> list[dict[str, Any]]:
        """A REST API's stages; each is also cached as its GetStage answer."""
        response = self.call("apigateway", "get_stages", missing=NOT_FOUND_CODES, restApiId=api_id)
        stages: list[dict[str, Any]] = list((response or {}).get("item", []))
        for stage in stages:
            self.seed(
                "apigateway", "get_stage", stage, restApiId=api_id, stageName=stage["stageName"]
            )
        return stages

    def rest_stage(self, api_id: str, stage_name: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "apigateway",
            "get_stage",
            missing=NOT_FOUND_CODES,
            restApiId=api_id,
            stageName=stage_name,
        )
        return response

    def rest_resources(self, api_id: str) -> list[dict[str, Any]]:
        """A REST API's resources with their methods embedded."""
        return self._collect(
            "apigateway",
            "get_resources",
            "items",
            _V1_PAGES,
            restApiId=api_id,
            embed=["methods"],
            limit=500,
        )

    def request_validators(self, api_id: str) -> list[dict[str, Any]]:
        return self._collect(
            "apigateway", "get_request_validators", "items", _V1_PAGES, restApiId=api_id
        )

    def domain_names(self) -> list[dict[str, Any]]:
        """REST (v1) custom domain names."""
        return self._collect("apigateway", "get_domain_names", "items", _V1_PAGES, limit=500)

    def base_path_mappings(self, domain_name: str) -> list[dict[str, Any]]:
        return self._collect(
            "apigateway", "get_base_path_mappings", "items", _V1_PAGES, domainName=domain_name
        )

    def http_apis(self) -> list[dict[str, Any]]:
        """Every HTTP and WebSocket API (apigatewayv2 GetApis, all pages), each also cached as
        its GetApi answer."""
        apis = self._collect("apigatewayv2", "get_apis", "Items", _V2_PAGES)
        for api in apis:
            self.seed("apigatewayv2", "get_api", api, ApiId=api["ApiId"])
        return apis

    def http_api(self, api_id: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "apigatewayv2", "get_api", missing=NOT_FOUND_CODES, ApiId=api_id
        )
        return response

    def http_stages(self, api_id: str) -> list[dict[str, Any]]:
        """A v2 API's stages; each is also cached as its GetStage answer."""
        stages = self._collect("apigatewayv2", "get_stages", "Items", _V2_PAGES, ApiId=api_id)
        for stage in stages:
            self.seed(
                "apigatewayv2", "get_stage", stage, ApiId=api_id, StageName=stage["StageName"]
            )
        return stages

    def http_stage(self, api_id: str, stage_name: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "apigatewayv2", "get_stage", missing=NOT_FOUND_CODES, ApiId=api_id, StageName=stage_name
        )
        return response

    def http_routes(self, api_id: str) -> list[dict[str, Any]]:
        return self._collect("apigatewayv2", "get_routes", "Items", _V2_PAGES, ApiId=api_id)

    def http_domain_names(self) -> list[dict[str, Any]]:
        """v2 custom domain names (the same domains as v1, with v2's fields)."""
        return self._collect("apigatewayv2", "get_domain_names", "Items", _V2_PAGES)

    def api_mappings(self, domain_name: str) -> list[dict[str, Any]]:
        return self._collect(
            "apigatewayv2", "get_api_mappings", "Items", _V2_PAGES, DomainName=domain_name
        )

    # --------------------------------------------------------------------- KMS

    def kms_keys(self) -> list[dict[str, Any]]:
        """Every KMS key in the Region (ListKeys, all pages; NextMarker only when truncated)."""
        return self._collect("kms", "list_keys", "Keys", ("Marker", "NextMarker"), Limit=1000)

    def key(self, key_id: str) -> dict[str, Any] | None:
        """DescribeKey's KeyMetadata; None when the key does not exist."""
        response = self.call("kms", "describe_key", missing=NOT_FOUND_CODES, KeyId=key_id)
        return None if response is None else dict(response["KeyMetadata"])

    def key_rotation(self, key_id: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "kms", "get_key_rotation_status", missing=NOT_FOUND_CODES, KeyId=key_id
        )
        return response

    def key_policy(self, key_id: str) -> dict[str, Any] | None:
        """The key's (only) policy, "default", as a document; None when the key is gone."""
        response = self.call(
            "kms", "get_key_policy", missing=NOT_FOUND_CODES, KeyId=key_id, PolicyName="default"
        )
        return None if response is None else _document(response["Policy"])

    # --------------------------------------------------------- CloudWatch Logs

    def log_groups(self) -> list[dict[str, Any]]:
        """Every log group in the Region (DescribeLogGroups, 50 a page)."""
        return self._collect("logs", "describe_log_groups", "logGroups", _LOGS_PAGES, limit=50)

    # -------------------------------------------------------------- CloudTrail

    def trails(self) -> list[dict[str, Any]]:
        """Every trail that applies to this Region, multi-Region trails of other Regions too."""
        response = self.call("cloudtrail", "describe_trails", includeShadowTrails=True)
        return list(response.get("trailList", []))

    def trail_status(self, trail_arn: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "cloudtrail", "get_trail_status", missing=_TRAIL_NOT_FOUND, Name=trail_arn
        )
        return response

    def event_selectors(self, trail_arn: str) -> dict[str, Any] | None:
        response: dict[str, Any] | None = self.call(
            "cloudtrail", "get_event_selectors", missing=_TRAIL_NOT_FOUND, TrailName=trail_arn
        )
        return response
