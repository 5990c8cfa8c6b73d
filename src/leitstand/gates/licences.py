"""Licence of a distribution and its verdict: PEP 639 expression, then classifiers, then License.

An SPDX expression is acceptable when some choice of its ``OR`` branches avoids every forbidden
licence (``AND`` needs all parts); GPL reached through any branch that cannot be avoided fails.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from license_expression import ExpressionError, LicenseSymbol, LicenseWithExceptionSymbol, Licensing

from leitstand.gates.model import matches_any

__all__ = ["Licence", "Verdict", "declared_licence", "judge_expression"]


class Verdict(StrEnum):
    ALLOWED = "allowed"
    REVIEW = "review"
    FORBIDDEN = "forbidden"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Licence:
    """What a distribution declares, and where it was read from."""

    expression: str | None
    source: str  # "License-Expression", "classifier", "License", "none"


# Trove classifiers (the part after "License :: ") to SPDX ids.
_CLASSIFIERS = {
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "OSI Approved :: GNU General Public License (GPL)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "OSI Approved :: GNU Library or Lesser General Public License (LGPL)": "LGPL-2.0-or-later",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Apache Software License": "Apache-2.0",
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: BSD License": "BSD-3-Clause",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Public Domain": "LicenseRef-Public-Domain",
}
# Free-text License values seen in the wild, lower-cased, to SPDX ids.
_ALIASES = {
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "mit license": "MIT",
    "the mit license": "MIT",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "3-clause bsd": "BSD-3-Clause",
    "psfl": "PSF-2.0",
    "psf": "PSF-2.0",
    "isc license": "ISC",
    "mpl 2.0": "MPL-2.0",
    "lgplv3+": "LGPL-3.0-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgpl": "LGPL-2.0-or-later",
    "gplv3+": "GPL-3.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gplv2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gpl": "GPL-2.0-or-later",
    "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later",
}
_TEXTS = (
    (re.compile(r"GNU AFFERO GENERAL PUBLIC LICENSE", re.I), "AGPL-3.0-only"),
    (re.compile(r"GNU LESSER GENERAL PUBLIC LICENSE", re.I), "LGPL-3.0-only"),
    (re.compile(r"GNU GENERAL PUBLIC LICENSE", re.I), "GPL-3.0-only"),
    (re.compile(r"Apache License", re.I), "Apache-2.0"),
    (re.compile(r"Permission is hereby granted, free of charge", re.I), "MIT"),
    (re.compile(r"Redistribution and use in source and binary forms", re.I), "BSD-3-Clause"),
    (re.compile(r"Mozilla Public License", re.I), "MPL-2.0"),
)
_UNKNOWN = {"", "unknown", "none", "other", "other/proprietary license", "dual license"}


@functools.cache
def _licensing() -> Licensing:
    return Licensing()


def declared_licence(
    expression: str | None, classifiers: tuple[str, ...], license_text: str | None
) -> Licence:
    """The licence a distribution declares, by PEP 639 precedence."""
    if expression and expression.strip():
        return Licence(expression.strip(), "License-Expression")
    mapped = [
        _CLASSIFIERS[c.removeprefix("License :: ")]
        for c in classifiers
        if c.removeprefix("License :: ") in _CLASSIFIERS
    ]
    if mapped:
        unique = list(dict.fromkeys(mapped))
        return Licence(" OR ".join(unique), "classifier")
    if license_text and license_text.strip().lower() not in _UNKNOWN:
        first = license_text.strip().splitlines()[0].strip()
        if first.lower() in _ALIASES:
            return Licence(_ALIASES[first.lower()], "License")
        if len(license_text) < 100 and _parses(first):
            return Licence(first, "License")
        for pattern, spdx in _TEXTS:
            if pattern.search(license_text):
                return Licence(spdx, "License")
    return Licence(None, "none")


def _parses(text: str) -> bool:
    try:
        _licensing().parse(text, validate=False, strict=False)
    except ExpressionError:
        return False
    return bool(re.match(r"^[A-Za-z0-9.+() -]+$", text))


def judge_expression(
    expression: str | None, *, forbidden: list[str], review: list[str]
) -> tuple[Verdict, str]:
    """The verdict for an SPDX expression and the licences that decided it."""
    if expression is None:
        return Verdict.UNKNOWN, "no licence declared"
    try:
        parsed = _licensing().parse(expression, validate=False, strict=False)
    except ExpressionError as exc:
        return Verdict.UNKNOWN, f"not an SPDX expression ({exc})"
    if parsed is None:
        return Verdict.UNKNOWN, "empty licence expression"
    verdict, decided = _judge(parsed, forbidden, review)
    return verdict, ", ".join(decided)


_RANK = {Verdict.ALLOWED: 0, Verdict.REVIEW: 1, Verdict.UNKNOWN: 2, Verdict.FORBIDDEN: 3}


def _judge(node: object, forbidden: list[str], review: list[str]) -> tuple[Verdict, list[str]]:
    if isinstance(node, LicenseWithExceptionSymbol):
        return _judge(node.license_symbol, forbidden, review)
    if isinstance(node, LicenseSymbol):
        key = str(node.key)
        key = key.removesuffix("+") + ("-or-later" if key.endswith("+") else "")
        if matches_any(key, forbidden):
            return Verdict.FORBIDDEN, [key]
        if matches_any(key, review):
            return Verdict.REVIEW, [key]
        return Verdict.ALLOWED, [key]
    args = list(getattr(node, "args", ()))
    parts = [_judge(arg, forbidden, review) for arg in args]
    if type(node).__name__ == "OR":
        return min(parts, key=lambda p: _RANK[p[0]])
    worst = max(parts, key=lambda p: _RANK[p[0]])
    return worst[0], [k for v, keys in parts if v is worst[0] for k in keys]
