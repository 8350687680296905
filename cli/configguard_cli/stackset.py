"""A StackSet-ready template: SAM build, content-addressed zips, offline SAM transform.

CloudFormation StackSets with SERVICE_MANAGED permissions reject templates with a
Transform, so the SAM template is translated here with samtranslator into plain
CloudFormation. Lambda code must come from a bucket in the stack's own Region, so every
function and the layer read `<ArtifactBucketPrefix>-<AWS::Region>` with a key named by the
SHA-256 of its zip. Zips and template are deterministic: the same build gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from configguard_cli.handlers import REPO_ROOT

TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SAM_BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
DEFAULT_PREFIX = "configguard-artifacts"
DEFAULT_ARTIFACTS_DIR = Path("build/stackset-artifacts")
STACK_SET_NAME = "configguard"
BUCKET_PARAMETER = "ArtifactBucketPrefix"
KEY_PREFIX = "configguard/"
TEMPLATE_KEY_PREFIX = KEY_PREFIX + "templates/"

# CloudFormation's limits (per template).
MAX_RESOURCES = 500
MAX_TEMPLATE_BODY = 51_200  # --template-body, inline
MAX_TEMPLATE_URL = 1_048_576  # --template-url, from S3 (1 MB)

# Fixed zip metadata, so the same files always give the same bytes (and the same key).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESSLEVEL = 6
FILE_MODE = 0o644
EXEC_MODE = 0o755
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
ARTIFACT_NAME = re.compile(r"^[0-9a-f]{64}\.zip$")

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
CODE_PROPERTY = {FUNCTION: "CodeUri", LAYER: "ContentUri"}
IAM_TYPES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": "",
    "AWS::IAM::AccessKey": "",
    "AWS::IAM::UserToGroupAddition": "",
}


class StackSetError(ValueError):
    """A problem the user can act on (shown as a one-line CLI error)."""


@dataclass(frozen=True)
class Artifact:
    """One uploaded zip: its content-addressed key and the resources that use it."""

    key: str
    path: Path
    size: int
    used_by: tuple[str, ...]


@dataclass
class Result:
    """What `generate` wrote, and what to run next."""

    output: Path
    template_bytes: int
    resources: int
    artifacts: list[Artifact]
    capabilities: list[str]
    parameters: dict[str, str]
    delivery: str  # "template-body" or "template-url"
    template_key: str
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The summary for `--format json`."""
        return {
            "output": str(self.output),
            "template_bytes": self.template_bytes,
            "resources": self.resources,
            "limits": {
                "resources": MAX_RESOURCES,
                "template_body_bytes": MAX_TEMPLATE_BODY,
                "template_url_bytes": MAX_TEMPLATE_URL,
            },
            "delivery": self.delivery,
            "template_key": self.template_key,
            "capabilities": self.capabilities,
            "parameters": self.parameters,
            "artifacts": [
                {"key": a.key, "path": str(a.path), "bytes": a.size, "used_by": list(a.used_by)}
                for a in self.artifacts
            ],
            "commands": self.commands,
            "notes": self.notes,
        }


# ------------------------------------------------------------------ build


def run_sam_build(root: Path = REPO_ROOT) -> Path:
    """Run `make build` (the one definition of the SAM build); return its output directory."""
    # make's output goes to stderr: it shows progress, and keeps a JSON summary on stdout clean.
    make = shutil.which("make")
    if make is None:
        raise StackSetError("`make` is not installed: it runs the SAM build (or pass --build-dir)")
    done = subprocess.run(  # noqa: S603 - make from PATH, fixed arguments
        [make, "build"], cwd=root, stdout=sys.stderr, check=False
    )
    if done.returncode != 0:
        raise StackSetError(f"`make build` failed (exit {done.returncode}); its output is above")
    return root / ".aws-sam" / "build"


# ------------------------------------------------------------------ packaging


