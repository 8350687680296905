"""Seed the stand-in, write `configguard scan --format html`, and screenshot it in Chromium.

`make report` runs this: the report lands in build/report.html and the screenshot in
build/report.png. Chromium runs headless with its network features off (nothing here
may reach the internet).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from configguard.clients import ClientFactory, reset_default_factory
from configguard_cli.local import scenarios
from configguard_cli.local.standin import StandIn

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed (make report installs it)", file=sys.stderr)
        return 2
    BUILD.mkdir(exist_ok=True)
    report, picture = BUILD / "report.html", BUILD / "report.png"
    with StandIn() as standin:
        standin.provision()
        env = {**os.environ, **standin.environ()}
        os.environ.update(standin.environ())
        reset_default_factory()
        scenarios.seed_all(ClientFactory(region=standin.region))
        command = [sys.executable, "-m", "configguard_cli.main", "scan", "--format", "html"]
        subprocess.run(  # noqa: S603 - our own interpreter and CLI, fixed arguments
            [*command, "--output", str(report), "--endpoint-url", standin.url],
            env=env,
            check=True,
        )
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603 - Debian's chromium, fixed arguments
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=1400,2600",
                f"--screenshot={picture}",
                report.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {report} and {picture}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
