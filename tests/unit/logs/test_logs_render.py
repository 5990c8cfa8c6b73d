"""`leitstand logs render`: checked by the engines before anything is written."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from leitstand.cli import main
from leitstand.logs.engines import CheckFailed, LogEngines, find_log_engines
from leitstand.logs.model import Paths, TailedFile, log_types, rsyslog_config
from leitstand.logs.render import render
from leitstand.policy import default_policy

needs_engines = pytest.mark.skipif(
    None in (find_log_engines().rsyslogd, find_log_engines().logrotate),
    reason="needs rsyslog and logrotate",
)


def _paths(tmp_path: Path) -> Paths:
    return Paths(
        directory=tmp_path / "logs",
        pid_file=tmp_path / "logs/.rsyslog/rsyslogd.pid",
        work_directory=tmp_path / "logs/.rsyslog",
        port=10514,
    )


def _refusing(tmp_path: Path, name: str) -> str:
    script = tmp_path / name
    script.write_text("#!/bin/sh\necho 'error: this configuration is refused' >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script)


@needs_engines
def test_a_refused_configuration_writes_nothing(tmp_path: Path) -> None:
    real = find_log_engines()
    types = log_types(default_policy().logs)
    for engines in (
        LogEngines(rsyslogd=_refusing(tmp_path, "rsyslogd"), logrotate=real.logrotate),
        LogEngines(rsyslogd=real.rsyslogd, logrotate=_refusing(tmp_path, "logrotate")),
    ):
        out = tmp_path / "out"
        with pytest.raises(CheckFailed, match="this configuration is refused"):
            render(types, _paths(tmp_path), out=out, engines=engines)
        assert not out.exists()


def test_a_missing_engine_is_named_with_its_package(tmp_path: Path) -> None:
    engines = LogEngines(rsyslogd=None, logrotate=None)
    with pytest.raises(Exception, match="apt-get install rsyslog logrotate"):
        render(
            log_types(default_policy().logs), _paths(tmp_path), out=tmp_path / "o", engines=engines
        )
    assert not (tmp_path / "o").exists()


@needs_engines
def test_the_cli_exits_2_and_writes_nothing_when_rsyslog_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEITSTAND_HOME", str(tmp_path / "home"))
    fake = tmp_path / "bin"
    fake.mkdir()
    _refusing(fake, "rsyslogd")
    logrotate = find_log_engines().logrotate
    assert logrotate is not None
    (fake / "logrotate").symlink_to(logrotate)
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(["logs", "render", "--out", str(out)])
    assert done.value.code == 2
    assert "this configuration is refused" in capsys.readouterr().err
    assert not out.exists()


@needs_engines
def test_render_json_lists_every_type_with_its_retention_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEITSTAND_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    try:
        main(["logs", "render", "--out", str(out), "--json"])
    except SystemExit as done:
        assert done.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["types"][0] == {
        "key": "audit",
        "retention_days": 1825,
        "file": "audit.log",
        "rotation": "daily",
        "max_size": None,
        "readers": ["compliance_officer", "auditor"],
        "legal_hold": False,
        "environments": ["development", "staging", "production"],
        "reads_recorded": True,
    }
    assert data["checks"] == ["rsyslogd -N1: rsyslog.conf", "logrotate -d: logrotate.conf"]
    home_logs = (tmp_path / "home" / "logs").resolve()
    assert f'file="{home_logs}/audit.log"' in (out / "rsyslog.conf").read_text()


def test_without_tailed_files_no_imfile_is_configured(tmp_path: Path) -> None:
    text = rsyslog_config(log_types(default_policy().logs), _paths(tmp_path))
    assert "imfile" not in text
    assert "$.tailed" not in text


@needs_engines
def test_tailed_files_are_read_with_imfile_tagged_and_routed_to_their_type(
    tmp_path: Path,
) -> None:
    paths = replace(
        _paths(tmp_path),
        tailed=(
            TailedFile(tmp_path / "stack/prometheus.log", tag="prometheus"),
            TailedFile(tmp_path / "stack/guard.log", tag="guard", log_type="security"),
        ),
    )
    report = render(
        log_types(default_policy().logs), paths, out=tmp_path / "out", engines=find_log_engines()
    )
    assert report.checks[0] == "rsyslogd -N1: rsyslog.conf"
    text = (tmp_path / "out" / "rsyslog.conf").read_text()
    assert 'module(load="imfile")' in text
    assert (
        f'input(type="imfile" File="{tmp_path}/stack/prometheus.log" Tag="prometheus"'
        ' ruleset="leitstand_tailed_application")'
    ) in text
    assert 'Tag="guard" ruleset="leitstand_tailed_security")' in text
    assert 'set $.tailed = "security";' in text


def test_a_tag_with_blanks_or_quotes_is_refused(tmp_path: Path) -> None:
    paths = replace(_paths(tmp_path), tailed=(TailedFile(tmp_path / "a.log", tag='a "b'),))
    with pytest.raises(ValueError, match="tag"):
        rsyslog_config(log_types(default_policy().logs), paths)
