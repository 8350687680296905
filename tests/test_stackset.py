"""`configguard stackset-template`: a Transform-free, deterministic StackSet template.

No `sam build` here (slow, needs python3.13): a build directory shaped like SAM's is made
from the sources (one directory per function with its CodeUri's files, the layer's
`python/configguard`), then the real packaging, transform and CLI run on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import lint_file
from sambuild import fake_sam_build

from configguard import registry
from configguard_cli import stackset

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "configguard_cli.main"]
KEY = re.compile(r"^configguard/[0-9a-f]{64}\.zip$")
BUCKET = {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"}
FUNCTIONS = {
    f"{spec.logical_id}Function"
    for spec in [*registry.RULES.values(), *registry.REMEDIATIONS.values(), registry.ROUTER]
}


def _generate(build: Path, out: Path, **kwargs: Any) -> stackset.Result:
    return stackset.generate(
        output=out / "stackset.yaml", build_dir=build, artifacts_dir=out / "artifacts", **kwargs
    )


def _load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def _code_keys(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> S3 key of every function and layer."""
    keys = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            keys[logical_id] = resource["Properties"]["Code"]["S3Key"]
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            keys["layer"] = resource["Properties"]["Content"]["S3Key"]
    return keys


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_sam_build(tmp_path_factory.mktemp("sam") / "build")


@pytest.fixture(scope="module")
def first(build: Path, tmp_path_factory: pytest.TempPathFactory) -> stackset.Result:
    return _generate(build, tmp_path_factory.mktemp("first"))


