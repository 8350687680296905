"""Load rule and remediation modules from the checkout, as Lambda would run them."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from configguard import registry

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = REPO_ROOT / "rules"
REMEDIATIONS_DIR = REPO_ROOT / "remediations"
ROUTER_DIR = REPO_ROOT / "router"


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


def router_module() -> ModuleType:
    return _load(ROUTER_DIR, registry.ROUTER.module, "configguard_router")


def function_handler(function_name: str) -> Any:
    """The handler a deployed configguard function runs, by its function name."""
    if function_name == registry.ROUTER_FUNCTION_NAME:
        return router_module().lambda_handler
    for spec in registry.REMEDIATIONS.values():
        if registry.fix_function_name(spec) == function_name:
            return remediation_module(spec.name).lambda_handler
    raise LookupError(f"{function_name} is not a configguard function the local runner can run")


class FunctionEnvironmentError(LookupError):
    """The deployed function's environment cannot be read (e.g. no kms:Decrypt on its key)."""


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """Run with these environment variables set, as Lambda sets a function's; then restore."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def deployed_environment(factory: Any, function_name: str) -> dict[str, str]:
    """The environment variables of the deployed function; {} when it is not deployed.

    The CLI runs a fix's handler in-process: with the deployed function's variables it
    resolves the same mode, cap, tables and settings as the function itself would.
    """
    from botocore.exceptions import ClientError

    try:
        configuration = factory.client("lambda").get_function_configuration(
            FunctionName=function_name
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return {}
        raise
    environment = configuration.get("Environment") or {}
    if environment.get("Error"):
        code = environment["Error"].get("ErrorCode", "unknown")
        raise FunctionEnvironmentError(f"cannot read {function_name}'s environment ({code})")
    return dict(environment.get("Variables") or {})


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
