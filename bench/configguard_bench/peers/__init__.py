"""Peers benchmarked against configguard: each runs in its own virtual environment."""

from __future__ import annotations
