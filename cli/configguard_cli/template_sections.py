"""Generated sections of template.yaml: find them, replace them, and the shared command line.

Each generator (remediation, observability and organization-rule blocks) renders text
between its BEGIN/END marker lines; `main` rewrites the template (`--write`) or fails
when the committed sections are stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def between(text: str, begin: str, end: str) -> tuple[int, int]:
    """The span of the text after the `begin` marker line and before the `end` marker."""
    start = text.index(begin) + len(begin) + 1
    return start, text.index(end, start)


def main(argv: list[str] | None, description: str, rewrite: Callable[[str], str], what: str) -> int:
    """`--write`: rewrite template.yaml in place; otherwise exit 1 when `what` is stale."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help="rewrite template.yaml in place")
    args = parser.parse_args(argv)
    text = TEMPLATE.read_text()
    new = rewrite(text)
    if args.write:
        if new != text:
            TEMPLATE.write_text(new)
        return 0
    if new != text:
        print(f"template.yaml's {what} are stale; run with --write", file=sys.stderr)
        return 1
    return 0
