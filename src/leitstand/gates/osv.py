"""OSV vulnerability data: a local folder or osv-scanner ``all.zip``, or the OSV API; matching.

Matching follows the OSV schema: explicit ``versions`` or ``ECOSYSTEM``/``SEMVER`` ranges of
``introduced``/``fixed``/``last_affected``/``limit`` events, evaluated in the ecosystem's
ordering: PEP 440 for PyPI, dpkg's for ``Debian:<release>`` (``gates.debversion``).
Scores are computed from the CVSS vectors (``cvss``): v3.x and v4 base scores; the highest wins.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from packaging.version import InvalidVersion, Version

from leitstand.errors import ConfigError
from leitstand.gates.debversion import DebianVersion
from leitstand.gates.project import normalise

__all__ = [
    "PYPI",
    "Ecosystem",
    "OsvDatabase",
    "Score",
    "Vulnerability",
    "affected",
    "debian",
    "folder_index",
    "score",
]

ECOSYSTEM = "PyPI"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Score:
    """A computed CVSS base score."""

    version: str  # "3.1", "4.0", "2.0"
    base: float
    vector: str


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """An OSV record affecting one installed distribution."""

    id: str
    aliases: tuple[str, ...]
    package: str
    version: str
    summary: str
    scores: tuple[Score, ...]
    fixed: tuple[str, ...]

    @property
    def best(self) -> Score | None:
        return max(self.scores, key=lambda s: s.base) if self.scores else None


@functools.lru_cache(maxsize=4096)
def score(kind: str, vector: str) -> Score | None:
    """The base score of a CVSS vector (None when the vector is invalid or unsupported)."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    try:
        if kind == "CVSS_V4" or vector.startswith("CVSS:4"):
            v4 = CVSS4(vector)
            return Score("4.0", float(v4.base_score), vector)
        if kind == "CVSS_V3" or vector.startswith("CVSS:3"):
            v3 = CVSS3(vector)
            return Score(vector.split("/")[0].split(":")[1], float(v3.base_score), vector)
        if kind == "CVSS_V2":
            v2 = CVSS2(vector)
            return Score("2.0", float(v2.base_score), vector)
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return None


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True, slots=True)
class Ecosystem:
    """An OSV ecosystem as matching needs it: its name, the release (``Debian:12``'s ``12``),
    and its version ordering. ``PYPI`` for the dependency scan; ``debian(release)`` for the
    Debian packages of an image."""

    name: str
    release: str | None = None

    def matches(self, value: object) -> bool:
        base, _, release = str(value).partition(":")
        if base != self.name:
            return False
        return not release or release == self.release

    def parse(self, text: str) -> Any | None:
        """The version in this ecosystem's ordering, or None when it does not parse."""
        if self.name == "Debian":
            return DebianVersion.parse(text)
        return _version(text)

    def package_key(self, name: str) -> str:
        """How the ecosystem compares package names: PyPI's normalised form; Debian's as
        written (its names are lower case already)."""
        return name if self.name == "Debian" else normalise(name)

    def same_package(self, listed: str, name: str) -> bool:
        """Whether an affected entry's package name is ``name`` (a ``package_key``)."""
        return self.package_key(listed) == name


PYPI = Ecosystem(ECOSYSTEM)


def debian(release: str) -> Ecosystem:
    """The ``Debian:<release>`` ecosystem (its records name source packages)."""
    return Ecosystem("Debian", release)


def _in_range(version: Any, events: list[dict[str, str]], eco: Ecosystem = PYPI) -> bool:
    # The OSV schema's evaluation: walk the events in version order.
    zero = eco.parse("0")

    def bound_of(value: str) -> Any | None:
        return zero if value == "0" else eco.parse(value)

    usable = [
        (kind, bound)
        for event in events
        if len(event) == 1
        for kind, value in event.items()
        if (bound := bound_of(str(value))) is not None
    ]
    usable.sort(key=lambda item: item[1])
    vulnerable = False
    for kind, bound in usable:
        if kind == "introduced" and version >= bound:
            vulnerable = True
        elif (
            (kind == "fixed" and version >= bound)
            or (kind == "last_affected" and version > bound)
            or (kind == "limit" and version >= bound)
        ):
            vulnerable = False
    return vulnerable