def _files(directory: Path) -> Iterator[tuple[str, Path]]:
    """Every file under `directory` as (archive name, path), sorted by name; no caches."""
    found: list[tuple[str, Path]] = []
    for current, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in names:
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            path = Path(current) / name
            found.append((path.relative_to(directory).as_posix(), path))
    yield from sorted(found)


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of `directory`: sorted entries, fixed dates, modes and level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in _files(directory):
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so Lambda honours the modes below
            info.external_attr = (stat.S_IFREG | (EXEC_MODE if executable else FILE_MODE)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=ZIP_COMPRESSLEVEL)
    return buffer.getvalue()


def code_resources(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> SAM type of every function and layer (the resources with code)."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in CODE_PROPERTY
    }


def package(template: dict[str, Any], build_dir: Path, artifacts_dir: Path) -> list[Artifact]:
    """Zip each function's and layer's built directory into `artifacts_dir` by content hash."""
    resources = code_resources(template)
    if not resources:
        raise StackSetError("the template has no AWS::Serverless::Function or LayerVersion")
    missing = sorted(lid for lid in resources if not (build_dir / lid).is_dir())
    if missing:
        raise StackSetError(
            f"{build_dir} has no build output for {', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}: run `make build` or pass a SAM build dir"
        )
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    users: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for logical_id in sorted(resources):
        data = zip_directory(build_dir / logical_id)
        name = hashlib.sha256(data).hexdigest() + ".zip"
        target = artifacts_dir / name
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        users.setdefault(name, []).append(logical_id)
        sizes[name] = len(data)
    # Zips of earlier builds would be uploaded by `aws s3 sync` for nothing: drop them.
    for stale in artifacts_dir.iterdir():
        if ARTIFACT_NAME.match(stale.name) and stale.name not in users:
            stale.unlink()
    return [
        Artifact(KEY_PREFIX + name, artifacts_dir / name, sizes[name], tuple(users[name]))
        for name in sorted(users)
    ]


