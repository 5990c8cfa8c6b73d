"""Run a project's Alembic migrations in a child process and answer in JSON.

``python -m leitstand.gates.rollback.runner static|roundtrip|upgrade TARGET``; TARGET is the
path of an ``alembic.ini``, or ``package:NAME`` for a programmatic Alembic environment (a Python
package with ``env.py`` in its folder and, when its revisions live elsewhere, a
``version_locations()`` function; ``env.py`` finds the database as ``sqlalchemy.url`` and as the
engine ``config.attributes["engine"]``). The database URL comes from ``LEITSTAND_MIGRATION_URL``
(never an argument: it may hold a password). The application's ``env.py`` runs here, not in
leitstand, so its imports and crashes stay out of the control plane, and the parent's timeout
applies to all of it.

- ``static``: every revision has a ``downgrade()`` that does something (not ``pass``, ``...``
  or ``raise NotImplementedError``).
- ``roundtrip``: upgrade revision by revision, recording the schema after each; downgrade one by
  one, checking the schema returns to what it was; upgrade again to the same schema.
- ``upgrade``: upgrade to the heads; answers the revisions before and after.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from leitstand.gates.rollback.store import current_heads, engine_for, schema_of

__all__ = ["PACKAGE_PREFIX", "main", "static_problems"]

#: A TARGET naming a Python package with a programmatic Alembic environment.
PACKAGE_PREFIX = "package:"


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


def _config(target: str, url: str | None, resources: contextlib.ExitStack) -> Any:
    from alembic.config import Config

    if target.startswith(PACKAGE_PREFIX):
        module = importlib.import_module(target.removeprefix(PACKAGE_PREFIX))
        if module.__file__ is None:
            raise ValueError(f"{target}: not a package with a folder")
        config = Config()
        config.set_main_option("script_location", str(Path(module.__file__).parent))
        config.set_main_option("path_separator", "os")
        locations = getattr(module, "version_locations", None)
        if callable(locations):
            folders = os.pathsep.join(str(p) for p in locations())
            config.set_main_option("version_locations", folders)
        if url:
            config.attributes["engine"] = resources.enter_context(engine_for(url))
    else:
        config = Config(target)
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _revisions(config: Any) -> list[Any]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def _static(config: Any) -> dict[str, Any]:
    revisions = _revisions(config)
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


def _roundtrip(config: Any, url: str) -> dict[str, Any]:
    from alembic import command

    # Where a problem of the whole tree is: the alembic.ini, or the package's folder.
    target = config.config_file_name or config.get_main_option("script_location")
    revisions = _revisions(config)
    # Without merge revisions every revision can be stepped on its own (branches included):
    # upgrade to it, later downgrade just it (``rev@-1``) and compare with the schema before it.
    stepwise = all(not isinstance(r.down_revision, tuple | list) for r in revisions)
    steps: list[str] = []
    problems: list[dict[str, str]] = []
    before: dict[str, Any] = {}
    current = schema_of(url)
    base = current
    if stepwise:
        for rev in revisions:
            before[rev.revision] = current
            command.upgrade(config, rev.revision)
            current = schema_of(url)
            steps.append(f"upgrade {rev.revision}")
        head = current
        for rev in reversed(revisions):
            down = rev.down_revision or "base"
            try:
                command.downgrade(config, f"{rev.revision}@-1")
            except Exception as exc:  # the application's own code: report, do not crash
                problems.append({"revision": rev.revision, "path": rev.path, "message":
                                 f"downgrade() failed: {type(exc).__name__}: {exc}"})  # fmt: skip
                return {"steps": steps, "problems": problems}
            steps.append(f"downgrade {rev.revision} -> {down}")
            got = schema_of(url)
            if got != before[rev.revision]:
                problems.append({"revision": rev.revision, "path": rev.path, "message":
                                 "downgrade() does not restore the schema of "
                                 f"{down}: {_diff(before[rev.revision], got)}"})  # fmt: skip
    else:
        command.upgrade(config, "heads")
        head = schema_of(url)
        steps.append("upgrade heads")
        command.downgrade(config, "base")
        steps.append("downgrade base")
        if (got := schema_of(url)) != base:
            problems.append({"revision": "base", "path": target,
                             "message": f"downgrade to base leaves {_diff({}, got)}"})  # fmt: skip
    if problems:
        return {"steps": steps, "problems": problems}
    command.upgrade(config, "heads")
    steps.append("upgrade heads")
    if revisions and schema_of(url) != head:
        problems.append({"revision": "heads", "path": target,
                         "message": "upgrading again gives a different schema"})  # fmt: skip
    return {"steps": steps, "problems": problems}


def _upgrade(config: Any, url: str) -> dict[str, Any]:
    from alembic import command

    before = current_heads(url)
    command.upgrade(config, "heads")
    return {"from": before, "to": current_heads(url)}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("static", "roundtrip", "upgrade"):
        sys.stderr.write("usage: runner static|roundtrip|upgrade ALEMBIC_INI|package:NAME\n")
        return 2
    action, target = argv
    url = os.environ.get("LEITSTAND_MIGRATION_URL", "")
    if not target.startswith(PACKAGE_PREFIX):
        sys.path.insert(0, str(Path(target).resolve().parent))
    out = io.StringIO()
    try:
        # Migrations may print; only the JSON answer goes to stdout.
        with contextlib.redirect_stdout(sys.stderr), contextlib.ExitStack() as resources:
            config = _config(target, url if action != "static" else None, resources)
            if action == "static":
                result = _static(config)
            elif action == "roundtrip":
                result = _roundtrip(config, url)
            else:
                result = _upgrade(config, url)
    except Exception as exc:  # the application's code: one line back to the parent
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, out)
        sys.stdout.write(out.getvalue() + "\n")
        return 3
    json.dump(result, out)
    sys.stdout.write(out.getvalue() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
