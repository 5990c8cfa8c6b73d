"""Compile the policy's metrics into Prometheus rule files and promtool unit tests (pure).

One rule file per metric: a recording rule for the metric's value in its threshold unit, then a
warning and a critical alert on that series, in one group so the alerts see the value recorded
at the same evaluation. Rules are evaluated every ``monitoring.evaluation_interval``; ``for:`` is
apart from it: the metric's ``pending``, else the seed's interval up to ``monitoring.max_pending``,
else 0 (the seed's "1 day" for certificates is how often to look, not a day's delay). Rate windows
are twice the interval and at least four scrapes. Each rule file has a test file with, for every
rule, a series just on the good side of the threshold (never fires) and one just on the bad side
(fires exactly when the condition has held for ``for:``; certificates cross the threshold at a
known minute, and the test checks the minute before and the minute it fires).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from leitstand.alerting.catalogue import BATCH_RUNTIME, BATCH_START, CATALOGUE, MetricSpec
from leitstand.errors import Issue, ValidationError
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import BatchJobMetric, Direction, ThresholdMetric

__all__ = ["RuleSet", "alert_name", "compile_rules", "record_name"]

_WEEK = 7 * 86400
_UNIT = {
    "percent": ("%", "%"),
    "ms": ("ms", "ms"),
    "count": ("", ""),
    "per_minute": ("/min", "/min"),
    "days": ("Tage", "days"),
    "houses": ("Maklerhäuser", "broker houses"),
    "runtime_factor": ("× Normalzeit", "× normal runtime"),
    "overdue_seconds": ("s", "s"),
}


def alert_name(metric_id: str, suffix: str = "") -> str:
    """``http_5xx_rate`` -> ``Http5xxRate``."""
    return "".join(part[:1].upper() + part[1:] for part in metric_id.split("_")) + suffix


def record_name(spec: MetricSpec) -> str:
    """The recorded series of a metric, e.g. ``leitstand:cpu:percent``."""
    return f"leitstand:{spec.id}:{spec.unit}"


def _seconds(value: timedelta) -> int:
    return max(1, math.ceil(value.total_seconds()))


def _dur(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True, slots=True)
class _Rule:
    alert: str
    severity: str
    level: int
    threshold: float
    op: str  # ">" or "<"
    labels: dict[str, str]
    summary: str
    description: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rule and test files by file name, as plain data ready for YAML."""

    rules: dict[str, dict[str, Any]]
    tests: dict[str, dict[str, Any]]


class _Context:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.scrape = _seconds(policy.monitoring.scrape_interval)
        self.evaluation = _seconds(policy.monitoring.evaluation_interval)
        levels = sorted(policy.alerting.levels.items(), key=lambda kv: kv[1].level)
        if len(levels) < 2:
            raise ValidationError(
                [Issue("alerting.levels", "at least a warning and a critical level")]
            )
        self.warning, self.critical = levels[0], levels[1]

    def window(self, interval: int) -> int:
        return max(2 * interval, 4 * self.scrape)

    def pending(self, metric: ThresholdMetric | BatchJobMetric) -> int:
        """The alerts' ``for:`` in seconds (see the module docstring)."""
        if metric.pending is not None:
            return _seconds(metric.pending)
        interval = _seconds(metric.interval)
        return interval if interval <= _seconds(self.policy.monitoring.max_pending) else 0


def _rule(
    ctx: _Context,
    spec: MetricSpec,
    metric_id: str,
    name: str,
    which: str,
    threshold: float,
    op: str,
    category: str,
    labels_text: str,
) -> _Rule:
    key, level = ctx.warning if which == "warning" else ctx.critical
    unit_de, unit_en = _UNIT[spec.unit]
    word_de = "über" if op == ">" else "unter"
    word_en = "above" if op == ">" else "below"
    return _Rule(
        alert=name,
        severity=key,
        level=level.level,
        threshold=threshold,
        op=op,
        labels={
            "severity": key,
            "level": str(level.level),
            "metric": metric_id,
            "category": category,
        },
        summary=f"{name}: {word_de} {_num(threshold)} {unit_de} ({level.name.de}) – {labels_text}",
        description=(
            f"{record_name(spec)} {word_en} {_num(threshold)} {unit_en} "
            f"({level.name.en}); {labels_text}"
        ),
    )


