"""The Lambda-side figures of the benchmark report.

Four measurements, each a pure-ish function returning a JSON-able dict:

- `cold_imports`: every handler module imported in a fresh interpreter the way Lambda
  imports it (its CodeUri, the layer, the runtime's boto3, the function's environment),
  as a ratio to a bare `import boto3` in the same setting;
- `zip_sizes`: the deterministic zip of every built function and of the layer;
- `change_evaluation`: one change-triggered invocation of real rule handlers, with the
  configuration item in the event and as an oversized notification;
- `sweep_scaling`: the periodic log-group rules over 1k, 5k and 20k log groups.

Handlers always run in a child interpreter with a Lambda-shaped `sys.path` (never the
project's virtual environment), against a fresh stand-in (`configguard_bench.server`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from configguard_cli.events import ci_summary

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account, and the account of the sample events
BASELINE = "boto3"
LAMBDA_SITE = ".lambda-site"
LAYER_ID = "ConfigGuardLayer"
TARGET_IMPORT_RATIO = 1.5
TARGET_LAYER_BYTES = 5 * 1024 * 1024  # "5 MB" read as MiB, the stricter reading of the two
# Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB.
FULL_VCPU_MB = 1769
LAMBDA_MIN_MB = 128
# Assumed AWS round trip per API call when projecting a sweep to Lambda (stand-in calls
# are local and do not tell). Stated in every projection.
ASSUMED_CALL_LATENCY_S = 0.05
# CloudWatch Logs' default DescribeLogGroups quota (per account and Region); a sweep can
# not page faster than this however quick each call is. Adjustable in Service Quotas.
ASSUMED_DESCRIBE_LOG_GROUPS_TPS = 10.0
# What the python3.13 runtime provides (as scripts/prune-layer.sh): never in the layer.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python_dateutil",
    "six",
    "urllib3",
)
# Placeholder identity for runtime variables; nothing here reaches AWS.
DUMMY = "testing"
CHANGE_RULES = ("lambda-reserved-concurrency", "kms-key-rotation-enabled")
SWEEP_RULES = ("log-group-retention", "log-group-cmk-encrypted")
SWEEP_SIZES = (1000, 5000, 20000)
QUICK_FACTOR = 0.1
TIMES = "\u00d7"  # the multiplication sign, for ratios in the report


# ----------------------------------------------------------------- the template


@dataclass(frozen=True)
class Function:
    """One handler function as template.yaml deploys it."""

    logical_id: str
    name: str  # FunctionName
    code_uri: str  # the CodeUri directory, e.g. "rules"
    module: str  # the handler module, e.g. "log_group_retention"
    memory_mb: int
    timeout_s: int
    variables: dict[str, str]  # the Lambda environment, intrinsics resolved to defaults


def load_template(repo: Path) -> dict[str, Any]:
    """template.yaml as plain data (the CLI's loader: intrinsics in their long form)."""
    from configguard_cli.stackset import load_template as load

    return load(repo / "template.yaml")


class _Resolver:
    """Resolves the intrinsics of environment values to what a default deploy gives."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.parameters: dict[str, Any] = template.get("Parameters", {})
        self.conditions: dict[str, Any] = template.get("Conditions", {})
        self.resources: dict[str, Any] = template.get("Resources", {})

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": "configguard",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            default = parameter.get("Default", "")
            if str(parameter.get("Type", "")).startswith(("CommaDelimitedList", "List<")):
                return [p for p in str(default).split(",") if p] if default != "" else []
            return str(default)
        # A resource: its physical id is not known offline; its logical id stands in.
        return f"configguard-{name}"

    def _condition(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Condition":
                return self._condition(self.conditions[value])
            if key == "Fn::Equals":
                return bool(self.value(value[0]) == self.value(value[1]))
            if key == "Fn::Not":
                return not self._condition(value[0])
            if key == "Fn::And":
                return all(self._condition(v) for v in value)
            if key == "Fn::Or":
                return any(self._condition(v) for v in value)
        raise ValueError(f"unsupported condition {node!r}")

    def value(self, node: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic
        """A resolved value: a string, or a list for list parameters."""
        if isinstance(node, bool):
            return "true" if node else "false"
        if isinstance(node, str | int | float):
            return str(node)
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"unsupported template value {node!r}")
        ((key, arg),) = node.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:{resource}/{attribute}"
        if key == "Fn::If":
            name, then, otherwise = arg
            return self.value(then if self._condition(self.conditions[name]) else otherwise)
        if key == "Fn::Join":
            separator, items = arg
            resolved = self.value(items)
            flat: list[str] = []
            for item in resolved if isinstance(resolved, list) else [resolved]:
                flat.extend(item if isinstance(item, list) else [item])
            return separator.join(flat)
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._ref(m.group(1))), text)
        if key == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        raise ValueError(f"unsupported intrinsic {key}")

    def string(self, node: Any) -> str:
        resolved = self.value(node)
        return ",".join(resolved) if isinstance(resolved, list) else str(resolved)


def functions(repo: Path = ROOT) -> list[Function]:
    """Every handler the registry lists (rules, remediations, router), as deployed.

    CodeUri, memory, timeout and environment come from template.yaml (Globals merged
    with the function's own properties); intrinsics resolve to the parameter defaults.
    """
    from configguard import registry

    template = load_template(repo)
    resolver = _Resolver(template)
    defaults = template.get("Globals", {}).get("Function", {})
    by_handler: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code_uri = str(props.get("CodeUri", "")).strip("/")
        module = str(props.get("Handler", "")).rsplit(".", 1)[0]
        by_handler[(code_uri, module)] = (logical_id, props)
    wanted = [
        *[("rules", spec.module) for spec in registry.RULES.values()],
        *[("remediations", spec.module) for spec in registry.REMEDIATIONS.values()],
        ("router", registry.ROUTER.module),
    ]
    found: list[Function] = []
    for code_uri, module in wanted:
        if (code_uri, module) not in by_handler:
            raise LookupError(f"template.yaml has no function running {code_uri}/{module}.py")
        logical_id, props = by_handler[(code_uri, module)]
        variables = {
            **(defaults.get("Environment", {}).get("Variables") or {}),
            **(props.get("Environment", {}).get("Variables") or {}),
        }
        found.append(
            Function(
                logical_id=logical_id,
                name=resolver.string(props.get("FunctionName", logical_id)),
                code_uri=code_uri,
                module=module,
                memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                timeout_s=int(props.get("Timeout", defaults.get("Timeout", 3))),
                variables={k: resolver.string(v) for k, v in variables.items()},
            )
        )
    return found


def function_of(rule_or_module: str, repo: Path = ROOT) -> Function:
    """The function running a rule (by name) or a handler module."""
    module = rule_or_module.replace("-", "_")
    for function in functions(repo):
        if function.module == module:
            return function
    raise LookupError(f"no configguard function runs {rule_or_module}")


def runtime_environment(function: Function, task_root: Path | None) -> dict[str, str]:
    """What the Lambda runtime sets in a function's process, plus the function's variables.

    `task_root` set: LAMBDA_TASK_ROOT too, which is how Powertools knows it runs in Lambda
    (Tracer enabled); None: outside Lambda, Tracer disabled.
    """
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/21/[$LATEST]0123456789abcdef",
        "_HANDLER": f"{function.module}.lambda_handler",
        # Lambda's X-Ray settings; nothing is sent while importing.
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        # The role's credentials come as variables in Lambda; dummies here, and no file,
        # profile or metadata lookup can find real ones.
        "AWS_ACCESS_KEY_ID": DUMMY,
        "AWS_SECRET_ACCESS_KEY": DUMMY,
        "AWS_SESSION_TOKEN": DUMMY,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **function.variables,
    }
    if task_root is not None:
        env["LAMBDA_TASK_ROOT"] = str(task_root)
        env["LAMBDA_RUNTIME_DIR"] = "/var/runtime"
    return env


def lambda_paths(repo: Path, function: Function) -> list[str]:
    """sys.path as the brief's Lambda shape: CodeUri, the layer's code, the Lambda site."""
    return [str(repo / function.code_uri), str(repo / "shared"), str(repo / LAMBDA_SITE)]


def _require_lambda_site(repo: Path) -> None:
    if not (repo / LAMBDA_SITE / ".installed").exists():
        raise RuntimeError(f"{repo / LAMBDA_SITE} is not built: run `make lambda-site`")


# ----------------------------------------------------------------- cold imports

_IMPORT_PROBE = r"""
import json, sys, time, importlib
sys.path[:0] = json.loads(sys.argv[1])
c0 = time.process_time()
t0 = time.perf_counter()
importlib.import_module(sys.argv[2])
t1 = time.perf_counter()
c1 = time.process_time()
deferred = 0.0
observability = sys.modules.get("configguard.observability")
if observability is not None:
    # What the first invocation pays if the Tracer is built lazily (0 when it is eager).
    t2 = time.perf_counter()
    getattr(observability.tracer, "provider", None)
    deferred = time.perf_counter() - t2
print(json.dumps({"import_s": t1 - t0, "cpu_s": c1 - c0, "deferred_s": deferred,
                  "modules": len(sys.modules)}))
"""


def _probe(
    paths: Sequence[str], module: str, env: dict[str, str], flags: Sequence[str] = ()
) -> dict[str, float]:
    """Import `module` in a fresh isolated interpreter; the in-process timings."""
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed program
        [sys.executable, "-I", "-S", *flags, "-c", _IMPORT_PROBE, json.dumps(list(paths)), module],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def _import_rounds(
    targets: Sequence[tuple[str, list[str], str, dict[str, str]]],
    baseline: tuple[list[str], dict[str, str]],
    repeats: int,
    baseline_every: int,
    flags: Sequence[str] = (),
) -> tuple[list[dict[str, float]], dict[str, list[dict[str, float]]]]:
    """Run every target `repeats` times, interleaved with the baseline."""
    baseline_runs: list[dict[str, float]] = []
    runs: dict[str, list[dict[str, float]]] = {key: [] for key, *_ in targets}
    for round_index in range(repeats):
        # A different order each round: drift over time does not favour one module.
        order = list(targets)
        shift = (round_index * 7) % max(1, len(order))
        order = order[shift:] + order[:shift]
        for index, (key, paths, module, env) in enumerate(order):
            if index % baseline_every == 0:
                baseline_runs.append(_probe(baseline[0], BASELINE, baseline[1], flags))
            runs[key].append(_probe(paths, module, env, flags))
    return baseline_runs, runs


def _summary(
    baseline_runs: list[dict[str, float]], runs: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    base = _median(r["import_s"] for r in baseline_runs)
    base_cpu = _median(r["cpu_s"] for r in baseline_runs)
    modules: dict[str, Any] = {}
    for key, samples in runs.items():
        median = _median(r["import_s"] for r in samples)
        cpu = _median(r["cpu_s"] for r in samples)
        deferred = _median(r["deferred_s"] for r in samples)
        modules[key] = {
            "median_s": round(median, 4),
            "ratio": round(median / base, 3),
            "min_s": round(min(r["import_s"] for r in samples), 4),
            "max_s": round(max(r["import_s"] for r in samples), 4),
            "median_cpu_s": round(cpu, 4),
            # CPU time is what a busy machine disturbs least.
            "cpu_ratio": round(cpu / base_cpu, 3),
            "modules_loaded": int(samples[-1]["modules"]),
            # Deferred to the first invocation (the lazy Tracer's X-Ray recorder).
            "first_invocation_deferred_s": round(deferred, 4),
            "ratio_with_deferred": round((median + deferred) / base, 3),
        }
    worst = max(modules, key=lambda k: modules[k]["ratio"])
    return {
        "baseline": {
            "module": BASELINE,
            "median_s": round(base, 4),
            "min_s": round(min(r["import_s"] for r in baseline_runs), 4),
            "max_s": round(max(r["import_s"] for r in baseline_runs), 4),
            "median_cpu_s": round(base_cpu, 4),
            "samples": len(baseline_runs),
            "modules_loaded": int(baseline_runs[-1]["modules"]),
        },
        "modules": modules,
        "worst": {"module": worst, **modules[worst]},
        "median_ratio": round(_median(m["ratio"] for m in modules.values()), 3),
        "worst_cpu_ratio": max(m["cpu_ratio"] for m in modules.values()),
        "target_ratio": TARGET_IMPORT_RATIO,
        "meets_target": modules[worst]["ratio"] <= TARGET_IMPORT_RATIO,
    }


def cold_imports(
    repo: Path = ROOT,
    repeats: int = 10,
    modules: Sequence[str] | None = None,
    baseline_every: int = 4,
) -> dict[str, Any]:
    """Cold import time of every handler module, as a ratio to a bare `import boto3`.

    Each import runs in a fresh `python -I -S` whose sys.path is the function's CodeUri,
    `shared/` and `.lambda-site/` (layer requirements + the runtime's boto3), with the
    function's Lambda environment (LAMBDA_TASK_ROOT set: Powertools sees Lambda, so the
    Tracer is enabled as with `Tracing: Active`). Only `importlib.import_module` is timed,
    inside the process. The baseline runs in the same setting, interleaved (one baseline
    import before every `baseline_every` module imports). Bytecode caches are present, as
    in the developer's tree; `cold_imports_as_shipped` measures the zips' case.
    `modules`: handler module names to restrict to (all by default).
    """
    _require_lambda_site(repo)
    selected = [f for f in functions(repo) if modules is None or f.module in modules]
    targets = [
        (
            f"{f.code_uri}/{f.module}",
            lambda_paths(repo, f),
            f.module,
            runtime_environment(f, repo / f.code_uri),
        )
        for f in selected
    ]
    first = selected[0]
    baseline = (lambda_paths(repo, first), runtime_environment(first, repo / first.code_uri))
    started = time.perf_counter()
    baseline_runs, runs = _import_rounds(targets, baseline, repeats, baseline_every)
    return {
        "repeats": repeats,
        "python": sys.version.split()[0],
        "setting": "sys.path = CodeUri + shared/ + .lambda-site/; template environment; "
        "LAMBDA_TASK_ROOT set (Tracer enabled); bytecode caches present",
        **_summary(baseline_runs, runs),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def _copy_without_bytecode(source: Path, target: Path) -> None:
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True
    )


def _runtime_entry(name: str) -> bool:
    base = name.split("-", 1)[0].removesuffix(".py").lower()
    return base in RUNTIME_MODULES or base in RUNTIME_DISTRIBUTIONS


@contextmanager
def _shipped_tree(repo: Path, code_uris: Iterable[str]) -> Iterator[Path]:
    """A Lambda-shaped tree: /var/task per CodeUri and /opt/python without bytecode,
    /var/runtime (boto3 and its dependencies) with the bytecode of `.lambda-site`."""
    with tempfile.TemporaryDirectory(prefix="configguard-shipped-") as tmp:
        root = Path(tmp)
        opt = root / "opt" / "python"
        runtime = root / "var" / "runtime"
        opt.mkdir(parents=True)
        runtime.mkdir(parents=True)
        site = repo / LAMBDA_SITE
        for entry in sorted(site.iterdir()):
            if entry.name in {"__pycache__", "bin", ".installed"}:
                continue
            if _runtime_entry(entry.name):
                (runtime / entry.name).symlink_to(entry)
            elif entry.is_dir():
                _copy_without_bytecode(entry, opt / entry.name)
            else:
                shutil.copy2(entry, opt / entry.name)
        _copy_without_bytecode(repo / "shared" / "configguard", opt / "configguard")
        for code_uri in set(code_uris):
            _copy_without_bytecode(repo / code_uri, root / "task" / code_uri)
        yield root


def cold_imports_as_shipped(
    repo: Path = ROOT, modules: Sequence[str] | None = None, repeats: int = 5
) -> dict[str, Any]:
    """Cold imports as the built zips run them: no bytecode for the layer or the function.

    Lambda's code and layer directories are read-only and the zips carry no `.pyc`
    (`sam build` writes none, and the StackSet zips drop them), so every cold start
    compiles the layer's and the function's sources. The runtime's boto3 is assumed to
    ship compiled (it keeps `.lambda-site`'s bytecode here). sys.path is ordered as in
    Lambda: task root, /opt/python, /var/runtime. `python -B`: nothing is written.
    """
    _require_lambda_site(repo)
    wanted = modules or ("lambda_reserved_concurrency", "log_group_retention", "set_log_retention")
    selected = [f for f in functions(repo) if f.module in wanted]
    with _shipped_tree(repo, (f.code_uri for f in selected)) as root:

        def paths(function: Function) -> list[str]:
            return [
                str(root / "task" / function.code_uri),
                str(root / "opt" / "python"),
                str(root / "var" / "runtime"),
            ]

        targets = [
            (
                f"{f.code_uri}/{f.module}",
                paths(f),
                f.module,
                runtime_environment(f, root / "task" / f.code_uri),
            )
            for f in selected
        ]
        first = selected[0]
        baseline = (paths(first), runtime_environment(first, root / "task" / first.code_uri))
        baseline_runs, runs = _import_rounds(targets, baseline, repeats, 1, flags=("-B",))
    return {
        "repeats": repeats,
        "setting": "layer and function code without .pyc (as zipped), runtime boto3 "
        "compiled; sys.path = task root, /opt/python, /var/runtime; python -B",
        **_summary(baseline_runs, runs),
    }


# ----------------------------------------------------------------- zip sizes


def _top_level(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def _tree_bytes(directory: Path) -> int:
    from configguard_cli.stackset import _files

    return sum(path.stat().st_size for _, path in _files(directory))


def zip_sizes(repo: Path = ROOT, build: bool = False) -> dict[str, Any]:
    """The deterministic zip size of every built function and of the layer.

    Reads `.aws-sam/build/<LogicalId>/` (run `make build` first, or pass build=True to run
    it here) and zips each directory with the StackSet packager's own deterministic
    zipper, which skips bytecode caches. Reports whether the runtime's packages
    (boto3, botocore and their dependencies) are inside the layer: they must not be.
    """
    from configguard_cli.stackset import code_resources, zip_directory

    if build:
        make = shutil.which("make")
        if make is None:
            raise RuntimeError("`make` is not installed: it runs the SAM build")
        done = subprocess.run(  # noqa: S603 - make from PATH, fixed target
            [make, "build"], cwd=repo, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"`make build` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    build_dir = repo / ".aws-sam" / "build"
    resources = code_resources(load_template(repo))
    missing = sorted(lid for lid in resources if not (build_dir / lid).is_dir())
    if missing:
        raise RuntimeError(f"{build_dir} lacks {', '.join(missing[:3])}: run `make build`")
    sizes = {lid: len(zip_directory(build_dir / lid)) for lid in sorted(resources)}
    layer_dir = build_dir / LAYER_ID
    layer_entries = _top_level(layer_dir / "python")
    runtime_inside = [name for name in layer_entries if _runtime_entry(name)]
    function_sizes = {lid: size for lid, size in sizes.items() if lid != LAYER_ID}
    by_code_uri: dict[str, list[int]] = {}
    for function in functions(repo):
        by_code_uri.setdefault(function.code_uri, []).append(function_sizes[function.logical_id])
    layer = sizes[LAYER_ID]
    return {
        "build_dir": str(build_dir),
        "built_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime((layer_dir / "python").stat().st_mtime)
        ),
        "layer": {
            "logical_id": LAYER_ID,
            "zip_bytes": layer,
            "zip_mib": round(layer / 1024 / 1024, 3),
            "unzipped_bytes": _tree_bytes(layer_dir),
            "target_bytes": TARGET_LAYER_BYTES,
            "meets_target": layer <= TARGET_LAYER_BYTES,
            "top_level": layer_entries,
            "runtime_packages_inside": runtime_inside,
            "boto3_or_botocore_inside": any(
                n.split("-", 1)[0] in {"boto3", "botocore"} for n in runtime_inside
            ),
        },
        "functions": function_sizes,
        "functions_by_code_uri": {
            uri: {"count": len(values), "min_bytes": min(values), "max_bytes": max(values)}
            for uri, values in sorted(by_code_uri.items())
        },
        "functions_total_bytes": sum(function_sizes.values()),
    }


# ----------------------------------------------------------------- handler runner

_RUNNER = r"""
import json, os, sys, time, uuid, importlib
protocol = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # the handler's own stdout (Powertools logs, EMF) goes to stderr
sys.path[:0] = json.loads(sys.argv[1])
name, memory, region, account = sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]


class Context:
    def __init__(self):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/11/21/[$LATEST]0123456789abcdef"
        self._deadline = time.monotonic() + 900

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


c0 = time.process_time()
t0 = time.perf_counter()
module = importlib.import_module(sys.argv[2])
protocol.write(json.dumps({"import_s": time.perf_counter() - t0,
                           "import_cpu_s": time.process_time() - c0}) + "\n")
for line in sys.stdin:
    event = json.loads(line)
    context = Context()
    c0 = time.process_time()
    t0 = time.perf_counter()
    try:
        result, error = module.lambda_handler(event, context), None
    except Exception as exc:
        result, error = None, f"{type(exc).__name__}: {exc}"
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    protocol.write(json.dumps({"wall_s": wall, "cpu_s": cpu, "result": result,
                               "error": error}, default=str) + "\n")
"""


class HandlerProcess:
    """A real handler in its own Lambda-shaped interpreter, invoked one event at a time.

    Tracing is off (POWERTOOLS_TRACE_DISABLED, no LAMBDA_TASK_ROOT): there is no X-Ray
    daemon locally. The server's endpoint and dummy credentials come from `server_env`.
    """

    def __init__(
        self, repo: Path, function: Function, server_env: dict[str, str], log: Path
    ) -> None:
        self.function = function
        env = {
            **runtime_environment(function, None),
            **server_env,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        self._log: IO[str] = log.open("a", encoding="utf-8")
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed program
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _RUNNER,
                json.dumps(lambda_paths(repo, function)),
                function.module,
                function.name,
                str(function.memory_mb),
                REGION,
                ACCOUNT,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait(timeout=30)
            raise RuntimeError(f"{self.function.module} exited ({code}); see {self._log.name}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(event) + "\n")
        self._process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _calls(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))


def _timed(
    server: Any, process: HandlerProcess, event: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, int]]:
    """One invocation and the API calls the server saw during it."""
    mark = server.mark()
    reply = process.invoke(event)
    calls = _calls(server.calls_since(mark))
    if reply["error"]:
        raise RuntimeError(f"{process.function.module} failed: {reply['error']}")
    return reply, calls


# ----------------------------------------------------------------- change evaluation


def _load_event(repo: Path, relative: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((repo / "events" / relative).read_text())
    return event


def _rename_resource(event: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The same sample event about another resource id (every mention in the CI)."""
    return {**event, "invokingEvent": event["invokingEvent"].replace(old, new)}


def oversized(event: dict[str, Any]) -> dict[str, Any]:
    """The OversizedConfigurationItemChangeNotification Config sends instead of `event`
    when the CI is too large: a summary of the CI and where S3 holds the full item."""
    invoking = json.loads(event["invokingEvent"])
    item = invoking["configurationItem"]
    summary = ci_summary(item)
    key = (
        f"AWSLogs/{item['awsAccountId']}/Config/{item['awsRegion']}/2026/11/21/"
        f"OversizedChangeNotification/{item['resourceType']}/{item['resourceId']}/"
        f"{item['awsAccountId']}_Config_{item['awsRegion']}_ChangeNotification_"
        f"{item['resourceType']}_{item['resourceId']}_20261121T101530Z.json.gz"
    )
    replaced = {
        "configurationItemSummary": summary,
        "s3DeliverySummary": {
            "s3BucketLocation": f"config-bucket-{item['awsAccountId']}/{key}",
            "errorCode": None,
            "errorMessage": None,
        },
        "notificationCreationTime": invoking.get("notificationCreationTime"),
        "messageType": "OversizedConfigurationItemChangeNotification",
        "recordVersion": invoking.get("recordVersion", "1.3"),
    }
    return {**event, "invokingEvent": json.dumps(replaced)}


def _seed_change_resources(client: Any) -> dict[str, dict[str, Any]]:
    """The two resources of the sample events, created in the stand-in; their events."""
    from configguard_cli.local.seed import create_function, ensure_lambda_role

    role = ensure_lambda_role(client("iam"), "bench-change-role")
    # The sample "change-reserved-concurrency-set" event: function payments, reserved 25.
    create_function(client("lambda"), "payments", role, reserved=25)
    # The sample "change-rotation-disabled" event: a customer key without rotation.
    key_id = client("kms").create_key(Description="orders data key")["KeyMetadata"]["KeyId"]
    full_lambda = _load_event(
        ROOT, "lambda_reserved_concurrency/change-reserved-concurrency-set.json"
    )
    full_key = _rename_resource(
        _load_event(ROOT, "kms_key_rotation_enabled/change-rotation-disabled.json"),
        "0e9f2c4a-6d1b-4c8e-9a57-3b2f81d64c10",
        key_id,
    )
    return {
        "lambda-reserved-concurrency": {"resource": "payments", "event": full_lambda},
        "kms-key-rotation-enabled": {"resource": key_id, "event": full_key},
    }


def _invocations(
    server: Any, process: HandlerProcess, event: dict[str, Any], repeats: int
) -> dict[str, Any]:
    """The first invocation after import, then `repeats` warm ones."""
    first, first_calls = _timed(server, process, event)
    warm = [_timed(server, process, event) for _ in range(repeats)]
    warm_calls = [calls for _, calls in warm]
    return {
        "import_s": round(process.ready["import_s"], 4),
        "first": {
            "wall_s": round(first["wall_s"], 4),
            "cpu_s": round(first["cpu_s"], 4),
            "calls": first_calls,
        },
        "warm_median_wall_s": round(_median(r["wall_s"] for r, _ in warm), 4),
        "warm_median_cpu_s": round(_median(r["cpu_s"] for r, _ in warm), 4),
        "warm_calls": warm_calls[0],
        "calls_per_invocation": sum(warm_calls[0].values()),
        "calls_identical_across_repeats": all(c == warm_calls[0] for c in warm_calls),
        "result": first["result"],
    }


def change_evaluation(
    repeats: int = 5, repo: Path = ROOT, work: Path | None = None
) -> dict[str, Any]:
    """One change-triggered invocation of real rule handlers, CI in the event vs oversized.

    Against a fresh bare stand-in: the resources of two real-shaped sample events
    (events/<rule>/) are created, then each rule's handler runs in a Lambda-shaped child
    with (a) the ConfigurationItemChangeNotification, whose CI carries the data, and
    (b) the OversizedConfigurationItemChangeNotification for the same resource, which
    makes the rule base read the resource from the API. Each kind runs in its own fresh
    process: the first invocation (after the cold import), then `repeats` warm ones
    (median). Calls are counted from the server's request log, PutEvaluations included.
    The events keep the samples' `TESTMODE` result token: PutEvaluations is called and
    validated, but the stand-in stores nothing (as Config in test mode).
    """
    from configguard_bench.server import Server

    _require_lambda_site(repo)
    with ExitStack() as stack:
        base = work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cg-chg-")))
        server = stack.enter_context(Server(base / "change-requests.jsonl"))
        cases = _seed_change_resources(server.client)
        out: dict[str, Any] = {}
        for rule, case in cases.items():
            function = function_of(rule, repo)
            kinds: dict[str, Any] = {}
            for kind, event in (
                ("ci_in_event", case["event"]),
                ("oversized", oversized(case["event"])),
            ):
                with HandlerProcess(repo, function, server.env(), base / f"{rule}-{kind}.log") as p:
                    kinds[kind] = _invocations(server, p, event, repeats)
            out[rule] = {"resource": case["resource"], "memory_mb": function.memory_mb, **kinds}
    return {
        "repeats": repeats,
        "result_token": "TESTMODE (the samples' own; PutEvaluations is validated, not stored)",
        "tracing": "disabled (no X-Ray daemon locally)",
        "rules": out,
    }


# ----------------------------------------------------------------- periodic sweep


def _create_periodic_rule(client: Any, rule: str, frequency: str) -> None:
    """A Config rule of that name (the rule base reads its earlier results by name)."""
    from configguard_cli.local.seed import create_function, ensure_lambda_role

    role = ensure_lambda_role(client("iam"), "bench-rule-role")
    arn = create_function(client("lambda"), f"configguard-{rule}", role)["FunctionArn"]
    client("config").put_config_rule(
        ConfigRule={
            "ConfigRuleName": rule,
            "InputParameters": json.dumps({"AssumeRoleMode": "false"}),
            "Source": {
                "Owner": "CUSTOM_LAMBDA",
                "SourceIdentifier": arn,
                "SourceDetails": [
                    {
                        "EventSource": "aws.config",
                        "MessageType": "ScheduledNotification",
                        "MaximumExecutionFrequency": frequency,
                    }
                ],
            },
        }
    )


def project_to_lambda(
    cpu_s: float,
    calls: dict[str, int],
    memory_mb: int,
    timeout_s: int,
    latency_s: float = ASSUMED_CALL_LATENCY_S,
    describe_tps: float = ASSUMED_DESCRIBE_LOG_GROUPS_TPS,
) -> dict[str, Any]:
    """How long the same invocation would take in Lambda at `memory_mb`, against its timeout.

    Assumptions (stated in the result): Lambda gives a full vCPU at 1,769 MB and a
    proportional share below, one of its vCPUs is as fast as one core here, the handler
    is sequential (CPU and waiting add up), every call waits `latency_s`, and
    DescribeLogGroups pages cannot go faster than its `describe_tps` quota.
    `max_latency_to_fit_s` needs no latency assumption: the per-call round trip at which
    the projection reaches the timeout.
    """
    share = min(1.0, memory_mb / FULL_VCPU_MB)
    cpu_lambda = cpu_s / share
    total_calls = sum(calls.values())
    pages = sum(n for op, n in calls.items() if op.endswith(":DescribeLogGroups"))
    quota_floor = pages / describe_tps if describe_tps else 0.0
    waiting = max(total_calls * latency_s, quota_floor)
    projected = cpu_lambda + waiting
    spare = timeout_s - cpu_lambda
    # The memory at which the CPU part leaves room for the waiting. None: no memory size
    # fits (the waiting alone exceeds the timeout, or the CPU part needs more than the one
    # vCPU a sequential handler can use).
    room = timeout_s - waiting
    min_memory = math.ceil(cpu_s * FULL_VCPU_MB / room) if room > 0 else None
    if min_memory is not None:
        min_memory = None if min_memory > FULL_VCPU_MB else max(LAMBDA_MIN_MB, min_memory)
    return {
        "memory_mb": memory_mb,
        "vcpu_share": round(share, 3),
        "calls": total_calls,
        "cpu_s_in_lambda": round(cpu_lambda, 2),
        "api_wait_s": round(waiting, 2),
        "describe_log_groups_quota_floor_s": round(quota_floor, 2),
        "projected_s": round(projected, 2),
        "timeout_s": timeout_s,
        "fits": projected <= timeout_s,
        "headroom": round(timeout_s / projected, 2) if projected else None,
        "max_latency_to_fit_s": (
            round(spare / total_calls, 4) if total_calls and spare > quota_floor else 0.0
        ),
        "min_memory_mb_to_fit": min_memory,
        "assumptions": (
            f"1 vCPU at {FULL_VCPU_MB} MB, {share:.3f} of one at {memory_mb} MB; one Lambda "
            f"vCPU = one local core; sequential handler; {latency_s * 1000:.0f} ms per API "
            f"call; DescribeLogGroups at most {describe_tps:g} TPS"
        ),
    }


def _seed_log_groups(server: Any, count: int, workers: int) -> tuple[Any, float]:
    """`count` log groups seeded concurrently through the API; the plan and seconds taken."""
    from configguard_bench import dataset

    the_plan = dataset.plan(dataset.Size(functions=0, stages=0, keys=1, log_groups=count))
    started = time.perf_counter()
    dataset.seed(server.client, the_plan, workers=workers)
    return the_plan, time.perf_counter() - started


def _invocation(reply: dict[str, Any], calls: dict[str, int]) -> dict[str, Any]:
    return {
        "wall_s": round(reply["wall_s"], 3),
        "cpu_s": round(reply["cpu_s"], 3),
        # Time the handler waited for the stand-in (its requests, its processing).
        "waiting_s": round(max(0.0, reply["wall_s"] - reply["cpu_s"]), 3),
        "calls": calls,
    }


def _sweep_rule(
    repo: Path, server: Any, rule: str, size: int, expected: int, warm: int, log: Path
) -> dict[str, Any]:
    from configguard import registry

    spec = registry.rule(rule)
    _create_periodic_rule(
        server.client, rule, spec.maximum_execution_frequency or "TwentyFour_Hours"
    )
    function = function_of(rule, repo)
    event = _load_event(repo, f"{spec.module}/scheduled.json")
    with HandlerProcess(repo, function, server.env(), log) as process:
        first = _timed(server, process, event)
        warm_runs = [_timed(server, process, event) for _ in range(warm)]
    reply, calls = first
    result = reply["result"] or {}
    compliance = dict(result.get("compliance", {}))
    # The least disturbed warm run (the machine is shared): least CPU, least wall.
    warm_cpu = min(warm_runs, key=lambda run: run[0]["cpu_s"]) if warm_runs else first
    warm_wall = min(warm_runs, key=lambda run: run[0]["wall_s"]) if warm_runs else first
    cpus = [run[0]["cpu_s"] for run in warm_runs] or [reply["cpu_s"]]
    # In steady state Config holds the previous run's results, and the rule base pages
    # through them (100 a call) to find vanished groups: TESTMODE stores none, so add them.
    steady_calls = dict(calls)
    steady_calls["config:GetComplianceDetailsByConfigRule"] = max(
        calls.get("config:GetComplianceDetailsByConfigRule", 0), math.ceil(size / 100)
    )
    return {
        "import_s": round(process.ready["import_s"], 3),
        "first": _invocation(reply, calls),
        "warm": {
            **_invocation(*warm_cpu),
            "wall_s": round(warm_wall[0]["wall_s"], 3),
            "runs": len(warm_runs),
            "cpu_spread": round((max(cpus) - min(cpus)) / min(cpus), 3) if min(cpus) else None,
        },
        "describe_log_groups_pages": calls.get("logs:DescribeLogGroups", 0),
        "put_evaluations_batches": calls.get("config:PutEvaluations", 0),
        "delivered": int(result.get("delivered", 0)),
        "compliance": compliance,
        "expected_non_compliant": expected,
        "non_compliant_matches": compliance.get("NON_COMPLIANT", 0) == expected,
        # The cold (first) invocation, with the steady-state reads of earlier results.
        "lambda": project_to_lambda(
            reply["cpu_s"], steady_calls, function.memory_mb, function.timeout_s
        ),
    }


def _sweep_once(
    repo: Path, size: int, rules: Sequence[str], workers: int, warm: int, base: Path
) -> dict[str, Any]:
    from configguard_bench.server import Server

    with Server(base / f"sweep-{size}-requests.jsonl") as server:
        the_plan, seeding_s = _seed_log_groups(server, size, workers)
        expected = the_plan.expected()
        out: dict[str, Any] = {
            "log_groups": size,
            "seeding": {
                "seconds": round(seeding_s, 1),
                "workers": workers,
                "groups_per_s": round(size / seeding_s, 1) if seeding_s else None,
            },
        }
        for rule in rules:
            log = base / f"sweep-{size}-{rule}.log"
            out[rule] = _sweep_rule(repo, server, rule, size, expected[rule], warm, log)
        return out


def _linearity(points: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    """Whether the warm invocation's cost grows linearly with the number of log groups.

    Each step's marginal cost (extra seconds per 1,000 extra groups) is compared with the
    first step's: a fixed per-invocation cost does not distort it, a superlinear one shows.
    """
    sizes = [p["log_groups"] for p in points]

    def marginal(key: str) -> list[float]:
        values = [p[rule]["warm"][key] for p in points]
        return [
            round((values[i + 1] - values[i]) / (sizes[i + 1] - sizes[i]) * 1000, 4)
            for i in range(len(points) - 1)
        ]

    out: dict[str, Any] = {
        "warm_wall_s": [p[rule]["warm"]["wall_s"] for p in points],
        "warm_cpu_s": [p[rule]["warm"]["cpu_s"] for p in points],
        "marginal_wall_s_per_1000": marginal("wall_s"),
        "marginal_cpu_s_per_1000": marginal("cpu_s"),
        "calls_per_1000": [
            round(sum(p[rule]["first"]["calls"].values()) / p["log_groups"] * 1000, 2)
            for p in points
        ],
    }
    for key in ("wall", "cpu"):
        steps = out[f"marginal_{key}_s_per_1000"]
        out[f"{key}_last_over_first_step"] = (
            round(steps[-1] / steps[0], 2) if len(steps) > 1 and steps[0] > 0 else None
        )
    ratio = out["cpu_last_over_first_step"]
    out["client_cpu_linear"] = ratio is None or ratio <= 1.25
    return out


def sweep_scaling(
    sizes: Sequence[int] = SWEEP_SIZES,
    quick: bool = False,
    rules: Sequence[str] = SWEEP_RULES,
    repo: Path = ROOT,
    workers: int = 16,
    warm: int = 2,
    work: Path | None = None,
) -> dict[str, Any]:
    """The periodic log-group rules over N log groups: time, calls, and a Lambda projection.

    For each size, a fresh stand-in is seeded concurrently with N log groups (the
    benchmark dataset's coin flips: about half below the 365-day retention, about half
    without a KMS key) and a Config rule of each rule's name is created (the rule base
    reads the rule's earlier results). Each rule's real handler then runs in a
    Lambda-shaped child with the sample ScheduledNotification event: the first
    invocation (after the cold import: client creation and the lazy Tracer included),
    then `warm` more (the least CPU and the least wall time are kept). Calls come from
    the server's request log. The `TESTMODE` token stores nothing, so the earlier-results
    read finds none; the Lambda projection adds the ceil(N/100) pages it makes in steady
    state. Wall time includes the stand-in's own processing; CPU time is the handler's
    alone. `quick`: a tenth of each size.
    """
    _require_lambda_site(repo)
    actual = [max(1, round(n * QUICK_FACTOR)) if quick else n for n in sizes]
    points: list[dict[str, Any]] = []
    with ExitStack() as stack:
        base = work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cg-sweep-")))
        for size in actual:
            points.append(_sweep_once(repo, size, rules, workers, warm, base))
    return {
        "sizes": actual,
        "quick": quick,
        "result_token": "TESTMODE (the samples' own; PutEvaluations is validated, not stored)",
        "tracing": "disabled (no X-Ray daemon locally)",
        "points": points,
        "linearity": {rule: _linearity(points, rule) for rule in rules},
    }


# ----------------------------------------------------------------- harness and report


def collect(repo: Path = ROOT, quick: bool = False) -> dict[str, Any]:
    """Every Lambda-side figure, for the harness (`make bench` has run `make build`).

    `quick`: the sweep at a tenth of each size and fewer repeats (3 cold imports per
    module instead of 10). A figure that fails is recorded as {"error": ...}; the others
    are still measured.
    """
    repeats = 3 if quick else 10
    parts: list[tuple[str, Any]] = [
        ("zip_sizes", lambda: zip_sizes(repo)),
        ("cold_imports", lambda: cold_imports(repo, repeats=repeats)),
        (
            "cold_imports_as_shipped",
            lambda: cold_imports_as_shipped(repo, repeats=3 if quick else 5),
        ),
        ("change_evaluation", lambda: change_evaluation(repeats=3 if quick else 5, repo=repo)),
        ("sweep_scaling", lambda: sweep_scaling(quick=quick, repo=repo)),
    ]
    out: dict[str, Any] = {"quick": quick, "elapsed_s": {}}
    for name, measure in parts:
        started = time.perf_counter()
        try:
            out[name] = measure()
        except Exception as exc:  # one failed figure must not lose the rest
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        out["elapsed_s"][name] = round(time.perf_counter() - started, 1)
    return out


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(calls.items())) or "none"


def _cold_lines(cold: dict[str, Any], shipped: dict[str, Any] | None) -> list[str]:
    base = cold["baseline"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, figures in cold["modules"].items():
        groups.setdefault(key.split("/", 1)[0], []).append(figures)
    rows = [
        [
            group,
            len(items),
            f"{_median(i['median_s'] for i in items) * 1000:.0f}",
            f"{_median(i['ratio'] for i in items):.2f}{TIMES}",
            f"{max(i['ratio'] for i in items):.2f}{TIMES}",
            f"{max(i['cpu_ratio'] for i in items):.2f}{TIMES}",
            f"{_median(i['first_invocation_deferred_s'] for i in items) * 1000:.0f}",
        ]
        for group, items in sorted(groups.items())
    ]
    worst = cold["worst"]
    lines = [
        "### Cold import of each handler",
        "",
        f"Each handler module imported in a fresh interpreter the way Lambda imports it "
        f"(its CodeUri, the layer's code, the layer's requirements and the runtime's boto3; "
        f"the function's environment from template.yaml, Tracer enabled), median of "
        f"{cold['repeats']}, against a bare `import boto3` in the same setting "
        f"({base['median_s'] * 1000:.0f} ms, median of {base['samples']}, interleaved). "
        f"Target ≤ {cold['target_ratio']}{TIMES}: {_verdict(cold['meets_target'])} "
        f"(worst {worst['module']} {worst['ratio']:.2f}{TIMES}).",
        "",
        *_table(
            [
                "handlers",
                "count",
                "median ms",
                "median ratio",
                "worst ratio",
                "worst CPU ratio",
                "deferred to 1st call, ms",
            ],
            rows,
        ),
        "",
        "The Tracer is built on the first invocation (the X-Ray SDK's recorder); the last "
        "column is that cost, which Lambda pays at the first call instead of at import.",
    ]
    if shipped and "error" not in shipped:
        rows = [
            [key, f"{f['median_s'] * 1000:.0f}", f"{f['ratio']:.2f}{TIMES}"]
            for key, f in shipped["modules"].items()
        ]
        lines += [
            "",
            "As shipped: the built zips carry no bytecode and Lambda's code directories are "
            "read-only, so each cold start compiles the layer's and the function's sources "
            f"(runtime boto3 assumed compiled; baseline "
            f"{shipped['baseline']['median_s'] * 1000:.0f} ms):",
            "",
            *_table(["handler", "median ms", "ratio"], rows),
        ]
    return lines


def _zip_lines(zips: dict[str, Any]) -> list[str]:
    layer = zips["layer"]
    rows = [
        [
            "layer ConfigGuardLayer",
            1,
            f"{layer['zip_bytes']:,}",
            f"{layer['unzipped_bytes']:,}",
        ],
        *[
            [f"functions, CodeUri {uri}/", g["count"], f"{g['max_bytes']:,} each", ""]
            for uri, g in zips["functions_by_code_uri"].items()
        ],
    ]
    inside = ", ".join(layer["runtime_packages_inside"]) or "none"
    return [
        "### Zip sizes after `make build`",
        "",
        f"Deterministic zips (the StackSet packager's). Layer target ≤ "
        f"{layer['target_bytes'] / 1024 / 1024:.0f} MiB: {_verdict(layer['meets_target'])} "
        f"({layer['zip_mib']:.2f} MiB). Runtime packages (boto3, botocore and their "
        f"dependencies) inside the layer: {inside}.",
        "",
        *_table(["artefact", "count", "zip bytes", "unzipped bytes"], rows),
    ]


def _change_lines(change: dict[str, Any]) -> list[str]:
    rows = []
    for rule, figures in change["rules"].items():
        for kind, label in (("ci_in_event", "CI in the event"), ("oversized", "oversized")):
            k = figures[kind]
            rows.append(
                [
                    rule,
                    label,
                    f"{k['import_s'] * 1000:.0f}",
                    f"{k['first']['wall_s'] * 1000:.0f}",
                    f"{k['warm_median_wall_s'] * 1000:.1f}",
                    k["calls_per_invocation"],
                    _calls_text(k["warm_calls"]),
                ]
            )
    return [
        "### One change-triggered evaluation",
        "",
        f"The real handler in a Lambda-shaped process against a fresh stand-in; warm figures "
        f"are the median of {change['repeats']}. Result token: {change['result_token']}.",
        "",
        *_table(
            [
                "rule",
                "notification",
                "import ms",
                "1st call ms",
                "warm call ms",
                "API calls",
                "which",
            ],
            rows,
        ),
    ]


def _sweep_lines(sweep: dict[str, Any]) -> list[str]:
    rows = []
    assumptions = ""
    for point in sweep["points"]:
        for rule in SWEEP_RULES:
            if rule not in point:
                continue
            r = point[rule]
            lam = r["lambda"]
            assumptions = lam["assumptions"]
            rows.append(
                [
                    f"{point['log_groups']:,}",
                    rule,
                    f"{r['first']['wall_s']:.2f}",
                    f"{r['warm']['cpu_s']:.2f}",
                    r["describe_log_groups_pages"],
                    r["put_evaluations_batches"],
                    "yes" if r["non_compliant_matches"] else "**no**",
                    f"{lam['projected_s']:.0f} / {lam['timeout_s']}",
                    "fits" if lam["fits"] else "**exceeds**",
                    lam["min_memory_mb_to_fit"] or "none",
                ]
            )
    seeding = ", ".join(
        f"{p['log_groups']:,} in {p['seeding']['seconds']:.0f} s" for p in sweep["points"]
    )
    linear = []
    for rule, figures in sweep["linearity"].items():
        steps = ", ".join(f"{v:.3f}" for v in figures["marginal_cpu_s_per_1000"])
        linear.append(
            f"- {rule}: handler CPU per 1,000 more groups {steps} s "
            f"({'linear' if figures['client_cpu_linear'] else '**not linear**'}); "
            f"API calls per 1,000 groups {', '.join(str(c) for c in figures['calls_per_1000'])}."
        )
    return [
        "### Periodic sweep scaling",
        "",
        f"The periodic log-group rules, one ScheduledNotification each, against a stand-in "
        f"seeded concurrently with N log groups (seeding: {seeding}). Wall time includes the "
        f"stand-in's own work; the projection uses the first (cold) call's CPU and adds the "
        f"ceil(N/100) reads of earlier results a steady-state run makes.",
        "",
        *_table(
            [
                "log groups",
                "rule",
                "1st call s",
                "warm CPU s",
                "DescribeLogGroups pages",
                "PutEvaluations batches",
                "verdicts right",
                "Lambda s / timeout",
                "fits",
                "MB needed",
            ],
            rows,
        ),
        "",
        *linear,
        "",
        f"Projection assumptions: {assumptions}.",
    ]


def markdown(results: dict[str, Any]) -> list[str]:
    """The Lambda-side section of docs/benchmarks.md, from `collect`'s result."""
    lines = ["## Lambda-side figures", ""]
    sections: list[tuple[str, Any]] = [
        ("cold_imports", lambda r: _cold_lines(r, results.get("cold_imports_as_shipped"))),
        ("zip_sizes", _zip_lines),
        ("change_evaluation", _change_lines),
        ("sweep_scaling", _sweep_lines),
    ]
    for name, render in sections:
        figures = results.get(name)
        if not figures:
            continue
        if "error" in figures:
            lines += [f"### {name}", "", f"Not measured: {figures['error']}", ""]
            continue
        lines += [*render(figures), ""]
    return lines[:-1] if lines[-1] == "" else lines


# ----------------------------------------------------------------- command line


PARTS = ("zip_sizes", "cold_imports", "as_shipped", "change_evaluation", "sweep_scaling")


def main(argv: Sequence[str] | None = None) -> int:
    """Print all four measurements as one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of each sweep size")
    parser.add_argument("--repeats", type=int, default=10, help="cold imports per module")
    parser.add_argument("--build", action="store_true", help="run `make build` first")
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run only these (repeatable)",
    )
    args = parser.parse_args(argv)
    chosen = set(
        args.only
        or ("cold_imports", "as_shipped", "zip_sizes", "change_evaluation", "sweep_scaling")
    )
    out: dict[str, Any] = {}
    if "zip_sizes" in chosen:
        out["zip_sizes"] = zip_sizes(ROOT, build=args.build)
    if "cold_imports" in chosen:
        out["cold_imports"] = cold_imports(ROOT, repeats=args.repeats)
    if "as_shipped" in chosen:
        out["cold_imports_as_shipped"] = cold_imports_as_shipped(ROOT)
    if "change_evaluation" in chosen:
        out["change_evaluation"] = change_evaluation()
    if "sweep_scaling" in chosen:
        out["sweep_scaling"] = sweep_scaling(quick=args.quick)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    sys.exit(main())
