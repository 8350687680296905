"""Hypothesis strategies that damage the real sample events in events/<module>/*.json.

A case is a sample plus a short list of `Op`s (drop a key, set a value, add a key, or
turn a change notification into an oversized one). Values are small tagged specs
(`("huge", 256)`, `("deep", 100_000)`, ...) that `materialize` expands only when the
event is built, so hypothesis never stores or shrinks megabytes of text.

Rule events are fuzzed in decoded form: `invokingEvent` and `ruleParameters` are JSON
objects while ops apply, then encoded back to the strings Config sends (unless an op
replaced them with a raw string or another type). Deep nesting inside those strings
is spliced in as text, so it can be deeper than Python's own JSON encoder allows.
"""

from __future__ import annotations

import copy
import functools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from configguard import registry
from configguard_cli.events import ci_summary

EVENTS = Path(__file__).resolve().parents[2] / "events"
Key = str | int
JsonPath = tuple[Key, ...]
Spec = tuple[Any, ...]

CHANGE = "ConfigurationItemChangeNotification"
OVERSIZED = "OversizedConfigurationItemChangeNotification"
SCHEDULED = "ScheduledNotification"
# Deepest nesting a dict-shaped event can have: the Lambda runtime parses the payload with
# Python's json module, which cannot build (or encode) much deeper structures.
DICT_DEPTH = 400
_PLACEHOLDER = "\x00fuzz-deep-{}\x00"
# The members of a Config rule event that are JSON documents in strings.
ENCODED = ("invokingEvent", "ruleParameters")

UNICODE = (
    "\u202egnp.exe",  # right-to-left override
    "nul\x00byte",
    "zero\u200bwidth\u200djoin",
    "\ufeffbom",
    "emoji \U0001f525\U0001f9e8",
    "\ud800 lone surrogate",
    "line\nbreak\r\ttab",
    "e\u0301\u0301\u0301 combining",
    "\U0001d518\U0001d52b\U0001d526 math",
    "${jndi:ldap://x/a} %s%n ../../etc/passwd '; --",
)
NOT_JSON = ("", "   ", "{not json", "[1, 2", "null", "42", '"text"', "[]", "NaN", "{}}")
# Values of every JSON kind; `set` replaces whatever was there with one of these.
VALUES: tuple[Spec, ...] = (
    ("lit", 0),
    ("lit", -1),
    ("lit", 7),
    ("lit", 1.5e308),
    ("lit", True),
    ("lit", False),
    ("lit", None),
    ("lit", []),
    ("lit", ["x", 1, None]),
    ("lit", {}),
    ("lit", {"unexpected": ["shape"]}),
    ("lit", ""),
    ("lit", "{not json"),
    ("lit", "[1, 2"),
    ("nan",),
    ("inf",),
    *(("lit", text) for text in UNICODE),
    ("huge", 64),
    ("huge", 200),
    ("huge-unicode", 100),
    ("deep", 60),
    ("deep", DICT_DEPTH),
    ("deep", 100_000),
)
NEW_KEYS = ("unexpected", "__proto__", "\u00c9v\u00e8nement", "x" * 300, "")


@dataclass(frozen=True)
class Op:
    """One change to a decoded event: drop / set / add at `path`, or `oversize`."""

    kind: str
    path: JsonPath = ()
    value: Spec = ("lit", None)

    def __repr__(self) -> str:
        return (
            f"{self.kind}{list(self.path)}={self.value!r}"
            if self.kind != "drop"
            else (f"drop{list(self.path)}")
        )


@dataclass
class Built:
    """A built event and what the ops did to it."""

    event: Any
    applied: list[Op] = field(default_factory=list)
    # (path, JSON kind before, JSON kind after) of every value an op set or added.
    retyped: list[tuple[JsonPath, str, str]] = field(default_factory=list)
    # A rule event as decoded JSON after the ops, before the strings are encoded again.
    decoded: Any = None

    def kind_at(self, path: JsonPath) -> str:
        """The JSON kind the event ended with at `path` ("absent" if it has none)."""
        found, value = lookup(self.decoded, path)
        if not found:
            return "absent"
        return (
            "array"
            if isinstance(value, str) and value.startswith("\x00fuzz-deep")
            else (json_kind(value))
        )


