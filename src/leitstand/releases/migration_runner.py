"""Run an application's Alembic migrations in a child process and answer in JSON.

``python -m leitstand.releases.migration_runner static|roundtrip|upgrade CONFIG``; the database
URL comes from ``LEITSTAND_MIGRATION_URL`` (never an argument: it may hold a password). The
application's ``env.py`` runs here, not in leitstand, so its imports and crashes stay out of the
control plane, and the parent's timeout applies to all of it.

- ``static``: every revision has a ``downgrade()`` that does something (not ``pass``, ``...``
  or ``raise NotImplementedError``).
- ``roundtrip``: upgrade revision by revision, recording the schema after each; downgrade one by
  one, checking the schema returns to what it was; upgrade again to the same schema.
- ``upgrade``: upgrade to the heads; answers the revisions before and after.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "schema_of", "static_problems"]


def _trivial(body: list[ast.stmt]) -> bool:
    statements = [
        s
        for s in body
        if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))  # docstring, ...
    ]
    if not statements:
        return True
    if all(isinstance(s, ast.Pass) for s in statements):
        return True
    first = statements[0]
    if isinstance(first, ast.Raise) and first.exc is not None:
        exc = first.exc.func if isinstance(first.exc, ast.Call) else first.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def static_problems(path: Path) -> list[str]:
    """Why the revision file at ``path`` has no working downgrade (empty when it has one)."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        return [f"cannot be read: {exc}"]
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    if "downgrade" not in functions:
        return ["has no downgrade() function"]
    if _trivial(functions["downgrade"].body):
        return ["downgrade() does nothing (pass, ... or NotImplementedError): no rollback script"]
    return []


def schema_of(url: str) -> dict[str, Any]:
    """Tables with columns, primary key, indexes, unique and foreign keys (no alembic_version)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            tables[table] = {
                "columns": [
                    [c["name"], str(c["type"]), bool(c["nullable"])]
                    for c in inspector.get_columns(table)
                ],
                "primary_key": inspector.get_pk_constraint(table).get("constrained_columns"),
                "indexes": sorted(
                    [i["name"] or "", list(i["column_names"]), bool(i["unique"])]
                    for i in inspector.get_indexes(table)
                ),
                "foreign_keys": sorted(
                    [list(f["constrained_columns"]), f["referred_table"]]
                    for f in inspector.get_foreign_keys(table)
                ),
            }
        return tables
    finally:
        engine.dispose()


def _config(path: str, url: str | None) -> Any:
    from alembic.config import Config

    config = Config(path)
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _revisions(config: Any) -> list[Any]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def _static(config_path: str) -> dict[str, Any]:
    revisions = _revisions(_config(config_path, None))
    problems = []
    for rev in revisions:
        for message in static_problems(Path(rev.path)):
            problems.append({"revision": rev.revision, "path": rev.path, "message": message})
    return {"revisions": [r.revision for r in revisions], "problems": problems}


def _diff(expected: dict[str, Any], got: dict[str, Any]) -> str:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    changed = sorted(t for t in set(expected) & set(got) if expected[t] != got[t])
    parts = []
    if missing:
        parts.append(f"tables missing: {', '.join(missing)}")
    if extra:
        parts.append(f"tables left over: {', '.join(extra)}")
    if changed:
        parts.append(f"tables changed: {', '.join(changed)}")
    return "; ".join(parts) or "no difference"


def _roundtrip(config_path: str, url: str) -> dict[str, Any]:
    from alembic import command

    config = _config(config_path, url)
    revisions = _revisions(config)
    linear = all(not isinstance(r.down_revision, tuple | list) for r in revisions)
    steps: list[str] = []
    problems: list[dict[str, str]] = []
    snapshots: dict[str, Any] = {"base": schema_of(url)}
    if linear:
        for rev in revisions:
            command.upgrade(config, rev.revision)
            snapshots[rev.revision] = schema_of(url)
            steps.append(f"upgrade {rev.revision}")
        for rev in reversed(revisions):
            down = rev.down_revision or "base"
            try:
                command.downgrade(config, down)
            except Exception as exc:  # the application's own code: report, do not crash
                problems.append({"revision": rev.revision, "path": rev.path, "message":
                                 f"downgrade() failed: {type(exc).__name__}: {exc}"})  # fmt: skip
                return {"steps": steps, "problems": problems}
            steps.append(f"downgrade {rev.revision} -> {down}")
            got = schema_of(url)
            if got != snapshots[down]:
                problems.append({"revision": rev.revision, "path": rev.path, "message":
                                 "downgrade() does not restore the schema of "
                                 f"{down}: {_diff(snapshots[down], got)}"})  # fmt: skip
    else:
        command.upgrade(config, "heads")
        snapshots["heads"] = schema_of(url)
        steps.append("upgrade heads")
        command.downgrade(config, "base")
        steps.append("downgrade base")
        if (got := schema_of(url)) != snapshots["base"]:
            problems.append({"revision": "base", "path": config_path,
                             "message": f"downgrade to base leaves {_diff({}, got)}"})  # fmt: skip
    if problems:
        return {"steps": steps, "problems": problems}
    command.upgrade(config, "heads")
    steps.append("upgrade heads")
    head = snapshots[revisions[-1].revision] if linear and revisions else snapshots.get("heads")
    if head is not None and schema_of(url) != head:
        problems.append({"revision": "heads", "path": config_path,
                         "message": "upgrading again gives a different schema"})  # fmt: skip
    return {"steps": steps, "problems": problems}


def _current(config: Any, url: str) -> list[str]:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _upgrade(config_path: str, url: str) -> dict[str, Any]:
    from alembic import command

    config = _config(config_path, url)
    before = _current(config, url)
    command.upgrade(config, "heads")
    return {"from": before, "to": _current(config, url)}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("static", "roundtrip", "upgrade"):
        sys.stderr.write("usage: migration_runner static|roundtrip|upgrade ALEMBIC_INI\n")
        return 2
    action, config_path = argv
    url = os.environ.get("LEITSTAND_MIGRATION_URL", "")
    sys.path.insert(0, str(Path(config_path).resolve().parent))
    out = io.StringIO()
    try:
        # Migrations may print; only the JSON answer goes to stdout.
        with contextlib.redirect_stdout(sys.stderr):
            if action == "static":
                result = _static(config_path)
            elif action == "roundtrip":
                result = _roundtrip(config_path, url)
            else:
                result = _upgrade(config_path, url)
    except Exception as exc:  # the application's code: one line back to the parent
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, out)
        sys.stdout.write(out.getvalue() + "\n")
        return 3
    json.dump(result, out)
    sys.stdout.write(out.getvalue() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
