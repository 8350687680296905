"""configguard: AWS Config custom rules and safe, audited auto-remediation.

This package is the shared Lambda layer. Keep imports here cheap: handlers
import only the submodules they need.
"""

from __future__ import annotations

__version__ = "0.1.0"
