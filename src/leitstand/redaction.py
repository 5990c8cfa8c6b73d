"""Secret redaction for ledger payloads and log lines: by key name and by value pattern.

Two ways a secret is recognised:

- **Key names**: the value of a key like ``password``, ``pwd``, ``token``, ``api_key``, ``dsn``,
  ``authorization`` or ``cookie`` is replaced by ``[redacted]``.
- **Value patterns**, in every string wherever it sits: the password of a URL with credentials
  (``postgresql://app:[redacted]@db/app``), ``password=``/``pwd=`` pairs of a DSN, ``Bearer`` and
  ``Basic`` credentials, JWTs, PEM private key blocks, and API keys of known formats (leitstand's
  own ``lst_`` tokens, GitHub, GitLab, AWS, Slack, Stripe, Google). Only the secret part is
  replaced; hex digests and other long ids stay (the ledger is full of SHA-256 values).

Check results are never redacted: under a secret-looking key, booleans, numbers, ``null`` and
verdict words (``pass``, ``fail``, ``skip``, ``ok``, ...) stay, so a gate run's
``security.secrets: "pass"`` or a ``secrets_found: 3`` reaches the auditor. Objects under such a
key keep their descriptive fields (``status``, ``file``, ``line``, ...) and lose their other text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

__all__ = ["REDACTED", "RESULT_WORDS", "is_secret_key", "redact", "redact_text"]

REDACTED = "[redacted]"
_SCALARS = frozenset({str, int, float, bool, type(None)})
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[_-]?key|private[_-]?key|authorization|credential"
    r"|cookie|dsn|session[_-]?id|access[_-]?key)",
    re.IGNORECASE,
)
# Verdicts and states: what a check reports, never a secret.
RESULT_WORDS = frozenset(
    {
        "pass", "passed", "fail", "failed", "skip", "skipped", "ok", "error", "warn",
        "warning", "unknown", "none", "found", "clean", "true", "false", "yes", "no",
        "success", "succeeded", "failure", "incomplete", "pending", "running", "missing",
        "present", "absent", "valid", "invalid", "expired", "revoked", "active", "disabled",
        "enabled", "n/a", "not_run", REDACTED,
    }
)  # fmt: skip
# Keys that describe a result inside an object under a secret-looking key.
_DESCRIPTIVE_KEYS = frozenset(
    {
        "status", "result", "outcome", "verdict", "state", "check", "gate", "id", "kind",
        "type", "rule", "file", "path", "line", "severity", "title", "label", "stage",
        "detector", "tool", "files", "paths", "lines",
    }
)  # fmt: skip

_KNOWN_KEYS = (
    r"lst_[A-Za-z0-9_-]{20,}"  # leitstand API tokens
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|AIza[0-9A-Za-z_-]{35}"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys (RSA, EC, OPENSSH, ENCRYPTED, plain), also cut off ones.
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        REDACTED,
    ),
    # JSON Web Tokens: header.payload.signature, base64url of '{"...'.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # URLs with credentials: keep scheme, user and host, drop the password.
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/]+(?=@)"), r"\1" + REDACTED),
    # HTTP credentials.
    (
        # The credential has a digit or one of + / = _ (base64), so "Basic monitoring" stays.
        re.compile(
            r"\b(Bearer|Basic|Token|Digest)(\s+)(?=[A-Za-z0-9._~+/=-]*[0-9+/=_])"
            r"[A-Za-z0-9._~+/=-]{8,}",
            re.IGNORECASE,
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"\b(?:" + _KNOWN_KEYS + r")"), REDACTED),
)
# key=value pairs inside text (DSNs, connection strings, query strings, config lines).
# Passwords also as "password: x" (YAML, logs); tokens and keys only as "token=x", so that text
# like "API-Token: erstellt" stays.
_PAIR = re.compile(
    r"\b(?:(password|passwd|pwd|secret|client[_-]?secret|sslpassword)(\s*[=:]\s*)"
    r"|(token|access[_-]?token|api[_-]?key|apikey|access[_-]?key)(\s*=\s*))"
    r"(\"[^\"]*\"|'[^']*'|[^\s&;,'\"]+)",
    re.IGNORECASE,
)
# A necessary condition for any pattern above to match, as one regex over lower-cased ASCII text:
# for each pattern a part it cannot match without (PEM's "private key-----", a JWT's ".eyJ", a
# URL's "://user:x@", an HTTP scheme word and its blank, a known key's prefix, a pair's key word
# and separator), each written to start at a rare character and look behind from there: the
# regex engine only stops at those characters (about 5 times faster than the plain words).
# "ASIA" (AWS) has no rare character and is tested as a substring. No anchors or \b, so the
# test also holds for several values joined by "\0": a match in one value is a match in the
# joined text.
_PREFILTER_SOURCE = (
    r"k(?:ey(?:-----|\s*=)|(?<=tok)en[\s=]|(?<=ak)ia|(?<=[sr]k)_(?:live|test)_)"
    r"|j(?<=\.eyj)"
    r"|_(?:(?<=lst_)|(?<=gh[pousr]_)|(?<=github_)pat_)"
    r"|-(?<=glpat-)"
    r"|xox[abposr]-"
    r"|z(?<=aiz)a"
    r"|://[^\s:/@]*:[^\s/]+@"
    r"|b(?:earer|asic)\s"
    r"|g(?<=dig)est\s"
    r"|w(?:(?<=passw)(?:or)?d|(?<=pw)d)\s*[=:]"
    r"|c(?<=sec)ret\s*[=:]"
)
_PREFILTER_ASCII = re.compile(_PREFILTER_SOURCE)  # on text.lower() of ASCII text
# Any other text: case-insensitive on the text itself, so Unicode case equivalents ("ſ" for "s",
# the Kelvin sign for "k") that the IGNORECASE patterns accept are not missed.
_PREFILTER_ANY = re.compile(_PREFILTER_SOURCE, re.IGNORECASE)
# Key names known not to name a secret, for one C-level subset test per flat event (bounded:
# log and payload keys are a small fixed vocabulary; past the bound keys go to is_secret_key).
_PLAIN_KEYS: set[str] = set()
_PLAIN_KEYS_MAX = 4096


def _may_hold_secret(text: str) -> bool:
    """False only when no pattern can match ``text`` (a cheap test before the patterns)."""
    if "ASIA" in text:
        return True
    if text.isascii():
        return _PREFILTER_ASCII.search(text.lower()) is not None
    return _PREFILTER_ANY.search(text) is not None


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True when ``key`` names a secret (payload keys repeat, so the regex runs once per name)."""
    return _SECRET_KEY.search(key) is not None


