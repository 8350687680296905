"""One fresh stand-in server per tool run, in its own process, with a request log."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config

from configguard_bench import counter

REGION = "us-east-1"
_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")
_START_TIMEOUT = 60.0
SYNC_PREFIX = "/configguard-bench-sync/"  # the harness's own sentinel requests


def credentials_env() -> dict[str, str]:
    """Dummy credentials: the stand-in accepts any, and nothing must find real ones."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class Server:
    """`configguard local up --bare --request-log` in a child process."""

    def __init__(
        self, log_path: Path, latency_ms: float = 0.0, *, stock_dispatch: bool = False
    ) -> None:
        self.log_path = log_path
        self.latency_ms = latency_ms
        self.stock_dispatch = stock_dispatch
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._clients: dict[str, Any] = {}

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        command = [
            sys.executable,
            "-m",
            "configguard_cli.main",
            "local",
            "up",
            "--bare",
            "--port",
            "0",
            "--request-log",
            str(self.log_path),
            "--latency-ms",
            str(self.latency_ms),
            *(["--stock-dispatch"] if self.stock_dispatch else []),
        ]
        env = {**os.environ, **credentials_env(), "COLUMNS": "200"}
        env.pop("AWS_ENDPOINT_URL", None)
        self._process = subprocess.Popen(  # noqa: S603 - our own CLI
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        deadline = time.monotonic() + _START_TIMEOUT
        assert self._process.stdout is not None
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _URL.search(line)
            if match:
                self.url = match.group(1)
                return self
        self.stop()
        raise RuntimeError("the stand-in did not start:\n" + "".join(seen[-20:]))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        if self._process is None:
            raise RuntimeError("the stand-in is not running")
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def env(self) -> dict[str, str]:
        """What a tool needs to talk to this server (and nothing else)."""
        return {**credentials_env(), "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credential
                config=Config(max_pool_connections=32, retries={"mode": "standard"}),
            )
        return self._clients[service]

    def mark(self) -> int:
        """The log's length once every request answered so far is in it."""
        return self.sync()

    def sync(self, timeout: float = 30.0) -> int:
        """Send a sentinel request and wait for its line: the log's writer keeps arrival
        order, so every request answered before it is then in the file. Returns the number
        of lines up to and including the sentinel's."""
        token = f"{SYNC_PREFIX}{uuid.uuid4().hex}"
        # moto answers an unknown path with an error; the request is logged all the same.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{self.url}{token}", timeout=timeout)  # noqa: S310
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
            for number, line in enumerate(lines, start=1):
                if token in line:
                    return number
            time.sleep(0.01)
        raise RuntimeError(f"the stand-in's request log did not record {token} in {timeout}s")

    def calls_since(self, mark: int) -> Counter[str]:
        """API calls logged after `mark` (a `mark()` or `sync()` result), sentinels left out."""
        end = self.sync()
        records = counter.read_records(self.log_path, mark)[: end - mark]
        return counter.count(
            r for r in records if not str(r.get("path", "")).startswith(SYNC_PREFIX)
        )
