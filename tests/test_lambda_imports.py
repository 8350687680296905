"""Every handler imports the way Lambda imports it: only the layer and its CodeUri on the path.

`.lambda-site` (built by `make lambda-site`) holds exactly the layer's requirements plus
the runtime's boto3. The interpreter runs isolated (-I -S): no project install, no
site-packages, no moto, no CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from configguard import registry

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SITE = ROOT / ".lambda-site"

PROBE = """
import json, sys
sys.path[:0] = {paths!r}
import importlib
module = importlib.import_module({module!r})
assert callable(module.lambda_handler), "no lambda_handler"
forbidden = sorted(m for m in sys.modules
                   if m.split(".")[0] in {{"moto", "configguard_cli", "typer", "rich", "pytest"}})
origin = sys.modules["configguard"].__file__
print(json.dumps({{"forbidden": forbidden, "configguard": origin}}))
"""

HANDLERS = [
    *[("rules", spec.module) for spec in registry.RULES.values()],
    *[("remediations", spec.module) for spec in registry.REMEDIATIONS.values()],
    ("router", registry.ROUTER.module),
]


@pytest.mark.parametrize(("code_uri", "module"), HANDLERS)
def test_handler_imports_with_only_layer_and_code_uri(code_uri: str, module: str):
    assert LAMBDA_SITE.is_dir(), "run `make lambda-site` (make test does it)"
    paths = [str(ROOT / code_uri), str(ROOT / "shared"), str(LAMBDA_SITE)]
    env = {"AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", "PATH": "/usr/bin"}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(paths=paths, module=module)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["forbidden"] == []
    assert report["configguard"].startswith(str(ROOT / "shared" / "configguard"))


def test_rule_modules_never_import_other_rules():
    for spec in registry.RULES.values():
        source = (ROOT / "rules" / f"{spec.module}.py").read_text()
        for other in registry.RULES.values():
            if other.module != spec.module:
                assert f"import {other.module}" not in source
        assert "from rules" not in source and "import rules" not in source


def test_layer_requirements_are_pinned_and_exclude_tooling():
    lines = [
        line.strip()
        for line in (ROOT / "shared" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in lines)
    names = {line.split("==")[0].split("[")[0].lower() for line in lines}
    assert not names & {"boto3", "botocore", "moto", "typer", "rich", "pytest"}