# ------------------------------------------------------------------ transform


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as plain data, intrinsics in their long form."""
    from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

    loaded = cfn_yaml.load(str(path))
    return dict(json.loads(json.dumps(loaded)))


def _no_managed_policies() -> dict[str, str]:
    raise StackSetError(
        "the template names an AWS managed policy; resolving it needs IAM access (not offline)"
    )


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def transform(
    template: dict[str, Any], artifacts: Sequence[Artifact], prefix: str
) -> dict[str, Any]:
    """Plain CloudFormation: code from `<prefix parameter>-<Region>`, no Transform left."""
    import boto3
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.transform import (  # type: ignore[import-untyped]
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

    sam = json.loads(json.dumps(template))
    parameters = sam.setdefault("Parameters", {})
    if BUCKET_PARAMETER in parameters:
        raise StackSetError(f"template.yaml already has a parameter {BUCKET_PARAMETER}")
    parameters[BUCKET_PARAMETER] = {
        "Type": "String",
        "Default": prefix,
        "AllowedPattern": "^[a-z0-9][a-z0-9.-]*$",
        "Description": (
            "Artifact buckets: each Region reads its code from <prefix>-<Region> "
            "(org/artifact-bucket.yaml creates them)."
        ),
    }
    keys = {lid: a.key for a in artifacts for lid in a.used_by}
    bucket = {"Fn::Sub": "${" + BUCKET_PARAMETER + "}-${AWS::Region}"}
    for logical_id, sam_type in code_resources(sam).items():
        properties = sam["Resources"][logical_id].setdefault("Properties", {})
        properties[CODE_PROPERTY[sam_type]] = {"Bucket": bucket, "Key": keys[logical_id]}
    # The Region only picks the partition of ARNs SAM builds; the output uses
    # AWS::Region / AWS::Partition. A session with a fixed Region needs no credentials.
    session = boto3.session.Session(region_name="us-east-1")
    to_py27_compatible_template(sam, {})
    translator = Translator(None, Parser(), boto_session=session)
    output = translator.translate(sam, {}, get_managed_policy_map=_no_managed_policies)
    output = dict(undo_mark_unicode_str_in_template(output))
    output.pop("Transform", None)
    check_transform_free(output)
    return output


def check_transform_free(template: dict[str, Any]) -> None:
    """Raise unless the template can go to a SERVICE_MANAGED StackSet (no transform at all)."""
    if "Transform" in template:
        raise StackSetError("the output still has a Transform")
    serverless = sorted(
        lid
        for lid, r in template.get("Resources", {}).items()
        if str(r.get("Type", "")).startswith("AWS::Serverless::")
    )
    if serverless:
        raise StackSetError(f"the output still has SAM resources: {', '.join(serverless)}")
    for node in _walk(template):
        if isinstance(node, dict) and "Fn::Transform" in node:
            raise StackSetError("the output still uses Fn::Transform (a macro)")


def dump(template: dict[str, Any]) -> str:
    """Stable YAML: translator order kept, long-form intrinsics, no line folding."""
    return str(
        yaml.dump(
            template,
            Dumper=yaml.SafeDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=10_000,
        )
    )


def capabilities(template: dict[str, Any]) -> list[str]:
    """The capabilities CloudFormation will ask for: IAM, and NAMED_IAM for named IAM resources."""
    found: set[str] = set()
    for resource in template.get("Resources", {}).values():
        kind = resource.get("Type")
        if kind in IAM_TYPES:
            found.add("CAPABILITY_IAM")
            name = IAM_TYPES[kind]
            if name and name in resource.get("Properties", {}):
                found.add("CAPABILITY_NAMED_IAM")
    return sorted(found)


# ------------------------------------------------------------------ parameters, commands


def parse_parameters(values: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE pairs or JSON files (an object, or CloudFormation's ParameterKey list)."""
    parsed: dict[str, str] = {}
    for value in values:
        if "=" in value:
            key, _, val = value.partition("=")
            parsed[key.strip()] = val
            continue
        path = Path(value)
        if not path.is_file():
            raise StackSetError(f"--parameters {value!r}: not KEY=VALUE and no such JSON file")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise StackSetError(f"--parameters {value}: invalid JSON ({exc.msg})") from None
        if isinstance(data, dict):
            parsed.update({str(k): _scalar(v, value) for k, v in data.items()})
        elif isinstance(data, list) and all(
            isinstance(i, dict) and "ParameterKey" in i and "ParameterValue" in i for i in data
        ):
            parsed.update(
                {str(i["ParameterKey"]): _scalar(i["ParameterValue"], value) for i in data}
            )
        else:
            raise StackSetError(
                f"--parameters {value}: expected an object or a ParameterKey/ParameterValue list"
            )
    unknown = sorted(set(parsed) - set(known))
    if unknown:
        raise StackSetError(f"unknown stack parameter(s): {', '.join(unknown)}")
    return dict(sorted(parsed.items()))


def _scalar(value: Any, source: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)
    raise StackSetError(f"--parameters {source}: parameter values must be strings or numbers")


def _shorthand(value: str) -> str:
    """A value for the AWS CLI's Key=...,Value=... shorthand (commas escaped)."""
    return value.replace("\\", "\\\\").replace(",", "\\,")


def commands(result: Result, artifacts_dir: Path, prefix: str, regions: Sequence[str]) -> list[str]:
    """The aws CLI commands that upload the artifacts and create the StackSet and instances."""
    shown = list(regions) or ["<region>"]
    home = shown[0]
    lines: list[str] = []
    for region in shown:
        lines.append(
            f"aws s3 sync {shlex.quote(str(artifacts_dir))} "
            f"s3://{prefix}-{region}/{KEY_PREFIX} --region {region}"
        )
    if result.delivery == "template-url":
        bucket = f"{prefix}-{home}"
        lines.append(
            f"aws s3 cp {shlex.quote(str(result.output))} "
            f"s3://{bucket}/{result.template_key} --region {home}"
        )
        source = f"--template-url https://{bucket}.s3.{home}.amazonaws.com/{result.template_key}"
    else:
        source = f"--template-body file://{shlex.quote(str(result.output))}"
    create = [
        f"aws cloudformation create-stack-set --stack-set-name {STACK_SET_NAME}",
        source,
        "--permission-model SERVICE_MANAGED",
        "--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false",
    ]
    if result.capabilities:
        create.append("--capabilities " + " ".join(result.capabilities))
    overrides = {BUCKET_PARAMETER: prefix, **result.parameters}
    create.append(
        "--parameters "
        + " ".join(
            shlex.quote(f"ParameterKey={k},ParameterValue={_shorthand(v)}")
            for k, v in sorted(overrides.items())
        )
    )
    create.append(f"--region {home}")
    lines.append(" \\\n    ".join(create))
    lines.append(
        " \\\n    ".join(
            [
                f"aws cloudformation create-stack-instances --stack-set-name {STACK_SET_NAME}",
                "--deployment-targets OrganizationalUnitIds=<ou-id>",
                "--regions " + " ".join(shown),
                "--operation-preferences FailureToleranceCount=0,MaxConcurrentCount=1",
                f"--region {home}",
            ]
        )
    )
    return lines


