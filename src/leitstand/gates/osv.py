"""OSV vulnerability data: a local folder or osv-scanner ``all.zip``, or the OSV API; matching.

Matching follows the OSV schema: explicit ``versions`` or ``ECOSYSTEM``/``SEMVER`` ranges of
``introduced``/``fixed``/``last_affected``/``limit`` events, evaluated with PEP 440 ordering.
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
from leitstand.gates.project import normalise

__all__ = ["OsvDatabase", "Score", "Vulnerability", "affected", "folder_index", "score"]

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


def _in_range(version: Version, events: list[dict[str, str]]) -> bool:
    # The OSV schema's evaluation: walk the events in version order.
    def key(event: dict[str, str]) -> Version:
        ((_kind, value),) = event.items()
        if value == "0":
            return Version("0")
        parsed = _version(value)
        return parsed if parsed is not None else Version("0")

    vulnerable = False
    for event in sorted((e for e in events if len(e) == 1), key=key):
        ((kind, value),) = event.items()
        bound = Version("0") if value == "0" else _version(value)
        if bound is None:
            continue
        if kind == "introduced" and version >= bound:
            vulnerable = True
        elif (
            (kind == "fixed" and version >= bound)
            or (kind == "last_affected" and version > bound)
            or (kind == "limit" and version >= bound)
        ):
            vulnerable = False
    return vulnerable


def affected(record: dict[str, Any], name: str, version: str) -> dict[str, Any] | None:
    """The ``affected`` entry of ``record`` that covers ``name==version``, if any."""
    parsed = _version(version)
    for entry in record.get("affected", []):
        package = entry.get("package", {})
        if package.get("ecosystem") != ECOSYSTEM or normalise(package.get("name", "")) != name:
            continue
        listed = [str(v) for v in entry.get("versions", []) or []]
        if version in listed or (parsed is not None and any(_version(v) == parsed for v in listed)):
            return dict(entry)
        if parsed is None:
            continue
        for rng in entry.get("ranges", []):
            if rng.get("type") in ("ECOSYSTEM", "SEMVER") and _in_range(
                parsed, rng.get("events", [])
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


def _fixed(entry: dict[str, Any], version: str) -> tuple[str, ...]:
    """The fixed versions of ``entry``; those above ``version`` when there are any."""
    every = [
        str(event["fixed"])
        for rng in entry.get("ranges", [])
        if rng.get("type") in ("ECOSYSTEM", "SEMVER")
        for event in rng.get("events", [])
        if "fixed" in event
    ]
    current = _version(version)
    later = [
        f for f in every if current is not None and (v := _version(f)) is not None and v > current
    ]
    return tuple(dict.fromkeys(later or every))


def to_vulnerability(record: dict[str, Any], name: str, version: str) -> Vulnerability | None:
    """A Vulnerability when ``record`` affects ``name==version`` and is not withdrawn."""
    if record.get("withdrawn"):
        return None
    entry = affected(record, name, version)
    if entry is None:
        return None
    return Vulnerability(
        id=str(record["id"]),
        aliases=tuple(record.get("aliases", [])),
        package=name,
        version=version,
        summary=str(record.get("summary") or record.get("details", "")[:200] or record["id"]),
        scores=_scores(record, entry),
        fixed=_fixed(entry, version),
    )


class OsvDatabase:
    """OSV records for PyPI, looked up by normalised package name.

    A folder (OSV JSON or YAML files, nested folders allowed, such as the PyPA advisory
    database's ``vulns/<package>/<id>.yaml``) is indexed once: a cheap text scan maps package
    names to the files that may mention them, and only those files are parsed when a package is
    looked up. The index is cached under ``~/.cache/leitstand/osv-index`` keyed by the folder's
    file list, sizes and modification times.
    """

    def __init__(self, records: Iterable[dict[str, Any]], *, source: str) -> None:
        self.source = source
        self.count = 0
        self._by_package: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._files: dict[str, list[str]] = {}
        self._parsed: dict[str, dict[str, Any] | None] = {}
        self._lock = threading.Lock()
        for record in records:
            self.count += 1
            for name in _names(record):
                self._by_package[name].append(record)

    @classmethod
    def load(cls, path: Path) -> OsvDatabase:
        """Read a folder of OSV JSON/YAML files, an ``all.zip``, or a folder with one."""
        if not path.exists():
            raise ConfigError(f"gates.osv.path: {path} does not exist")
        if path.is_file():
            return cls(_from_zip(path), source=str(path))
        for candidate in (
            path / ECOSYSTEM / "all.zip",
            path / "osv-scanner" / ECOSYSTEM / "all.zip",
        ):
            if candidate.is_file():
                return cls(_from_zip(candidate), source=str(candidate))
        database = cls((), source=str(path))
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
            if record is not None and key in _names(record):
                records.append(record)
        return records

    def find(self, name: str, version: str) -> list[Vulnerability]:
        key = normalise(name)
        found = (to_vulnerability(r, key, version) for r in self._records(key))
        return [v for v in found if v is not None]


def _names(record: dict[str, Any]) -> set[str]:
    return {
        normalise(a.get("package", {}).get("name", ""))
        for a in record.get("affected", []) or []
        if isinstance(a, dict) and a.get("package", {}).get("ecosystem") == ECOSYSTEM
    }


def _from_zip(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if member.endswith(".json"):
                    yield json.loads(zf.read(member))
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConfigError(f"gates.osv.path: {path} is not an OSV all.zip ({exc})") from exc


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
