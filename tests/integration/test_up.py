"""`leitstand up` on the embedded default, as a child process on a free port."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from rich.text import Text

from leitstand.server import print_start_panel
from leitstand.testing import ServerProcess, free_port, postgres_schema


def test_up_serves_the_embedded_default_and_prints_a_one_time_token(tmp_path: Path) -> None:
    home = tmp_path / ".leitstand"
    server = ServerProcess(home=home, port=free_port())
    try:
        server.wait_ready()
        token = server.token()
        assert token is not None, server.stdout()
        assert f"http://127.0.0.1:{server.port}/" in server.stdout()
        auth = {"Authorization": f"Bearer {token}", "X-Request-ID": "journey-5"}
        me = httpx.get(f"{server.url}/api/v1/me", headers=auth, timeout=10)
        assert me.json() == {"name": "admin", "role": "devops"}
        assert me.headers["x-request-id"] == "journey-5"
        assert httpx.get(f"{server.url}/readyz", timeout=10).json()["status"] == "ready"
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        # The start-up heap is out of the collector's way (no full-collection pauses).
        frozen = next(
            m for m in metrics.splitlines() if m.startswith("leitstand_gc_frozen_objects")
        )
        assert float(frozen.split()[1]) > 10_000, frozen
        assert (
            "process_resident_memory_bytes" in metrics and "python_gc_collections_total" in metrics
        )
        login = httpx.get(f"{server.url}/", timeout=10, follow_redirects=False)
        assert login.status_code == 303
        assert (home / "leitstand.db").is_file()
        assert (home / "keys" / "ledger-ed25519.pem").stat().st_mode & 0o777 == 0o600
        assert home.stat().st_mode & 0o777 == 0o700
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "http_request"]
    assert any(r["request_id"] == "journey-5" and r["route"] == "/api/v1/me" for r in requests), (
        requests
    )
    assert token not in server.stderr()

    # A log 80 columns wide (no terminal) gets every line of the start summary whole.
    again = ServerProcess(home=home, port=free_port(), env={"COLUMNS": "80"})
    try:
        again.wait_ready()
        assert again.token() is None, "the first user's token is printed only once"
        assert f"home: {home}  database: sqlite" in again.stdout().splitlines()
        started = httpx.get(
            f"{again.url}/api/v1/audit/entries",
            params={"action": "control_plane.started"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert len(started) == 2
        assert started[0]["payload"]["ledger_intact"] is True
    finally:
        assert again.stop() == 0


_SUMMARY = [
    "leitstand 0.1.0 serving on [bold]http://127.0.0.1:8080/[/bold]",
    "home: /var/lib/leitstand/a-rather-long-installation-folder/.leitstand  database: postgresql",
    "policy: built-in defaults (seed); ledger: intact, 12345 entries, head 0123456789abcdef",
    "First devops user [bold]admin[/bold] created. API token (shown once):",
    "lst_" + "x" * 43,
]


def test_the_start_summary_in_a_log_80_columns_wide_is_whole_lines_not_a_cut_panel() -> None:
    out = io.StringIO()
    print_start_panel(_SUMMARY, console=Console(file=out, width=80, soft_wrap=True))
    lines = out.getvalue().splitlines()
    assert lines[0] == "leitstand up"
    assert lines[1:] == [Text.from_markup(line).plain for line in _SUMMARY]


def test_the_start_panel_on_a_terminal_wraps_inside_its_width() -> None:
    out = io.StringIO()
    terminal = Console(file=out, width=80, force_terminal=True, color_system=None, soft_wrap=True)
    print_start_panel(_SUMMARY, console=terminal)
    lines = out.getvalue().splitlines()
    assert "leitstand up" in lines[0]
    assert all(len(line) <= 80 for line in lines), lines
    assert all(
        line.startswith(("╭", "│", "╰")) and line.endswith(("╮", "│", "╯")) for line in lines
    )
    text = "".join(line.strip("│ ") for line in lines[1:-1])
    for line in _SUMMARY:
        assert "".join(Text.from_markup(line).plain.split()) in "".join(text.split())


@pytest.mark.postgres
def test_two_instances_start_together_on_one_postgresql(tmp_path: Path) -> None:
    with postgres_schema() as pg:
        env = {"LEITSTAND_DATABASE_URL": pg.url, "LEITSTAND_DATABASE_SCHEMA": pg.schema}
        key = tmp_path / "shared-key.pem"
        env["LEITSTAND_SIGNING_KEY"] = str(key)
        servers = [
            ServerProcess(home=tmp_path / name, port=free_port(), env=env) for name in ("a", "b")
        ]
        try:
            for server in servers:
                server.wait_ready()
            tokens = [s.token() for s in servers if s.token() is not None]
            assert len(tokens) == 1, "exactly one instance creates the first user"
            auth = {"Authorization": f"Bearer {tokens[0]}"}
            for server in servers:
                assert (
                    httpx.get(f"{server.url}/api/v1/me", headers=auth, timeout=10).status_code
                    == 200
                )
            verified = httpx.post(f"{servers[1].url}/api/v1/audit/verify", headers=auth, timeout=30)
            assert verified.json()["ok"] is True, verified.json()["problems"]
        finally:
            codes = [server.stop() for server in servers]
        assert codes == [0, 0]
