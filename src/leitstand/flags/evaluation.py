"""Flag evaluation: the one implementation the HTTP endpoint and the in-process client share.

Order: unknown or archived flag, type mismatch, missing tenant id (errors: the caller's default);
kill switch; targeting off; excluded tenant; rules in order; the fallthrough. Percentages are
sticky: a subject's bucket is ``murmur3("<flag key>:<stickiness value>") mod 10000`` and a share
of p percent admits buckets below ``p * 100``, so raising p only adds subjects (Unleash's
``flexibleRollout`` bucketing, with 0.01 % steps). A split picks its variant with a second,
independent hash, so a subject keeps its variant while the share grows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import mmh3

from leitstand.flags.model import (
    TARGETING_KEY,
    TENANT_ATTRIBUTE,
    Condition,
    FlagConfig,
    FlagValue,
    Operator,
    Serve,
    Targeting,
    ValueType,
    compiled_pattern,
)

__all__ = [
    "BUCKETS",
    "ErrorCode",
    "Reason",
    "Resolution",
    "Snapshot",
    "bucket",
    "condition_holds",
    "content_etag",
    "evaluate",
    "in_share",
    "tenant_state",
]

BUCKETS = 10_000


class Reason(StrEnum):
    """OpenFeature resolution reasons."""

    STATIC = "STATIC"
    DEFAULT = "DEFAULT"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    """OpenFeature error codes (same values as ``openfeature.exception.ErrorCode``)."""

    PROVIDER_NOT_READY = "PROVIDER_NOT_READY"
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    PARSE_ERROR = "PARSE_ERROR"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    GENERAL = "GENERAL"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of one evaluation; on an error ``value`` is None and the caller's default
    applies."""

    value: FlagValue | None
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None
    rule: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "variant": self.variant,
            "reason": self.reason.value,
            "error_code": self.error_code.value if self.error_code else None,
            "error_message": self.error_message,
            "rule": self.rule,
        }


def _error(code: ErrorCode, message: str) -> Resolution:
    return Resolution(None, None, Reason.ERROR, code, message)


def bucket(key: str, value: str) -> int:
    """The subject's sticky bucket (0..9999) for a flag."""
    return mmh3.hash(f"{key}:{value}", signed=False) % BUCKETS


def in_share(key: str, value: str, percentage: float) -> bool:
    """Whether a subject is inside a ``percentage`` share; monotone in the percentage."""
    return bucket(key, value) < round(percentage * 100)


def _subject(serve: Serve, context: Mapping[str, object]) -> str | None:
    value = context.get(serve.stickiness)
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def _missing_subject(serve: Serve) -> Resolution:
    if serve.stickiness == TARGETING_KEY:
        return _error(
            ErrorCode.TARGETING_KEY_MISSING,
            "a percentage rollout needs the targeting key (targetingKey) in the context",
        )
    return _error(
        ErrorCode.INVALID_CONTEXT,
        f"a percentage rollout needs the attribute {serve.stickiness!r} in the context",
    )


def _pick(serve: Serve, flag: FlagConfig, subject: str | None) -> str:
    if not serve.split:
        return serve.variant or flag.off_variant
    total = sum(weight for _, weight in serve.split)
    # An independent hash: the chosen variant does not depend on the share's percentage.
    point = mmh3.hash(f"{flag.key}:split:{subject or ''}", signed=False) % total
    for name, weight in serve.split:
        if point < weight:
            return name
        point -= weight
    return serve.split[-1][0]  # pragma: no cover - the weights always cover the range


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _same(left: object, right: object) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right or str(left).lower() == str(right).lower()
    a, b = _number(left), _number(right)
    if a is not None and b is not None and not (isinstance(left, str) and isinstance(right, str)):
        return a == b
    return str(left) == str(right)


def condition_holds(condition: Condition, context: Mapping[str, object]) -> bool:
    """Whether the context satisfies one condition (a missing attribute satisfies only not_in)."""
    actual = context.get(condition.attribute)
    op = condition.operator
    if actual is None:
        return op is Operator.NOT_IN
    if op is Operator.IN:
        return any(_same(actual, v) for v in condition.values)
    if op is Operator.NOT_IN:
        return not any(_same(actual, v) for v in condition.values)
    if op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
        number = _number(actual)
        if number is None:
            return False
        limits = [n for n in (_number(v) for v in condition.values) if n is not None]
        if op is Operator.GT:
            return any(number > n for n in limits)
        if op is Operator.GTE:
            return any(number >= n for n in limits)
        if op is Operator.LT:
            return any(number < n for n in limits)
        return any(number <= n for n in limits)
    text = str(actual)
    if op is Operator.STARTS_WITH:
        return any(text.startswith(str(v)) for v in condition.values)
    if op is Operator.ENDS_WITH:
        return any(text.endswith(str(v)) for v in condition.values)
    if op is Operator.CONTAINS:
        return any(str(v) in text for v in condition.values)
    return any(compiled_pattern(str(v)).search(text) for v in condition.values)


def _type_matches(expected: ValueType, actual: ValueType) -> bool:
    # An integer flag can answer a float question; nothing else converts.
    return expected is actual or (expected is ValueType.FLOAT and actual is ValueType.INTEGER)


