"""OSV vulnerability data: a local folder or osv-scanner ``all.zip``, or the OSV API; matching.

Matching follows the OSV schema: explicit ``versions`` or ``ECOSYSTEM``/``SEMVER`` ranges of
``introduced``/``fixed``/``last_affected``/``limit`` events, evaluated with PEP 440 ordering.
Scores are computed from the CVSS vectors (``cvss``): v3.x and v4 base scores; the highest wins.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from packaging.version import InvalidVersion, Version

from leitstand.errors import ConfigError
from leitstand.gates.project import normalise

__all__ = ["OsvDatabase", "Score", "Vulnerability", "affected", "score"]

ECOSYSTEM = "PyPI"


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
        if version in entry.get("versions", []):
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


def _fixed(entry: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(event["fixed"])
        for rng in entry.get("ranges", [])
        for event in rng.get("events", [])
        if "fixed" in event
    )


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
        fixed=_fixed(entry),
    )


class OsvDatabase:
    """OSV records for PyPI, indexed by normalised package name."""

    def __init__(self, records: Iterable[dict[str, Any]], *, source: str) -> None:
        self.source = source
        self.count = 0
        self._by_package: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            self.count += 1
            names = {
                normalise(a.get("package", {}).get("name", ""))
                for a in record.get("affected", [])
                if a.get("package", {}).get("ecosystem") == ECOSYSTEM
            }
            for name in names:
                self._by_package[name].append(record)

    @classmethod
    def load(cls, path: Path) -> OsvDatabase:
        """Read a folder of OSV JSON files, an ``all.zip``, or a folder holding ``PyPI/all.zip``."""
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
        return cls(_from_folder(path), source=str(path))

    def find(self, name: str, version: str) -> list[Vulnerability]:
        key = normalise(name)
        found = (to_vulnerability(r, key, version) for r in self._by_package.get(key, []))
        return [v for v in found if v is not None]


def _from_zip(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if member.endswith(".json"):
                    yield json.loads(zf.read(member))
    except (zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ConfigError(f"gates.osv.path: {path} is not an OSV all.zip ({exc})") from exc


def _from_folder(path: Path) -> Iterator[dict[str, Any]]:
    for file in sorted(path.rglob("*.json")):
        try:
            yield json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"gates.osv.path: {file} is not OSV JSON ({exc})") from exc


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
