"""Shared checks of the ``service`` and ``version`` fields every entry point takes.

One rule for the API and the CLI: a service must be one the policy knows (the error names the
known ones), a version must be a PEP 440 version (``packaging``) or a SemVer 2.0.0 version.
Both raise :class:`~leitstand.errors.ValidationError` (HTTP 422, exit code 2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

from leitstand.errors import Issue, ValidationError

__all__ = [
    "MAX_VERSION_LENGTH",
    "check_service",
    "check_version",
    "is_version",
    "service_issue",
    "version_issue",
]

MAX_VERSION_LENGTH = 100
# semver.org's recommended expression (SemVer 2.0.0), anchored.
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Versions end up in paths, URLs and log lines: no spaces, slashes or other specials at all.
_CHARSET = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+!-]*$")


def is_version(value: str) -> bool:
    """True for a PEP 440 or SemVer version of at most 100 characters."""
    if not value or len(value) > MAX_VERSION_LENGTH or not _CHARSET.match(value):
        return False
    if _SEMVER.match(value):
        return True
    try:
        Version(value)
    except InvalidVersion:
        return False
    return True


def version_issue(value: str, field: str = "version") -> Issue | None:
    """The issue with ``value`` as a version, or None when it is one."""
    if is_version(value):
        return None
    return Issue(
        field,
        f"a PEP 440 or SemVer version like 2.4.0, 2.4.0rc1 or 2.4.0-rc.1 "
        f"(at most {MAX_VERSION_LENGTH} characters) (got {value!r})",
    )


def service_issue(
    name: str, known: Iterable[str], field: str = "service", where: str = "services"
) -> Issue | None:
    """The issue with ``name`` as a service of the policy (``where`` names the policy section)."""
    choices = list(known)
    if name in choices:
        return None
    listed = ", ".join(choices) or "none configured"
    return Issue(field, f"unknown service {name!r}: the policy's {where} are {listed}")


def check_version(value: str, field: str = "version") -> str:
    """``value`` if it is a version; else a ValidationError naming the field."""
    issue = version_issue(value, field)
    if issue is not None:
        raise ValidationError([issue])
    return value


def check_service(
    name: str, known: Iterable[str], field: str = "service", where: str = "services"
) -> str:
    """``name`` if the policy knows the service; else a ValidationError naming the known ones."""
    issue = service_issue(name, known, field, where)
    if issue is not None:
        raise ValidationError([issue])
    return name