def _labels_text(by: tuple[str, ...]) -> str:
    return ", ".join(f"{label}={{{{ $labels.{label} }}}}" for label in by)


def _group(spec: MetricSpec, expr: str, rules: list[_Rule], for_s: int) -> dict[str, Any]:
    record = record_name(spec)
    return {
        "name": f"leitstand-{spec.id}-{spec.unit.replace('_', '-')}",
        "rules": [
            {"record": record, "expr": expr},
            *(
                {
                    "alert": r.alert,
                    "expr": f"{record} {r.op} {_num(r.threshold)}",
                    "for": _dur(for_s),
                    "labels": r.labels,
                    "annotations": {"summary": r.summary, "description": r.description},
                }
                for r in rules
            ),
        ],
    }


# -- test generation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Case:
    key: str
    value: float
    series: list[tuple[str, str]]
    at: Callable[[int], float | None]  # the recorded value at an evaluation time
    labels: dict[str, str]  # the labels of the recorded series


def _bad(value: float, rule: _Rule) -> bool:
    return value > rule.threshold if rule.op == ">" else value < rule.threshold


def _first_bad(case: _Case, rule: _Rule, step: int, horizon: int) -> int | None:
    for t in range(0, horizon + 1, step):
        value = case.at(t)
        if value is not None and _bad(value, rule):
            return t
    return None


def _value_fn(
    spec: MetricSpec, value: float, window: int, step: int
) -> Callable[[int], float | None]:
    if spec.shape == "gauge":
        return lambda _t: value
    if spec.shape in ("ratio", "count"):
        return lambda t: value if t >= step else None
    if spec.shape == "rate":
        # Counters start at zero, so rate() sees only min(t, window) of the window.
        return lambda t: value * min(t, window) / window if t >= step else None
    if spec.shape == "time":  # certificate expiry in days
        return lambda t: value - t / 86400
    raise ValueError(spec.shape)


def _test_group(
    name: str,
    cases: list[_Case],
    rules: list[_Rule],
    *,
    step: int,
    for_s: int,
    bad_key: str,
    target: _Rule,
    horizon: int,
) -> dict[str, Any]:
    starts: dict[tuple[str, str], int | None] = {
        (c.key, r.severity): _first_bad(c, r, step, horizon) for c in cases for r in rules
    }
    fire_start = starts[(bad_key, target.severity)]
    if fire_start is None:
        raise ValueError(f"{name}: the bad series never crosses {target.threshold}")
    fire = fire_start + for_s
    checks = [t for t in (fire - step, fire) if t >= 0]
    tests = []
    for t in checks:
        expected = []
        for case in cases:
            for rule in rules:
                began = starts[(case.key, rule.severity)]
                if began is not None and t >= began + for_s:
                    expected.append(
                        {
                            "exp_labels": {**case.labels, **rule.labels},
                            "exp_annotations": {
                                "summary": _fill(rule.summary, case.labels),
                                "description": _fill(rule.description, case.labels),
                            },
                        }
                    )
        tests.append({"eval_time": _dur(t), "alertname": target.alert, "exp_alerts": expected})
    return {
        "name": name,
        "interval": _dur(step),
        "input_series": [{"series": s, "values": v} for c in cases for s, v in c.series],
        "alert_rule_test": tests,
    }


def _fill(template: str, labels: dict[str, str]) -> str:
    for key, value in labels.items():
        template = template.replace(f"{{{{ $labels.{key} }}}}", value)
    return template