def test_output_is_transform_free_with_every_function(first: stackset.Result) -> None:
    template = _load(first.output)
    assert "Transform" not in template
    assert not [
        r for r in template["Resources"].values() if r["Type"].startswith("AWS::Serverless")
    ]
    assert "Fn::Transform" not in first.output.read_text()
    functions = {
        lid: r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert set(functions) == FUNCTIONS
    layers = {
        lid: r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::LayerVersion"
    }
    assert len(layers) == 1
    (layer_id,) = layers
    for properties in [*functions.values()]:
        assert properties["Code"]["S3Bucket"] == BUCKET
        assert KEY.match(properties["Code"]["S3Key"])
        assert properties["Layers"] == [{"Ref": layer_id}]
    assert layers[layer_id]["Content"]["S3Bucket"] == BUCKET
    assert template["Parameters"]["ArtifactBucketPrefix"]["Default"] == "configguard-artifacts"
    assert first.resources == len(template["Resources"]) <= stackset.MAX_RESOURCES


def test_keys_are_the_sha256_of_the_zips_on_disk(first: stackset.Result) -> None:
    keys = _code_keys(_load(first.output))
    by_key = {a.key: a for a in first.artifacts}
    assert set(keys.values()) == set(by_key)
    for artifact in first.artifacts:
        data = artifact.path.read_bytes()
        assert artifact.key == f"configguard/{hashlib.sha256(data).hexdigest()}.zip"
        assert artifact.size == len(data)
    # Every rule ships the same rules/ directory, so they share one zip.
    rule_keys = {keys[f"{spec.logical_id}Function"] for spec in registry.RULES.values()}
    assert len(rule_keys) == 1
    layer = zipfile.ZipFile(by_key[keys["layer"]].path)
    assert "python/configguard/registry.py" in layer.namelist()


def test_output_is_cfn_lint_clean(first: stackset.Result) -> None:
    matches = lint_file(first.output)
    assert not matches, "\n".join(str(match) for match in matches)


def test_two_runs_are_byte_identical(build: Path, first: stackset.Result, tmp_path: Path) -> None:
    again = _generate(build, tmp_path)
    assert again.output.read_bytes() == first.output.read_bytes()
    assert [(a.key, a.path.read_bytes()) for a in again.artifacts] == [
        (a.key, a.path.read_bytes()) for a in first.artifacts
    ]


def test_changing_one_file_changes_exactly_that_artifact(
    build: Path, first: stackset.Result, tmp_path: Path
) -> None:
    changed = shutil.copytree(build, tmp_path / "build")
    source = changed / "LambdaReservedConcurrencyFunction" / "lambda_reserved_concurrency.py"
    source.write_text(source.read_text() + "\n# changed\n")
    before = _code_keys(_load(first.output))
    after = _code_keys(_load(_generate(changed, tmp_path / "out").output))
    assert {k for k in before if before[k] != after[k]} == {"LambdaReservedConcurrencyFunction"}


def test_zip_ignores_times_and_caches_and_keeps_modes(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg" / "__pycache__").mkdir(parents=True)
    (tree / "pkg" / "__pycache__" / "mod.cpython-313.pyc").write_bytes(b"cache")
    (tree / "pkg" / "mod.py").write_text("x = 1\n")
    (tree / "run.sh").write_text("#!/bin/sh\n")
    (tree / "run.sh").chmod(0o755)
    first = stackset.zip_directory(tree)
    os.utime(tree / "pkg" / "mod.py", (0, 0))
    assert stackset.zip_directory(tree) == first
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [i.filename for i in infos] == ["pkg/mod.py", "run.sh"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {"pkg/mod.py": 0o644, "run.sh": 0o755}


def test_parameters_from_pairs_and_json_files(tmp_path: Path) -> None:
    known = ["LogLevel", "AutoTriggerControls"]
    as_object = tmp_path / "object.json"
    as_object.write_text(json.dumps({"LogLevel": "DEBUG"}))
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([{"ParameterKey": "LogLevel", "ParameterValue": "ERROR"}]))
    assert stackset.parse_parameters([str(as_object)], known) == {"LogLevel": "DEBUG"}
    assert stackset.parse_parameters(
        [str(as_list), "AutoTriggerControls=KMS.4,CloudWatch.16"], known
    ) == {
        "AutoTriggerControls": "KMS.4,CloudWatch.16",
        "LogLevel": "ERROR",
    }
    with pytest.raises(stackset.StackSetError, match="unknown stack parameter"):
        stackset.parse_parameters(["NoSuch=1"], known)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "stackset-template", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_writes_the_same_template_and_prints_the_commands(
    build: Path, first: stackset.Result, tmp_path: Path
) -> None:
    output = tmp_path / "out" / "stackset.yaml"
    done = _cli(
        "--build-dir", str(build),
        "--output", str(output),
        "--artifacts-dir", str(tmp_path / "zips"),
        "--artifact-bucket-prefix", "acme-cg",
        "--regions", "eu-west-1,us-east-1",
        "--parameters", "AutoTriggerControls=KMS.4,CloudWatch.16",
        "--parameters", "LogLevel=DEBUG",
        "--org-id", "o-abcdefghij",
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    template = _load(output)
    # Another process, another prefix default: the same code keys, the same structure.
    assert _code_keys(template) == _code_keys(_load(first.output))
    assert template["Parameters"]["ArtifactBucketPrefix"]["Default"] == "acme-cg"
    assert summary["resources"] == len(template["Resources"])
    assert summary["template_bytes"] == len(output.read_bytes())
    assert summary["delivery"] == "template-url"  # far over 51,200 bytes
    assert summary["capabilities"] == stackset.capabilities(template) == ["CAPABILITY_IAM"]
    commands = summary["commands"]
    for region in ("eu-west-1", "us-east-1"):
        assert (
            f"aws s3 sync {tmp_path / 'zips'} s3://acme-cg-{region}/configguard/"
            in commands[0] + commands[1]
        )
    create = next(c for c in commands if "create-stack-set " in c)
    assert "--permission-model SERVICE_MANAGED" in create
    assert "--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false" in create
    assert "--capabilities CAPABILITY_IAM" in create
    assert "ParameterKey=AutoTriggerControls,ParameterValue=KMS.4\\,CloudWatch.16" in create
    assert "ParameterKey=LogLevel,ParameterValue=DEBUG" in create
    assert (
        f"--template-url https://acme-cg-eu-west-1.s3.eu-west-1.amazonaws.com/{summary['template_key']}"
        in create
    )
    instances = next(c for c in commands if "create-stack-instances" in c)
    assert "--regions eu-west-1 us-east-1" in instances
    assert any("o-abcdefghij" in note for note in summary["notes"])
    # The overrides go to the command, never into the template.
    assert template["Parameters"]["LogLevel"]["Default"] == "INFO"


def test_cli_same_prefix_gives_identical_bytes_across_processes(
    build: Path, first: stackset.Result, tmp_path: Path
) -> None:
    output = tmp_path / "stackset.yaml"
    done = _cli(
        "--build-dir", str(build), "--output", str(output), "--artifacts-dir", str(tmp_path / "z")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert output.read_bytes() == first.output.read_bytes()
    assert "aws cloudformation create-stack-set" in done.stdout


def test_cli_error_is_one_line(build: Path, tmp_path: Path) -> None:
    output = tmp_path / "t.yaml"
    done = _cli("--build-dir", str(build), "--output", str(output), "--parameters", "NoSuch=1")
    assert done.returncode == 2
    assert "unknown stack parameter(s): NoSuch" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not output.exists()


def test_bad_region_and_incomplete_build_are_refused(build: Path, tmp_path: Path) -> None:
    with pytest.raises(stackset.StackSetError, match="'mars' is not a Region name"):
        _generate(build, tmp_path, regions=["eu-west-1", "mars"])
    partial = shutil.copytree(build, tmp_path / "build")
    shutil.rmtree(partial / "LogGroupRetentionFunction")
    with pytest.raises(
        stackset.StackSetError, match="no build output for LogGroupRetentionFunction"
    ):
        _generate(partial, tmp_path)
    assert not (tmp_path / "stackset.yaml").exists()
