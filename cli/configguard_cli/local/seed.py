"""Create Lambda functions (and the role they need) in the stand-in or a test account."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from botocore.exceptions import ClientError

LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
DEFAULT_RUNTIME = "python3.13"
_DEFAULT_SOURCE = "def lambda_handler(event, context):\n    return 'ok'\n"


def function_zip(source: str = _DEFAULT_SOURCE, filename: str = "handler.py") -> bytes:
    """A deployment package holding one Python file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(filename, source)
    return buffer.getvalue()


def ensure_lambda_role(iam: Any, name: str, description: str = "") -> str:
    """The ARN of a role Lambda may assume, creating it when missing."""
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
    created = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
        Description=description,
    )
    return str(created["Role"]["Arn"])


def create_function(
    lam: Any,
    name: str,
    role_arn: str,
    *,
    reserved: int | None = None,
    tags: dict[str, str] | None = None,
    code: bytes | None = None,
    description: str = "",
    **settings: Any,
) -> dict[str, Any]:
    """Create a function (zip unless `PackageType="Image"`), optionally with reserved concurrency.

    `settings` are further CreateFunction parameters (Environment, TracingConfig,
    VpcConfig, DeadLetterConfig, KMSKeyArn, Runtime, ...).
    """
    request: dict[str, Any] = {
        "FunctionName": name,
        "Role": role_arn,
        "Description": description,
        "Tags": tags or {},
    }
    if settings.get("PackageType") != "Image":
        request.update(
            Runtime=DEFAULT_RUNTIME,
            Handler="handler.lambda_handler",
            Code={"ZipFile": code if code is not None else function_zip()},
        )
    request.update(settings)
    created: dict[str, Any] = lam.create_function(**request)
    if reserved is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    return created
