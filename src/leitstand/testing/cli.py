"""Named users for tests of the command line.

Every state-changing CLI command acts as the user of ``--token``/``LEITSTAND_TOKEN`` (the local
operator only for the policy's ``auth.local_admin_actions``), so a CLI test first creates a user
in the store the command will open and passes the token in the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import build
from leitstand.policy.model import Policy
from leitstand.settings import Settings

__all__ = ["cli_env", "cli_token"]

_TOKENS: dict[tuple[str, str | None, str], str] = {}


def cli_token(
    home: Path,
    *,
    role: Role | str = Role.DEVOPS,
    name: str | None = None,
    database_url: str | None = None,
) -> str:
    """A token of a user with ``role`` in the store under ``home`` (created once per store).

    The user is named after the role (``devops-user``) unless ``name`` is given.
    """
    role = Role(role)
    user = name or f"{role.value.replace('_', '-')}-user"
    key = (str(home.resolve()), database_url, user)
    if key in _TOKENS:
        return _TOKENS[key]
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home, database_url=database_url)
    container = build(settings, policy=Policy())
    try:
        _, token = container.auth.add_user(name=user, role=role, actor=SYSTEM_ACTOR)
    finally:
        container.close()
    _TOKENS[key] = token
    return token


def cli_env(home: Path, *, role: Role | str | None = Role.DEVOPS, **extra: str) -> dict[str, str]:
    """The environment for ``python -m leitstand ...`` on ``home``: no inherited ``LEITSTAND_*``
    variables, ``LEITSTAND_HOME``, and (unless ``role`` is None) a token of a user with ``role``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env["LEITSTAND_HOME"] = str(home)
    env.update(extra)
    if role is not None:
        env["LEITSTAND_TOKEN"] = cli_token(
            home, role=role, database_url=extra.get("LEITSTAND_DATABASE_URL")
        )
    return env
