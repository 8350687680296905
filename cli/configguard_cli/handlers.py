"""Load rule and remediation modules from the checkout, as Lambda would run them."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from configguard import registry

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = REPO_ROOT / "rules"
REMEDIATIONS_DIR = REPO_ROOT / "remediations"


def _load(directory: Path, module: str, namespace: str) -> ModuleType:
    qualified = f"{namespace}.{module}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    path = directory / f"{module}.py"
    if not path.is_file():
        raise FileNotFoundError(f"handler module {path} is missing")
    spec = importlib.util.spec_from_file_location(qualified, path)
    if spec is None or spec.loader is None:  # pragma: no cover - defensive
        raise ImportError(f"cannot load {path}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def rule_module(name: str) -> ModuleType:
    return _load(RULES_DIR, registry.rule(name).module, "configguard_rules")


def remediation_module(name: str) -> ModuleType:
    return _load(REMEDIATIONS_DIR, registry.remediation(name).module, "configguard_remediations")


def invoke(handler: Any, event: dict[str, Any], context: Any) -> Any:
    """Call a handler in-process, sending its own logs and EMF lines to stderr.

    In Lambda those lines go to CloudWatch Logs; on a terminal they must not mix
    with the command's output (e.g. `--format json`).
    """
    from configguard.observability import logger

    log_handler = logger.registered_handler
    previous = getattr(log_handler, "stream", None)
    if isinstance(log_handler, logging.StreamHandler):
        log_handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return handler(event, context)
    finally:
        if isinstance(log_handler, logging.StreamHandler) and previous is not None:
            log_handler.setStream(previous)
