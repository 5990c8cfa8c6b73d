"""The *project's* database (not leitstand's): what its URL names, for the snapshot before a
release migrates it (``leitstand.releases.migrations``). Scratch databases and the round trip
are the gate check's (``leitstand.gates.rollback``).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

__all__ = ["backend_name", "database_path", "libpq"]


def backend_name(url: str) -> str:
    """``sqlite``, ``postgresql``, ...: the kind of database ``url`` names."""
    return make_url(url).get_backend_name()


def database_path(url: str) -> str:
    """The database part of ``url`` (a SQLite file's path)."""
    return make_url(url).database or ""


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it."""
    parsed = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env
