"""The starter leitstand.yaml and the full example in the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from leitstand.errors import ConflictError
from leitstand.policy import (
    Policy,
    default_policy,
    load_policy,
    load_policy_text,
    starter_yaml,
    validate_policy_file,
    write_starter,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "leitstand.yaml"


def test_starter_validates_and_equals_the_defaults() -> None:
    assert load_policy_text(starter_yaml(), source="starter") == default_policy()


def test_starter_lists_the_four_systems_and_the_example_tenants() -> None:
    text = starter_yaml()
    for service in ("smart-bav-portal", "enterprise-api", "batch-processing", "internal-tools"):
        assert f"\n  {service}:\n" in text
    assert "Beispiel Makler Nord GmbH" in text
    assert "    cpu:\n      warning: 70\n      critical: 90\n" in text


def test_write_starter_writes_a_valid_file(tmp_path: Path) -> None:
    directory = tmp_path / "project"
    directory.mkdir()
    path = write_starter(directory, force=False)
    assert path == directory / "leitstand.yaml"
    assert validate_policy_file(path) == []
    assert [p.name for p in directory.iterdir()] == ["leitstand.yaml"]  # no temp file left


def test_write_starter_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "leitstand.yaml"
    target.write_text("services: {}\n", encoding="utf-8")
    with pytest.raises(ConflictError, match="already exists; use --force"):
        write_starter(tmp_path, force=False)
    assert target.read_text(encoding="utf-8") == "services: {}\n"
    write_starter(tmp_path, force=True)
    assert target.read_text(encoding="utf-8") == starter_yaml()


def test_documented_example_validates() -> None:
    assert validate_policy_file(EXAMPLE) == []
    policy = load_policy(EXAMPLE)
    assert "smart-bav-portal" in policy.services


def test_documented_example_is_complete_and_states_the_defaults() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in Policy.model_fields:
        assert f"\n{section}:\n" in text
    assert load_policy(EXAMPLE) == default_policy()