def generate(
    *,
    output: Path,
    build_dir: Path | None,
    artifacts_dir: Path = DEFAULT_ARTIFACTS_DIR,
    prefix: str = DEFAULT_PREFIX,
    regions: Sequence[str] = (),
    parameters: Sequence[str] = (),
    org_id: str | None = None,
    template_path: Path = TEMPLATE_PATH,
) -> Result:
    """Build (unless `build_dir`), package, transform and write the StackSet template."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,40}", prefix):
        raise StackSetError(f"--artifact-bucket-prefix {prefix!r}: use lowercase S3 bucket chars")
    for region in regions:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
            raise StackSetError(f"--regions: {region!r} is not a Region name")
    if org_id is not None and not re.fullmatch(r"o-[a-z0-9]{10,32}", org_id):
        raise StackSetError(f"--org-id {org_id!r} is not an organization id (o-...)")
    template = load_template(template_path)
    overrides = parse_parameters(parameters, list(template.get("Parameters", {})))
    built = build_dir if build_dir is not None else run_sam_build()
    if not built.is_dir():
        raise StackSetError(f"--build-dir {built} does not exist")
    artifacts = package(template, built, artifacts_dir)
    plain = transform(template, artifacts, prefix)
    text = dump(plain).encode()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(text)
    size = len(text)
    resources = len(plain["Resources"])
    result = Result(
        output=output,
        template_bytes=size,
        resources=resources,
        artifacts=artifacts,
        capabilities=capabilities(plain),
        parameters=overrides,
        delivery="template-body" if size <= MAX_TEMPLATE_BODY else "template-url",
        template_key=f"{TEMPLATE_KEY_PREFIX}{hashlib.sha256(text).hexdigest()}.yaml",
    )
    result.commands = commands(result, artifacts_dir, prefix, regions)
    result.notes = notes(result, prefix, regions, org_id)
    if resources > MAX_RESOURCES:
        raise StackSetError(
            f"{output}: {resources} resources, over CloudFormation's {MAX_RESOURCES} per stack"
        )
    if size > MAX_TEMPLATE_URL:
        raise StackSetError(f"{output}: {size:,} bytes, over CloudFormation's 1 MB template limit")
    return result


def notes(result: Result, prefix: str, regions: Sequence[str], org_id: str | None) -> list[str]:
    """What to know before running the commands."""
    org = org_id or "<org-id>"
    found = [
        f"resources: {result.resources} of {MAX_RESOURCES}",
        (
            f"template: {result.template_bytes:,} bytes; "
            + (
                f"fits --template-body (limit {MAX_TEMPLATE_BODY:,})"
                if result.delivery == "template-body"
                else f"over the {MAX_TEMPLATE_BODY:,}-byte --template-body limit, so it goes "
                f"through S3 with --template-url (limit {MAX_TEMPLATE_URL:,})"
            )
        ),
        f"artifacts: {len(result.artifacts)} zips, {sum(a.size for a in result.artifacts):,} bytes",
        f"each Region needs the bucket {prefix}-<region> (org/artifact-bucket.yaml), "
        f"readable (s3:GetObject) by aws:PrincipalOrgID {org}",
        "run the StackSet commands in the management account, or in a delegated "
        "administrator account with --call-as DELEGATED_ADMIN",
        "SERVICE_MANAGED StackSets skip the management account: deploy the stack there "
        "separately (docs/deploy-org.md)",
    ]
    if not regions:
        found.append("pass --regions to fill in the <region> placeholders")
    return found