def _served(flag: FlagConfig, variant: str, reason: Reason, rule: str | None) -> Resolution:
    return Resolution(flag.variants[variant], variant, reason, rule=rule)


def evaluate(
    flag: FlagConfig | None,
    key: str,
    context: Mapping[str, object],
    *,
    expected: ValueType | None = None,
    archived: bool = False,
) -> Resolution:
    """Evaluate one flag for a context; never raises for bad input, returns an error instead."""
    if flag is None:
        if archived:
            return _error(
                ErrorCode.FLAG_NOT_FOUND,
                f"flag {key!r} is archived: remove it from the code (the default applies)",
            )
        return _error(ErrorCode.FLAG_NOT_FOUND, f"flag {key!r} not found")
    if expected is not None and not _type_matches(expected, flag.value_type):
        return _error(
            ErrorCode.TYPE_MISMATCH,
            f"flag {key!r} holds {flag.value_type.value} values, not {expected.value}",
        )
    targeting = flag.targeting
    if targeting.killed:
        # The kill switch wins over everything, even over an incomplete context.
        return _served(flag, flag.off_variant, Reason.DISABLED, "kill_switch")
    tenant = context.get(TENANT_ATTRIBUTE)
    if not isinstance(tenant, str) or not tenant:
        return _error(
            ErrorCode.INVALID_CONTEXT,
            f"the evaluation context needs the tenant id ({TENANT_ATTRIBUTE}) as a non-empty "
            f"string (got {tenant!r})",
        )
    if not targeting.enabled:
        return _served(flag, flag.off_variant, Reason.DISABLED, None)
    if tenant in targeting.exclude_tenants:
        return _served(flag, flag.off_variant, Reason.TARGETING_MATCH, "excluded_tenants")
    for rule in targeting.rules:
        if rule.tenants and tenant not in rule.tenants:
            continue
        if not all(condition_holds(c, context) for c in rule.conditions):
            continue
        serve = rule.serve
        subject: str | None = None
        if serve.percentage < 100 or serve.split:
            subject = _subject(serve, context)
            if subject is None:
                return _missing_subject(serve)
            if serve.percentage < 100 and not in_share(flag.key, subject, serve.percentage):
                continue
        reason = Reason.SPLIT if serve.split or serve.percentage < 100 else Reason.TARGETING_MATCH
        return _served(flag, _pick(serve, flag, subject), reason, rule.name)
    return _fallthrough(flag, targeting, context)


def _fallthrough(
    flag: FlagConfig, targeting: Targeting, context: Mapping[str, object]
) -> Resolution:
    serve = targeting.default
    if serve.variant is None and not serve.split:
        return _served(flag, flag.off_variant, Reason.DEFAULT, None)
    subject: str | None = None
    if serve.percentage < 100 or serve.split:
        subject = _subject(serve, context)
        if subject is None:
            return _missing_subject(serve)
        if serve.percentage < 100 and not in_share(flag.key, subject, serve.percentage):
            return _served(flag, flag.off_variant, Reason.DEFAULT, None)
        return _served(flag, _pick(serve, flag, subject), Reason.SPLIT, "default")
    static = not targeting.rules and not targeting.exclude_tenants
    return _served(
        flag, _pick(serve, flag, None), Reason.STATIC if static else Reason.DEFAULT, "default"
    )


def tenant_state(flag: FlagConfig, tenant: str) -> str:
    """A tenant's state in one line for people: ``off``, a variant, ``25% on`` or ``varies``."""
    t = flag.targeting
    if t.killed:
        return "killed"
    if not t.enabled or tenant in t.exclude_tenants:
        return "off"
    for rule in t.rules:
        if rule.tenants and tenant not in rule.tenants:
            continue
        tenant_only = all(
            c.attribute == TENANT_ATTRIBUTE and c.operator in (Operator.IN, Operator.NOT_IN)
            for c in rule.conditions
        )
        if not tenant_only:
            return "varies"
        if not all(condition_holds(c, {TENANT_ATTRIBUTE: tenant}) for c in rule.conditions):
            continue
        return _serve_label(flag, rule.serve)
    return _serve_label(flag, t.default)


def _serve_label(flag: FlagConfig, serve: Serve) -> str:
    if serve.variant is None and not serve.split:
        return "off"
    if serve.split:
        shares = "/".join(name for name, _ in serve.split)
        return shares if serve.percentage >= 100 else f"{serve.percentage:g}% {shares}"
    name = serve.variant or flag.off_variant
    if name == flag.off_variant:
        return "off"
    return name if serve.percentage >= 100 else f"{serve.percentage:g}% {name}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The flags of one environment at one moment, as the server serves and the client keeps."""

    environment: str
    flags: Mapping[str, FlagConfig]
    archived: frozenset[str] = frozenset()
    generated_at: datetime | None = None
    etag: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)

    def resolve(
        self, key: str, context: Mapping[str, object], *, expected: ValueType | None = None
    ) -> Resolution:
        """Evaluate ``key`` against this snapshot."""
        return evaluate(
            self.flags.get(key),
            key,
            context,
            expected=expected,
            archived=key in self.archived,
        )

    def keys(self) -> Iterable[str]:
        return self.flags.keys()


def content_etag(document: Mapping[str, object]) -> str:
    """A strong ETag for a snapshot document: the hash of its canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'
