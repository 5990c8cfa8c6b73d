"""OSV data from a folder of JSON or YAML records (nested), indexed once; the PyPA snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from leitstand.gates.osv import OsvDatabase, Score, Vulnerability
from leitstand.gates.security import vulnerability_finding
from support.gates_lab import PYPA_SNAPSHOT, V3_CRITICAL


def record(vid: str, name: str, **extra: object) -> dict[str, object]:
    return {
        "id": vid,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [
                    {"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc123"}]},
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": "1.2"},
                            {"introduced": "2.0"},
                            {"fixed": "2.0.5"},
                        ],
                    },
                ],
                "versions": ["3.0"],
            }
        ],
        **extra,
    }


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_nested_folder_of_yaml_and_json_records_is_read(
    tmp_path: Path, isolated_cache: Path
) -> None:
    db = tmp_path / "vulns"
    (db / "lib-a").mkdir(parents=True)
    (db / "deep" / "er").mkdir(parents=True)
    (db / "lib-a" / "PYSEC-1.yaml").write_text(yaml.safe_dump(record("PYSEC-1", "Lib_A")))
    (db / "deep" / "er" / "GHSA-2.json").write_text(json.dumps(record("GHSA-2", "other")))
    database = OsvDatabase.load(db)
    assert database.count == 2
    versions = ["1.1", "1.2", "2.0.1", "3.0", "3.0.0", "3.1"]
    hits = {v: [x.id for x in database.find("lib-a", v)] for v in versions}
    # ranges with PEP 440 order; the explicit list compares versions, so 3.0.0 is 3.0
    assert hits == {
        "1.1": ["PYSEC-1"],
        "1.2": [],
        "2.0.1": ["PYSEC-1"],
        "3.0": ["PYSEC-1"],
        "3.0.0": ["PYSEC-1"],
        "3.1": [],
    }
    [vuln] = database.find("LIB.A", "2.0.1")
    assert vuln.fixed == ("2.0.5",)  # the next fix after 2.0.1, never a git commit
    assert [v.id for v in database.find("other", "0.1")] == ["GHSA-2"]
    assert list(isolated_cache.rglob("*.json")), "the name index is cached"


def test_the_index_follows_changes_to_the_folder(tmp_path: Path, isolated_cache: Path) -> None:
    db = tmp_path / "vulns"
    db.mkdir()
    (db / "A.json").write_text(json.dumps(record("A", "liba")))
    assert OsvDatabase.load(db).find("libb", "1.0") == []
    (db / "B.yaml").write_text(yaml.safe_dump(record("B", "libb")))
    assert [v.id for v in OsvDatabase.load(db).find("libb", "1.0")] == ["B"]


def test_a_broken_record_is_a_config_error_naming_the_file(
    tmp_path: Path, isolated_cache: Path
) -> None:
    from leitstand.errors import ConfigError

    db = tmp_path / "vulns"
    db.mkdir()
    (db / "bad.yaml").write_text("name: libc\naffected: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not an OSV record"):
        OsvDatabase.load(db).find("libc", "1.0")


def _vuln(scores: tuple[Score, ...]) -> Vulnerability:
    return Vulnerability(
        id="PYSEC-9",
        aliases=("CVE-2026-9", "GHSA-xxxx"),
        package="lib",
        version="1.0",
        summary="bad",
        scores=scores,
        fixed=("1.1",),
    )


def test_a_finding_names_id_aliases_score_vector_and_fix() -> None:
    finding = vulnerability_finding(
        _vuln((Score("3.1", 9.8, V3_CRITICAL),)), 7.0, unscored_blocks=True
    )
    assert finding.blocking
    for part in ("PYSEC-9", "CVE-2026-9", "GHSA-xxxx", "CVSS 3.1 9.8", V3_CRITICAL, "fixed in 1.1"):
        assert part in finding.message
    assert finding.data["cvss"] == {"version": "3.1", "base": 9.8, "vector": V3_CRITICAL}


def test_an_advisory_without_a_cvss_vector_blocks_unless_the_policy_says_review() -> None:
    blocking = vulnerability_finding(_vuln(()), 7.0, unscored_blocks=True)
    review = vulnerability_finding(_vuln(()), 7.0, unscored_blocks=False)
    assert "severity unknown" in blocking.message and blocking.data["severity"] == "unknown"
    assert blocking.blocking and not review.blocking


def test_the_pypa_snapshot_knows_werkzeug_3_0_0_and_its_fix() -> None:
    database = OsvDatabase.load(PYPA_SNAPSHOT)
    assert database.count > 2000
    [vuln] = database.find("Werkzeug", "3.0.0")
    assert vuln.id == "PYSEC-2023-221" and "CVE-2023-46136" in vuln.aliases
    assert vuln.best is not None and vuln.best.base == 7.5 and vuln.fixed == ("3.0.1",)
    assert database.find("werkzeug", "3.0.1") == []
    assert {v.id for v in database.find("jinja2", "2.10")} >= {"PYSEC-2019-217"}
