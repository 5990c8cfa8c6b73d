"""`flags refs`: find flag keys in code, report dead flags and references to unknown ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leitstand.errors import ValidationError
from leitstand.flags.model import BOOLEAN_VARIANTS, FlagRecord, ValueType
from leitstand.flags.refs import scan_references
from leitstand.policy.delivery import FlagReferencePolicy

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def record(key: str, *, archived: bool = False) -> FlagRecord:
    return FlagRecord(
        key=key,
        kind="release",
        value_type=ValueType.BOOLEAN,
        variants=BOOLEAN_VARIANTS,
        off_variant="off",
        description="",
        owner=None,
        environments={},
        created_at=NOW,
        updated_at=NOW,
        archived_at=NOW if archived else None,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "src" / "billing.py").write_text(
        "from openfeature import api\n"
        "client = api.get_client()\n"
        'if client.get_boolean_value("new-billing", False, ctx):\n'
        "    pass\n"
        'colour = client.get_string_details("button-colour", "blue", ctx)\n'
        'legacy = client.get_boolean_value("old-export", False, ctx)\n'
        'typo = client.get_boolean_value("new-biling", False, ctx)\n',
        encoding="utf-8",
    )
    (root / "src" / "flags.ts").write_text(
        "export const PORTAL_REDESIGN = 'portal-redesign';\n"
        "const on = await client.getBooleanValue(PORTAL_REDESIGN, false);\n",
        encoding="utf-8",
    )
    (root / "main.go").write_text(
        'v, _ := client.BooleanValue(ctx, "go-flag", false, evalCtx)\n', encoding="utf-8"
    )
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "x.js").write_text(
        "getBooleanValue('dead-flag', false)\n", encoding="utf-8"
    )
    (root / "logo.png").write_bytes(b"\x89PNG\0\0 'dead-flag'")
    return root


def test_scan_reports_references_dead_flags_and_unknown_or_archived_keys(tree: Path) -> None:
    flags = [
        record("new-billing"),
        record("button-colour"),
        record("portal-redesign"),
        record("dead-flag"),
        record("go-flag"),
        record("old-export", archived=True),
    ]
    report = scan_references(tree, flags=flags, policy=FlagReferencePolicy())
    assert sorted(report.references) == [
        "button-colour",
        "go-flag",
        "new-billing",
        "old-export",
        "portal-redesign",
    ]
    assert report.references["new-billing"][0].path == "src/billing.py"
    assert report.references["new-billing"][0].line == 3
    assert report.references["portal-redesign"][0].path == "src/flags.ts"
    # node_modules is excluded and binary files are skipped: no reference left.
    assert report.unreferenced == ["dead-flag"]
    assert [(r.key, r.line) for r in report.unknown] == [("new-biling", 7)]
    assert [(r.key, r.line) for r in report.archived] == [("old-export", 6)]
    assert report.problems
    assert report.files_scanned == 3
    assert report.as_dict()["unreferenced"] == ["dead-flag"]


def test_policy_patterns_and_excludes_are_used(tree: Path) -> None:
    custom = FlagReferencePolicy(
        patterns=[r"flag\(\s*'(?P<key>[a-z-]+)'"],
        quoted_keys=False,
        exclude=["src"],
    )
    (tree / "custom.py").write_text("if flag('go-flag'):\n    pass\n", encoding="utf-8")
    report = scan_references(tree, flags=[record("go-flag")], policy=custom)
    assert [r.path for r in report.references["go-flag"]] == ["custom.py"]


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file or directory"):
        scan_references(tmp_path / "nope", flags=[], policy=FlagReferencePolicy())


def test_policy_refuses_patterns_without_a_key_group() -> None:
    from pydantic import ValidationError as PydanticError

    with pytest.raises(PydanticError, match=r"a named group \(\?P<key>"):
        FlagReferencePolicy(patterns=["get_flag\\('(\\w+)'"])
    with pytest.raises(PydanticError, match="a valid regular expression"):
        FlagReferencePolicy(patterns=["("])
