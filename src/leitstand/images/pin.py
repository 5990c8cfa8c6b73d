"""Pin deployment files to a verified, signed image by digest (``leitstand image pin``).

The files in ``deploy/`` name leitstand's image by a variable (compose) or by name and tag
(Kubernetes); a digest exists only once an image is built. ``image pin`` takes it from a layout
that verifies and whose attestation a trusted key signed, never from a hand-copied string:

- a Kustomization gets an ``images`` entry (``name`` as the manifests write it, ``newName``
  the image's registry path, ``digest``), so ``kubectl apply -k`` deploys exactly that image;
- a compose ``.env`` file gets ``VARIABLE=<registry path>@sha256:<digest>``.

Both files are rewritten whole through a temporary file and a rename; the other entries and
lines stay as they were (a Kustomization's leading comment lines are kept).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from leitstand.errors import Issue, ValidationError

__all__ = ["check_registry", "pin_env_file", "pin_kustomization"]

_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def check_registry(name: str, registries: Sequence[str]) -> str | None:
    """Why ``name`` is not from one of ``registries`` (globs), or None (empty: any registry)."""
    if registries and not any(fnmatch.fnmatchcase(name, glob) for glob in registries):
        return (
            f"the image {name} is not from a trusted registry "
            f"(gates.containers.trusted_registries: {', '.join(registries)})"
        )
    return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def kustomization_file(folder: Path) -> Path:
    """The Kustomization file in ``folder``; a ValidationError (exit 2) if there is none."""
    for name in _KUSTOMIZATION_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ValidationError(
        [Issue("--kustomization", f"{folder}: no kustomization.yaml (a kustomize folder)")]
    )


def pin_kustomization(folder: Path, *, name: str, new_name: str, digest: str) -> Path:
    """Set the ``images`` entry of ``name`` in the Kustomization of ``folder``."""
    path = kustomization_file(folder)
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError([Issue("--kustomization", f"{path}: not YAML ({exc})")]) from None
    if not isinstance(document, dict) or document.get("kind", "Kustomization") != "Kustomization":
        raise ValidationError([Issue("--kustomization", f"{path}: not a Kustomization")])
    images = document.get("images") or []
    if not isinstance(images, list):
        raise ValidationError([Issue("--kustomization", f"{path}: images is not a list")])
    entry: dict[str, Any] = {"name": name, "newName": new_name, "digest": digest}
    kept = [i for i in images if not (isinstance(i, dict) and i.get("name") == name)]
    document["images"] = [*kept, entry]
    header = "".join(line for line in text.splitlines(keepends=True)[: _leading_comments(text)])
    _write(path, header + yaml.safe_dump(document, sort_keys=False))
    return path


def _leading_comments(text: str) -> int:
    count = 0
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        count += 1
    return count


def pin_env_file(path: Path, *, variable: str, reference: str) -> Path:
    """Set ``variable=reference`` in a compose ``.env`` file (made when missing)."""
    if not _VARIABLE.match(variable):
        raise ValidationError(
            [Issue("--variable", f"expected an upper-case variable name (got {variable!r})")]
        )
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    assignment = f"{variable}={reference}"
    replaced = False
    out: list[str] = []
    for line in lines:
        if line.split("=", 1)[0].strip() == variable and not line.lstrip().startswith("#"):
            out.append(assignment)
            replaced = True
        else:
            out.append(line)
    if not replaced:
        out.append(assignment)
    _write(path, "\n".join(out) + "\n")
    return path
