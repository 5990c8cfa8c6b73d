"""The shape of the code, as measures that a change cannot quietly undo (docs/architecture.md)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest

from leitstand import domains

SRC = Path(__file__).resolve().parents[2] / "src" / "leitstand"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _is_store(path: Path) -> bool:
    rel = path.relative_to(SRC)
    return (
        rel.name == "store.py"
        or "store" in rel.parts[:-1]
        or rel.parts[0] == "migrations"
        or "revisions" in rel.parts
        or rel.as_posix() == "db.py"
    )


def test_sql_lives_only_in_stores_db_and_migrations() -> None:
    offenders = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if not _is_store(path)
        and any(m == "sqlalchemy" or m.startswith("sqlalchemy.") for m in _imports(path))
    )
    assert offenders == []


def test_no_test_support_modules_in_the_package_root() -> None:
    assert sorted(p.name for p in SRC.glob("testing_*.py")) == []
    # The public helpers for users' own tests are one package, not imported by the product.
    product = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "testing" not in path.relative_to(SRC).parts
        and any(
            m == "leitstand.testing" or m.startswith("leitstand.testing.") for m in _imports(path)
        )
    ]
    assert product == []


def test_every_domain_of_the_registry_names_modules_that_exist() -> None:
    for domain in domains.DOMAINS:
        for module in domain.tables:
            importlib.import_module(module)
        for target in (*domain.routers, *(c.target for c in domain.commands)):
            assert domains.load(target) is not None, target
        for target in (domain.wire, domain.jobs):
            if target is not None:
                assert callable(domains.load(target)), target
    names = [c.name for c in domains.commands()]
    assert len(names) == len(set(names))


def test_every_revision_folder_belongs_to_a_registered_domain() -> None:
    registered = {d.name for d in domains.DOMAINS}
    folders = {p.parent.name for p in SRC.glob("*/revisions")}
    assert folders <= registered
    assert set(map(Path, domains.revision_folders())) == set(SRC.glob("*/revisions"))


def _untyped(schema: dict[str, Any]) -> bool:
    if not schema:
        return True
    if "$ref" in schema:
        return False
    kind = schema.get("type")
    if kind == "array":
        return _untyped(schema.get("items", {}))
    if kind == "object":
        return not schema.get("properties") and not schema.get("additionalProperties")
    if "anyOf" in schema:
        return any(_untyped(s) for s in schema["anyOf"] if s.get("type") != "null")
    return kind is None


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from leitstand.app import create_app
    from leitstand.bootstrap import build
    from leitstand.settings import Settings

    home = tmp_path_factory.mktemp("arch") / "home"
    container = build(Settings(home=home))
    try:
        schema: dict[str, Any] = create_app(container).openapi()
    finally:
        container.close()
    return schema


def test_every_api_operation_has_a_typed_response_and_documented_errors(
    openapi: dict[str, Any],
) -> None:
    untyped = []
    for path, operations in openapi["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            ok = [c for c in operation["responses"] if c.startswith("2")]
            for code in ok:
                content = operation["responses"][code].get("content", {})
                body = content.get("application/json")
                if body is not None and _untyped(body.get("schema", {})):
                    untyped.append(f"{method.upper()} {path}")
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
    assert untyped == []


def test_operation_ids_are_unique_and_every_operation_is_tagged(openapi: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for path, operations in openapi["paths"].items()
        if path.startswith("/api/")
        for op in operations.values()
    ]
    assert len(ids) == len(set(ids))
    untagged = [
        f"{method} {path}"
        for path, operations in openapi["paths"].items()
        if path.startswith("/api/")
        for method, op in operations.items()
        if not op.get("tags")
    ]
    assert untagged == []
