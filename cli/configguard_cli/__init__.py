"""The configguard command-line interface."""

from __future__ import annotations