def affected(
    record: dict[str, Any], name: str, version: str, eco: Ecosystem = PYPI
) -> dict[str, Any] | None:
    """The ``affected`` entry of ``record`` that covers ``name==version``, if any."""
    parsed = eco.parse(version)
    for entry in record.get("affected", []):
        package = entry.get("package", {})
        if not eco.matches(package.get("ecosystem")) or not eco.same_package(
            str(package.get("name", "")), name
        ):
            continue
        listed = [str(v) for v in entry.get("versions", []) or []]
        if version in listed or (
            parsed is not None and any(eco.parse(v) == parsed for v in listed)
        ):
            return dict(entry)
        if parsed is None:
            continue
        for rng in entry.get("ranges", []):
            if rng.get("type") in ("ECOSYSTEM", "SEMVER") and _in_range(
                parsed, rng.get("events", []), eco
            ):
                return dict(entry)
    return None


def _scores(record: dict[str, Any], entry: dict[str, Any]) -> tuple[Score, ...]:
    found: list[Score] = []
    for item in [*record.get("severity", []), *entry.get("severity", [])]:
        computed = score(str(item.get("type")), str(item.get("score", "")))
        if computed is not None and computed not in found:
            found.append(computed)
    return tuple(found)


def _fixed(entry: dict[str, Any], version: str, eco: Ecosystem = PYPI) -> tuple[str, ...]:
    """The fixed versions of ``entry``; those above ``version`` when there are any."""
    every = [
        str(event["fixed"])
        for rng in entry.get("ranges", [])
        if rng.get("type") in ("ECOSYSTEM", "SEMVER")
        for event in rng.get("events", [])
        if "fixed" in event
    ]
    current = eco.parse(version)
    later = [
        f for f in every if current is not None and (v := eco.parse(f)) is not None and v > current
    ]
    return tuple(dict.fromkeys(later or every))


def to_vulnerability(
    record: dict[str, Any], name: str, version: str, eco: Ecosystem = PYPI
) -> Vulnerability | None:
    """A Vulnerability when ``record`` affects ``name==version`` and is not withdrawn."""
    if record.get("withdrawn"):
        return None
    entry = affected(record, name, version, eco)
    if entry is None:
        return None
    return Vulnerability(
        id=str(record["id"]),
        aliases=tuple(record.get("aliases", [])),
        package=name,
        version=version,
        summary=str(record.get("summary") or record.get("details", "")[:200] or record["id"]),
        scores=_scores(record, entry),
        fixed=_fixed(entry, version, eco),
    )


class OsvDatabase:
    """OSV records of one ecosystem family (PyPI, or Debian with any release), looked up by
    normalised package name.

    A folder (OSV JSON or YAML files, nested folders allowed, such as the PyPA advisory
    database's ``vulns/<package>/<id>.yaml``) is indexed once: a cheap text scan maps package
    names to the files that may mention them, and only those files are parsed when a package is
    looked up. The index is cached under ``~/.cache/leitstand/osv-index`` keyed by the folder's
    file list, sizes and modification times.
    """

    def __init__(
        self, records: Iterable[dict[str, Any]], *, source: str, ecosystem: Ecosystem = PYPI
    ) -> None:
        self.source = source
        self.ecosystem = ecosystem
        self.count = 0
        self._by_package: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._files: dict[str, list[str]] = {}
        self._parsed: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()
        for record in records:
            self.count += 1
            for name in _names(record, ecosystem):
                self._by_package[name].append(record)

    @classmethod
    def load(
        cls, path: Path, *, ecosystem: Ecosystem = PYPI, setting: str = "gates.osv.path"
    ) -> OsvDatabase:
        """Read a folder of OSV JSON/YAML files, an ``all.zip``, or a folder with one."""
        if not path.exists():
            raise ConfigError(f"{setting}: {path} does not exist")
        if path.is_file():
            return cls(_from_zip(path, setting), source=str(path), ecosystem=ecosystem)
        for candidate in (
            path / ecosystem.name / "all.zip",
            path / "osv-scanner" / ecosystem.name / "all.zip",
        ):
            if candidate.is_file():
                return cls(
                    _from_zip(candidate, setting), source=str(candidate), ecosystem=ecosystem
                )
        database = cls((), source=str(path), ecosystem=ecosystem)
        database._files = folder_index(path)
        database.count = len({f for files in database._files.values() for f in files})
        return database

    def _records(self, key: str) -> list[dict[str, Any]]:
        records = list(self._by_package.get(key, []))
        for file in self._files.get(key, []):
            with self._lock:
                if file not in self._parsed:
                    self._parsed[file] = _read_record(Path(file))
                record = self._parsed[file]
            if record is not None and key in _names(record, self.ecosystem):
                records.append(record)
        return records

    def find(
        self, name: str, version: str, ecosystem: Ecosystem | None = None
    ) -> list[Vulnerability]:
        """The advisories affecting ``name`` at ``version``; ``ecosystem`` names the release
        (``debian("12")``) where the database holds several."""
        eco = ecosystem or self.ecosystem
        found = (
            to_vulnerability(r, eco.package_key(name), version, eco)
            for r in self._records(normalise(name))
        )
        return [v for v in found if v is not None]


