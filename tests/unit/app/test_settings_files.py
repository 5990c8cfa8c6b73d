"""Secrets from files: the database URL read from ``LEITSTAND_DATABASE_URL_FILE`` (a mounted
compose secret, a Kubernetes Secret or a systemd credential), and settings errors as one line
with exit code 2 that never shows the rejected value."""

from __future__ import annotations

from pathlib import Path

import pytest

from leitstand.settings import Settings
from leitstand.testing.cli import cli_env, run_cli

URL = "postgresql+psycopg://leitstand:s3cr3t-pw@db.internal:5432/leitstand"


def test_the_database_url_comes_from_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(URL + "\n", encoding="utf-8")
    settings = Settings(home=tmp_path, database_url_file=secret)
    assert settings.effective_database_url == URL
    assert not settings.is_embedded


def test_a_url_given_directly_wins_over_the_file(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        database_url="sqlite:///" + str(tmp_path / "x.db"),
        database_url_file=tmp_path / "does-not-exist",
    )
    assert settings.is_embedded


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("", "an empty file"),
        (URL + "\n" + URL, "several lines"),
    ],
)
def test_an_unusable_url_file_is_a_clear_error_without_its_content(
    tmp_path: Path, content: str | None, words: str
) -> None:
    secret = tmp_path / "database-url"
    if content is not None:
        secret.write_text(content, encoding="utf-8")
    env = cli_env(tmp_path / "home", role=None, LEITSTAND_DATABASE_URL_FILE=str(secret))
    done = run_cli(["db", "current"], env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: LEITSTAND_DATABASE_URL_FILE: ")
    assert words in done.stderr and str(secret) in done.stderr
    assert "s3cr3t" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_bad_setting_names_its_variable_and_hides_the_value(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home", role=None, LEITSTAND_PORT="s3cr3t-pw")
    done = run_cli(["db", "current"], env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: LEITSTAND_PORT: ")
    assert "s3cr3t" not in done.stderr and "Traceback" not in done.stderr
