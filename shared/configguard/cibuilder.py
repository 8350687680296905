"""Turn live API reads into Config-shaped configuration items (CIs).

Property names follow awslabs/aws-config-resource-schema
(config/properties/resource-types/<TYPE>.properties.json). `scan` uses this to
evaluate live resources with the rules' own code, and the rule base uses it to
inflate oversized change notifications from the service API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from configguard.clients import ClientFactory

ConfigurationItem = dict[str, Any]

LAMBDA_FUNCTION = "AWS::Lambda::Function"


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


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {
        "ResourceNotFoundException",
        "NotFoundException",
        "NoSuchEntity",
    }


def _arn_parts(arn: str) -> tuple[str, str]:
    """(region, account) of an ARN."""
    parts = arn.split(":")
    return parts[3], parts[4]


def lambda_function_ci(response: dict[str, Any]) -> ConfigurationItem:
    """A CI from a lambda:GetFunction response (Configuration, Concurrency, Tags)."""
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
    supplementary: dict[str, Any] = {"Concurrency": {"reservedConcurrentExecutions": reserved}}
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


def read_lambda_function(factory: ClientFactory, resource_id: str) -> ConfigurationItem | None:
    """Build one function's CI; None when the function no longer exists."""
    try:
        response = factory.client("lambda").get_function(FunctionName=resource_id)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    return lambda_function_ci(response)


def list_lambda_functions(factory: ClientFactory) -> Iterator[ConfigurationItem]:
    """CIs of every function in the Region, one GetFunction each after listing."""
    paginator = factory.client("lambda").get_paginator("list_functions")
    for page in paginator.paginate(PaginationConfig={"PageSize": 50}):
        for function in page.get("Functions", []):
            ci = read_lambda_function(factory, function["FunctionName"])
            if ci is not None:
                yield ci


Reader = Callable[[ClientFactory, str], ConfigurationItem | None]
Lister = Callable[[ClientFactory], Iterator[ConfigurationItem]]

BUILDERS: dict[str, tuple[Reader, Lister]] = {
    LAMBDA_FUNCTION: (read_lambda_function, list_lambda_functions),
}


def read(factory: ClientFactory, resource_type: str, resource_id: str) -> ConfigurationItem | None:
    """The current CI of one resource, or None if it no longer exists."""
    try:
        reader, _ = BUILDERS[resource_type]
    except KeyError:
        raise UnsupportedResourceTypeError(resource_type) from None
    return reader(factory, resource_id)


def list_items(factory: ClientFactory, resource_type: str) -> Iterator[ConfigurationItem]:
    try:
        _, lister = BUILDERS[resource_type]
    except KeyError:
        raise UnsupportedResourceTypeError(resource_type) from None
    return lister(factory)
