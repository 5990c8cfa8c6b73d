"""Sign-in sessions of the web UI and API token lifetimes (leitstand's own, not from the seed).

The auth service (``leitstand.auth``) reads these: a web session ends after ``session_idle``
without a request and, whatever the activity, ``session_absolute`` after sign-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator

from leitstand.policy.base import PolicyModel, Rules
from leitstand.policy.durations import PositiveDuration, format_duration

__all__ = ["CLI_ACTIONS", "LOCAL_ADMIN_ROLE", "AuthPolicy"]

#: The role recorded for the local operator acting without a token (``local:<os user>``), only
#: for the actions in ``auth.local_admin_actions``; its ledger entries carry ``local_admin: true``.
LOCAL_ADMIN_ROLE = "local-admin"

#: Every CLI action that changes state, by the name ``auth.local_admin_actions`` uses.
CLI_ACTIONS: frozenset[str] = frozenset(
    {
        "user.bootstrap", "user.add", "user.token", "user.revoke", "user.disable",
        "db.upgrade", "db.downgrade",
        "change.open", "change.approve",
        "release.start", "release.approve", "release.promote", "release.abort",
        "release.rollback", "release.task_done", "release.migration_check",
        "gate.run",
        "flag.create", "flag.on", "flag.off", "flag.kill", "flag.tenants", "flag.rollout",
        "flag.target", "flag.archive", "flag.restore",
        "alert.ack",
        "incident.open", "incident.phase", "incident.ack", "incident.note", "incident.update",
        "incident.close", "incident.merge", "incident.times", "incident.assess", "incident.submit",
        "incident.gdpr_notified", "incident.postmortem", "incident.action_add",
        "incident.action_set",
        "backup.setup", "backup.run", "backup.expire", "backup.measure", "drill.run",
        "scheduler.tick",
        "audit.record",
        "log.seal", "log.expire", "log.read",
        "image.sign",
    }
)  # fmt: skip


class AuthPolicy(PolicyModel):
    """How long a web session lives (BSI ORP.4: sessions end after inactivity and at a limit)."""

    # A session unused this long is refused (the user signs in again).
    session_idle: PositiveDuration = timedelta(minutes=30)
    # A session is refused this long after sign-in, however active.
    session_absolute: PositiveDuration = timedelta(hours=12)
    # CLI actions the local operator may do without --token/LEITSTAND_TOKEN, recorded as
    # ``local:<os user>`` with role ``local-admin``: creating the first user of an empty store
    # (``user.bootstrap``) and schema migrations. Every other state change needs a named user.
    local_admin_actions: list[str] = Field(
        default_factory=lambda: ["user.bootstrap", "db.upgrade", "db.downgrade"]
    )

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> Self:
        rules = Rules()
        for i, action in enumerate(self.local_admin_actions):
            if action not in CLI_ACTIONS:
                rules.add(
                    f"local_admin_actions.{i}",
                    f"one of {', '.join(sorted(CLI_ACTIONS))} (got {action!r})",
                )
        if self.session_idle > self.session_absolute:
            rules.add(
                "session_idle",
                f"at most session_absolute ({format_duration(self.session_absolute)}), "
                f"got {format_duration(self.session_idle)}",
            )
        rules.check()
        return self
