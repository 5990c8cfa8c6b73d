"""What a secret finding is: its kind, its provider, whether it is a placeholder, a redacted
excerpt and a stable fingerprint (pure functions; the scan's child process imports them).

Kinds: ``provider`` (a provider's token format, the provider named), ``private_key`` (a key
block with key material), and the heuristics ``entropy``, ``keyword``, ``basic_auth`` and
``jwt``. Where a finding is (shipped source, tests, docs, generated/vendored) is decided from its
path by the policy's patterns (:func:`location_of`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

__all__ = [
    "HEURISTICS",
    "KINDS",
    "LOCATIONS",
    "fingerprint",
    "kind_of",
    "location_of",
    "placeholder_reason",
    "redact",
]

KINDS = ("provider", "private_key", "entropy", "keyword", "basic_auth", "jwt")
HEURISTICS = ("entropy", "keyword", "basic_auth", "jwt")
LOCATIONS = ("source", "tests", "docs", "generated")

# detect-secrets' secret types (and leitstand's own detectors) -> (kind, provider).
_TYPES: dict[str, tuple[str, str | None]] = {
    "Private Key": ("private_key", None),
    "Base64 High Entropy String": ("entropy", None),
    "Hex High Entropy String": ("entropy", None),
    "Secret Keyword": ("keyword", None),
    "Basic Auth Credentials": ("basic_auth", None),
    "JSON Web Token": ("jwt", None),
    "AWS Access Key": ("provider", "AWS"),
    "Azure Storage Account access key": ("provider", "Azure"),
    "Azure Entra Client Secret": ("provider", "Azure"),
    "GitHub Token": ("provider", "GitHub"),
    "GitHub Fine-grained Token": ("provider", "GitHub"),
    "GitLab Token": ("provider", "GitLab"),
    "Slack Token": ("provider", "Slack"),
    "Slack Webhook": ("provider", "Slack"),
    "Stripe Access Key": ("provider", "Stripe"),
    "Google API Key": ("provider", "Google"),
    "Google OAuth Client Secret": ("provider", "Google"),
    "SendGrid API Key": ("provider", "SendGrid"),
    "Twilio API Key": ("provider", "Twilio"),
    "Mailchimp Access Key": ("provider", "Mailchimp"),
    "NPM tokens": ("provider", "npm"),
    "PyPI Token": ("provider", "PyPI"),
    "OpenAI Token": ("provider", "OpenAI"),
    "Anthropic API Key": ("provider", "Anthropic"),
    "Hugging Face Token": ("provider", "Hugging Face"),
    "Discord Bot Token": ("provider", "Discord"),
    "Telegram Bot Token": ("provider", "Telegram"),
    "Square OAuth Secret": ("provider", "Square"),
    "Artifactory Credentials": ("provider", "Artifactory"),
    "Cloudant Credentials": ("provider", "IBM Cloudant"),
    "IBM Cloud IAM Key": ("provider", "IBM Cloud"),
    "IBM COS HMAC Credentials": ("provider", "IBM COS"),
    "SoftLayer Credentials": ("provider", "SoftLayer"),
}


def kind_of(secret_type: str) -> tuple[str, str | None]:
    """(kind, provider) of a scanner's secret type; an unknown type counts as a provider's."""
    return _TYPES.get(secret_type, ("provider", secret_type))


# -- placeholders ---------------------------------------------------------------------------

_WORDS = {
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "token",
    "changeme",
    "change_me",
    "change-me",
    "example",
    "sample",
    "dummy",
    "fake",
    "test",
    "testing",
    "placeholder",
    "redacted",
    "none",
    "null",
    "todo",
    "foo",
    "bar",
    "foobar",
    "user",
    "username",
    "admin",
    "key",
    "apikey",
    "api_key",
    "mysecret",
    "my_secret",
    "mypassword",
    "s3cr3t",
    "hunter2",
}
_MARKERS = ("example", "xxxx", "placeholder", "changeme", "change_me", "dummy", "redacted", "****")
_TEMPLATE = re.compile(r"^(<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%\([^)]*\)s|\$[A-Z_][A-Z0-9_]*)$")
_PROSE = re.compile(r"[A-Za-z][A-Za-z ,.:;'()-]*")
_DOC_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
_DOC_HOSTS = re.compile(
    r"(^|\.)(example\.(com|org|net)|example|invalid|test|localhost|localdomain)$", re.IGNORECASE
)
_URL_HOST = re.compile(r"://[^/\s:@'\"]*:[^/\s@'\"]*@(\[[^\]]+\]|[^/\s:'\"?#]+)")
_KEY_BODY = re.compile(r"[A-Za-z0-9+/=]")
_KEY_END = re.compile(r"-----END[ A-Z0-9]*PRIVATE KEY")


def _doc_host(host: str) -> bool:
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return bool(_DOC_HOSTS.search(host))
    return any(address in net for net in _DOC_NETS)


def placeholder_reason(
    kind: str, value: str | None, line: str, following: Sequence[str] = ()
) -> str | None:
    """Why a finding is a placeholder and not a secret (None: it may be a secret).

    Args:
        kind: the finding's kind.
        value: the matched value (None when the scanner did not keep it).
        line: the line it was found on.
        following: the lines after it (a private key's body).
    """
    if kind == "private_key":
        text = line[line.find("-----BEGIN") :] + "\n" + "\n".join(following[:40])
        end = _KEY_END.search(text)
        body = re.sub(r"-----[^-]*-----", "", text[: end.start()] if end else text)
        body = re.sub(r"\\n|\\r", "\n", body)
        material = len(_KEY_BODY.findall(body))
        return None if material >= 64 else "a key header without key material"
    if kind == "basic_auth":
        host = _URL_HOST.search(line)
        if host and _doc_host(host.group(1)):
            return f"a documentation host ({host.group(1)})"
    if value is None:
        return None
    plain = value.strip().strip("'\"`").strip()
    lowered = plain.lower()
    if not plain:
        return "an empty value"
    if lowered in _WORDS or lowered.rstrip("0123456789") in _WORDS:
        return f"a placeholder word ({plain[:12]})"
    if any(marker in lowered for marker in _MARKERS):
        return "a placeholder value"
    if _TEMPLATE.match(plain):
        return "a template reference"
    if kind == "keyword" and " " in plain and _PROSE.fullmatch(plain):
        return "prose, not a secret"
    if len(set(lowered)) <= 2 and len(plain) >= 3:
        return "a repeated character"
    return None


# -- where, fingerprint, excerpt -------------------------------------------------------------


def _matches(path: str, pattern: str) -> bool:
    """A pattern matches the whole path or any one of its parts (``tests`` matches a/tests/b)."""
    if "/" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return any(fnmatch.fnmatchcase(part, pattern) for part in PurePosixPath(path).parts)


def location_of(path: str, patterns: Mapping[str, Sequence[str]]) -> str:
    """``generated``, ``tests``, ``docs`` (first pattern that matches, in that order), else
    ``source``: code and configuration that ships or deploys."""
    lowered = path.lower()
    for location in ("generated", "tests", "docs"):
        if any(_matches(lowered, p.lower()) for p in patterns.get(location, ())):
            return location
    return "source"


def fingerprint(file: str, secret_type: str, hashed_secret: str) -> str:
    """Stable across line moves and re-scans: the file, the type and the secret's hash."""
    return hashlib.sha256(f"{file}\0{secret_type}\0{hashed_secret}".encode()).hexdigest()[:32]


_LONG = re.compile(r"[A-Za-z0-9+/=_\-.~]{16,}")


def _token(text: str) -> bool:
    """A long run of letters and digits (not a word, not already masked)."""
    return "*" not in text and any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def redact(line: str, value: str | None, *, width: int = 120) -> str:
    """The line with the secret masked (first 4 characters kept) and long tokens masked too."""

    def mask(text: str) -> str:
        return text[:4] + "*" * min(max(len(text) - 4, 4), 16)

    out = line.strip()
    if value and len(value) >= 8:  # a short value is a fragment (a token's prefix group)
        out = out.replace(value, mask(value))
    out = _LONG.sub(lambda m: mask(m.group(0)) if _token(m.group(0)) else m.group(0), out)
    return out if len(out) <= width else out[: width - 1] + "…"