# ----------------------------------------------------------------------- values


def json_kind(value: Any) -> str:  # noqa: PLR0911 - one return per kind
    """The JSON kind of a value; Config's "true"/"false" strings count as booleans."""
    if value is None:
        return "null"
    if isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in ("true", "false")
    ):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def spec_kind(spec: Spec) -> str:
    """The JSON kind a spec materializes to."""
    tag = spec[0]
    if tag in ("huge", "huge-unicode"):
        return "string"
    if tag in ("nan", "inf"):
        return "number"
    if tag == "deep":
        return "array"
    if tag == "raw":
        return "string"
    return json_kind(spec[1])


def deep_text(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_value(depth: int) -> Any:
    value: Any = []
    for _ in range(min(depth, DICT_DEPTH) - 1):
        value = [value]
    return value


def materialize(spec: Spec) -> Any:
    """The Python value of a spec (deep nesting capped at DICT_DEPTH)."""
    tag = spec[0]
    if tag in ("lit", "raw"):
        return copy.deepcopy(spec[1])
    if tag == "nan":
        return float("nan")
    if tag == "inf":
        return float("inf")
    if tag == "huge":
        return "A" * (spec[1] * 1024)
    if tag == "huge-unicode":
        return "\u00e9\U0001f525" * (spec[1] * 256)
    if tag == "deep":
        return deep_value(spec[1])
    raise ValueError(f"unknown value spec {spec!r}")


# ------------------------------------------------------------------ JSON paths


def walk(doc: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    """Every path below `doc` (containers first, then their members)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from walk(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*prefix, index)
            yield from walk(value, (*prefix, index))


def lookup(doc: Any, path: JsonPath) -> tuple[bool, Any]:
    node = doc
    for key in path:
        if (isinstance(node, dict) and isinstance(key, str) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        ):
            node = node[key]
        else:
            return False, None
    return True, node


def apply(  # noqa: PLR0911 - each kind of op gives up early in its own way
    doc: Any, op: Op, built: Built, splice: dict[str, str] | None = None
) -> Any:
    """`doc` with `op` applied (in place where possible); ops whose path is gone are skipped.

    With `splice`, deep specs become placeholders replaced by raw text after encoding.
    """
    if op.kind == "oversize":
        return doc if not oversize(doc) else _applied(doc, op, built)
    if op.kind == "scramble":
        return doc if not scramble(doc, op, built) else _applied(doc, op, built)
    if not op.path:
        return doc
    found, parent = lookup(doc, op.path[:-1])
    key = op.path[-1]
    if not found or not isinstance(parent, dict | list):
        return doc
    present = (isinstance(parent, dict) and key in parent) or (
        isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent)
    )
    if op.kind == "drop":
        if present:
            del parent[key]  # type: ignore[arg-type]
            built.applied.append(op)
        return doc
    if op.kind == "add" and (not isinstance(parent, dict) or present):
        return doc
    if op.kind == "set" and not present:
        return doc
    if op.kind == "put" and not (present or isinstance(parent, dict)):
        return doc
    deep = op.value[0] == "deep" and op.value[1] > DICT_DEPTH
    if splice is not None and deep and op.path[0] in ENCODED:
        marker = _PLACEHOLDER.format(len(splice))
        splice[marker] = deep_text(op.value[1])
        value: Any = marker
    else:
        value = materialize(op.value)
    before = json_kind(parent[key]) if present else "absent"  # type: ignore[index]
    parent[key] = value  # type: ignore[index]
    after = "array" if op.value[0] == "deep" else json_kind(value)
    built.retyped.append((op.path, before, after))
    return _applied(doc, op, built)


def _applied(doc: Any, op: Op, built: Built) -> Any:
    built.applied.append(op)
    return doc


def encode(value: Any, splice: dict[str, str]) -> str:
    text = json.dumps(value)
    for marker, raw in splice.items():
        text = text.replace(json.dumps(marker), raw)
    return text


# ------------------------------------------------------------------ rule events


def oversize(doc: dict[str, Any]) -> bool:
    """Turn a decoded change notification into the oversized form (summary, no CI)."""
    invoking = doc.get("invokingEvent")
    if not isinstance(invoking, dict) or not isinstance(invoking.get("configurationItem"), dict):
        return False
    item = invoking.pop("configurationItem")
    invoking["configurationItemSummary"] = ci_summary(item)
    invoking["messageType"] = OVERSIZED
    return True


def load(relative: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / relative).read_text()))


def decoded_rule_event(event: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(event)
    doc["invokingEvent"] = json.loads(doc["invokingEvent"])
    if isinstance(doc.get("ruleParameters"), str):
        doc["ruleParameters"] = json.loads(doc["ruleParameters"])
    return doc


@functools.cache
def rule_samples(rule: str) -> dict[str, dict[str, Any]]:
    """The rule's sample events, decoded, by file name (shared: copy before changing)."""
    folder = EVENTS / registry.RULES[rule].module
    return {
        p.name: decoded_rule_event(load(f"{folder.name}/{p.name}"))
        for p in sorted(folder.glob("*.json"))
    }


@functools.cache
def change_items() -> dict[str, dict[str, Any]]:
    """Every rule sample's configuration item, by "<rule>/<file>"."""
    items = {}
    for rule in sorted(registry.RULES):
        for name, doc in rule_samples(rule).items():
            item = doc["invokingEvent"].get("configurationItem")
            if isinstance(item, dict):
                items[f"{rule}/{name}"] = item
    return items


@dataclass(frozen=True)
class RuleCase:
    """A sample rule event, the ops that damage it, and whose result token it carries."""

    sample: str
    ops: tuple[Op, ...]
    token: str  # own | other | garbage | missing | empty | number


def build_rule_event(
    sample: dict[str, Any], ops: tuple[Op, ...], token: Callable[[], Any]
) -> Built:
    """The Config event a case describes: decoded sample, ops applied, strings re-encoded."""
    doc = copy.deepcopy(sample)
    built = Built(doc)
    splice: dict[str, str] = {}
    for op in ops:
        doc = apply(doc, op, built, splice)
    value = token()
    if value is _MISSING_TOKEN:
        doc.pop("resultToken", None)
    else:
        doc["resultToken"] = value
    built.decoded = copy.deepcopy(doc)
    for name in ENCODED:
        value = doc.get(name)
        if isinstance(value, dict | list):
            doc[name] = encode(value, splice)
        elif isinstance(value, str) and value in splice:
            doc[name] = splice[value]
    built.event = doc
    return built


_MISSING_TOKEN = object()


def missing_token() -> object:
    return _MISSING_TOKEN


def _targeted_rule_ops(rule: str, doc: dict[str, Any]) -> list[Op]:
    """Damage aimed at what the rule base and the rule read."""
    spec = registry.RULES[rule]
    others = [name for name in sorted(registry.RULES) if name != rule]
    types = sorted({t for s in registry.RULES.values() for t in s.resource_types})
    ops = [Op("set", ("invokingEvent",), ("raw", text)) for text in NOT_JSON]
    ops += [Op("set", ("ruleParameters",), ("raw", text)) for text in NOT_JSON[1:]]
    ops += [
        Op("set", ("invokingEvent",), ("deep", 100_000)),
        Op("set", ("ruleParameters",), ("deep", 100_000)),
        Op("set", ("invokingEvent",), ("lit", 42)),
        Op("set", ("invokingEvent", "messageType"), ("lit", "ComplianceChangeNotification")),
        Op("set", ("invokingEvent", "messageType"), ("lit", SCHEDULED)),
        Op("set", ("invokingEvent", "messageType"), ("lit", CHANGE)),
        Op("set", ("invokingEvent", "messageType"), ("lit", OVERSIZED)),
        Op("set", ("invokingEvent", "messageType"), ("lit", ["ScheduledNotification"])),
        Op("drop", ("invokingEvent", "messageType")),
        Op("drop", ("invokingEvent", "notificationCreationTime")),
        Op("set", ("invokingEvent", "notificationCreationTime"), ("lit", "yesterday")),
        Op("oversize"),
        Op("set", ("eventLeftScope",), ("lit", "perhaps")),
        Op("set", ("eventLeftScope",), ("lit", True)),
        Op("set", ("executionRoleArn",), ("lit", "not-an-arn")),
        Op("set", ("executionRoleArn",), ("lit", 12)),
        Op("set", ("ruleParameters",), ("lit", {"AssumeRoleMode": "true"})),
        Op("set", ("ruleParameters",), ("lit", {"ExecutionRoleName": "../x"})),
        Op("add", ("ruleParameters", "NoSuchParameter"), ("lit", "1")),
        Op("set", ("configRuleName",), ("lit", f"OrgConfigRule-{rule}-abc123")),
        Op("set", ("configRuleName",), ("lit", "someone-elses-rule")),
        Op("set", ("configRuleName",), ("lit", 7)),
        Op("drop", ("configRuleName",)),
        *(Op("set", ("configRuleName",), ("lit", other)) for other in others[::4]),
        *(Op("set", ("configRuleName",), ("lit", f"OrgConfigRule-{o}-x1")) for o in others[1::8]),
    ]
    for parameter in spec.parameters.model_fields.values():
        alias = parameter.alias
        if alias and alias not in ("ExecutionRoleName", "ExecutionRoleRegion"):
            ops += [
                Op("add", ("ruleParameters", alias), value)
                for value in (("lit", "{not json"), ("lit", {"a": 1}), ("huge", 64), ("lit", -5))
            ]
    item = doc["invokingEvent"].get("configurationItem")
    if isinstance(item, dict):
        ci: JsonPath = ("invokingEvent", "configurationItem")
        ops += [Op("set", (*ci, "resourceType"), ("lit", t)) for t in types]
        ops += [
            Op("set", (*ci, "resourceType"), ("lit", "AWS::Fuzz::Thing")),
            Op("set", (*ci, "resourceId"), ("lit", "fuzz-gone-resource")),
            Op("set", (*ci, "resourceId"), ("huge", 64)),
            Op("set", (*ci, "configurationItemStatus"), ("lit", "ResourceDeleted")),
            Op("set", (*ci, "configurationItemStatus"), ("lit", "OK")),
            Op("set", (*ci, "configuration"), ("lit", None)),
            Op("set", (*ci, "configuration"), ("lit", "{not json")),
            Op("set", (*ci, "configuration"), ("raw", json.dumps(item.get("configuration")))),
            Op("set", (*ci, "supplementaryConfiguration"), ("lit", "[]")),
        ]
        ops += [Op("set", ci, ("lit", other)) for other in list(change_items().values())[::5]]
    return ops


def _generic_ops(doc: dict[str, Any], add: bool = True) -> st.SearchStrategy[Op]:
    """Drop any key, set any value to one of VALUES, add a new key to any object."""
    paths = list(walk(doc))
    containers = [p for p in paths if isinstance(lookup(doc, p)[1], dict)]
    ops = [
        st.builds(Op, st.just("drop"), st.sampled_from(paths)),
        st.builds(Op, st.just("set"), st.sampled_from(paths), st.sampled_from(VALUES)),
    ]
    if add:
        ops.append(
            st.builds(
                lambda parent, key, value: Op("add", (*parent, key), value),
                st.sampled_from([(), *containers]),
                st.sampled_from(NEW_KEYS),
                st.sampled_from(VALUES),
            )
        )
    return st.one_of(*ops)


CI_PATH: JsonPath = ("invokingEvent", "configurationItem")
CI_CONTENT = ("configuration", "supplementaryConfiguration", "tags", "relationships")
# A value of every JSON kind, for damaging what a rule reads from the CI.
WRONG_KINDS: tuple[Spec, ...] = (
    ("lit", 7),
    ("lit", True),
    ("lit", False),
    ("lit", []),
    ("lit", ["x"]),
    ("lit", {}),
    ("lit", "text"),
    ("lit", "{not json"),
    ("nan",),
    ("inf",),
    ("lit", -1e300),
)


@functools.cache
def content_keys(resource_type: str) -> dict[str, frozenset[str]]:
    """Keys of each CI content block seen in any sample of a resource type."""
    keys: dict[str, set[str]] = {block: set() for block in CI_CONTENT}
    for item in change_items().values():
        if item.get("resourceType") != resource_type:
            continue
        for block in CI_CONTENT:
            value = item.get(block)
            if isinstance(value, str) and value.startswith("{"):
                value = json.loads(value)
            if isinstance(value, dict):
                keys[block] |= set(value)
    return {block: frozenset(found) for block, found in keys.items()}


def shape_of(path: JsonPath) -> JsonPath:
    """A path with list indices generalised: ("layers", 0, "arn") -> ("layers", "*", "arn")."""
    return tuple("*" if isinstance(key, int) else key for key in path)


@functools.cache
def known_kinds(resource_type: str) -> dict[JsonPath, frozenset[str]]:
    """The JSON kinds each CI content path has in the samples of a resource type (not null)."""
    kinds: dict[JsonPath, set[str]] = {}
    for item in change_items().values():
        if item.get("resourceType") != resource_type:
            continue
        for path in walk(item):
            if path[0] not in CI_CONTENT:
                continue
            kind = json_kind(lookup(item, path)[1])
            if kind != "null":
                kinds.setdefault(shape_of(path), set()).add(kind)
    return {path: frozenset(found) for path, found in kinds.items()}


def scramble(doc: Any, op: Op, built: Built) -> bool:
    """Give a random share of the values under `op.path` (and of the keys other samples
    of the CI's type have there) a value of another JSON kind. Value: (seed, percent)."""
    block = lookup(doc, op.path)[1]
    item = lookup(doc, op.path[:2])[1]
    if not isinstance(block, dict) or not isinstance(item, dict):
        return False
    rng = random.Random(op.value[0])
    known = known_kinds(str(item.get("resourceType")))
    extra = sorted({p[1] for p in known if p[0] == op.path[-1] and len(p) == 2} - set(block))
    for key in extra:
        block[key] = None  # considered below like any other member
    changed = False
    skip: tuple[Key, ...] | None = None
    for path in list(walk(block)):
        if skip is not None and path[: len(skip)] == skip:
            continue
        if rng.randrange(100) >= op.value[1]:
            continue
        parent = lookup(block, path[:-1])[1]
        before = json_kind(parent[path[-1]])
        choices = [v for v in WRONG_KINDS if spec_kind(v) != before]
        spec = rng.choice(choices)
        parent[path[-1]] = materialize(spec)
        full = (*op.path, *path)
        built.retyped.append((full, "absent" if path[-1] in extra else before, spec_kind(spec)))
        skip, changed = path, True
    for key in extra:
        if block.get(key, 0) is None:
            del block[key]
    return changed


def _ci_damage(doc: dict[str, Any]) -> list[st.SearchStrategy[Op]]:
    """Wrong kinds for what the CI carries, and for keys other samples of its type carry."""
    item = doc["invokingEvent"].get("configurationItem")
    if not isinstance(item, dict):
        return []
    paths = [p for p in walk(item) if p[0] in CI_CONTENT]
    added = [
        (block, key)
        for block, keys in content_keys(str(item.get("resourceType"))).items()
        if isinstance(item.get(block), dict)
        for key in sorted(keys - set(item[block]))
    ]
    blocks = [(*CI_PATH, b) for b in CI_CONTENT[:2] if isinstance(item.get(b), dict)]
    damage = (
        [
            st.builds(
                lambda path, value: Op("set", (*CI_PATH, *path), value),
                st.sampled_from(paths),
                st.sampled_from(WRONG_KINDS),
            )
        ]
        if paths
        else []
    )
    if blocks:
        damage.append(
            st.builds(
                lambda path, seed, percent: Op("scramble", path, (seed, percent)),
                st.sampled_from(blocks),
                st.integers(0, 2**16),
                st.sampled_from((10, 30, 60, 100)),
            )
        )
    if added:
        damage.append(
            st.builds(
                lambda path, value: Op("add", (*CI_PATH, *path), value),
                st.sampled_from(added),
                st.sampled_from(WRONG_KINDS),
            )
        )
    return damage


def _rule_case(rule: str, name: str, doc: dict[str, Any]) -> st.SearchStrategy[RuleCase]:
    op = st.one_of(
        st.sampled_from(_targeted_rule_ops(rule, doc)), *_ci_damage(doc), _generic_ops(doc)
    )
    return st.builds(
        RuleCase,
        st.just(name),
        st.lists(op, min_size=1, max_size=3).map(tuple),
        st.sampled_from(("own", "own", "own", "other", "garbage", "missing", "empty")),
    )


def rule_cases(rule: str, samples: dict[str, dict[str, Any]]) -> st.SearchStrategy[RuleCase]:
    return st.one_of(*(_rule_case(rule, name, doc) for name, doc in sorted(samples.items())))


# ------------------------------------------------------ remediation and router events


def retarget(event: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """The sample with its resource names and ids replaced by the seeded ones."""
    text = json.dumps(event)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return dict(json.loads(text))


def routed_request(custom_action: dict[str, Any]) -> dict[str, Any]:
    """The router's request shape for the first finding of a custom-action sample."""
    finding = custom_action["detail"]["findings"][0]
    from configguard.triggers import ROUTER_DETAIL_TYPE, ROUTER_SOURCE, config_resource

    resource_type, resource_id = config_resource(finding["Resources"][0]["Id"])
    return {
        **{k: v for k, v in custom_action.items() if k != "detail"},
        "source": ROUTER_SOURCE,
        "detail-type": ROUTER_DETAIL_TYPE,
        "detail": {
            "rule": finding["ProductFields"]["aws/config/ConfigRuleName"],
            "resourceType": resource_type,
            "resourceId": resource_id,
            "accountId": finding["AwsAccountId"],
            "region": finding["Region"],
            "updatedAt": finding["UpdatedAt"],
            "actor": "securityhub:ConfigGuardFix",
            "findings": [{"Id": finding["Id"], "ProductArn": finding["ProductArn"]}],
        },
    }


def _foreign_arn(arn: str, region: str | None = None, account: str | None = None) -> str:
    parts = arn.split(":", 5)
    if region is not None:
        parts[3] = region
    if account is not None and parts[4]:
        parts[4] = account
    return ":".join(parts)


ENVELOPE_DAMAGE: tuple[Op, ...] = (
    Op("set", ("source",), ("lit", "aws.fuzz")),
    Op("set", ("source",), ("lit", 5)),
    Op("set", ("detail-type",), ("lit", "Some Other Event")),
    Op("set", ("detail-type",), ("huge", 64)),
    Op("set", ("detail-type",), ("lit", UNICODE[0])),
    Op("set", ("detail",), ("lit", [])),
    Op("set", ("detail",), ("lit", "{}")),
    Op("set", ("detail",), ("lit", None)),
    Op("set", ("detail",), ("lit", {})),
    Op("set", ("detail",), ("deep", DICT_DEPTH)),
    Op("drop", ("detail",)),
    Op("drop", ("source",)),
    Op("drop", ("detail-type",)),
    Op("drop", ("id",)),
    Op("drop", ("time",)),
    Op("drop", ("account",)),
    Op("drop", ("region",)),
    Op("set", ("time",), ("lit", "not a time")),
    Op("set", ("account",), ("lit", 123456789012)),
    Op("set", ("region",), ("lit", ["us-east-1"])),
    Op("set", ("id",), ("lit", {"id": 1})),
)


def _shape_damage(shape: str, doc: dict[str, Any], fix: registry.RemediationSpec) -> list[Op]:
    """Damage that leaves no valid request for the seeded resource in a `shape` event."""
    other_rules = [n for n in sorted(registry.RULES) if n not in fix.rules]
    all_types = sorted({t for s in registry.RULES.values() for t in s.resource_types})
    other_types = [t for t in all_types if t not in fix.resource_types]
    junk = (("lit", 9), ("lit", None), ("lit", ["x"]), ("lit", {}), ("huge", 64), ("lit", ""))
    ops: list[Op] = []

    def each(path: JsonPath, values: tuple[Spec, ...] | list[Spec]) -> None:
        ops.extend(Op("put", path, v) for v in values)

    detail: JsonPath = ("detail",)
    if shape == "config":
        each((*detail, "configRuleName"), [("lit", r) for r in other_rules[::3]] + list(junk))
        each((*detail, "resourceType"), [("lit", t) for t in other_types] + list(junk))
        result = (*detail, "newEvaluationResult")
        each(
            (*result, "complianceType"),
            [
                ("lit", "COMPLIANT"),
                ("lit", "NOT_APPLICABLE"),
                ("lit", "INSUFFICIENT_DATA"),
                ("lit", "non_compliant"),
                *junk,
            ],
        )
        each((*detail, "resourceId"), [("lit", "fuzz-gone"), ("lit", UNICODE[5]), *junk])
        each((*detail, "awsAccountId"), [("lit", "999999999999"), ("lit", 123456789012)])
        each((*detail, "awsRegion"), [("lit", "eu-west-1"), ("lit", 1)])
        each(result, [("lit", None), ("lit", "NON_COMPLIANT"), ("lit", [])])
        for key in (
            "configRuleName",
            "resourceType",
            "resourceId",
            "awsAccountId",
            "awsRegion",
            "newEvaluationResult",
        ):
            ops.append(Op("drop", (*detail, key)))
        ops.append(Op("drop", (*result, "complianceType")))
        ops.append(Op("drop", (*result, "evaluationResultIdentifier")))
    elif shape == "securityhub":
        finding: JsonPath = (*detail, "findings", 0)
        arn = doc["detail"]["findings"][0]["Resources"][0]["Id"]
        each((*detail, "findings"), [("lit", []), ("lit", {}), ("lit", "[]"), ("lit", [7])])
        each((*finding, "ProductFields"), [("lit", None), ("lit", []), ("lit", "x"), ("lit", {})])
        each(
            (*finding, "ProductFields", "aws/config/ConfigRuleName"),
            [("lit", r) for r in other_rules[::3]] + list(junk),
        )
        each((*finding, "Resources"), [("lit", []), ("lit", {}), ("lit", "arn"), ("lit", [1])])
        foreign = {_foreign_arn(arn, region="eu-west-1"), _foreign_arn(arn, account="9" * 12)}
        each(
            (*finding, "Resources", 0, "Id"),
            [
                ("lit", "not-an-arn"),
                ("lit", "arn:aws:s3:::bucket"),
                ("lit", arn + "/extra/x"),
                *(("lit", other) for other in sorted(foreign - {arn})),
                *junk,
            ],
        )
        each((*finding, "AwsAccountId"), [("lit", "999999999999")])
        each((*finding, "Region"), [("lit", "eu-west-1")])
        ops.append(Op("drop", (*finding, "ProductFields")))
        ops.append(Op("drop", (*finding, "Resources")))
        ops.append(Op("drop", (*detail, "findings")))
    else:  # cli, rollback, router: pydantic models that forbid extra keys
        rule_key = "rule"
        each((*detail, rule_key), [("lit", r) for r in other_rules[::3]] + list(junk))
        each((*detail, "resourceId"), [("lit", "fuzz-gone"), ("lit", UNICODE[1]), *junk])
        # The CLI may leave resourceType out (null): the fix's own type is meant then.
        optional = shape == "cli"
        each(
            (*detail, "resourceType"),
            [("lit", t) for t in other_types[::2]]
            + [v for v in junk if not (optional and v == ("lit", None))],
        )
        each((*detail, "actor"), [("lit", ""), ("huge", 1), ("lit", 5), ("lit", None)])
        ops += [Op("put", (*detail, key), ("lit", "1")) for key in NEW_KEYS[:3]]
        for key in ("rule", "resourceId", "actor"):
            ops.append(Op("drop", (*detail, key)))
        if shape == "cli":
            each((*detail, "dryRun"), [("lit", "maybe"), ("lit", [True]), ("lit", {})])
            each((*detail, "reason"), [("huge", 2), ("lit", 3), ("lit", {})])
            each(("detail-type",), [("lit", "configguard Rollback Request")])
        elif shape == "rollback":
            each(
                (*detail, "auditId"),
                [
                    ("lit", "0123456789abc-0123456789ab"),
                    ("lit", "../../x"),
                    ("lit", 1),
                ],
            )
            ops.append(Op("drop", (*detail, "auditId")))
        else:
            each((*detail, "accountId"), [("lit", "999999999999"), ("lit", "12345"), *junk])
            each((*detail, "region"), [("lit", "eu-west-1"), *junk])
            each((*detail, "findings"), [("lit", []), ("lit", [{}]), ("lit", "x"), *junk])
            each((*detail, "findings", 0, "Id"), [("lit", ""), ("huge", 1), ("lit", 3)])
            ops.append(Op("drop", (*detail, "findings")))
    return [*ops, *ENVELOPE_DAMAGE]


@dataclass(frozen=True)
class FixCase:
    """A sample trigger, harmless-looking noise, and one damage that invalidates it."""

    shape: str
    noise: tuple[Op, ...]
    damage: Op


def _fix_case(shape: str, doc: dict[str, Any], damage: list[Op]) -> st.SearchStrategy[FixCase]:
    noise = st.lists(_generic_ops(doc, add=False), max_size=2).map(tuple)
    return st.builds(FixCase, st.just(shape), noise, st.sampled_from(damage))


def fix_cases(
    samples: dict[str, dict[str, Any]], fix: registry.RemediationSpec
) -> st.SearchStrategy[FixCase]:
    return st.one_of(
        *(_fix_case(shape, doc, _shape_damage(shape, doc, fix)) for shape, doc in samples.items())
    )


def build_dict_event(sample: dict[str, Any], ops: tuple[Op, ...]) -> Built:
    """An EventBridge-shaped event (a dict, as Lambda hands it over) with `ops` applied."""
    doc = copy.deepcopy(sample)
    built = Built(doc)
    for op in ops:
        doc = apply(doc, op, built)
    built.event = doc
    return built


# --------------------------------------------------------------------- router events


def _router_targeted(doc: dict[str, Any]) -> list[Op]:
    ops: list[Op] = list(ENVELOPE_DAMAGE)
    findings = doc["detail"]["findings"]
    ops += [
        Op("set", ("detail", "findings"), v)
        for v in (
            ("lit", []),
            ("lit", {}),
            ("lit", "[]"),
            ("lit", [7]),
            ("lit", [None]),
            ("lit", [{}]),
        )
    ]
    for index, finding in enumerate(findings):
        base: JsonPath = ("detail", "findings", index)
        arn = finding["Resources"][0]["Id"]
        for key in ("ProductFields", "Compliance", "Workflow", "Note", "Resources"):
            ops += [
                Op("set", (*base, key), v)
                for v in (
                    ("lit", []),
                    ("lit", "x"),
                    ("lit", 3),
                    ("lit", None),
                    ("lit", {}),
                )
            ]
        ops += [
            Op("set", (*base, key), v)
            for key in ("Id", "ProductArn", "UpdatedAt", "AwsAccountId", "Region", "RecordState")
            for v in (
                ("lit", 5),
                ("huge", 64),
                ("lit", ""),
                ("lit", {"a": 1}),
                ("lit", UNICODE[5]),
            )
        ]
        ops += [
            Op("set", (*base, "Resources", 0, "Id"), ("lit", v))
            for v in (
                _foreign_arn(arn, region="eu-west-1"),
                _foreign_arn(arn, account="999999999999"),
                "arn:aws:kms:us-east-1:123456789012:alias/x",
                arn.replace("arn:", "urn:"),
                42,
            )
        ]
        ops += [Op("set", (*base, "Resources", 0), ("lit", v)) for v in (5, "x", [])]
        ops += [
            Op("set", (*base, "Compliance", "SecurityControlId"), v)
            for v in (
                ("lit", "KMS.4"),
                ("lit", "Lambda.1"),
                ("lit", 4),
                ("lit", ["KMS.4"]),
            )
        ]
        ops += [
            Op("set", (*base, "ProductFields", "aws/config/ConfigRuleName"), v)
            for v in (
                ("lit", "kms-key-not-pending-deletion"),
                ("lit", "OrgConfigRule-x"),
                ("lit", 1),
            )
        ]
    return ops


def _router_case(shape: str, doc: dict[str, Any]) -> st.SearchStrategy[FixCase]:
    op = st.one_of(st.sampled_from(_router_targeted(doc)), _generic_ops(doc))
    return st.builds(FixCase, st.just(shape), st.lists(op, max_size=2).map(tuple), op)


def router_cases(samples: dict[str, dict[str, Any]]) -> st.SearchStrategy[FixCase]:
    return st.one_of(*(_router_case(shape, doc) for shape, doc in sorted(samples.items())))
