#!/usr/bin/env python3
"""Summarise checkov's JSON report of template.yaml; exit 1 on any failed check.

checkov shows severities only with a platform key, so the bar is stricter than
"no high findings": no failed check at all, every exception a documented skip.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import yaml


def main(path: str, config: str) -> int:
    report = json.loads(Path(path).read_text())
    everywhere = yaml.safe_load(Path(config).read_text()).get("skip-check", [])
    report = report[0] if isinstance(report, list) else report
    summary, results = report["summary"], report["results"]
    skipped = Counter(check["check_id"] for check in results.get("skipped_checks", []))
    print(
        f"checkov {summary['checkov_version']}: {summary['resource_count']} resources, "
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{sum(skipped.values())} skipped in the template "
        f"({', '.join(f'{k} x{v}' for k, v in sorted(skipped.items())) or 'none'}), "
        f"{summary['parsing_errors']} parsing errors; "
        f"skipped everywhere by {config}: {', '.join(everywhere) or 'none'}"
    )
    for check in results.get("failed_checks", []):
        print(f"  FAILED {check['check_id']} {check['resource']}: {check['check_name']}")
    return 1 if summary["failed"] or summary["parsing_errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
