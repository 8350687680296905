"""Find secrets in Lambda environment variables without ever revealing them.

A scan reports only (variable name, detector kind). No value, nor any part of
one, is returned, logged, raised or shown in a repr. Three stages per value:

1. Pure references (ARNs, SSM parameter paths, ``{{resolve:...}}``, ``${...}``)
   are never secrets and are skipped.
2. Strong formats (AWS key ids, PEM keys, JWTs, vendor tokens, URL credentials,
   custom patterns) are searched anywhere in the value, whatever its name.
3. Only for secret-named variables (password, token, api_key, ...): a value that
   is not benign (number, boolean, URL, path, word-like identifier, ...) and is a
   high-entropy literal is reported.

JSON objects and base64-encoded JSON objects are scanned key by key (depth at
most 4), reported as ``VAR.key.sub``; a JSON key that does not look like a plain
identifier is shown as ``#n`` (its position) so that keys never leak either.

Work is bounded: values longer than 8 KB get only the strong-format stage, over
their first 64 KB, and are reported as "value too large to scan fully" when the
skipped stages could have mattered (secret-named variable, JSON or base64-looking
value, or anything past 64 KB), so a size limit never yields a silent pass.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "KINDS",
    "Detector",
    "SecretFinding",
    "SecretScanError",
    "scan_environment",
]

MAX_VALUE_CHARS = 8 * 1024
"""Values up to this size get every stage."""
MAX_FORMAT_CHARS = 64 * 1024
"""Oversize values get the strong-format stage over this many leading characters."""
MAX_DEPTH = 4
"""Deepest level of JSON / base64-JSON nesting that is decoded."""
MAX_NESTED_CHARS = 64 * 1024
"""Characters of nested strings examined per variable before giving up loudly."""
MAX_PATTERN_CHARS = 512
MAX_PATTERNS = 256

KIND_AWS_KEY_ID = "AWS access key id"
KIND_AWS_SECRET = "AWS secret access key"  # noqa: S105 - a label, not a password
KIND_PEM = "private key (PEM)"
KIND_JWT = "JWT"
KIND_GITHUB = "GitHub token"
KIND_GITLAB = "GitLab token"
KIND_NPM = "npm token"
KIND_SLACK = "Slack token"
KIND_SLACK_WEBHOOK = "Slack webhook URL"
KIND_STRIPE = "Stripe secret key"
KIND_STRIPE_WEBHOOK = "Stripe webhook secret"
KIND_GOOGLE = "Google API key"
KIND_SENDGRID = "SendGrid API key"
KIND_TWILIO_SID = "Twilio key SID in a secret-named variable"
KIND_TWILIO_AUTH = "Twilio auth token"
KIND_URL_CREDS = "URL with credentials"
KIND_AUTH_VALUE = "credential in an Authorization value"
KIND_SETTING = "secret in a key=value setting"
KIND_ENTROPY = "high-entropy value in a secret-named variable"
KIND_OVERSIZE = "value too large to scan fully"
KIND_UNSCANNABLE = "value could not be scanned"
CUSTOM_KIND = "custom pattern {}"

KINDS: frozenset[str] = frozenset(
    {
        KIND_AWS_KEY_ID,
        KIND_AWS_SECRET,
        KIND_PEM,
        KIND_JWT,
        KIND_GITHUB,
        KIND_GITLAB,
        KIND_NPM,
        KIND_SLACK,
        KIND_SLACK_WEBHOOK,
        KIND_STRIPE,
        KIND_STRIPE_WEBHOOK,
        KIND_GOOGLE,
        KIND_SENDGRID,
        KIND_TWILIO_SID,
        KIND_TWILIO_AUTH,
        KIND_URL_CREDS,
        KIND_AUTH_VALUE,
        KIND_SETTING,
        KIND_ENTROPY,
        KIND_OVERSIZE,
        KIND_UNSCANNABLE,
    }
)
"""Every built-in kind; custom patterns add ``"custom pattern N"`` (1-based)."""


@dataclass(frozen=True)
class SecretFinding:
    """A secret was found: where (variable or dotted JSON path) and what kind. No value."""

    variable: str
    kind: str


class SecretScanError(ValueError):
    """Invalid detector configuration. Messages name parameter items, never values."""


# --- strong, context-free formats -------------------------------------------------------
# Every pattern starts with a literal or a look-behind boundary so that a failed match
# costs at most one pass over a run of characters: no catastrophic backtracking.

_B64URL = "A-Za-z0-9_-"
_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        KIND_AWS_KEY_ID,
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ),
    (
        KIND_PEM,
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"),
    ),
    (
        KIND_GITHUB,
        re.compile(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})"
        ),
    ),
    (KIND_GITLAB, re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}")),
    (KIND_NPM, re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    (KIND_SLACK, re.compile(r"(?<![A-Za-z0-9-])(?:xox[abprs]|xapp)-[0-9A-Za-z-]{10,}")),
    (
        KIND_SLACK_WEBHOOK,
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9]+/[A-Za-z0-9]+/"),
    ),
    (KIND_STRIPE, re.compile(r"(?<![A-Za-z0-9_])[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    (KIND_STRIPE_WEBHOOK, re.compile(r"(?<![A-Za-z0-9_])whsec_[A-Za-z0-9+/=]{24,}")),
    (KIND_GOOGLE, re.compile(rf"(?<![{_B64URL}])AIza[{_B64URL}]{{35}}(?![{_B64URL}])")),
    (
        KIND_SENDGRID,
        re.compile(rf"(?<![.{_B64URL}])SG\.[{_B64URL}]{{16,32}}\.[{_B64URL}]{{16,64}}"),
    ),
    (
        KIND_AWS_SECRET,
        re.compile(
            r"(?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
        ),
    ),
)
_JWT = re.compile(rf"(?<![.{_B64URL}])(eyJ[{_B64URL}]{{8,}})\.[{_B64URL}]{{4,}}\.[{_B64URL}]*")
_URL_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:]*:([^\s/@]+)@"
)
_URL = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s\"'<>]+")
_AUTH_VALUE = re.compile(r"(?i)(?<![a-z])(?:bearer|token)\s+([A-Za-z0-9._~+/-]{12,}=*)")
_SETTING = re.compile(
    r"(?i)(?<![a-z:/])(?:password|passwd|pwd|secret|token|api_?key|account_?key)[\"']?"
    r"\s*[=:]\s*[\"']?([^\s;,&\"']+)"
)
# Bounded repetitions: a placeholder never needs more, and unclosed ones stay linear.
_PLACEHOLDER = re.compile(
    r"\$\{[^{}]{0,256}\}|\{\{[^{}]{0,256}\}\}|\$[A-Za-z_][A-Za-z0-9_]{0,64}|\$\([^()]{0,256}\)"
    r"|<[^<>]{0,64}>|%[sd]|%\([^()]{0,64}\)s"
)

# --- names ---------------------------------------------------------------------------
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "pass",
        "secret",
        "secrets",
        "token",
        "tokens",
        "credential",
        "credentials",
        "creds",
        "apikey",
        "privatekey",
        "authkey",
        "accesskey",
        "secretkey",
        "signingkey",
    }
)
_SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "credentials")
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("auth", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("master", "key"),
        ("session", "key"),
        ("client", "secret"),
        ("connection", "string"),
    }
)
# A trailing word that makes the variable *about* a secret rather than the secret itself.
_METADATA_TAILS = frozenset(
    {
        "arn",
        "name",
        "id",
        "ids",
        "path",
        "param",
        "parameter",
        "url",
        "uri",
        "endpoint",
        "header",
        "ttl",
        "expiry",
        "expiration",
        "lifetime",
        "timeout",
        "seconds",
        "minutes",
        "hours",
        "days",
        "length",
        "size",
        "min",
        "max",
        "count",
        "region",
        "alias",
        "file",
        "dir",
        "type",
        "algorithm",
        "algo",
        "version",
        "issuer",
        "audience",
        "scope",
        "scopes",
        "provider",
        "policy",
        "enabled",
        "disabled",
        "required",
        "mode",
        "format",
        "prefix",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NAME_SPLIT = re.compile(r"[^a-z0-9]+")


def _name_words(name: str) -> list[str]:
    """Lower-case words of a variable or JSON key name (camelCase and snake_case)."""
    return [w for w in _NAME_SPLIT.split(_CAMEL.sub("_", name).lower()) if w]


def _is_secret_name(name: str) -> bool:
    """True when the name says the value is a secret."""
    words = _name_words(name)
    if any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def _is_metadata_name(name: str) -> bool:
    """True when the name describes a secret (its ARN, TTL, URL, ...) rather than holds it."""
    words = _name_words(name)
    return bool(words) and words[-1] in _METADATA_TAILS


def _says_aws_secret(name: str) -> bool:
    words = _name_words(name)
    return "secret" in words or ("aws" in words and "key" in words) or "secretkey" in words


# --- values ----------------------------------------------------------------------------
_ARN = re.compile(r"arn:aws(?:-[a-z]+){0,3}:[a-z0-9-]+:[a-z0-9-]*:(?:\d{12}|aws)?:\S+")
_RESOLVE = re.compile(r"\{\{resolve:[^{}\s]+\}\}")
_DOLLAR_REF = re.compile(r"\$\{[A-Za-z0-9_.:/@-]+\}")
_PARAM_PATH = re.compile(r"(?:~|\.{1,2})?/?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+/?")
_WORD_SPLIT = re.compile(r"[-_./:,;=+|@\s]+")
_BOOLEAN_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", "nil"}
)
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)*(?:[eE][+-]?\d+)?\s?[A-Za-z%]{0,3}")
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
_HOST = re.compile(r"(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\.?(?::\d{1,5})?")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_TWILIO_SID = re.compile(r"(?:AC|SK)[0-9a-fA-F]{32}")
_AWS_SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_IDENTIFIER_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _is_wordlike_piece(piece: str) -> bool:
    """A word, an identifier word with trailing digits, CamelCase words, or a number."""
    letters = piece.rstrip("0123456789")
    if not letters:
        return True
    if not letters.isalpha():
        return False
    if letters.islower() or letters.isupper():
        return True
    # CamelCase / ACRONYMWord: every lower-case run must be a real hump (2+ letters).
    run = 0
    for char in letters:
        if char.islower():
            run += 1
        else:
            if 0 < run < 2:
                return False
            run = 0
    return run != 1


def _is_wordlike(value: str) -> bool:
    """Plain words, identifiers, CamelCase, kebab/snake words and numbers joined by separators."""
    pieces = [p for p in _WORD_SPLIT.split(value) if p]
    return bool(pieces) and all(_is_wordlike_piece(p) for p in pieces)


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    total = len(value)
    return -sum((n / total) * math.log2(n / total) for n in Counter(value).values())


def _char_classes(value: str) -> int:
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    other = any(not c.isalnum() for c in value)
    return lower + upper + digit + other


def _is_high_entropy_literal(value: str) -> bool:
    """One token of 8+ characters, not word-like, 2+ character classes, high entropy.

    The threshold grows with length (a short string cannot reach a long one's entropy)
    and stops at 3.0 bits per character, which random hex already exceeds.
    """
    if len(value) < 8 or any(c.isspace() for c in value) or _is_wordlike(value):
        return False
    if _char_classes(value) < 2:
        return False
    return _entropy(value) >= min(3.0, 0.8 * math.log2(len(value)))


def _is_reference(value: str) -> bool:
    """Values that point at a secret: ARNs, SSM paths, dynamic references, placeholders."""
    if _ARN.fullmatch(value) or _RESOLVE.fullmatch(value):
        return True
    if _DOLLAR_REF.fullmatch(value):
        return ":-" not in value and ":=" not in value  # a default may be a literal
    if _PARAM_PATH.fullmatch(value):
        segments = [s for s in value.split("/") if s not in ("", ".", "..", "~")]
        return all(_is_wordlike(s) for s in segments)
    return False


def _is_benign(value: str) -> bool:
    """Values that are not secret literals even under a secret-sounding name."""
    if len(value) < 8 or value.lower() in _BOOLEAN_WORDS:
        return True
    if _NUMBER.fullmatch(value) or _ISO_TIME.fullmatch(value):
        return True
    if _URL.fullmatch(value) or _EMAIL.fullmatch(value) or _HOST.fullmatch(value):
        return True
    if "${" in value or "{{" in value or _is_placeholder(value):
        return True  # a template, a placeholder or a masked value
    return _is_wordlike(value) or _is_kms_ciphertext(value)


def _is_kms_ciphertext(value: str) -> bool:
    """A KMS ciphertext blob (Lambda's encryption helpers): encrypted, not a literal.

    Heuristic: base64 whose bytes start like the KMS blobs seen in the wild
    (text prefix ``AQICAH`` / ``AQIDAH``) and long enough to hold a key id and data.
    """
    if len(value) < 100 or not value.startswith(("AQICAH", "AQIDAH")):
        return False
    return _BASE64.fullmatch(value) is not None and _b64decode(value.rstrip("=")) is not None


def _is_placeholder(text: str) -> bool:
    """Only references / template slots (``${X}``, ``<changeme>``), or a mask like ``****``."""
    return not _PLACEHOLDER.sub("", text).strip() or len(set(text)) == 1


def _b64decode(text: str) -> bytes | None:
    """Decode standard or URL-safe base64, padding tolerated; None when it is not base64."""
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_base64_text(value: str) -> str | None:
    """Printable text hidden in a base64 value (JSON, PEM, ...), else None."""
    if len(value) < 16 or not _BASE64.fullmatch(value):
        return None
    raw = _b64decode(value.rstrip("="))
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or not all(c.isprintable() or c in "\r\n\t" for c in text):
        return None
    return text


def _is_jwt_header(segment: str) -> bool:
    raw = _b64decode(segment)
    if raw is None:
        return False
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and ("alg" in header or "typ" in header)


def _parse_json_container(value: str) -> dict[str, object] | list[object] | None:
    if not (value.startswith("{") and value.endswith("}")) and not (
        value.startswith("[") and value.endswith("]")
    ):
        return None
    try:
        parsed: object = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, dict | list):
        return parsed
    return None


def _safe_key(key: str, position: int) -> str:
    """Show a JSON key only when it is a plain identifier; otherwise its position."""
    if _IDENTIFIER_KEY.fullmatch(key) and _is_wordlike(key) and not _format_hits(key):
        return key
    return f"#{position}"


def _format_hits(text: str) -> set[str]:
    """Kinds of the strong, context-free formats found anywhere in `text`."""
    kinds = {kind for kind, pattern in _FORMATS if pattern.search(text)}
    if "eyJ" in text and any(_is_jwt_header(m.group(1)) for m in _JWT.finditer(text)):
        kinds.add(KIND_JWT)
    if "://" in text:
        for match in _URL_USERINFO.finditer(text):
            if not _is_placeholder(match.group(1)):
                kinds.add(KIND_URL_CREDS)
        if KIND_URL_CREDS not in kinds and "?" in text and _url_query_has_secret(text):
            kinds.add(KIND_URL_CREDS)
    for match in _AUTH_VALUE.finditer(text):
        if _is_high_entropy_literal(match.group(1)):
            kinds.add(KIND_AUTH_VALUE)
    if "=" in text or ":" in text:
        for match in _SETTING.finditer(text):
            item = match.group(1)
            if _is_high_entropy_literal(item) and not _is_placeholder(item):
                kinds.add(KIND_SETTING)
    return kinds


def _url_query_has_secret(text: str) -> bool:
    """A secret-named query parameter (``?token=...``) holding a high-entropy literal."""
    for match in _URL.finditer(text):
        try:
            query = urlsplit(match.group(0)).query
        except ValueError:
            continue
        for key, item in parse_qsl(query):
            if (
                _is_secret_name(key)
                and not _is_metadata_name(key)
                and _is_high_entropy_literal(item)
                and not _is_placeholder(item)
            ):
                return True
    return False


def _context_hits(name: str, value: str) -> set[str]:
    """Kinds that depend on the variable's name; `value` is already known not benign."""
    if _says_aws_secret(name):
        for match in _AWS_SECRET_SHAPE.finditer(value):
            candidate = match.group(0)
            if _char_classes(candidate) >= 3 and not _is_wordlike(candidate):
                return {KIND_AWS_SECRET}
    if not _is_secret_name(name):
        return set()
    if _TWILIO_SID.fullmatch(value):
        return {KIND_TWILIO_SID}
    if "twilio" in _name_words(name) and _HEX32.fullmatch(value):
        return {KIND_TWILIO_AUTH}
    if _is_high_entropy_literal(value):
        return {KIND_ENTROPY}
    return set()


@dataclass
class _Budget:
    """Characters of nested content still allowed for one variable."""

    remaining: int = field(default_factory=lambda: MAX_NESTED_CHARS)
    exhausted: bool = False

    def spend(self, amount: int) -> bool:
        self.remaining -= amount
        if self.remaining < 0:
            self.exhausted = True
        return not self.exhausted


@dataclass(frozen=True)
class Detector:
    """Compiled configuration: allowlisted variable names and extra value patterns."""

    allowlist: tuple[re.Pattern[str], ...] = ()
    extra_patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def build(cls, allowlist: Iterable[str] = (), extra_patterns: Iterable[str] = ()) -> Detector:
        """Compile configuration; raise SecretScanError naming the bad item by index."""
        allowed = _compile_all("allowlist", allowlist, re.IGNORECASE)
        extra = _compile_all("extra_patterns", extra_patterns, 0)
        for index, pattern in enumerate(extra, start=1):
            if pattern.search(""):
                raise SecretScanError(f"extra_patterns item {index} matches the empty string")
        return cls(allowlist=allowed, extra_patterns=extra)

    def scan(self, variables: Mapping[str, str]) -> list[SecretFinding]:
        """Findings sorted by variable then kind, one per (variable, kind)."""
        found: set[tuple[str, str]] = set()
        for name, value in variables.items():
            if not isinstance(value, str) or self._allowlisted(name):
                continue
            hits: set[tuple[str, str]] = set()
            try:
                budget = _Budget()
                self._scan_value(name, name, value, 0, budget, hits)
                if budget.exhausted:
                    hits.add((name, KIND_OVERSIZE))
            except Exception:  # an unexpected error must never pass as a clean scan
                hits = {(name, KIND_UNSCANNABLE)}
            found |= hits
        return [SecretFinding(variable=v, kind=k) for v, k in sorted(found)]

    def _allowlisted(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self.allowlist)

    def _strong_hits(self, text: str) -> set[str]:
        kinds = _format_hits(text)
        for index, pattern in enumerate(self.extra_patterns, start=1):
            if pattern.search(text):
                kinds.add(CUSTOM_KIND.format(index))
        return kinds

    def _scan_value(
        self,
        context: str,
        path: str,
        value: str,
        depth: int,
        budget: _Budget,
        out: set[tuple[str, str]],
    ) -> None:
        """Scan one string; `context` is the name (variable or JSON key) it sits under."""
        if len(value) > MAX_VALUE_CHARS:
            self._scan_oversize(context, path, value, out)
            return
        if depth and not budget.spend(len(value)):
            return
        text = value.strip()
        if not text or _is_reference(text):
            return
        if depth < MAX_DEPTH and self._scan_structured(context, path, text, depth, budget, out):
            return
        strong = self._strong_hits(text)
        out.update((path, kind) for kind in strong)
        if strong or _is_metadata_name(context):
            return
        if not (_is_secret_name(context) or _says_aws_secret(context)) or _is_benign(text):
            return
        out.update((path, kind) for kind in _context_hits(context, text))

    def _scan_oversize(
        self, context: str, path: str, value: str, out: set[tuple[str, str]]
    ) -> None:
        """Strong formats over the head; say so loudly when skipped stages could matter."""
        head = value[:MAX_FORMAT_CHARS]
        out.update((path, kind) for kind in self._strong_hits(head))
        if (
            len(value) > MAX_FORMAT_CHARS
            or _is_secret_name(context)
            or head.lstrip()[:1] in ("{", "[")
            or _BASE64.fullmatch(head.strip())
        ):
            out.add((path, KIND_OVERSIZE))

    def _scan_structured(
        self,
        context: str,
        path: str,
        text: str,
        depth: int,
        budget: _Budget,
        out: set[tuple[str, str]],
    ) -> bool:
        """Walk JSON or base64 JSON (True: fully handled); scan other base64 text's formats."""
        container = _parse_json_container(text)
        if container is None:
            decoded = _decode_base64_text(text)
            if decoded is None:
                return False
            container = _parse_json_container(decoded.strip())
            if container is None:
                out.update((path, kind) for kind in self._strong_hits(decoded))
                return False
        self._scan_json(context, path, container, depth + 1, budget, out)
        return True

    def _scan_json(
        self,
        context: str,
        path: str,
        node: object,
        depth: int,
        budget: _Budget,
        out: set[tuple[str, str]],
    ) -> None:
        """Walk decoded JSON; each string is scanned under its own key's name."""
        if budget.exhausted:
            return
        if isinstance(node, str):
            self._scan_value(context, path, node, depth, budget, out)
            return
        if not isinstance(node, dict | list):
            return  # numbers, booleans and null hold no secret
        if depth > MAX_DEPTH:
            # Too deep to walk: still look for strong formats in what is left.
            blob = json.dumps(node)
            if budget.spend(len(blob)):
                out.update((path, kind) for kind in self._strong_hits(blob))
            return
        if isinstance(node, list):
            for index, item in enumerate(node):
                self._scan_json(context, f"{path}.{index}", item, depth + 1, budget, out)
            return
        for position, (key, item) in enumerate(node.items()):
            key_text = str(key)
            shown = _safe_key(key_text, position)
            child = f"{path}.{shown}"
            if self._allowlisted(child):
                continue
            if shown != key_text:
                out.update((child, kind) for kind in self._strong_hits(key_text))
            self._scan_json(key_text, child, item, depth + 1, budget, out)


def _compile_all(parameter: str, items: Iterable[str], flags: int) -> tuple[re.Pattern[str], ...]:
    compiled: list[re.Pattern[str]] = []
    for index, item in enumerate(items, start=1):
        if index > MAX_PATTERNS:
            raise SecretScanError(f"{parameter} has more than {MAX_PATTERNS} items")
        if not isinstance(item, str) or not item.strip():
            raise SecretScanError(f"{parameter} item {index} must be a non-empty string")
        if len(item) > MAX_PATTERN_CHARS:
            raise SecretScanError(
                f"{parameter} item {index} is longer than {MAX_PATTERN_CHARS} characters"
            )
        try:
            compiled.append(re.compile(item.strip(), flags))
        except re.error as exc:
            # exc.msg can quote pattern text (a pasted secret): give the position only.
            raise SecretScanError(
                f"{parameter} item {index} is not a valid regular expression"
                f" (error at position {exc.pos})"
            ) from None
    return tuple(compiled)


_DEFAULT = Detector()


def scan_environment(
    variables: Mapping[str, str], detector: Detector | None = None
) -> list[SecretFinding]:
    """Scan Lambda environment variables with `detector` (default configuration if None)."""
    return (detector or _DEFAULT).scan(variables)
