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
# A cheap test whether a string can hold anything the patterns above replace (substring checks
# on the lower-cased text are much faster than one large case-insensitive regex).
_NEEDLES = (
    "private key", "eyj", "://", "bearer", "basic", "token", "digest", "pass", "pwd", "secret",
    "key", "lst_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "akia",
    "asia", "xox", "_live_", "_test_", "aiza",
)  # fmt: skip


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
    low = text.lower()
    if not any(needle in low for needle in _NEEDLES):
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
                redact(v)
                if str(k).lower() in _DESCRIPTIVE_KEYS and not is_secret_key(str(k))
                else _secret_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_secret_value(v) for v in value]
    return REDACTED


def redact(value: Any) -> Any:
    """Redact secrets recursively (key names and value patterns); secrets never enter the
    ledger or a log line, check results always do."""
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind in _SCALARS:  # the common case, without the slower ABC check below
        return value
    if isinstance(value, Mapping):
        return {
            str(k): (_secret_value(v) if is_secret_key(str(k)) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