def _keyed(spec: MetricSpec, key: str) -> dict[str, str]:
    fixed = {"service": "portal", "mountpoint": "/", "device": "sda", "queue": "contracts"}
    fixed["db_client_connection_pool_name"] = "main"
    if spec.id == "disk":
        fixed["device"] = "sda1"
    labels = {spec.by[0]: key}
    for label in spec.by[1:]:
        labels[label] = fixed.get(label, "batch")
    return labels


# -- compiling -------------------------------------------------------------------------------


def _threshold_metric(
    ctx: _Context, metric_id: str, metric: ThresholdMetric
) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = CATALOGUE.get(metric_id)
    if spec is None:
        known = ", ".join(sorted(CATALOGUE))
        raise ValidationError(
            [Issue(f"monitoring.metrics.{metric_id}", f"a metric leitstand can measure ({known})")]
        )
    interval = _seconds(metric.interval)
    window = ctx.window(interval)
    op = ">" if metric.direction is Direction.ABOVE else "<"
    labels_text = _labels_text(spec.by)
    name = alert_name(metric_id)
    category = metric.category.value
    rules = [
        _rule(
            ctx, spec, metric_id, name, "warning", float(metric.warning), op, category, labels_text
        ),
        _rule(
            ctx,
            spec,
            metric_id,
            name,
            "critical",
            float(metric.critical),
            op,
            category,
            labels_text,
        ),
    ]
    pending = ctx.pending(metric)
    group = _group(spec, spec.expr(_dur(window)), rules, pending)
    # Minutes for certificates: the test shows the minute the critical alert fires.
    step = 3600 if pending >= 3600 else (60 if spec.shape in ("drop", "time") else ctx.evaluation)
    for_s = pending
    if for_s % step:
        for_s = math.ceil(for_s / step) * step
    tests = []
    for rule in rules:
        good_v, bad_v = _sides(spec, rule)
        tests.append(_cases_group(ctx, spec, rule, rules, good_v, bad_v, step, for_s, window))
    return group, {"evaluation_interval": _dur(step), "tests": tests}


def _sides(spec: MetricSpec, rule: _Rule) -> tuple[float, float]:
    t = rule.threshold
    if spec.shape == "count":
        return (t, t + 1) if rule.op == ">" else (t, t - 1)
    if spec.shape == "time":  # days left, counted down: the bad one crosses t after 45 minutes
        return t + 2, t + 1 / 32
    delta = 0.04 * t
    return (t - delta, t + delta) if rule.op == ">" else (t + delta, t - delta)


def _cases_group(
    ctx: _Context,
    spec: MetricSpec,
    rule: _Rule,
    rules: list[_Rule],
    good_v: float,
    bad_v: float,
    step: int,
    for_s: int,
    window: int,
) -> dict[str, Any]:
    if spec.shape == "drop":
        before = _WEEK // step + window // step + 20
        steps = before + 40
        switch = (before + 1) * step
        fire_start = switch + window
        horizon = steps * step

        def drop_at(v: float) -> Callable[[int], float | None]:
            return lambda t: v if t >= fire_start else 0.0

        make: Callable[[float], Callable[[int], float | None]] | None = drop_at
    else:
        horizon = 0
        steps = 0
        make = None
    cases = []
    for key, value in (("good", good_v), ("bad", bad_v)):
        key_name = f"{key}-{spec.id.replace('_', '-')}-{rule.severity}"
        at = make(value) if make else _value_fn(spec, value, window, step)
        cases.append(_Case(key_name, value, [], at, _keyed(spec, key_name)))
    if not horizon:
        bad = cases[1]
        start = _first_bad(bad, rule, step, 10 * (window + for_s) + 2 * 86400)
        if start is None:
            raise ValueError(f"{spec.id}: bad value {bad_v} never crosses {rule.threshold}")
        horizon = start + for_s + 2 * step
        steps = horizon // step + 2
    cases = [
        _Case(c.key, c.value, spec.series(c.value, c.key, step, steps), c.at, c.labels)
        for c in cases
    ]
    return _test_group(
        f"{spec.id} {rule.severity}: {_num(good_v)} stays quiet, {_num(bad_v)} fires",
        cases,
        rules,
        step=step,
        for_s=for_s,
        bad_key=cases[1].key,
        target=rule,
        horizon=horizon,
    )


