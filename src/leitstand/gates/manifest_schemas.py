"""Schema validation of deployment files, offline.

Compose files against the Compose Specification's JSON schema (vendored in
``gates/data/compose-spec.json``, Apache-2.0); Kubernetes objects against the published
Kubernetes JSON schemas (strict: an unknown field is an error) of the policy's Kubernetes
version, as the ``kubernetes-validate`` package ships them (extra ``leitstand[kubernetes]``).
Without that package a Kubernetes object is reported as not checked, never as valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing.exceptions
from jsonschema.protocols import Validator

__all__ = [
    "KubernetesSchemas",
    "SchemaProblem",
    "compose_problems",
    "kubernetes_schemas",
]

_MAX_PROBLEMS = 20  # per document: the first ones, sorted by path
_MAX_MESSAGE = 240


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One place where a document breaks its schema: ``path`` as ``services.app.ports[0]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _path(parts: Iterable[object]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _problems(validator: Validator, doc: object) -> list[SchemaProblem]:
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [
        SchemaProblem(_path(e.absolute_path), _short(e.message)) for e in errors[:_MAX_PROBLEMS]
    ]


@cache
def _compose_validator() -> Validator:
    text = (
        resources.files("leitstand.gates")
        .joinpath("data/compose-spec.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    # The schema says draft-07 in a spelling ("...draft-07/schema" without "#") that
    # validator_for does not recognise; name the draft instead of guessing.
    jsonschema.Draft7Validator.check_schema(schema)
    validator: Validator = jsonschema.Draft7Validator(schema)
    return validator


def compose_problems(doc: dict[str, Any]) -> list[SchemaProblem]:
    """Where a compose document breaks the Compose Specification (empty: valid)."""
    return _problems(_compose_validator(), doc)


@dataclass(frozen=True, slots=True)
class KubernetesSchemas:
    """The Kubernetes JSON schemas of one Kubernetes version (``major.minor``)."""

    version: str

    def problems(self, doc: dict[str, Any]) -> list[SchemaProblem] | None:
        """Where ``doc`` breaks its kind's schema (empty: valid); None: no schema for its
        kind and apiVersion (a custom resource), so it is not checked."""
        import kubernetes_validate

        try:
            kubernetes_validate.validate(doc, self.version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [SchemaProblem(_path(exc.absolute_path), _short(exc.message))]
        except (
            kubernetes_validate.SchemaNotFoundError,
            kubernetes_validate.InvalidSchemaError,
            kubernetes_validate.utils.VersionNotSupportedError,
            referencing.exceptions.Unresolvable,
        ):
            return None
        return []


def kubernetes_schemas(version: str) -> KubernetesSchemas | str:
    """The schemas of Kubernetes ``version``, or why there are none (not installed, or a
    version the installed package has no schemas for)."""
    try:
        import kubernetes_validate
    except ImportError:
        return "kubernetes-validate is not installed (pip install 'leitstand[kubernetes]')"
    known = kubernetes_validate.utils.all_versions()
    wanted = tuple(int(p) for p in version.split(".")[:2])
    have = [v for v in known if tuple(int(p) for p in v.split(".")[:2]) == wanted]
    if not have:
        shipped = ", ".join(sorted({".".join(v.split(".")[:2]) for v in known}))
        return (
            f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for "
            f"Kubernetes {version} (it has {shipped})"
        )
    return KubernetesSchemas(version)
