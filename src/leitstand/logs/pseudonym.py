"""No personal data in log lines: user names, e-mail addresses and IP addresses become pseudonyms.

A pseudonym is ``pn:`` and the first 16 hex digits of HMAC-SHA256 over the value with the
policy's key (``logs.pseudonym_key``, a reference ``env:NAME`` or ``file:path`` like the backup
keys). The same value and key always give the same pseudonym, so log lines about one person can
still be followed; without the key a pseudonym cannot be turned back by hashing guesses. A
compliance officer holding the key re-identifies one: ``reidentify(pseudonym, candidates, key)``
finds which candidate (user names from the user list, addresses from a ticket) maps to it.

What :class:`LogPseudonymiser` (a structlog processor) replaces in each event:

- the whole value of a field named in ``logs.pseudonymise_fields`` (``user``, ``actor``,
  ``email``, ``client_ip``, ...; case-insensitive, also inside nested mappings and lists);
- in every other string value: e-mail addresses, IPv4 addresses and IPv6 addresses (also
  compressed, with a zone, or IPv4-mapped), wherever they sit in the text.

Values are normalised first, so one person gets one pseudonym: surrounding blanks go, e-mail
addresses are lower-cased, IP addresses take their canonical form (``2001:DB8:0::1`` is
``2001:db8::1``; ``::ffff:10.0.0.1`` is ``10.0.0.1``). Pseudonyms are left as they are, so the
processor can run twice. The key never appears in a log line, a message or a ``repr``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leitstand.errors import ConfigError

if TYPE_CHECKING:
    from leitstand.policy.logs import LogsPolicy

__all__ = [
    "PSEUDONYM",
    "LogPseudonymiser",
    "canonical",
    "load_key",
    "processor_for",
    "pseudonym_of",
    "pseudonymise_text",
    "reidentify",
]

#: What a pseudonym looks like.
PSEUDONYM = re.compile(r"pn:[0-9a-f]{16}")
_PREFIX = "pn:"

# Fields that never hold personal data: not searched (the timestamp and the request id would
# otherwise be scanned for IPv6 candidates on every line).
_SKIP = frozenset({"timestamp", "level", "logger", "request_id", "trace_id", "span_id"})
_SKIPPED, _PERSONAL, _SEARCHED = 0, 1, 2
_PLAIN = frozenset({int, float, bool})

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
# A candidate only (two colons or more); ipaddress decides (a MAC address or a time stays).
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.-]+)?(?![\w:]|\.\d)"
)


def _key_bytes(key: bytes | str) -> bytes:
    return key.encode("utf-8") if isinstance(key, str) else key


def canonical(value: str) -> str:
    """The form of ``value`` that is hashed: stripped; e-mail lower-cased; IPs canonical."""
    text = value.strip()
    if "@" in text:
        return text.lower()
    if ":" in text or text.count(".") == 3:
        try:
            address = ipaddress.ip_address(text.partition("%")[0])
        except ValueError:
            return text
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(address)
    return text


def _digest(key: bytes, text: str) -> str:
    return _PREFIX + hmac.digest(key, text.encode("utf-8"), "sha256").hex()[:16]


def pseudonym_of(value: str, key: bytes | str) -> str:
    """The pseudonym of ``value`` under ``key`` (``pn:`` + 16 hex digits)."""
    return _digest(_key_bytes(key), canonical(value))


def reidentify(pseudonym: str, candidates: Iterable[str], key: bytes | str) -> str | None:
    """The candidate whose pseudonym under ``key`` is ``pseudonym``, else None."""
    wanted = pseudonym.strip()
    raw = _key_bytes(key)
    for candidate in candidates:
        if hmac.compare_digest(_digest(raw, canonical(candidate)), wanted):
            return candidate
    return None


def pseudonymise_text(text: str, key: bytes | str) -> str:
    """``text`` with every e-mail, IPv4 and IPv6 address in it replaced by its pseudonym."""
    return LogPseudonymiser(_key_bytes(key), ()).text(text)


class LogPseudonymiser:
    """A structlog processor: personal fields and addresses in text become pseudonyms.

    ``key`` is the key itself (see :func:`load_key`); ``fields`` names the personal fields
    (the policy's ``logs.pseudonymise_fields``).
    """

    __slots__ = ("_cache", "_fields", "_key", "_kinds")

    _CACHE_SIZE = 4096

    def __init__(self, key: bytes | str, fields: Iterable[str]) -> None:
        raw = _key_bytes(key)
        if not raw:
            raise ValueError("the pseudonym key is empty")
        self._key = raw
        self._fields = frozenset(name.lower() for name in fields)
        # Pseudonyms of values seen recently (users and addresses repeat); bounded.
        self._cache: dict[str, str] = {}
        self._kinds: dict[str, int] = {}  # per field name: skipped, personal or searched

    def __repr__(self) -> str:
        return f"LogPseudonymiser(fields={sorted(self._fields)})"

    def pseudonym(self, value: str) -> str:
        """The pseudonym of ``value`` (a pseudonym stays as it is)."""
        found = self._cache.get(value)
        if found is not None:
            return found
        found = value if PSEUDONYM.fullmatch(value) else _digest(self._key, canonical(value))
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[value] = found
        return found

    def _replace(self, match: re.Match[str]) -> str:
        return self.pseudonym(match.group(0))

    def _ipv6(self, match: re.Match[str]) -> str:
        found = match.group(0)
        try:
            ipaddress.IPv6Address(found.partition("%")[0])
        except ValueError:
            return found
        return self.pseudonym(found)

    def text(self, text: str) -> str:
        """``text`` with its e-mail, IPv4 and IPv6 addresses replaced."""
        # Cheap tests first: an IPv6 address has "::" or six colons at least (seven, or six
        # before an IPv4 tail), an IPv4 address three dots. IPv6 goes first, so that an
        # IPv4-mapped address is one pseudonym and the colon of "pn:" is not counted.
        if "::" in text or text.count(":") >= 6:
            text = _IPV6.sub(self._ipv6, text)
        if "@" in text:
            text = _EMAIL.sub(self._replace, text)
        if text.count(".") >= 3:
            text = _IPV4.sub(self._replace, text)
        return text

    def _whole(self, value: Any) -> Any:
        """The value of a personal field: every scalar in it becomes a pseudonym."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str | int | float):
            return self.pseudonym(str(value))
        if isinstance(value, Mapping):
            return {k: self._whole(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._whole(v) for v in value]
        return self.pseudonym(str(value))

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind in _PLAIN or value is None:
            return value
        if isinstance(value, Mapping):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _field(self, name: Any, value: Any) -> Any:
        if isinstance(name, str) and name.lower() in self._fields:
            return self._whole(value)
        return self._value(value)

    def _kind(self, name: str) -> int:
        kinds = self._kinds
        if len(kinds) >= self._CACHE_SIZE:
            kinds.clear()
        if name in _SKIP:
            kind = _SKIPPED
        elif name.lower() in self._fields:
            kind = _PERSONAL
        else:
            kind = _SEARCHED
        kinds[name] = kind
        return kind

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        kinds = self._kinds
        for name, value in event.items():
            kind = kinds.get(name)
            if kind is None:
                kind = self._kind(str(name))
            if kind == _SKIPPED:
                continue
            if type(value) is str:
                if kind == _PERSONAL:
                    event[name] = self.pseudonym(value)
                elif "@" in value or "." in value or ":" in value:
                    event[name] = self.text(value)
            elif kind == _PERSONAL:
                event[name] = self._whole(value)
            elif value is not None and type(value) not in _PLAIN:
                event[name] = self._value(value)
        return event


def _resolve(where: str, home: Path) -> Path:
    path = Path(where).expanduser()
    return path if path.is_absolute() else (home / path).resolve()


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: read that one
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load_key(
    ref: str, home: Path, *, field: str = "logs.pseudonym_key", create: bool = False
) -> bytes:
    """The key that ``ref`` (``env:NAME`` or ``file:path``) points to, read as the backup keys
    are: a relative file is below the leitstand ``home`` and must be owner-only; with
    ``create`` a missing file is generated (384 bits). Errors name the place, never the key."""
    kind, _, where = ref.partition(":")
    if kind == "env":
        value = os.environ.get(where, "").strip()
        if not value:
            raise ConfigError(f"{field}: environment variable {where} is not set")
        return value.encode("utf-8")
    if kind != "file" or not where.strip():
        raise ConfigError(f"{field}: env:VARIABLE or file:/path/to/key (got {kind!r})")
    path = _resolve(where, home)
    if not path.exists():
        if not create:
            raise ConfigError(f"{field}: key file {path} does not exist")
        _write_new_key(path)
    try:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{field}: key file {path} is readable by others: chmod 600 {path}")
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{field}: cannot read key file {path} ({exc.strerror})") from None
    if not value:
        raise ConfigError(f"{field}: key file {path} is empty")
    return value.encode("utf-8")


def processor_for(logs: LogsPolicy, home: Path, *, create: bool = True) -> LogPseudonymiser | None:
    """The processor the policy asks for, with its key loaded (a missing key file is generated
    unless ``create`` is false); None when the policy sets no ``pseudonym_key``."""
    if logs.pseudonym_key is None:
        return None
    key = load_key(logs.pseudonym_key, home, create=create)
    return LogPseudonymiser(key, logs.pseudonymise_fields)
