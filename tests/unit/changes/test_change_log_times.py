"""The change log document names the zone of every time it shows, in its language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from leitstand.changes.log import LogRow, to_markdown

ROW = LogRow(
    index=3,
    time="2026-12-07T08:14:30.000000Z",
    change_id=1,
    service="enterprise-api",
    version="2.4.0",
    env="production",
    action="change.approved",
    event="genehmigt",
    actor="anna",
    role="compliance_officer",
    detail="",
)
SINCE = datetime(2026, 12, 1, 7, tzinfo=UTC)
UNTIL = datetime(2026, 12, 8, 7, tzinfo=UTC)


def test_german_change_log_times_carry_their_zone() -> None:
    md = to_markdown([ROW], [], lang="de", since=SINCE, until=UNTIL)
    assert "Zeitraum: 01.12.2026 08:00 MEZ – 08.12.2026 08:00 MEZ" in md
    assert "| 07.12.2026 09:14:30 MEZ | #1 |" in md
    assert not re.search(r"\d{2}\.\d{2}\.\d{4},? \d{2}:\d{2}(:\d{2})? \|", md), md


def test_english_change_log_times_are_english_with_their_zone() -> None:
    md = to_markdown([ROW], [], lang="en", since=SINCE, until=UNTIL)
    assert "Period: 1 Dec 2026 08:00 CET – 8 Dec 2026 08:00 CET" in md
    assert "| 7 Dec 2026 09:14:30 CET | #1 |" in md
