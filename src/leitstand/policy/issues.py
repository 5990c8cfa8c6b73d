"""Turn pydantic's validation errors into Issues: dotted path, file position, plain words."""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from leitstand.errors import Issue
from leitstand.policy.base import Problem, Role, Text
from leitstand.policy.values import describe
from leitstand.policy.yamlsource import KeyPath, YamlDocument

__all__ = ["issues_from_problems", "issues_from_pydantic"]

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
_BOUND_WORDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


@dataclass
class _Where:
    """A pydantic location resolved against the Policy model."""

    parts: list[str] = field(default_factory=list)
    owner: type[BaseModel] | None = None  # the model whose field the last part names
    table_keys: list[int] = field(default_factory=list)  # indexes of parts that are dict keys
    terminal: Any = None  # the type expected at the location


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _tag_member(tp: Any, item: str) -> Any | None:
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    for member in get_args(tp):
        if get_origin(member) is Annotated:
            tags = [m.tag for m in member.__metadata__ if isinstance(m, Tag)]
            if item in tags:
                return member
    return None


def _resolve(root: type[BaseModel], loc: tuple[int | str, ...]) -> _Where:
    where = _Where()
    tp: Any = root
    for raw in loc:
        item = str(raw)
        if item == "[key]":
            continue
        base = _unwrap(tp)
        where.owner = None
        if isinstance(base, type) and issubclass(base, BaseModel):
            where.owner = base
            info = base.model_fields.get(item)
            tp = info.annotation if info is not None else None
        elif get_origin(base) is dict:
            where.table_keys.append(len(where.parts))
            tp = get_args(base)[1]
        elif get_origin(base) is list:
            tp = get_args(base)[0]
        else:
            member = _tag_member(base, item)
            if member is not None:
                tp = member
                continue
            tp = None
        where.parts.append(item)
    where.terminal = _unwrap(tp)
    return where


def _lookup(data: object, parts: Iterable[str]) -> object:
    for part in parts:
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def _suggest(word: str, options: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return matches[0] if matches else None


class _Converter:
    def __init__(self, root: type[BaseModel], doc: YamlDocument, defaults: object) -> None:
        self.root = root
        self.doc = doc
        self.defaults = defaults
        self.issues: list[tuple[KeyPath, str]] = []
        self.new_rows: dict[KeyPath, tuple[str, list[str]]] = {}

    def add(self, parts: Iterable[str], message: str) -> None:
        self.issues.append((tuple(parts), message))

    def convert(self, error: ErrorDetails) -> None:
        where = _resolve(self.root, error["loc"])
        kind = error["type"]
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        got = describe(error.get("input"))
        if kind == "policy_rule":
            for problem in ctx["problems"]:
                self.add_problem(where.parts, problem)
        elif kind == "extra_forbidden":
            self._unknown_key(where)
        elif kind == "missing":
            self._missing(where)
        elif kind == "union_tag_invalid":
            tag = describe(ctx.get("tag"))
            self.add([*where.parts, "kind"], f"one of {ctx['expected_tags']} (got {tag})")
        elif kind in ("enum", "literal_error"):
            self._choice(where, error.get("input"), str(ctx.get("expected", "")))
        elif kind in _TYPE_WORDS:
            expected = _TYPE_WORDS[kind]
            if where.terminal is Text:
                expected = "a text, or a mapping with de and en"
            self.add(where.parts, f"{expected} (got {got})")
        elif kind in _BOUND_WORDS:
            key, words = _BOUND_WORDS[kind]
            self.add(where.parts, f"{words} {describe(ctx.get(key))} (got {got})")
        elif kind in ("too_short", "too_long"):
            words = "at least" if kind == "too_short" else "at most"
            limit = ctx.get("min_length" if kind == "too_short" else "max_length")
            noun = "entry" if limit == 1 else "entries"
            self.add(where.parts, f"{words} {limit} {noun} (got {ctx.get('actual_length')})")
        elif "(got " in error["msg"]:
            self.add(where.parts, error["msg"])  # leitstand's own validators already say it all
        else:
            self.add(where.parts, f"{error['msg'][0].lower()}{error['msg'][1:]} (got {got})")

    def add_problem(self, base: list[str], problem: Problem) -> None:
        resolved = [
            ([*base, *rel.split(".")] if rel else base, msg) for rel, msg in problem.choices
        ]
        for parts, message in resolved:
            if self.doc.sets(tuple(parts)):
                self.add(parts, message)
                return
        self.add(*resolved[0])

    def _unknown_key(self, where: _Where) -> None:
        key = where.parts[-1]
        options = list(where.owner.model_fields) if where.owner is not None else []
        near = _suggest(key, options)
        if near is not None:
            message = f"unknown key '{key}'; did you mean '{near}'?"
        elif options and len(options) <= 30:
            message = f"unknown key '{key}'; expected one of: {', '.join(options)}"
        else:
            message = f"unknown key '{key}'"
        self.add(where.parts, message)

    def _missing(self, where: _Where) -> None:
        # A field missing inside a row the defaults do not have: often a misspelt id.
        for position in reversed(where.table_keys):
            table = _lookup(self.defaults, where.parts[:position])
            key = where.parts[position]
            if isinstance(table, Mapping) and table and key not in table:
                near = _suggest(key, [str(k) for k in table])
                if near is not None:
                    row = tuple(where.parts[: position + 1])
                    self.new_rows.setdefault(row, (near, []))[1].append(where.parts[-1])
                    return
        self.add(where.parts, "a value is required (got nothing)")

    def _choice(self, where: _Where, value: object, expected: str) -> None:
        options: list[str] = []
        terminal = where.terminal
        if isinstance(terminal, type) and hasattr(terminal, "__members__"):
            options = [str(m.value) for m in terminal]  # type: ignore[attr-defined]
            expected = ", ".join(options)
        message = f"one of {expected} (got {describe(value)})"
        if isinstance(value, str):
            if terminal is Role and value.strip().lower() == "mario":
                message += "; Mario is the role 'management'"
            elif (near := _suggest(value, options)) is not None:
                message += f"; did you mean '{near}'?"
        self.add(where.parts, message)

    def finish(self, source: str | None) -> list[Issue]:
        for row, (near, fields) in self.new_rows.items():
            self.add(
                row,
                f"unknown id '{row[-1]}'; did you mean '{near}'? "
                f"(a new entry needs every field; missing: {', '.join(fields)})",
            )
        issues: list[Issue] = []
        seen: set[tuple[KeyPath, str]] = set()
        for parts, message in self.issues:
            if (parts, message) in seen:
                continue
            seen.add((parts, message))
            line, column = self.doc.locate(parts)
            issues.append(Issue(".".join(parts), message, line, column, source))
        return issues


def issues_from_pydantic(
    error: PydanticValidationError,
    *,
    root: type[BaseModel],
    doc: YamlDocument,
    defaults: object,
    source: str | None,
) -> list[Issue]:
    """Translate every pydantic error into an Issue located in the user's file."""
    converter = _Converter(root, doc, defaults)
    for detail in error.errors(include_url=False):
        converter.convert(detail)
    return converter.finish(source)


def issues_from_problems(
    problems: Iterable[Problem],
    *,
    root: type[BaseModel],
    doc: YamlDocument,
    defaults: object,
    source: str | None,
) -> list[Issue]:
    """Translate broken rules found outside pydantic (paths relative to the root) into Issues."""
    converter = _Converter(root, doc, defaults)
    for problem in problems:
        converter.add_problem([], problem)
    return converter.finish(source)
