"""The local AWS stand-in: moto plus gap-fills, and the stack's own resources."""

from __future__ import annotations