def _names(record: dict[str, Any], ecosystem: Ecosystem = PYPI) -> set[str]:
    """The normalised package names ``record`` affects in ``ecosystem``'s family."""
    return {
        normalise(a.get("package", {}).get("name", ""))
        for a in record.get("affected", []) or []
        if isinstance(a, dict)
        and str(a.get("package", {}).get("ecosystem", "")).partition(":")[0] == ecosystem.name
    }


def _from_zip(path: Path, setting: str = "gates.osv.path") -> Iterator[dict[str, Any]]:
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if member.endswith(".json"):
                    yield json.loads(zf.read(member))
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConfigError(f"{setting}: {path} is not an OSV all.zip ({exc})") from exc


_SUFFIXES = (".json", ".yaml", ".yml")
# Every ``name`` value in a file: a superset of its affected package names (YAML or JSON).
_NAME_RE = re.compile(r"""(?m)(?:^[ \t-]*name:[ \t]*["']?([^"'\s#]+)|"name"\s*:\s*"([^"]+)")""")
_INDEX_VERSION = 1


def _read_record(file: Path) -> dict[str, Any] | None:
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"gates.osv.path: {file} is not an OSV record ({exc})") from None
    return data if isinstance(data, dict) else None


def _scan(folder: Path) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(_SUFFIXES) and entry.is_file():
                    stat = entry.stat()
                    out.append((entry.path, stat.st_size, stat.st_mtime_ns))
    out.sort()
    return out


def _cache_file(folder: Path) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:24]
    return Path(base) / "leitstand" / "osv-index" / f"{digest}.json"


@functools.lru_cache(maxsize=8)
def _cached_index(folder: str, signature: str) -> dict[str, list[str]]:
    cache = _cache_file(Path(folder))
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("signature") == signature and data.get("version") == _INDEX_VERSION:
            return {str(k): [str(f) for f in v] for k, v in data["index"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    index: dict[str, list[str]] = defaultdict(list)
    for file, _size, _mtime in _scan(Path(folder)):
        try:
            text = Path(file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _NAME_RE.finditer(text):
            name = normalise(match.group(1) or match.group(2))
            if not index[name] or index[name][-1] != file:
                index[name].append(file)
    result = dict(index)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        payload = {"version": _INDEX_VERSION, "signature": signature, "index": result}
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        pass  # a read-only home: the index is rebuilt next time
    return result


def folder_index(folder: Path) -> dict[str, list[str]]:
    """Package name -> files that may hold records for it (cached; rebuilt when files change)."""
    resolved = folder.resolve()
    files = _scan(resolved)
    signature = hashlib.sha256(
        "\n".join(f"{name}|{size}|{mtime}" for name, size, mtime in files).encode()
    ).hexdigest()
    return _cached_index(str(resolved), signature)


def query_api(url: str, packages: list[tuple[str, str]], *, timeout: float) -> list[Vulnerability]:
    """Ask the OSV API (``/v1/querybatch``, then ``/v1/vulns/{id}``) about installed packages."""
    base = url.rstrip("/")
    found: list[Vulnerability] = []
    with httpx.Client(timeout=timeout) as client:
        queries = [
            {"package": {"name": name, "ecosystem": ECOSYSTEM}, "version": version}
            for name, version in packages
        ]
        results: list[dict[str, Any]] = []
        for start in range(0, len(queries), 1000):
            response = client.post(
                f"{base}/v1/querybatch", json={"queries": queries[start : start + 1000]}
            )
            response.raise_for_status()
            results += response.json().get("results", [])
        records: dict[str, dict[str, Any]] = {}
        for (name, version), result in zip(packages, results, strict=False):
            for item in result.get("vulns", []) or []:
                vid = str(item["id"])
                if vid not in records:
                    detail = client.get(f"{base}/v1/vulns/{vid}")
                    detail.raise_for_status()
                    records[vid] = detail.json()
                vuln = to_vulnerability(records[vid], normalise(name), version)
                if vuln is not None:
                    found.append(vuln)
    return found
