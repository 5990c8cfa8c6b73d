"""Find, read, merge and validate a user's leitstand.yaml on top of the built-in defaults.

Merging: mappings merge key by key, recursively; lists and single values replace. One exception:
``tenants`` holds placeholders, so if a file has a ``tenants`` mapping, only the tenants listed
there exist (a listed example tenant still merges with its defaults).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError as PydanticValidationError

from leitstand.errors import ConfigError, Issue, ValidationError
from leitstand.policy.crosschecks import cross_section_problems
from leitstand.policy.issues import issues_from_problems, issues_from_pydantic
from leitstand.policy.model import SECTIONS, Policy, default_policy, section_adapter
from leitstand.policy.values import describe
from leitstand.policy.yamlsource import read_yaml

__all__ = [
    "ENV_VAR",
    "FILE_NAME",
    "PLACEHOLDER_TABLES",
    "check_policy_text",
    "default_policy",
    "find_policy_file",
    "load_policy",
    "load_policy_text",
    "merge_overrides",
    "validate_policy_file",
]

ENV_VAR = "LEITSTAND_POLICY"
FILE_NAME = "leitstand.yaml"
PLACEHOLDER_TABLES: frozenset[tuple[str, ...]] = frozenset({("tenants",)})


def find_policy_file(cwd: Path) -> Path | None:
    """Return ``$LEITSTAND_POLICY`` if set, else ``cwd/leitstand.yaml`` if it exists, else None."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else cwd / path
    candidate = cwd / FILE_NAME
    return candidate if candidate.is_file() else None


def merge_overrides(
    base: Mapping[str, object], override: Mapping[str, object], path: tuple[str, ...] = ()
) -> dict[str, object]:
    """Merge ``override`` into ``base`` without changing either (see the module docstring)."""
    if path in PLACEHOLDER_TABLES:
        result: dict[str, object] = {}
    else:
        result = dict(base)
    for raw_key, value in override.items():
        key = str(raw_key)
        current = base.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = merge_overrides(current, value, (*path, key))
        else:
            result[key] = value
    return result


def check_policy_text(text: str, *, source: str | None = None) -> tuple[Policy | None, list[Issue]]:
    """Validate policy YAML text; return the policy (None on any issue) and every issue found."""
    doc = read_yaml(text, source=source)
    if not doc.ok:
        return None, doc.issues
    data = {} if doc.data is None else doc.data
    if not isinstance(data, Mapping):
        line, column = doc.locate(())
        message = (
            f"a mapping of policy sections such as services or monitoring (got {describe(data)})"
        )
        return None, [*doc.issues, Issue("", message, line, column, source)]
    defaults = default_policy().model_dump(mode="json")
    merged = merge_overrides(defaults, data)
    issues = list(doc.issues)
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(merged)
    except PydanticValidationError as err:
        issues += issues_from_pydantic(err, root=Policy, doc=doc, defaults=defaults, source=source)
        problems = cross_section_problems(_valid_sections(merged, err))
        issues += issues_from_problems(
            problems, root=Policy, doc=doc, defaults=defaults, source=source
        )
    issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    return (None, issues) if issues else (policy, [])


def _valid_sections(
    merged: Mapping[str, object], err: PydanticValidationError
) -> dict[str, object]:
    # Cross-section rules normally run only on a fully valid policy. Re-validate the sections
    # without errors on their own so those rules are still reported together with the rest.
    broken = {str(e["loc"][0]) for e in err.errors() if e["loc"]}
    if not broken:
        return {}  # the error came from the cross-section rules themselves
    sections: dict[str, object] = {}
    for name in SECTIONS:
        if name not in broken and name in merged:
            try:
                sections[name] = section_adapter(name).validate_python(merged[name])
            except PydanticValidationError:
                continue
    return sections


def _summary(source: str | None, count: int) -> str:
    noun = "problem" if count == 1 else "problems"
    return f"invalid policy {source or ''} ({count} {noun}):".replace("  ", " ")


def load_policy_text(text: str, *, source: str | None = None) -> Policy:
    """Parse policy YAML merged over the defaults; raise ValidationError listing every issue."""
    policy, issues = check_policy_text(text, source=source)
    if policy is None:
        raise ValidationError(issues, summary=_summary(source, len(issues)))
    return policy


def _unreadable(path: Path, err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "file not found"
    if isinstance(err, IsADirectoryError):
        return "a file (got a directory)"
    return f"cannot read the file ({err.strerror or err})"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValidationError(
            [
                Issue(
                    "",
                    f"UTF-8 text (got a byte that is not UTF-8 at offset {err.start})",
                    source=str(path),
                )
            ],
            summary=_summary(str(path), 1),
        ) from None
    except OSError as err:
        raise ConfigError(f"{path}: {_unreadable(path, err)}") from None


def load_policy(path: Path | None = None) -> Policy:
    """Return the defaults merged with the file at ``path`` (None: the defaults alone)."""
    if path is None:
        return default_policy()
    return load_policy_text(_read(path), source=str(path))


def validate_policy_file(path: Path) -> list[Issue]:
    """Return every issue of the file at ``path``; an empty list means it is valid."""
    try:
        text = _read(path)
    except ValidationError as err:
        return err.issues
    except ConfigError as err:
        cause = err.__context__
        message = _unreadable(path, cause) if isinstance(cause, OSError) else err.message
        return [Issue("", message, source=str(path))]
    return check_policy_text(text, source=str(path))[1]
