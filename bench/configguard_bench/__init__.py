"""configguard's benchmark harness: configguard, Cloud Custodian and Prowler, side by side."""

from __future__ import annotations
