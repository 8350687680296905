"""A directory shaped like `.aws-sam/build`, made from the sources, for tests that need
a SAM build without running `sam build` (no python3.13 or network needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from configguard_cli import stackset

ROOT = Path(__file__).resolve().parents[1]
SOURCE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def fake_sam_build(target: Path) -> Path:
    """Each function's CodeUri and the layer's `python/configguard`, laid out as by sam build."""
    template = stackset.load_template()
    for logical_id, kind in stackset.code_resources(template).items():
        properties = template["Resources"][logical_id]["Properties"]
        source = ROOT / properties[stackset.CODE_PROPERTY[kind]]
        if kind == stackset.LAYER:
            site = target / logical_id / "python"
            shutil.copytree(source / "configguard", site / "configguard", ignore=SOURCE_IGNORE)
            shutil.copy2(source / "requirements.txt", site / "requirements.txt")
        else:
            shutil.copytree(source, target / logical_id, ignore=SOURCE_IGNORE)
    return target
