"""The auditor downloads the evidence of a period as one archive and verifies it offline."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from fastapi.testclient import TestClient

from leitstand.auth.model import Role
from leitstand.bootstrap import Container
from leitstand.ledger.export import verify_export
from leitstand.ledger.service import EntryQuery


def test_auditor_downloads_a_period_that_verifies_offline(
    client: TestClient,
    headers: dict[Role, dict[str, str]],
    container: Container,
    tmp_path: Path,
) -> None:
    note = {"action": "manual.note", "subject": "audit:q4", "payload": {"text": "Quartal"}}
    assert (
        client.post("/api/v1/audit/entries", json=note, headers=headers[Role.DEVOPS]).status_code
        == 201
    )
    got = client.get(
        "/api/v1/audit/export",
        params={"since": "2000-01-01T00:00:00Z"},
        headers=headers[Role.AUDITOR],
    )
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/gzip"
    assert 'attachment; filename="leitstand-audit-' in got.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(got.content), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    [folder] = list((tmp_path / "unpacked").iterdir())
    report = verify_export(folder)
    assert report.ok and not report.problems and report.entries_checked >= 1
    with container.db.reader() as session:
        [exported] = container.ledger.entries(session, EntryQuery(action="ledger.exported"))
    assert exported.actor and exported.role == "auditor"
    refused = client.get("/api/v1/audit/export", headers=headers[Role.DEVELOPER])
    assert refused.status_code == 403
    backwards = client.get(
        "/api/v1/audit/export",
        params={"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        headers=headers[Role.COMPLIANCE_OFFICER],
    )
    assert backwards.status_code == 422 and "until" in backwards.text
    bad_zone = client.get(
        "/api/v1/audit/export", params={"tz": "Mars/Olympus"}, headers=headers[Role.AUDITOR]
    )
    assert bad_zone.status_code == 422 and "time zone" in bad_zone.text
    page = client.get("/", headers=headers[Role.AUDITOR])
    assert 'action="/api/v1/audit/export"' in page.text
    assert "Prüfarchiv herunterladen" in page.text
    assert 'data-testid="audit-export"' not in client.get("/", headers=headers[Role.DEVOPS]).text
