"""Secrets detector: corpus precision/recall, no-leak guarantees, configuration and bounds."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secrets_corpus import ALNUM, B64, CASES, HEX, SECRETS, Case, fake

from configguard import secretscan
from configguard.secretscan import (
    KINDS,
    Detector,
    SecretFinding,
    SecretScanError,
    scan_environment,
)

KEY_ID = fake("AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 9001)
OPAQUE = fake("", 32, ALNUM, 9002)


def _kinds(findings: list[SecretFinding]) -> set[str]:
    return {f.kind for f in findings}


def _ngrams(text: str, size: int = 6) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def _decoded(text: str) -> list[object]:
    """JSON documents a string holds, plainly or base64-encoded (as the detector reads it)."""
    docs: list[object] = []
    candidates = [text]
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = (
            base64.urlsafe_b64decode(padded)
            if "-" in text or "_" in text
            else base64.b64decode(padded)
        )
        candidates.append(raw.decode())
    except ValueError:
        pass
    for candidate in candidates:
        try:
            docs.append(json.loads(candidate))
        except (ValueError, RecursionError):
            continue
    return docs


def _walk(value: str, depth: int = 0) -> tuple[list[str], set[str]]:
    """(string leaves incl. the value itself, JSON keys) of a value, through nesting."""
    leaves, keys = [value], set()
    if depth > 6:
        return leaves, keys
    stack = _decoded(value)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(str(k) for k in node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            more_leaves, more_keys = _walk(node, depth + 1)
            leaves += more_leaves
            keys |= more_keys
    return leaves, keys


def _assert_clean_structure(name: str, findings: list[SecretFinding], keys: set[str]) -> None:
    """Findings hold the variable name, JSON keys (or positions) and fixed kinds only."""
    for finding in findings:
        assert finding.kind in KINDS or re.fullmatch(r"custom pattern \d+", finding.kind)
        assert finding.variable == name or finding.variable.startswith(name + ".")
        tail = finding.variable[len(name) + 1 :]
        for part in tail.split(".") if tail else ():
            shown_key = part in keys and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part)
            assert shown_key or part.isdigit() or re.fullmatch(r"#\d+", part), part


# --- corpus -----------------------------------------------------------------------------


def test_corpus_shape() -> None:
    assert len(CASES) >= 90
    assert {c.secret for c in CASES} == {True, False}
    assert sum(c.secret for c in CASES) >= 40
    assert sum(not c.secret for c in CASES) >= 40
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names identify cases in the docs"


def test_precision_and_recall_on_corpus() -> None:
    tp = fp = fn = tn = 0
    false_pos, false_neg = [], []
    for case in CASES:
        predicted = bool(scan_environment({case.name: case.value}))
        if case.secret and predicted:
            tp += 1
        elif case.secret:
            fn += 1
            false_neg.append(case.name)
        elif predicted:
            fp += 1
            false_pos.append(case.name)
        else:
            tn += 1
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    summary = (
        f"TP={tp} FP={fp} FN={fn} TN={tn} precision={precision:.3f} recall={recall:.3f} "
        f"FP cases={false_pos} FN cases={false_neg}"
    )
    assert precision >= 0.95, summary
    assert recall >= 0.90, summary


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_behaves_as_recorded(case: Case) -> None:
    """`expected` records what the detector reports today (None: nothing), hits and misses."""
    findings = scan_environment({case.name: case.value})
    if case.expected is None:
        assert findings == []
    else:
        assert case.expected in _kinds(findings)
    if case.path is not None:
        assert case.path in {f.variable for f in findings}


# --- never reveal a value ---------------------------------------------------------------


@pytest.mark.parametrize("case", SECRETS, ids=lambda c: c.name)
def test_no_value_text_in_findings_errors_or_reprs(case: Case) -> None:
    findings = scan_environment({case.name: case.value})
    leaves, keys = _walk(case.value)
    _assert_clean_structure(case.name, findings, keys)
    residue = repr(findings).replace("SecretFinding(variable=", "(").replace("kind=", "")
    for finding in findings:  # names and keys are checked above; the rest must be value-free
        residue = residue.replace(repr(finding.variable), "''")
    grams = set().union(*(_ngrams(leaf) for leaf in leaves)) - set().union(
        *(_ngrams(key) for key in keys)
    )
    assert not {g for g in grams if g in residue}
    # A secret pasted into the configuration is not echoed back in errors either.
    for parameter in ("allowlist", "extra_patterns"):
        try:
            Detector.build(**{parameter: ["ok", case.value + "(" * 3]})
        except SecretScanError as exc:
            assert not {g for g in grams if g in str(exc)}
        else:  # pragma: no cover - three open groups never compile
            pytest.fail("invalid pattern accepted")


def test_internal_error_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(text: str) -> set[str]:
        raise ValueError(text)

    monkeypatch.setattr(secretscan, "_format_hits", boom)
    findings = scan_environment({"ANYTHING": OPAQUE})
    assert findings == [SecretFinding("ANYTHING", secretscan.KIND_UNSCANNABLE)]
    assert OPAQUE[:6] not in repr(findings)


# --- configuration ----------------------------------------------------------------------


def test_allowlist_exact_name_and_regex() -> None:
    env = {"DB_PASSWORD": OPAQUE, "TEST_API_KEY": OPAQUE, "OTHER_TOKEN": OPAQUE}
    detector = Detector.build(allowlist=["db_password", r"TEST_.*"])
    assert [f.variable for f in detector.scan(env)] == ["OTHER_TOKEN"]


def test_allowlisted_variable_skips_nested_keys_and_strong_formats() -> None:
    env = {"CONFIG": json.dumps({"password": OPAQUE, "key": KEY_ID})}
    assert scan_environment(env) != []
    assert Detector.build(allowlist=["CONFIG"]).scan(env) == []
    only_password = Detector.build(allowlist=[r"CONFIG\.password"]).scan(env)
    assert only_password == [SecretFinding("CONFIG.key", "AWS access key id")]


def test_extra_patterns_are_numbered() -> None:
    detector = Detector.build(extra_patterns=[r"corp-[0-9]{6}", r"(?i)internal-[a-z]{4}"])
    findings = detector.scan({"A": "id corp-123456", "B": "INTERNAL-abcd", "C": "corp-12"})
    assert findings == [
        SecretFinding("A", "custom pattern 1"),
        SecretFinding("B", "custom pattern 2"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"allowlist": ["OK", "bad(["]}, "allowlist item 2 is not a valid regular expression"),
        ({"extra_patterns": ["[z-a]"]}, "extra_patterns item 1 is not a valid regular expression"),
        ({"extra_patterns": ["x*"]}, "extra_patterns item 1 matches the empty string"),
        ({"allowlist": ["A" * 513]}, "allowlist item 1 is longer than 512 characters"),
        ({"allowlist": ["  "]}, "allowlist item 1 must be a non-empty string"),
        ({"extra_patterns": [3]}, "extra_patterns item 1 must be a non-empty string"),
        ({"allowlist": ["A"] * 257}, "allowlist has more than 256 items"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, list[object]], message: str) -> None:
    with pytest.raises(SecretScanError) as info:
        Detector.build(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "bad([" not in str(info.value) and "[z-a]" not in str(info.value)


# --- structure --------------------------------------------------------------------------


def test_json_values_use_nested_keys_as_context() -> None:
    env = {
        "APP": json.dumps(
            {"db": {"user": "app", "password": OPAQUE}, "items": [{"token": OPAQUE}]}
        ),
        "PLAIN": json.dumps({"requestId": OPAQUE}),  # not a secret name: opaque ids are fine
    }
    assert scan_environment(env) == [
        SecretFinding("APP.db.password", secretscan.KIND_ENTROPY),
        SecretFinding("APP.items.0.token", secretscan.KIND_ENTROPY),
    ]


def test_json_keys_that_are_not_identifiers_are_shown_by_position() -> None:
    env = {"MAP": json.dumps({"plain": "x", OPAQUE: KEY_ID, KEY_ID: "y"})}
    assert scan_environment(env) == [
        SecretFinding("MAP.#1", "AWS access key id"),
        SecretFinding("MAP.#2", "AWS access key id"),
    ]


def test_json_deeper_than_limit_still_gets_strong_formats() -> None:
    deep: object = {"f": {"password": OPAQUE, "k": KEY_ID}}
    for key in ("e", "d", "c", "b", "a"):
        deep = {key: deep}
    findings = scan_environment({"DEEP": json.dumps(deep)})
    assert findings == [
        SecretFinding("DEEP.a.b.c.d", "AWS access key id"),
        SecretFinding("DEEP.a.b.c.d", secretscan.KIND_SETTING),  # "password": "..." in the blob
    ]


def test_base64_json_is_decoded_and_scanned() -> None:
    secret = base64.b64encode(json.dumps({"db": {"password": OPAQUE}}).encode()).decode()
    config = base64.b64encode(json.dumps({"logLevel": "info", "retries": 3}).encode()).decode()
    assert scan_environment({"CFG": secret}) == [
        SecretFinding("CFG.db.password", secretscan.KIND_ENTROPY)
    ]
    assert scan_environment({"CFG_SECRET": config}) == []


def test_strong_format_wins_inside_benign_text_but_not_inside_references() -> None:
    assert _kinds(scan_environment({"NOTE": f"rotated on 2024-01-01, key {KEY_ID} ok"})) == {
        "AWS access key id"
    }
    assert scan_environment({"REF": "{{resolve:secretsmanager:" + KEY_ID + "}}"}) == []


# --- bounds -----------------------------------------------------------------------------


def test_oversize_values_are_never_a_silent_pass() -> None:
    filler = "lorem ipsum " * 1000  # 12 KB of harmless text
    assert scan_environment({"NOTES": filler}) == []
    assert scan_environment({"NOTES": filler + KEY_ID}) == [
        SecretFinding("NOTES", "AWS access key id")
    ]
    assert scan_environment({"BIG_SECRET": filler}) == [
        SecretFinding("BIG_SECRET", secretscan.KIND_OVERSIZE)
    ]
    assert _kinds(scan_environment({"BLOB": "{" + filler + "}"})) == {secretscan.KIND_OVERSIZE}
    huge = "x " * 40_000 + KEY_ID  # the key sits beyond the 64 KB that is examined
    assert scan_environment({"NOTES": huge}) == [SecretFinding("NOTES", secretscan.KIND_OVERSIZE)]


def test_nested_budget_exhaustion_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secretscan, "MAX_NESTED_CHARS", 10)
    env = {"CFG": json.dumps({"a": "harmless words", "b": "more harmless words"})}
    assert scan_environment(env) == [SecretFinding("CFG", secretscan.KIND_OVERSIZE)]


@pytest.mark.parametrize(
    "value",
    [
        "eyJ" * 21_000,
        "eyJhbGciOi." * 5_000,
        "a:" * 30_000 + "@",
        "x://" * 15_000,
        "AKIA" * 16_000,
        ("A" * 60 + ".") * 1_000,
        "-----BEGIN " * 5_000,
        "a@b." * 15_000,
        "Bearer " * 9_000,
        "password=" * 7_000,
        "{" * 4_000 + "}" * 4_000,
        "[" * 4_000 + "]" * 4_000,
        "/a" * 4_000,
        "1." * 4_000 + "a",
    ],
    ids=lambda v: v[:12],
)
def test_pathological_input_is_fast(value: str) -> None:
    for name in ("NOTES", "DB_PASSWORD"):
        start = time.perf_counter()
        scan_environment({name: value})
        scan_environment({name: value[:8000]})
        assert time.perf_counter() - start < 2.0


def test_sorted_and_deduplicated() -> None:
    env = {
        "Z_TOKEN": fake("ghp_", 36, ALNUM, 1) + " " + fake("ghp_", 36, ALNUM, 2),
        "A_KEY": KEY_ID + "," + KEY_ID,
        "M_SECRET": fake("", 40, HEX, 3),
    }
    findings = scan_environment(env)
    assert [f.variable for f in findings] == ["A_KEY", "M_SECRET", "Z_TOKEN"]
    assert len(findings) == len(set(findings))


def test_non_string_values_are_ignored() -> None:
    assert scan_environment({"A": 1, "B": None}) == []  # type: ignore[dict-item]


# --- properties -------------------------------------------------------------------------

_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True)
_FRAGMENTS = st.sampled_from(
    [c.value for c in CASES]
    + ["://", "@", "eyJ", "{", "}", "=", ":", "AKIA", "-----BEGIN ", "${", "/", " "]
    + [fake("", 40, B64, 7)]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, value=st.text(max_size=300))
def test_random_text_never_raises_or_leaks(name: str, value: str) -> None:
    findings = scan_environment({name: value})
    _assert_clean_structure(name, findings, _walk(value)[1])
    assert secretscan.KIND_UNSCANNABLE not in _kinds(findings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, parts=st.lists(st.one_of(_FRAGMENTS, st.text(max_size=20)), max_size=6))
def test_mixed_fragments_never_raise_or_leak(name: str, parts: list[str]) -> None:
    value = "".join(parts)
    findings = scan_environment({name: value})
    _assert_clean_structure(name, findings, _walk(value)[1])
    assert secretscan.KIND_UNSCANNABLE not in _kinds(findings)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=st.dictionaries(
        st.one_of(st.text(max_size=12), st.sampled_from([KEY_ID, "pass word", "a.b", "#1"])),
        st.one_of(st.text(max_size=40), _FRAGMENTS, st.integers()),
        max_size=6,
    )
)
def test_json_keys_in_paths_are_identifiers_or_positions(doc: dict[str, object]) -> None:
    value = json.dumps(doc)
    findings = scan_environment({"DOC": value})
    _assert_clean_structure("DOC", findings, _walk(value)[1])
    assert secretscan.KIND_UNSCANNABLE not in _kinds(findings)
    assert KEY_ID not in repr(findings)
