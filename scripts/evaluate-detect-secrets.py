"""Compare Yelp's detect-secrets with configguard.secretscan on tests/secrets_corpus.py.

Not part of `make test`. Run from a scratch venv outside the repository:

    python3 -m venv /tmp/ds-venv && /tmp/ds-venv/bin/pip install detect-secrets==1.5.0
    /tmp/ds-venv/bin/python scripts/evaluate-detect-secrets.py

Prints case names and figures only, never a value.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "shared")]

from detect_secrets.core.scan import scan_line  # noqa: E402
from detect_secrets.core.secrets_collection import SecretsCollection  # noqa: E402
from detect_secrets.settings import default_settings  # noqa: E402
from secrets_corpus import CASES, Case  # noqa: E402

from configguard.secretscan import scan_environment  # noqa: E402

DEPENDENCIES = ("detect-secrets", "PyYAML", "requests", "urllib3", "idna", "charset-normalizer")
DEPENDENCIES += ("certifi",)


def env_line(case: Case) -> str:
    """The case as one .env assignment, quoted the way people write them."""
    value = case.value
    if not any(c.isspace() or c in "\"'#" for c in value):
        return f"{case.name}={value}\n"
    if '"' in value and "'" not in value:
        return f"{case.name}='{value}'\n"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{case.name}="{escaped}"\n'


def by_file(case: Case, workdir: Path) -> set[str]:
    """detect-secrets as its CLI would run: default plugins and filters on a .env file."""
    path = workdir / f"{case.name}.env"
    path.write_text(env_line(case))
    collection = SecretsCollection(root=str(workdir))
    collection.scan_file(path.name)
    return {secret.type for secrets in collection.data.values() for secret in secrets}


def by_line(case: Case) -> set[str]:
    """detect-secrets' ad-hoc string API, fed the same assignment."""
    return {secret.type for secret in scan_line(env_line(case).rstrip("\n"))}


def ours(case: Case) -> set[str]:
    return {finding.kind for finding in scan_environment({case.name: case.value})}


def evaluate(label: str, predict: Callable[[Case], set[str]]) -> None:
    start = time.perf_counter()
    verdicts = [(case, predict(case)) for case in CASES]
    elapsed = time.perf_counter() - start
    tp = sum(bool(c.secret and p) for c, p in verdicts)
    fp = [f"{c.name} ({'/'.join(sorted(p))})" for c, p in verdicts if p and not c.secret]
    fn = [c.name for c, p in verdicts if c.secret and not p]
    tn = len(verdicts) - tp - len(fp) - len(fn)
    precision = tp / (tp + len(fp)) if tp + len(fp) else 0.0
    recall = tp / (tp + len(fn))
    print(f"## {label}")
    print(f"TP={tp} FP={len(fp)} FN={len(fn)} TN={tn}")
    print(f"precision={precision:.3f} recall={recall:.3f} corpus scan={elapsed * 1000:.0f} ms")
    print(f"false positives: {', '.join(fp) or '-'}")
    print(f"false negatives: {', '.join(fn) or '-'}\n")


def import_seconds(code: str, extra_path: str = "") -> float:
    """Median wall time of a fresh interpreter running `code` (5 runs)."""
    env = dict(os.environ, PYTHONPATH=extra_path)
    runs = []
    for _ in range(5):
        out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def installed_kib() -> float:
    total = 0
    for name in DEPENDENCIES:
        dist = md.distribution(name)
        for file in dist.files or ():
            located = Path(str(dist.locate_file(file)))
            if located.is_file():
                total += located.stat().st_size
    return total / 1024


def main() -> None:
    print(f"corpus: {len(CASES)} cases, {sum(c.secret for c in CASES)} secret\n")
    with default_settings(), tempfile.TemporaryDirectory() as tmp:
        evaluate(
            f"detect-secrets {md.version('detect-secrets')} (.env file)",
            lambda c: by_file(c, Path(tmp)),
        )
        evaluate("detect-secrets scan_line (ad hoc)", by_line)
    evaluate("configguard.secretscan", ours)
    timer = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
    ds = import_seconds(
        timer.format(
            "from detect_secrets.core.scan import scan_line; "
            "from detect_secrets.settings import default_settings; "
            "exec('with default_settings(): list(scan_line(\"A=1\"))')"
        )
    )
    cg = import_seconds(
        timer.format("from configguard.secretscan import scan_environment; scan_environment({})"),
        str(ROOT / "shared"),
    )
    print(f"import + first scan: detect-secrets {ds * 1000:.0f} ms, secretscan {cg * 1000:.0f} ms")
    print(
        f"installed size (detect-secrets + deps, files in RECORD): {installed_kib() / 1024:.1f} MiB"
    )
    ours_kib = (ROOT / "shared/configguard/secretscan.py").stat().st_size / 1024
    print(f"secretscan.py: {ours_kib:.0f} KiB, stdlib only")
    meta = md.metadata("detect-secrets")
    licences = [c for c in meta.get_all("Classifier") or () if c.startswith("License")]
    print(f"detect-secrets requires: {', '.join(meta.get_all('Requires-Dist') or ())}")
    print(f"licence: {'; '.join(licences)}")


if __name__ == "__main__":
    main()
