"""Log management on the real engines: rsyslog receives every source's lines and writes one
stream per log type, logrotate rotates them, leitstand seals, verifies, expires and guards reads.

rsyslogd runs as a child process of the test (``rsyslogd -n -f CONF -i PIDFILE``) on a free
port of 127.0.0.1, with its own work folder, and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import SYSTEM_ACTOR, Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.cli import main
from leitstand.ledger.service import EntryQuery
from leitstand.logs.service import LogService
from leitstand.policy import default_policy
from leitstand.policy.loader import load_policy_text
from leitstand.settings import Settings
from leitstand.testing import ManualClock, free_port, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("rsyslogd", path="/usr/sbin:/usr/bin") is None
    or shutil.which("logrotate", path="/usr/sbin:/usr/bin") is None,
    reason="needs rsyslog and logrotate (apt-get install rsyslog logrotate)",
)

DEVOPS = Actor(name="ops", role="devops")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LEITSTAND_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    return home


def _container(home: Path, clock: ManualClock, policy_yaml: str = "") -> Container:
    policy = load_policy_text(policy_yaml) if policy_yaml else default_policy()
    return build(Settings(home=home), clock=clock, migrate=True, policy=policy)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def container(home: Path, clock: ManualClock) -> Iterator[Container]:
    c = _container(home, clock)
    try:
        yield c
    finally:
        c.close()


def _rotate(logs: LogService, conf: Path) -> None:
    logs.engines.rotate(conf / "logrotate.conf", conf / "logrotate.state", force=True)


class Rsyslog:
    """rsyslogd as a child process on 127.0.0.1:port."""

    def __init__(self, logs: LogService, conf: Path, port: int) -> None:
        self.port = port
        paths = logs.paths(port=port)
        paths.work_directory.mkdir(parents=True, exist_ok=True)
        self.pid_file = paths.pid_file
        rsyslogd = logs.engines.rsyslogd
        assert rsyslogd is not None
        self.process = subprocess.Popen(
            [rsyslogd, "-n", "-f", str(conf / "rsyslog.conf"), "-i", str(self.pid_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_for("rsyslogd listening", self._listening, timeout=30)

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            out = self.process.stdout.read() if self.process.stdout else b""
            raise AssertionError(f"rsyslogd exited: {out.decode(errors='replace')}")
        with closing(socket.socket()) as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def send(self, app: str, message: str) -> None:
        """One RFC 5424 line over TCP, as a program named ``app`` sends it."""
        line = f"<134>1 2026-11-27T09:00:00Z web01 {app} - - - {message}\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(line.encode())

    def stop(self) -> None:
        pid = int(self.pid_file.read_text().strip()) if self.pid_file.is_file() else None
        if pid is not None and pid == self.process.pid:
            os.kill(pid, signal.SIGTERM)
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def engines(container: Container, tmp_path: Path) -> Iterator[tuple[LogService, Path, Rsyslog]]:
    logs = container.get(LogService)
    conf = tmp_path / "conf"
    port = free_port()
    logs.render(out=conf, port=port)
    rsyslog = Rsyslog(logs, conf, port)
    try:
        yield logs, conf, rsyslog
    finally:
        rsyslog.stop()


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


SOURCES = {
    # leitstand's own structured JSON log line (structlog), naming its type
    "audit": ("leitstand", json.dumps({"event": "user.signed_in", "log_type": "audit"})),
    # a managed engine's plain line (Prometheus, logfmt): an application log
    "application": ("prometheus", 'level=info msg="Server is ready to receive web requests."'),
    # a service behind HAProxy: its access line
    "access": ("haproxy", "10.0.0.1:5123 [27/Nov/2026:09:00:00] web api/a 0/0/1/2/3 200 512"),
    # a service's own JSON line naming its type
    "security": ("broker-portal", json.dumps({"event": "login_failed", "log_type": "security"})),
}


def _send_all(rsyslog: Rsyslog, logs: LogService) -> None:
    for app, message in SOURCES.values():
        rsyslog.send(app, message)
    for key in SOURCES:
        stream = logs.directory / f"{key}.log"
        wait_for(f"a line in {stream.name}", lambda s=stream: _lines(s), timeout=30)


def test_each_source_lands_in_its_stream_and_rotation_seals_the_segments(
    engines: tuple[LogService, Path, Rsyslog], container: Container
) -> None:
    logs, conf, rsyslog = engines
    _send_all(rsyslog, logs)
    audit = _lines(logs.directory / "audit.log")
    assert [(r["app"], r["log_type"], r["data"]["event"]) for r in audit] == [
        ("leitstand", "audit", "user.signed_in")
    ]
    assert _lines(logs.directory / "application.log")[0]["app"] == "prometheus"
    assert "200 512" in _lines(logs.directory / "access.log")[0]["message"]
    assert _lines(logs.directory / "security.log")[0]["data"]["event"] == "login_failed"
    assert not (logs.directory / "debug.log").exists()

    _rotate(logs, conf)
    sealed = logs.seal(actor=DEVOPS)
    assert sorted(s.log_type for s in sealed) == ["access", "application", "audit", "security"]
    assert all(Path(s.path).name.startswith(f"{s.log_type}.log-") for s in sealed)
    assert logs.seal(actor=DEVOPS) == []  # sealed once
    with container.db.reader() as session:
        entries = container.ledger.entries(
            session, EntryQuery(action="log.segment_sealed", limit=None, newest_first=False)
        )
    assert {e.payload["path"]: e.payload["sha256"] for e in entries} == {
        s.path: s.sha256 for s in sealed
    }
    # After the rotation rsyslog writes to a fresh stream (logrotate's postrotate: SIGHUP).
    rsyslog.send("leitstand", json.dumps({"event": "after_rotation", "log_type": "audit"}))
    wait_for("the new audit stream", lambda: _lines(logs.directory / "audit.log"), timeout=30)
    assert _lines(logs.directory / "audit.log")[0]["data"]["event"] == "after_rotation"
    assert logs.verify().ok


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code: object = 0
    try:
        main(list(argv))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else 0), out, err


def test_verify_names_a_changed_a_truncated_and_a_deleted_segment(
    engines: tuple[LogService, Path, Rsyslog], capsys: pytest.CaptureFixture[str]
) -> None:
    logs, conf, rsyslog = engines
    _send_all(rsyslog, logs)
    _rotate(logs, conf)
    by_type = {s.log_type: Path(s.path) for s in logs.seal(actor=DEVOPS)}
    code, out, _ = _cli(capsys, "logs", "verify", "--json")
    assert code == 0 and json.loads(out)["checked"] == 4

    changed = by_type["audit"]
    changed.write_text(changed.read_text().replace("user.signed_in", "user.signed_xx"))
    truncated = by_type["access"]
    truncated.write_bytes(truncated.read_bytes()[:10])
    by_type["security"].unlink()

    code, out, _ = _cli(capsys, "logs", "verify", "--json")
    assert code == 1
    found = {p["path"]: p["problem"] for p in json.loads(out)["problems"]}
    assert found == {
        str(changed): "changed",
        str(truncated): "truncated",
        str(by_type["security"]): "deleted",
    }
    code, out, _ = _cli(capsys, "logs", "verify")
    assert code == 1
    assert f"changed: {changed}" in out and "3 problem(s)" in out


def _stream_and_rotate(logs: LogService, conf: Path, keys: list[str]) -> dict[str, Path]:
    logs.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
    for key in keys:
        (logs.directory / f"{key}.log").write_text(json.dumps({"log_type": key}) + "\n")
    _rotate(logs, conf)
    return {s.log_type: Path(s.path) for s in logs.seal(actor=DEVOPS)}


def test_expired_segments_are_deleted_with_evidence_and_legal_holds_kept(
    home: Path, clock: ManualClock, tmp_path: Path
) -> None:
    held = "logs:\n  streams:\n    types:\n      performance:\n        legal_hold: true\n"
    container = _container(home, clock, held)
    try:
        logs = container.get(LogService)
        conf = tmp_path / "conf"
        logs.render(out=conf, port=free_port())
        segments = _stream_and_rotate(logs, conf, ["application", "audit", "performance"])
        clock.advance(timedelta(days=89))
        assert logs.expire(actor=SYSTEM_ACTOR).expired == []
        clock.advance(timedelta(days=300))  # application (90 d) past; performance (1 y) not yet
        result = logs.expire(actor=SYSTEM_ACTOR)
        assert [s.log_type for s in result.expired] == ["application"]
        assert not segments["application"].exists()
        clock.advance(timedelta(days=400))  # performance past its year, but under legal hold
        result = logs.expire(actor=SYSTEM_ACTOR)
        assert result.expired == []
        assert [s.log_type for s in result.held] == ["performance"]
        assert segments["performance"].exists() and segments["audit"].exists()
        with container.db.reader() as session:
            expired = container.ledger.entries(
                session, EntryQuery(action="log.segment_expired", limit=None)
            )
        assert [(e.payload["path"], e.payload["retention_days"]) for e in expired] == [
            (str(segments["application"]), 90)
        ]
        # An expired segment is no longer expected: verify stays green.
        assert logs.verify().ok
    finally:
        container.close()


def test_the_auditor_reads_audit_logs_and_a_developer_is_refused(
    container: Container,
    tmp_path: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs = container.get(LogService)
    conf = tmp_path / "conf"
    logs.render(out=conf, port=free_port())
    _stream_and_rotate(logs, conf, ["audit"])
    (logs.directory / "audit.log").write_text(
        json.dumps({"time": "2026-11-27T10:00:00Z", "log_type": "audit", "event": "export"}) + "\n"
    )
    tokens = {
        role: container.auth.add_user(name=f"u-{role.value}", role=role, actor=SYSTEM_ACTOR)[1]
        for role in (Role.AUDITOR, Role.DEVELOPER, Role.DEVOPS)
    }
    with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
        url = "/api/v1/logs/search?type=audit&grep=EXPORT"
        ok = client.get(url, headers={"Authorization": f"Bearer {tokens[Role.AUDITOR]}"})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["recorded"] is True
        assert [json.loads(line["text"])["event"] for line in body["lines"]] == ["export"]
        for role in (Role.DEVELOPER, Role.DEVOPS):
            denied = client.get(url, headers={"Authorization": f"Bearer {tokens[role]}"})
            assert denied.status_code == 403, (role, denied.text)
            assert "may not read audit logs" in denied.json()["error"]
        assert client.get(url).status_code == 401

    code, out, _ = _cli(
        capsys, "logs", "search", "--type", "audit", "--since", "2026-11-27T09:30:00Z",
        "--token", tokens[Role.AUDITOR], "--json",
    )  # fmt: skip
    assert code == 0, out
    assert len(json.loads(out)["lines"]) == 1
    code, _, err = _cli(
        capsys, "logs", "search", "--type", "audit", "--token", tokens[Role.DEVELOPER]
    )
    assert code == 5
    assert "may not read audit logs" in err
    with container.db.reader() as session:
        reads = container.ledger.entries(
            session, EntryQuery(action="log.read", limit=None, newest_first=False)
        )
    assert [(e.actor, e.payload["log_type"]) for e in reads] == [
        ("u-auditor", "audit"),
        ("u-auditor", "audit"),
    ]


def test_render_writes_checked_files_and_lists_retention(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, stdout, err = _cli(capsys, "logs", "render", "--out", str(out), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert {t["key"]: t["retention_days"] for t in data["types"]} == {
        "audit": 1825,
        "security": 1095,
        "application": 90,
        "access": 90,
        "performance": 365,
        "debug": 14,
    }
    assert sorted(p.name for p in out.iterdir()) == ["logrotate.conf", "rsyslog.conf"]
    code, stdout, _ = _cli(
        capsys, "logs", "render", "--out", str(tmp_path / "prod"), "--environment", "production",
        "--json",
    )  # fmt: skip
    assert code == 0
    assert "debug" not in {t["key"] for t in json.loads(stdout)["types"]}
    assert "debug.log" not in (tmp_path / "prod" / "rsyslog.conf").read_text()