def _runtime(normal: float) -> Callable[[int], float | None]:
    # The job has been running since t=1s.
    return lambda t: (t - 1) / normal


def _overdue(expected_interval: float) -> Callable[[int], float | None]:
    # The last start was at t=1s.
    return lambda t: t - 1 - expected_interval


def _batch(
    ctx: _Context, metric: BatchJobMetric
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    pending = ctx.pending(metric)
    step = ctx.evaluation
    category = metric.category.value
    out = []
    factor = float(metric.warning_runtime_factor)
    runtime = _rule(
        ctx,
        BATCH_RUNTIME,
        "batch_jobs",
        alert_name("batch_jobs", "Runtime"),
        "warning",
        factor,
        ">",
        category,
        _labels_text(BATCH_RUNTIME.by),
    )
    # The bad job normally takes 60s; the good one is scaled to stay just under the factor.
    bad_start = next(t for t in range(0, 10**6, step) if (t - 1) / 60 > factor)
    horizon = bad_start + pending + 2 * step
    good_normal = (horizon - 1) / (factor * 0.98)
    cases = [
        _Case("good-batch-runtime", good_normal, [], _runtime(good_normal), {}),
        _Case("bad-batch-runtime", 60.0, [], _runtime(60.0), {}),
    ]
    out.append((BATCH_RUNTIME, runtime, cases, horizon))
    if metric.critical_when_not_started:
        start = _rule(
            ctx,
            BATCH_START,
            "batch_jobs",
            alert_name("batch_jobs", "NotStarted"),
            "critical",
            0.0,
            ">",
            category,
            _labels_text(BATCH_START.by),
        )
        bad_start = next(t for t in range(0, 10**6, step) if t - 1 - 60 > 0)
        horizon = bad_start + pending + 2 * step
        cases = [
            _Case("good-batch-start", 10.0 * horizon, [], _overdue(10.0 * horizon), {}),
            _Case("bad-batch-start", 60.0, [], _overdue(60.0), {}),
        ]
        out.append((BATCH_START, start, cases, horizon))
    files = []
    for spec, rule, raw, hor in out:
        steps = hor // step + 2
        built = []
        for case in raw:
            series = spec.series(case.value, case.key, step, steps)
            labels = {"job_name": case.key, "service": "batch"}
            built.append(_Case(case.key, case.value, series, case.at, labels))
        test = _test_group(
            f"batch_jobs {rule.alert}",
            built,
            [rule],
            step=step,
            for_s=pending,
            bad_key=built[1].key,
            target=rule,
            horizon=hor,
        )
        group = _group(spec, spec.expr("1m"), [rule], pending)
        files.append(
            (f"batch_jobs_{spec.unit}", group, {"evaluation_interval": _dur(step), "tests": [test]})
        )
    return files


def compile_rules(policy: Policy) -> RuleSet:
    """Every rule file and its promtool test file, keyed by file stem."""
    ctx = _Context(policy)
    rules: dict[str, dict[str, Any]] = {}
    tests: dict[str, dict[str, Any]] = {}
    problems: list[Issue] = []
    for metric_id, metric in policy.monitoring.metrics.items():
        try:
            if isinstance(metric, ThresholdMetric):
                group, test = _threshold_metric(ctx, metric_id, metric)
                rules[metric_id] = {"groups": [group]}
                tests[metric_id] = test
            else:
                for stem, group, test in _batch(ctx, metric):
                    rules[stem] = {"groups": [group]}
                    tests[stem] = test
        except ValidationError as exc:
            problems += exc.issues
    if problems:
        raise ValidationError(problems)
    for stem, test in tests.items():
        test["rule_files"] = [f"{stem}.rules.yml"]
    return RuleSet(rules=rules, tests=tests)
