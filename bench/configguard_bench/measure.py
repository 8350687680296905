"""Run one command and measure it: wall time, CPU time and peak RSS of its process tree."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float  # user + system, the process and every child it waited for
    peak_rss_mb: float  # the largest resident set of the process or any waited child
    exit_code: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def run(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Measurement:
    """Run to completion with output to `log`; os.wait4 gives the child's own rusage."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - the harness's own tool commands
            command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        exit_code=process.returncode,
    )
