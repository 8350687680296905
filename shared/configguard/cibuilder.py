"""Turn live API reads into Config-shaped configuration items (CIs).

Property names follow awslabs/aws-config-resource-schema
(config/properties/resource-types/<TYPE>.properties.json). `scan` uses this to
evaluate live resources with the rules' own code, and the rule base uses it to
inflate oversized change notifications from the service API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from configguard.clients import ClientFactory
from configguard.reads import Reads

ConfigurationItem = dict[str, Any]

LAMBDA_FUNCTION = "AWS::Lambda::Function"
KMS_KEY = "AWS::KMS::Key"
REST_STAGE = "AWS::ApiGateway::Stage"
HTTP_STAGE = "AWS::ApiGatewayV2::Stage"
REST_API = "AWS::ApiGateway::RestApi"
HTTP_API = "AWS::ApiGatewayV2::Api"


class _Missing:
    """Type of MISSING: the configuration item lacks a key (not the same as null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False  # a truthiness test treats a missing value as unset

    def __reduce__(self) -> str:
        return "MISSING"  # copies and pickles stay the one sentinel


MISSING: Final = _Missing()


class MalformedItemError(ValueError):
    """A configuration item value or resource id that cannot be read as what it claims."""


def _decoded(value: Any, path: tuple[str, ...]) -> Any:
    """A str that looks like a JSON object or array, parsed; other values unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith(("{", "[")):
        return value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg and the position never quote the document: the value stays out.
        raise MalformedItemError(
            f"configuration item value at {'.'.join(path)[:200]} looks like JSON but does not "
            f"parse: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise MalformedItemError(
            f"configuration item value at {'.'.join(path)[:200]} is nested too deeply"
        ) from None


def ci_value(configuration_item: Mapping[str, Any], *path: str) -> Any:
    """The value at `path` from the CI root, parsing JSON-string levels on the way.

    Config sometimes serialises nested CI values as JSON strings. MISSING when a key
    is absent or a level above it is not a mapping; None for an explicit null.
    """
    value: Any = configuration_item
    for depth, key in enumerate(path):
        if not isinstance(value, Mapping) or key not in value:
            return MISSING
        value = _decoded(value[key], path[: depth + 1])
    return value


def ci_typed(
    configuration_item: Mapping[str, Any], expected: type | tuple[type, ...], *path: str
) -> Any:
    """`ci_value`, with a value that is not of the `expected` type(s) treated as MISSING.

    A value of the wrong type cannot be judged: a rule treats it like an absent one
    (it reads the service API), never as a setting. None stays None; a bool is an int
    only when `expected` names bool.
    """
    value = ci_value(configuration_item, *path)
    if value is None or value is MISSING:
        return value
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in allowed:
        return MISSING
    return value if isinstance(value, allowed) else MISSING


class UnsupportedResourceTypeError(ValueError):
    """The CI builder cannot read this resource type."""

    def __init__(self, resource_type: str) -> None:
        super().__init__(
            f"configguard cannot build a configuration item for {resource_type!r}; "
            f"supported types: {', '.join(sorted(BUILDERS))}"
        )
        self.resource_type = resource_type


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Source = ClientFactory | Reads


def reads_for(source: Source) -> Reads:
    """The caller's read cache, or a fresh one over a bare factory."""
    return source if isinstance(source, Reads) else Reads(source)


def _arn_parts(arn: str) -> tuple[str, str]:
    """(region, account) of an ARN."""
    parts = arn.split(":")
    return parts[3], parts[4]


def lambda_function_ci(response: dict[str, Any], *, listed: bool = False) -> ConfigurationItem:
    """A CI from a lambda:GetFunction response (Configuration, Concurrency, Tags).

    `listed`: the response is `{"Configuration": <a ListFunctions entry>}`, which carries
    neither concurrency nor tags. The CI then lacks the Concurrency block (a rule that
    needs it reads GetFunctionConcurrency) and has no tags.
    """
    conf = response["Configuration"]
    region, account = _arn_parts(conf["FunctionArn"])
    configuration: dict[str, Any] = {
        "functionName": conf["FunctionName"],
        "functionArn": conf["FunctionArn"],
        "runtime": conf.get("Runtime"),
        "role": conf.get("Role"),
        "handler": conf.get("Handler"),
        "codeSize": conf.get("CodeSize"),
        "description": conf.get("Description"),
        "timeout": conf.get("Timeout"),
        "memorySize": conf.get("MemorySize"),
        "lastModified": conf.get("LastModified"),
        "codeSha256": conf.get("CodeSha256"),
        "version": conf.get("Version"),
        "kmskeyArn": conf.get("KMSKeyArn"),
        "packageType": conf.get("PackageType", "Zip"),
        "architectures": conf.get("Architectures", []),
        "tracingConfig": {"mode": (conf.get("TracingConfig") or {}).get("Mode")},
        "vpcConfig": {
            "subnetIds": (conf.get("VpcConfig") or {}).get("SubnetIds", []),
            "securityGroupIds": (conf.get("VpcConfig") or {}).get("SecurityGroupIds", []),
        },
        "deadLetterConfig": {"targetArn": (conf.get("DeadLetterConfig") or {}).get("TargetArn")},
        "layers": [{"arn": layer.get("Arn")} for layer in conf.get("Layers", [])],
        "lastUpdateStatus": conf.get("LastUpdateStatus"),
        "state": {"value": conf.get("State")},
    }
    # GetFunction is authoritative: no Concurrency block means none is reserved.
    reserved = (response.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    supplementary: dict[str, Any] = (
        {} if listed else {"Concurrency": {"reservedConcurrentExecutions": reserved}}
    )
    return {
        "version": "1.3",
        "accountId": account,
        "configurationItemCaptureTime": _now(),
        "configurationItemStatus": "OK",
        "configurationStateId": None,
        "resourceType": LAMBDA_FUNCTION,
        "resourceId": conf["FunctionName"],
        "resourceName": conf["FunctionName"],
        "ARN": conf["FunctionArn"],
        "awsRegion": region,
        "tags": dict(response.get("Tags") or {}),
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": supplementary,
    }


def read_lambda_function(reads: Reads, resource_id: str) -> ConfigurationItem | None:
    """Build one function's CI; None when the function no longer exists."""
    response = reads.function(resource_id)
    return None if response is None else lambda_function_ci(response)


def list_lambda_functions(reads: Reads) -> Iterator[ConfigurationItem]:
    """CIs of every function in the Region, from the listing alone (no call per function)."""
    for function in reads.functions():
        yield lambda_function_ci({"Configuration": function}, listed=True)


Reader = Callable[[Reads, str], ConfigurationItem | None]
Lister = Callable[[Reads], Iterator[ConfigurationItem]]


def _ci(
    resource_type: str,
    resource_id: str,
    name: str,
    region: str,
    account: str,
    configuration: dict[str, Any],
    tags: Mapping[str, str] | None,
    relationships: list[dict[str, str]] | None = None,
) -> ConfigurationItem:
    return {
        "version": "1.3",
        "accountId": account,
        "configurationItemCaptureTime": _now(),
        "configurationItemStatus": "OK",
        "configurationStateId": None,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": name,
        "ARN": resource_id if resource_id.startswith("arn:") else None,
        "awsRegion": region,
        "tags": dict(tags or {}),
        "relationships": relationships or [],
        "configuration": _jsonable(configuration),
        "supplementaryConfiguration": {},
    }


def rest_stage_arn(region: str, api_id: str, stage_name: str) -> str:
    """The id Config gives an AWS::ApiGateway::Stage: the stage's ARN."""
    return f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage_name}"


def http_stage_arn(region: str, api_id: str, stage_name: str) -> str:
    """The id configguard gives an AWS::ApiGatewayV2::Stage: the stage's ARN."""
    return f"arn:aws:apigateway:{region}::/apis/{api_id}/stages/{stage_name}"


def parse_stage_arn(resource_id: str) -> tuple[str, str, str]:
    """(region, api id, stage name) of a v1 or v2 stage ARN."""
    try:
        prefix, path = resource_id.split("::/", 1)
        region = prefix.split(":")[3]
        _, api_id, _, stage_name = path.split("/", 3)
    except (ValueError, IndexError):
        raise MalformedItemError(f"not an API Gateway stage ARN: {resource_id[:200]!r}") from None
    return region, api_id, stage_name


def _account(reads: Reads) -> str:
    identity = reads.call("sts", "get_caller_identity")
    return str(identity["Account"])


def rest_stage_ci(reads: Reads, api_id: str, stage: dict[str, Any]) -> ConfigurationItem:
    """A CI from a GetStage answer; property names as GetStage and the schema use them."""
    region = str(reads.factory.client("apigateway").meta.region_name)
    configuration = {k: v for k, v in stage.items() if k not in {"ResponseMetadata", "tags"}}
    configuration["restApiId"] = api_id
    return _ci(
        REST_STAGE,
        rest_stage_arn(region, api_id, stage["stageName"]),
        stage["stageName"],
        region,
        _account(reads),
        configuration,
        stage.get("tags"),
        [{"resourceType": REST_API, "resourceId": api_id, "name": "Is contained in "}],
    )


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, as Config writes them in CIs."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _camel_keys(value: Any) -> Any:
    """apigatewayv2 answers in PascalCase; Config's v2 CIs use camelCase."""
    if isinstance(value, dict):
        return {_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def http_stage_ci(reads: Reads, api_id: str, stage: dict[str, Any]) -> ConfigurationItem:
    """A CI from an apigatewayv2 GetStage answer, keys as the schema names them."""
    region = str(reads.factory.client("apigatewayv2").meta.region_name)
    raw = {k: v for k, v in stage.items() if k not in {"ResponseMetadata", "Tags"}}
    configuration = _camel_keys(raw)
    # Route keys ("GET /items") and stage variable names are data, not property names.
    configuration["routeSettings"] = {
        route: _camel_keys(settings)
        for route, settings in (stage.get("RouteSettings") or {}).items()
    }
    configuration["stageVariables"] = dict(stage.get("StageVariables") or {})
    configuration["apiId"] = api_id
    return _ci(
        HTTP_STAGE,
        http_stage_arn(region, api_id, stage["StageName"]),
        stage["StageName"],
        region,
        _account(reads),
        configuration,
        stage.get("Tags"),
        [{"resourceType": HTTP_API, "resourceId": api_id, "name": "Is contained in "}],
    )


def read_rest_stage(reads: Reads, resource_id: str) -> ConfigurationItem | None:
    _, api_id, stage_name = parse_stage_arn(resource_id)
    stage = reads.rest_stage(api_id, stage_name)
    return None if stage is None else rest_stage_ci(reads, api_id, stage)


def list_rest_stages(reads: Reads) -> Iterator[ConfigurationItem]:
    apis = reads.rest_apis()
    stages = reads.map(lambda api: reads.rest_stages(api["id"]), apis)
    for api, listed in zip(apis, stages, strict=True):
        for stage in listed:
            yield rest_stage_ci(reads, api["id"], stage)


def read_http_stage(reads: Reads, resource_id: str) -> ConfigurationItem | None:
    _, api_id, stage_name = parse_stage_arn(resource_id)
    stage = reads.http_stage(api_id, stage_name)
    return None if stage is None else http_stage_ci(reads, api_id, stage)


def list_http_stages(reads: Reads) -> Iterator[ConfigurationItem]:
    apis = reads.http_apis()
    stages = reads.map(lambda api: reads.http_stages(api["ApiId"]), apis)
    for api, listed in zip(apis, stages, strict=True):
        for stage in listed:
            yield http_stage_ci(reads, api["ApiId"], stage)


def kms_key_ci(
    reads: Reads, metadata: dict[str, Any], *, with_rotation: bool = True
) -> ConfigurationItem:
    """A CI from DescribeKey (+ GetKeyRotationStatus), property names as the schema's.

    Without `with_rotation` the CI lacks KeyRotationStatus: a rule that needs it reads it.
    """
    rotation: bool | None = None
    # Only customer-managed symmetric keys with KMS key material can rotate; KMS answers
    # UnsupportedOperationException for the others, so they are not asked.
    rotatable = (
        metadata.get("KeyManager") == "CUSTOMER"
        and metadata.get("KeyState") != "PendingDeletion"
        and (metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec"))
        == "SYMMETRIC_DEFAULT"
        and metadata.get("Origin", "AWS_KMS") == "AWS_KMS"
    )
    if rotatable and with_rotation:
        status = reads.key_rotation(metadata["KeyId"])
        rotation = None if status is None else bool(status.get("KeyRotationEnabled"))
    configuration = {
        "keyId": metadata["KeyId"],
        "arn": metadata["Arn"],
        "awsaccountId": metadata.get("AWSAccountId"),
        "creationDate": metadata.get("CreationDate"),
        "deletionDate": metadata.get("DeletionDate"),
        "description": metadata.get("Description"),
        "enabled": metadata.get("Enabled"),
        "keyState": metadata.get("KeyState"),
        "keyManager": metadata.get("KeyManager"),
        "keyUsage": metadata.get("KeyUsage"),
        "customerMasterKeySpec": metadata.get("CustomerMasterKeySpec") or metadata.get("KeySpec"),
        "keySpec": metadata.get("KeySpec"),
        "origin": metadata.get("Origin"),
        "expirationModel": metadata.get("ExpirationModel"),
        "encryptionAlgorithms": metadata.get("EncryptionAlgorithms"),
        "signingAlgorithms": metadata.get("SigningAlgorithms"),
        "customKeyStoreId": metadata.get("CustomKeyStoreId"),
    }
    arn = str(metadata["Arn"])
    region, account = _arn_parts(arn)
    item = _ci(
        KMS_KEY,
        str(metadata["KeyId"]),
        str(metadata["KeyId"]),
        region,
        account,
        configuration,
        None,
    )
    item["ARN"] = arn
    item["supplementaryConfiguration"] = {"KeyRotationStatus": rotation} if with_rotation else {}
    return item


def read_kms_key(reads: Reads, resource_id: str) -> ConfigurationItem | None:
    metadata = reads.key(resource_id)
    return None if metadata is None else kms_key_ci(reads, metadata)


def _listed_kms_key(reads: Reads, key_id: str) -> ConfigurationItem | None:
    metadata = reads.key(key_id)
    return None if metadata is None else kms_key_ci(reads, metadata, with_rotation=False)


def list_kms_keys(reads: Reads) -> Iterator[ConfigurationItem]:
    """CIs of every key: DescribeKey each; rotation is left to the rules that judge it."""
    items = reads.map(lambda listed: _listed_kms_key(reads, listed["KeyId"]), reads.kms_keys())
    yield from (item for item in items if item is not None)


BUILDERS: dict[str, tuple[Reader, Lister]] = {
    KMS_KEY: (read_kms_key, list_kms_keys),
    LAMBDA_FUNCTION: (read_lambda_function, list_lambda_functions),
    REST_STAGE: (read_rest_stage, list_rest_stages),
    HTTP_STAGE: (read_http_stage, list_http_stages),
}


def read(source: Source, resource_type: str, resource_id: str) -> ConfigurationItem | None:
    """The current CI of one resource, or None if it no longer exists."""
    try:
        reader, _ = BUILDERS[resource_type]
    except KeyError:
        raise UnsupportedResourceTypeError(resource_type) from None
    return reader(reads_for(source), resource_id)


def list_items(source: Source, resource_type: str) -> Iterator[ConfigurationItem]:
    """The CIs of every resource of a type in the Region."""
    try:
        _, lister = BUILDERS[resource_type]
    except KeyError:
        raise UnsupportedResourceTypeError(resource_type) from None
    return lister(reads_for(source))
