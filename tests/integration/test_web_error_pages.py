"""A browser gets errors as pages in the UI's language; the API keeps its JSON errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leitstand.auth.model import Role

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_errors_on_pages_are_pages_in_the_ui_language(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    dev = headers[Role.DEVELOPER] | HTML
    forbidden = client.get("/backups/drills/1", headers=dev)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("text/html")
    assert "Keine Berechtigung" in forbidden.text and '{"error"' not in forbidden.text
    missing = client.get("/incidents/INC-2026-9999", headers=headers[Role.DEVOPS] | HTML)
    assert missing.status_code == 404 and "Nicht gefunden" in missing.text
    invalid = client.get("/backups/drills/0", headers=headers[Role.AUDITOR] | HTML)
    assert invalid.status_code == 422 and "Ungültige Eingabe" in invalid.text
    api = client.get("/api/v1/incidents/INC-2026-9999", headers=headers[Role.DEVOPS] | HTML)
    assert api.status_code == 404 and api.json()["error"]
    english = client.get("/incidents/INC-2026-9999?lang=en", headers=headers[Role.DEVOPS] | HTML)
    assert "Not found" in english.text and 'lang="en"' in english.text
