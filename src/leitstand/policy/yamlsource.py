"""Read a YAML document together with the line and column of every key, for precise messages."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from leitstand.errors import Issue

__all__ = ["MAX_NODES", "KeyPath", "YamlDocument", "read_yaml"]

# Aliases can expand a small file into an enormous tree ("billion laughs"); stop well before that.
MAX_NODES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"

KeyPath = tuple[str, ...]


@dataclass
class YamlDocument:
    """The constructed data, where each path's key sits (1-based), and problems found on the way."""

    data: object = None
    marks: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    ok: bool = True  # False: the data could not be built and must not be used

    def locate(self, path: KeyPath) -> tuple[int | None, int | None]:
        """Return the line and column of ``path``, or of its nearest ancestor in the file."""
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark
        return None, None

    def sets(self, path: KeyPath) -> bool:
        """Tell whether the file itself contains ``path``."""
        return path in self.marks


class _Walker:
    def __init__(self, doc: YamlDocument, source: str | None) -> None:
        self.doc = doc
        self.source = source
        self.budget = MAX_NODES

    def walk(self, node: Node, path: KeyPath) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        if isinstance(node, MappingNode):
            self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, str(index))
                self.doc.marks.setdefault(child, _position(item))
                self.walk(item, child)

    def _mapping(self, node: MappingNode, path: KeyPath) -> None:
        seen: dict[str, tuple[int, int]] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                continue
            key = str(key_node.value)
            child = (*path, key)
            where = _position(key_node)
            if key in seen:
                line, column = where
                first = seen[key][0]
                self.doc.issues.append(
                    Issue(
                        path=".".join(child),
                        message=f"each key only once (got '{key}' again; first on line {first})",
                        line=line,
                        column=column,
                        source=self.source,
                    )
                )
            else:
                seen[key] = where
                self.doc.marks[child] = where
            self.walk(value_node, child)
        # Keys pulled in with "<<: *anchor" point at the anchor; explicit keys win.
        for value_node in merged:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for merged_node in sources:
                if isinstance(merged_node, MappingNode):
                    for key_node, _ in merged_node.value:
                        if isinstance(key_node, ScalarNode):
                            self.doc.marks.setdefault(
                                (*path, str(key_node.value)), _position(key_node)
                            )
                self.walk(merged_node, path)


class _TooLarge(Exception):
    pass


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _syntax_issue(err: yaml.YAMLError, source: str | None) -> Issue:
    line = column = None
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
        problem, context = err.problem or "", err.context or ""
        if problem and context:
            # PyYAML splits sentences such as "expected a single document, but found another".
            joined = (
                f"{context}, {problem}" if problem.startswith("but ") else f"{problem} ({context})"
            )
        else:
            joined = problem or context or "unreadable document"
        message = f"invalid YAML: {joined}"
    else:
        message = f"invalid YAML: {err}"
    return Issue(path="", message=message, line=line, column=column, source=source)


def read_yaml(text: str, *, source: str | None = None) -> YamlDocument:
    """Parse one YAML document; syntax errors become issues with line and column."""
    doc = YamlDocument()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return doc
        doc.marks[()] = _position(node)
        try:
            _Walker(doc, source).walk(node, ())
        except _TooLarge:
            doc.ok = False
            doc.issues.append(
                Issue(
                    path="",
                    message=f"at most {MAX_NODES} values after expanding aliases (got more)",
                    line=1,
                    column=1,
                    source=source,
                )
            )
            return doc
        doc.data = loader.construct_document(node)
    except yaml.YAMLError as err:
        doc.ok = False
        doc.issues.append(_syntax_issue(err, source))
    except RecursionError:
        doc.ok = False
        doc.issues.append(
            Issue(path="", message="a document without self-referencing aliases", source=source)
        )
    finally:
        loader.dispose()
    return doc
