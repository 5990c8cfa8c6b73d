"""Server-side SVG charts (leitstand.web.charts) and the charts page (leitstand.web.chart_views)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leitstand.alerting.schemas import AlertOut
from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.backups.schemas import RunView
from leitstand.bootstrap import Container
from leitstand.policy.model import Policy, default_policy
from leitstand.releases.model import Phase
from leitstand.testing import free_port
from leitstand.web.chart_views import (
    PrometheusRange,
    alert_volume_chart,
    ledger_growth_chart,
    rpo_points,
    service_charts,
)
from leitstand.web.charts import (
    HEIGHT,
    PLOT,
    WIDTH,
    Marker,
    Series,
    Threshold,
    bar_chart,
    line_chart,
    nice_ceiling,
    time_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ADMIN = Actor(name="local:test", role="local")


def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)  # noqa: S314 - our own output, parsed to check it is valid XML
    assert root.tag == f"{SVG}svg"
    return root


def _x(when: datetime, start: datetime, end: datetime) -> float:
    return PLOT.left + (when - start) / (end - start) * PLOT.width


def _y(value: float, top: float) -> float:
    return PLOT.bottom - value / top * PLOT.height


# -- line charts -------------------------------------------------------------------------------


def test_a_line_chart_is_valid_svg_with_title_desc_and_a_fixed_viewbox() -> None:
    chart = line_chart(
        "rpo-enterprise-api",
        title="RPO: Enterprise API",
        desc="RPO over seven days",
        series=[Series("from backups", [(T0, 3.0), (T0 + timedelta(hours=1), 7.0)])],
        lang="en",
        unit="min",
    )
    root = _svg(chart.svg)
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "RPO: Enterprise API"
    assert root.get("aria-labelledby") == "rpo-enterprise-api-title rpo-enterprise-api-desc"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "rpo-enterprise-api-title"
    assert title.text == "RPO: Enterprise API"
    assert desc is not None and desc.text == "RPO over seven days"
    assert "<script" not in chart.svg and "style=" not in chart.svg
    assert not chart.empty
    assert chart.headers == ("Series", "Time", "Value")
    assert chart.rows == (
        ("from backups", "7 Dec 2026, 09:00 CET", "3 min"),
        ("from backups", "7 Dec 2026, 10:00 CET", "7 min"),
    )


def test_points_thresholds_and_markers_are_scaled_onto_the_plot() -> None:
    start, end = T0, T0 + timedelta(hours=4)
    points = [(T0 + timedelta(hours=2), 50.0), (T0, 0.0), (T0 + timedelta(hours=4), 80.0)]
    release = Marker(T0 + timedelta(hours=1), "2.4.0", "release")
    rollback = Marker(T0 + timedelta(hours=3), "Rollback 2.4.0", "rollback")
    outside = Marker(T0 + timedelta(hours=5), "later", "release")
    chart = line_chart(
        "p95-shop",
        title="p95",
        desc="",
        series=[Series("p95", points)],
        lang="de",
        unit="ms",
        start=start,
        end=end,
        thresholds=[Threshold(60.0, "Kritisch 60 ms")],
        markers=[rollback, outside, release],
    )
    root = _svg(chart.svg)
    top = 100.0  # the nice ceiling above 80
    line = root.find(f".//{SVG}polyline[@data-series='p95']")
    assert line is not None
    drawn = [float(c) for pair in line.get("points", "").split() for c in pair.split(",")]
    expected = [c for t, v in sorted(points) for c in (_x(t, start, end), _y(v, top))]
    assert drawn == pytest.approx(expected, abs=0.01)
    assert drawn[:2] == pytest.approx([PLOT.left, PLOT.bottom])
    assert drawn[-2:] == pytest.approx([PLOT.right, _y(80, top)])

    markers = root.findall(f".//{SVG}line[@data-at]")
    assert [m.get("class") for m in markers] == ["marker marker-release", "marker marker-rollback"]
    assert [float(m.get("x1", "nan")) for m in markers] == pytest.approx(
        [PLOT.left + PLOT.width / 4, PLOT.left + PLOT.width * 3 / 4], abs=0.01
    )
    labels = [t.text for t in root.findall(f".//{SVG}g[@class='markers']/{SVG}text")]
    assert labels == ["2.4.0", "Rollback 2.4.0"]

    threshold = root.find(f".//{SVG}line[@class='threshold']")
    assert threshold is not None
    assert float(threshold.get("y1", "nan")) == pytest.approx(_y(60, top), abs=0.01)
    # The text alternative names the limit, every point and both events, in German.
    assert chart.rows[0] == ("Kritisch 60 ms", "", "60 ms")
    assert ("p95", "07.12.2026, 11:00 MEZ", "50 ms") in chart.rows
    assert ("Ereignis", "07.12.2026, 12:00 MEZ", "Rollback 2.4.0") in chart.rows
    assert not any("later" in cell for row in chart.rows for cell in row)


def test_the_y_axis_reaches_above_a_threshold_higher_than_every_point() -> None:
    chart = line_chart(
        "rpo",
        title="RPO",
        desc="",
        series=[Series("rpo", [(T0, 2.0), (T0 + timedelta(hours=1), 4.0)])],
        lang="de",
        thresholds=[Threshold(15.0, "Ziel 15 min")],
    )
    threshold = _svg(chart.svg).find(f".//{SVG}line[@class='threshold']")
    assert threshold is not None
    assert float(threshold.get("y1", "nan")) == pytest.approx(_y(15, 20), abs=0.01)


def test_all_text_is_escaped() -> None:
    nasty = "<script>alert(\"x\")</script> & 'co'"
    chart = line_chart(
        nasty,
        title=nasty,
        desc=nasty,
        series=[Series(nasty, [(T0, 1.0)]), Series("b", [(T0, 2.0)])],
        lang="en",
        unit=nasty,
        thresholds=[Threshold(1.5, nasty)],
        markers=[Marker(T0, nasty, nasty)],
    )
    assert "<script>" not in chart.svg
    root = _svg(chart.svg)
    assert root.get("aria-label") == nasty
    assert root.find(f"{SVG}title") is not None
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count(nasty) >= 4  # unit, threshold, marker and legend
    assert root.get("data-chart") == "script-alert-x-script-co"
    bars = bar_chart("b", title=nasty, desc=nasty, bars=[(nasty, 1.0)], lang="en")
    assert "<script>" not in bars.svg
    assert _svg(bars.svg).find(f".//{SVG}rect[@class='bar']") is not None


def test_without_data_the_chart_says_so() -> None:
    for chart in (
        line_chart("e", title="Leer", desc="", series=[], lang="de"),
        line_chart("e", title="Leer", desc="", series=[Series("s", [])], lang="de"),
        line_chart(
            "e",
            title="Leer",
            desc="",
            series=[Series("s", [(T0 - timedelta(days=9), 1.0)])],
            lang="de",
            start=T0,
            end=T0 + timedelta(days=1),
        ),
    ):
        root = _svg(chart.svg)
        message = root.find(f".//{SVG}text[@class='no-data']")
        assert message is not None and message.text == "Keine Daten"
        assert root.find(f".//{SVG}polyline") is None
        assert chart.empty and chart.rows == ()
    told = line_chart(
        "p", title="p95", desc="", series=[], lang="en", empty_text="Prometheus not reachable"
    )
    message = _svg(told.svg).find(f".//{SVG}text[@class='no-data']")
    assert message is not None and message.text == "Prometheus not reachable"
    empty_bars = bar_chart("b", title="Alerts", desc="", bars=[], lang="en")
    message = _svg(empty_bars.svg).find(f".//{SVG}text[@class='no-data']")
    assert message is not None and message.text == "No data" and empty_bars.empty


def test_a_single_point_is_drawn_as_a_dot_in_a_one_hour_window() -> None:
    chart = line_chart("one", title="x", desc="", series=[Series("s", [(T0, 5.0)])], lang="en")
    dot = _svg(chart.svg).find(f".//{SVG}circle")
    assert dot is not None
    assert float(dot.get("cx", "nan")) == pytest.approx(PLOT.left + PLOT.width / 2)


def test_the_time_axis_has_round_ticks_in_the_display_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 12, 7, 10, 35, 12, tzinfo=UTC)
    week = time_ticks(now - timedelta(days=7), now, berlin)
    assert [t.astimezone(berlin).strftime("%d.%m. %H:%M") for t in week] == [
        "01.12. 00:00",
        "03.12. 00:00",
        "05.12. 00:00",
        "07.12. 00:00",
    ]
    day = time_ticks(now - timedelta(hours=24), now, berlin)
    assert [t.astimezone(berlin).strftime("%H:%M") for t in day] == [
        "12:00",
        "18:00",
        "00:00",
        "06:00",
    ]
    assert len(time_ticks(now - timedelta(days=30), now, berlin)) == 6
    chart = line_chart(
        "week",
        title="w",
        desc="",
        series=[Series("s", [(now - timedelta(days=7), 1.0), (now, 2.0)])],
        lang="de",
        zone=berlin,
    )
    labels = [t.text for t in _svg(chart.svg).findall(f".//{SVG}g[@class='x-axis']/{SVG}text")]
    assert labels == ["01.12.2026", "03.12.2026", "05.12.2026", "07.12.2026"]


# -- bar charts ---------------------------------------------------------------------------------


def test_bars_are_proportional_to_their_counts_and_labelled() -> None:
    chart = bar_chart(
        "alert-volume",
        title="Alarme je Stufe",
        desc="30 Tage",
        bars=[("1 Warnung", 12.0), ("2 Kritisch", 3.0), ("3 Ausfall", 0.0)],
        lang="de",
        category_header="Stufe",
    )
    root = _svg(chart.svg)
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert [b.get("data-label") for b in bars] == ["1 Warnung", "2 Kritisch", "3 Ausfall"]
    heights = [float(b.get("height", "nan")) for b in bars]
    top = nice_ceiling(12)
    assert heights == pytest.approx([12 / top * PLOT.height, 3 / top * PLOT.height, 0], abs=0.01)
    for bar, height in zip(bars, heights, strict=True):
        assert float(bar.get("y", "nan")) + height == pytest.approx(PLOT.bottom)
    xs = [float(b.get("x", "nan")) + float(b.get("width", "nan")) / 2 for b in bars]
    slot = PLOT.width / 3
    assert xs == pytest.approx([PLOT.left + slot * (i + 0.5) for i in range(3)], abs=0.01)
    assert chart.headers == ("Stufe", "Wert")
    assert chart.rows == (("1 Warnung", "12"), ("2 Kritisch", "3"), ("3 Ausfall", "0"))


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (-3, 1), (0.3, 0.5), (1, 1), (1.2, 2), (2.2, 2.5), (7, 10), (80, 100), (1400, 2000)],
)
def test_the_axis_ends_at_a_round_value(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


# -- the page's data ----------------------------------------------------------------------------


def _run(data: str, started: datetime, minutes: int = 10, status: str = "succeeded") -> RunView:
    return RunView(
        id=1,
        run_key=f"{data}:{started.isoformat()}",
        system="batch-processing",
        row="r",
        data=data,
        method="full",
        engine="restic",
        trigger="schedule",
        actor="test",
        status=status,
        attempts=1,
        due_at=None,
        started_at=started,
        finished_at=started + timedelta(minutes=minutes),
        size_bytes=None,
        stored_bytes=None,
    )


def test_rpo_rises_until_a_backup_finishes_and_then_drops_to_its_age() -> None:
    h = timedelta(hours=1)
    runs = [
        _run("files", T0 - 2 * h),  # before the window: the point at its start
        _run("files", T0 + 2 * h),  # finishes 10 minutes later
        _run("files", T0 + 3 * h, status="failed"),  # does not count
        _run("database", T0 + 1 * h),  # another kind, not needed by this system
    ]
    points = rpo_points(runs, ["files"], start=T0, end=T0 + 4 * h)
    finished = T0 + 2 * h + timedelta(minutes=10)
    assert points == [
        (T0, 2 * 3600.0),
        (finished, (finished - (T0 - 2 * h)).total_seconds()),
        (finished, 600.0),
        (T0 + 4 * h, (2 * h).total_seconds()),
    ]
    # Two kinds: the older of the two newest points counts; before both exist there is none.
    both = rpo_points(runs, ["files", "database"], start=T0, end=T0 + 4 * h)
    database_done = T0 + h + timedelta(minutes=10)
    assert both[0] == (database_done, (database_done - (T0 - 2 * h)).total_seconds())
    assert both[-1] == (T0 + 4 * h, (3 * h).total_seconds())  # the database's, 3 hours old
    assert rpo_points([], ["files"], start=T0, end=T0 + h) == []


def _alert(level: int, received: datetime) -> AlertOut:
    return AlertOut(
        id=level,
        fingerprint="f",
        name="HighErrorRate",
        severity="critical",
        level=level,
        status="firing",
        summary="",
        labels={},
        service=None,
        tenant=None,
        source="alertmanager",
        starts_at=received,
        received_at=received,
        last_seen_at=received,
        occurrences=1,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
    )


def test_alert_volume_counts_the_window_per_policy_level() -> None:
    now = T0
    alerts = [
        _alert(1, now - timedelta(days=1)),
        _alert(1, now - timedelta(days=2)),
        _alert(2, now - timedelta(hours=1)),
        _alert(1, now - timedelta(days=31)),  # outside the 30 days
        _alert(7, now - timedelta(days=3)),  # a level the policy no longer has
    ]
    chart = alert_volume_chart(alerts, default_policy(), now=now, lang="de")
    assert chart.rows == (
        ("1 Warnung", "2"),
        ("2 Kritisch", "1"),
        ("3 Ausfall", "0"),
        ("Stufe 7", "1"),
    )
    english = alert_volume_chart(alerts, default_policy(), now=now, lang="en")
    assert english.rows[0] == ("1 Warning", "2") and english.headers == ("Level", "Value")


def test_ledger_growth_counts_the_entries_of_each_day(container: Container) -> None:
    clock: Any = container.clock
    start = clock.now()
    for day in range(3):
        for _ in range(day + 1):
            container.audit.record(actor=ADMIN, action="note", subject=f"day:{day}")
        clock.advance(timedelta(days=1))
    now = clock.now()
    chart = ledger_growth_chart(container.audit, now=now, lang="en", zone=UTC, days=5)
    counts = [int(row[2]) for row in chart.rows]
    assert len(counts) == 5
    # The days before the first note hold the start-up entries; then 1, 2 and 3 notes, none today.
    size = container.audit.signed_head().size
    assert sum(counts) == size - _before(container, start - timedelta(days=1))
    assert counts[-1] == 0
    assert counts[-4:-1] == [_on_day(container, start + timedelta(days=d)) for d in range(3)]


def _before(container: Container, when: datetime) -> int:
    from leitstand.ledger.service import EntryQuery

    day = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return len(container.audit.log(EntryQuery(until=day, limit=None)))


def _on_day(container: Container, when: datetime) -> int:
    from leitstand.ledger.service import EntryQuery

    day = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    query = EntryQuery(since=day, until=day + timedelta(days=1), limit=None)
    return len(container.audit.log(query))


# -- error rate and p95 from Prometheus ---------------------------------------------------------


def _release_policy(prometheus: str | None) -> Policy:
    data = default_policy().model_dump(mode="json")
    target: dict[str, Any] = {
        "start": {"command": ["true"]},
        "environments": {
            "production": {
                "router": {"kind": "kubernetes", "service": "api", "output_dir": "/tmp/k8s"},
                "instances": {"blue": {"port": 18081}, "green": {"port": 18082}},
            }
        },
    }
    if prometheus is not None:
        target["analysis"] = {"prometheus_url": prometheus}
    data["deployment"]["releases"] = {"enterprise-api": target}
    return Policy.model_validate(data)


class _History:
    def __init__(self, releases: list[Any]) -> None:
        self.releases = releases

    def history(self, *, service: str | None = None, limit: int = 100) -> list[Any]:
        return [r for r in self.releases if r.service == service][:limit]


class _Release:
    def __init__(self, version: str, created: datetime, phase: Phase, finished: datetime) -> None:
        self.service, self.version, self.created_at = "enterprise-api", version, created
        self.phase, self.finished_at = phase, finished


class _Prometheus(PrometheusRange):
    def __init__(self, answers: dict[str, list[tuple[datetime, float]]]) -> None:
        super().__init__("http://prometheus.test", timeout=1)
        self.answers = answers
        self.asked: list[str] = []

    def series(
        self, expr: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, float]]:
        self.asked.append(expr)
        return self.answers["p95" if "histogram_quantile" in expr else "errors"]


def test_service_charts_draw_prometheus_series_with_release_markers(tmp_path: Path) -> None:
    now = T0
    releases = _History(
        [
            _Release("2.4.0", now - timedelta(hours=6), Phase.COMPLETED, now - timedelta(hours=5)),
            _Release(
                "2.5.0", now - timedelta(hours=2), Phase.ROLLED_BACK, now - timedelta(hours=1)
            ),
            _Release("1.0.0", now - timedelta(days=3), Phase.COMPLETED, now - timedelta(days=3)),
        ]
    )
    fake = _Prometheus(
        {
            "errors": [(now - timedelta(hours=3), 0.5), (now - timedelta(hours=1), 4.0)],
            "p95": [(now - timedelta(hours=3), 120.0)],
        }
    )
    charts = service_charts(
        releases,  # type: ignore[arg-type]
        _release_policy("http://prometheus.test"),
        tmp_path,
        now=now,
        lang="en",
        zone=UTC,
        prometheus=lambda url, timeout: fake,
    )
    assert [c.id for c in charts] == ["error-rate-enterprise-api", "p95-enterprise-api"]
    errors, p95 = charts
    assert not errors.empty and not p95.empty
    assert 'service="enterprise-api"' in fake.asked[0] and 'http_route!="/health"' in fake.asked[0]
    root = _svg(errors.svg)
    markers = root.findall(f".//{SVG}line[@data-at]")
    start = now - timedelta(hours=24)
    # Both release starts of the last 24 hours and the rollback; the release of 3 days ago not.
    assert [float(m.get("x1", "nan")) for m in markers] == pytest.approx(
        [_x(now - timedelta(hours=h), start, now) for h in (6, 2, 1)], abs=0.01
    )
    assert [m.get("class") for m in markers] == [
        "marker marker-release",
        "marker marker-release",
        "marker marker-rollback",
    ]
    assert ("Event", "7 Dec 2026, 07:00 UTC", "Rollback 2.5.0") in errors.rows
    # The monitoring limits of the 5xx rate are drawn as thresholds.
    assert len(root.findall(f".//{SVG}line[@class='threshold']")) >= 1


def test_an_unreachable_prometheus_is_said_in_the_chart(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    charts = service_charts(
        _History([]),  # type: ignore[arg-type]
        _release_policy(closed),
        tmp_path,
        now=T0,
        lang="de",
        zone=UTC,
    )
    assert len(charts) == 2 and all(c.empty for c in charts)
    for chart in charts:
        message = _svg(chart.svg).find(f".//{SVG}text[@class='no-data']")
        assert message is not None
        assert message.text == f"Prometheus nicht erreichbar ({closed})"
    # Without a configured or running Prometheus (no managed stack in this home) it says that.
    unconfigured = service_charts(
        _History([]),  # type: ignore[arg-type]
        _release_policy(None),
        tmp_path,
        now=T0,
        lang="en",
        zone=UTC,
    )
    message = _svg(unconfigured[0].svg).find(f".//{SVG}text[@class='no-data']")
    assert message is not None and message.text == "No Prometheus configured or running"


def test_the_range_query_reads_prometheus_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}

    def get(url: str, *, params: dict[str, str], timeout: float) -> httpx.Response:
        asked.update(url=url, params=params)
        body = {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {}, "values": [[1796630400, "1.5"], [1796630700, "NaN"]]}],
            },
        }
        return httpx.Response(200, json=body)

    monkeypatch.setattr(httpx, "get", get)
    found = PrometheusRange("http://p:9090/", timeout=1).series(
        "up", start=T0, end=T0 + timedelta(hours=1), step=timedelta(minutes=5)
    )
    assert asked["url"] == "http://p:9090/api/v1/query_range"
    assert asked["params"]["step"] == "300s"
    assert found == [(datetime.fromtimestamp(1796630400, UTC), 1.5)]
    monkeypatch.setattr(httpx, "get", lambda *a, **k: httpx.Response(503, text="down"))
    with pytest.raises(ValueError, match="HTTP 503"):
        PrometheusRange("http://p:9090", timeout=1).series(
            "up", start=T0, end=T0, step=timedelta(minutes=5)
        )


# -- the page -----------------------------------------------------------------------------------


def _app(container: Container) -> FastAPI:
    return create_app(container)


HTML = {"Accept": "text/html"}


def test_the_charts_page_needs_a_reader(container: Container) -> None:
    tokens = {
        role: container.auth.add_user(name=f"u-{role.value}", role=role, actor=ADMIN)[1]
        for role in (Role.DEVOPS, Role.AUDITOR, Role.PRODUCT_OWNER, Role.QA)
    }
    with TestClient(_app(container), base_url="http://127.0.0.1") as client:
        anonymous = client.get("/charts", headers=HTML, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/charts"
        for role in (Role.PRODUCT_OWNER, Role.QA):
            refused = client.get(
                "/charts", headers=HTML | {"Authorization": f"Bearer {tokens[role]}"}
            )
            assert refused.status_code == 403, role
        for role in (Role.DEVOPS, Role.AUDITOR):
            shown = client.get(
                "/charts", headers=HTML | {"Authorization": f"Bearer {tokens[role]}"}
            )
            assert shown.status_code == 200, role
            assert shown.text.count("<svg ") == 2  # ledger and alerts; no backups, no releases
            assert "Wachstum des Nachweis-Ledgers" in shown.text
            assert "Keine Dienste mit Release-Ziel" in shown.text
        english = client.get(
            "/charts?lang=en", headers=HTML | {"Authorization": f"Bearer {tokens[Role.DEVOPS]}"}
        )
        assert "Alerts per escalation level" in english.text
        assert "Values as a table" in english.text