def _pair(match: re.Match[str]) -> str:
    value = match.group(5).strip("\"'")
    if value.lower() in RESULT_WORDS or value == REDACTED:
        return match.group(0)
    key, separator = match.group(1, 2) if match.group(1) else match.group(3, 4)
    return f"{key}{separator}{REDACTED}"


def redact_text(text: str) -> str:
    """``text`` with every secret recognised by its pattern replaced (no cache: a cache would
    keep the secrets it saw)."""
    if len(text) < 5 or text in RESULT_WORDS:
        return text
    if not _may_hold_secret(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _PAIR.sub(_pair, text)


def _is_result(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and value.strip().lower() in RESULT_WORDS


def _secret_value(value: Any) -> Any:
    """The value of a secret-looking key: results stay, text goes, containers are searched."""
    if _is_result(value):
        return value
    if isinstance(value, Mapping):
        return {
            str(k): (
                _redacted(v)
                if str(k).lower() in _DESCRIPTIVE_KEYS and not is_secret_key(str(k))
                else _secret_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_secret_value(v) for v in value]
    return REDACTED


def _flat_and_clean(event: dict[Any, Any]) -> bool:
    """True when ``event`` (a log line's fields, a ledger payload) has only plain key names that
    name no secret and only scalar values, none of its strings able to hold a secret: then
    ``redact`` would return an equal dict. One subset test for the keys and one prefilter search
    over all strings joined by "\\0"."""
    if not event.keys() <= _PLAIN_KEYS:
        for key in event:
            if key in _PLAIN_KEYS:
                continue
            if type(key) is not str or is_secret_key(key):
                return False
            if len(_PLAIN_KEYS) < _PLAIN_KEYS_MAX:
                _PLAIN_KEYS.add(key)
    texts: list[str] = []
    for item in event.values():
        kind = type(item)
        if kind is str:
            texts.append(item)
        elif kind not in _SCALARS:
            return False
    return not texts or not _may_hold_secret("\0".join(texts))


def redact(value: Any) -> Any:
    """Redact secrets recursively (key names and value patterns); secrets never enter the
    ledger or a log line, check results always do. A dict with nothing to redact in it (a flat
    log line without secrets) is returned itself, without a copy; otherwise the result is new
    (containers are copied, tuples become lists, keys become strings)."""
    if type(value) is dict and _flat_and_clean(value):
        return value
    return _redacted(value)


def _redacted(value: Any) -> Any:
    """``redact``, always with new containers (nested values are never shared with the input)."""
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind in _SCALARS:  # the common case, without the slower ABC check below
        return value
    if isinstance(value, Mapping):
        return {
            str(k): (_secret_value(v) if is_secret_key(str(k)) else _redacted(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
