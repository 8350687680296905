"""Lambda runtime deprecation dates, shipped as dated data.

There is no AWS API for runtime deprecation, so configguard carries the table from
the AWS Lambda "Runtimes" page as read on TABLE_AS_OF. Operators can correct or
extend it without a release through the rule parameter `RuntimeDeprecations`
(merged over this table by `deprecation`).

Choices:
- Runtimes retired before the table was read keep their published deprecation day
  (AWS "Deprecated runtimes" list). For the oldest few, whose exact day is not
  recorded here with certainty, the table holds an upper bound instead and
  `is_approximate` says so; the verdict is the same (long deprecated), and
  annotations phrase it as "by <date>" so that no exact day is invented.
- A runtime that is not in the table (e.g. one released after TABLE_AS_OF) has no
  known deprecation date: `deprecation` returns None and rules treat it as
  supported, saying the table does not list it, so a new runtime pages no one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

TABLE_AS_OF = date(2026, 8, 31)
"""When the AWS Lambda runtimes page was last transcribed into this table."""

_DEPRECATED: dict[str, date] = {
    # Deprecated, or deprecating, per the runtimes page as of TABLE_AS_OF.
    "python3.10": date(2026, 10, 31),
    "python3.9": date(2025, 12, 15),
    "python3.8": date(2024, 10, 14),
    "nodejs20.x": date(2026, 4, 30),
    "nodejs18.x": date(2025, 9, 1),
    "ruby3.2": date(2026, 3, 31),
    "dotnet8": date(2026, 11, 10),
    "provided.al2": date(2026, 7, 31),
    # Listed there only as "earlier": AWS's published deprecation days.
    "dotnet6": date(2024, 12, 20),
    "go1.x": date(2024, 1, 8),
    "provided": date(2024, 1, 8),
    "java8": date(2024, 1, 8),
    # Older retirements from the AWS "Deprecated runtimes" list.
    "dotnet7": date(2024, 5, 14),
    "nodejs16.x": date(2024, 6, 12),
    "ruby2.7": date(2023, 12, 7),
    "python3.7": date(2023, 12, 4),
    "nodejs14.x": date(2023, 12, 4),
    "dotnetcore3.1": date(2023, 4, 3),
    "nodejs12.x": date(2023, 3, 31),
    "python3.6": date(2022, 7, 18),
    "dotnetcore2.1": date(2022, 1, 5),
    "nodejs10.x": date(2021, 7, 30),
    "ruby2.5": date(2021, 7, 30),
    "python2.7": date(2021, 7, 15),
}

_APPROXIMATE_BOUND = date(2020, 12, 31)
_APPROXIMATE = frozenset(
    {
        # Retired in 2016-2020; exact days not verified here, all before this bound.
        "nodejs",
        "nodejs4.3",
        "nodejs4.3-edge",
        "nodejs6.10",
        "nodejs8.10",
        "dotnetcore1.0",
        "dotnetcore2.0",
    }
)

_UPCOMING: dict[str, date] = {
    "ruby3.3": date(2027, 3, 31),
    "nodejs22.x": date(2027, 4, 30),
    "python3.11": date(2027, 6, 30),
    "java17": date(2027, 6, 30),
    "java11": date(2027, 6, 30),
    "java8.al2": date(2027, 6, 30),
    "python3.12": date(2028, 10, 31),
    "python3.13": date(2029, 6, 30),
    "python3.14": date(2029, 6, 30),
    "java21": date(2029, 6, 30),
    "java25": date(2029, 6, 30),
    "provided.al2023": date(2029, 6, 30),
}

DEPRECATIONS: Mapping[str, date] = MappingProxyType(
    {**_DEPRECATED, **dict.fromkeys(_APPROXIMATE, _APPROXIMATE_BOUND), **_UPCOMING}
)
"""Runtime identifier -> deprecation date (past or scheduled)."""

BLOCK_UPDATES: Mapping[str, date] = MappingProxyType({"python3.10": date(2027, 3, 3)})
"""Runtime identifier -> the date Lambda blocks function updates, where published."""


def deprecation(runtime: str, overrides: Mapping[str, date] | None = None) -> date | None:
    """The runtime's deprecation date (overrides first); None when neither lists it."""
    key = runtime.strip()
    if overrides and key in overrides:
        return overrides[key]
    return DEPRECATIONS.get(key)


def is_approximate(runtime: str, overrides: Mapping[str, date] | None = None) -> bool:
    """True when the date is an upper bound rather than the published day."""
    key = runtime.strip()
    return key in _APPROXIMATE and not (overrides and key in overrides)


def block_update(runtime: str, overrides: Mapping[str, date] | None = None) -> date | None:
    """The shipped block-update date, unless an override replaced the runtime's entry."""
    key = runtime.strip()
    if overrides and key in overrides:
        return None
    return BLOCK_UPDATES.get(key)
