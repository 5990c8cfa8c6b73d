"""Who may write which evidence: system namespaces belong to their services, people write manual.

Every leitstand service writes its evidence under its own action namespace (``gate.run``,
``release.started``, ``incident.opened``, ...). The manual route (``leitstand audit record``,
``POST /api/v1/audit/entries``) writes manual evidence only: its actions always start with
``manual.``, and an action in a system namespace is refused. So an entry outside ``manual.*`` was
written by the service that owns its namespace, and a manual entry can never pass for system
evidence: an auditor sees the difference in the action itself, in every view and every export.
"""

from __future__ import annotations

from leitstand.errors import Issue, ValidationError

__all__ = ["MANUAL_PREFIX", "SYSTEM_NAMESPACES", "is_manual", "manual_action", "namespace_of"]

MANUAL_PREFIX = "manual."

#: The namespaces leitstand's services write (derived from their action constants), plus the
#: domains' table/job prefixes and the names reserved for services still to come.
SYSTEM_NAMESPACES: frozenset[str] = frozenset(
    {
        "alert",
        "alerting",
        "alerts",
        "auth",
        "backup",
        "backups",
        "change",
        "changes",
        "control_plane",
        "drill",
        "drills",
        "flag",
        "flags",
        "gameday",
        "gate",
        "gates",
        "handover",
        "host",
        "image",
        "incident",
        "incidents",
        "ledger",
        "log",
        "logs",
        "notification",
        "notifications",
        "oncall",
        "policy",
        "release",
        "releases",
        "scheduler",
        "session",
        "system",
        "user",
        "users",
        "witness",
    }
)


def namespace_of(action: str) -> str:
    """The first dot-separated part of an action, lower-cased."""
    return action.strip().split(".", 1)[0].lower()


def is_manual(action: str) -> bool:
    """Whether an entry's action marks it as manual evidence (written by a person)."""
    return action.startswith(MANUAL_PREFIX)


def manual_action(action: str) -> str:
    """The action a manual entry is recorded under: ``manual.<action>``.

    ``manual.x`` stays as it is; ``x`` and ``x.y`` become ``manual.x`` and ``manual.x.y``; an
    action in a system namespace is refused (a person cannot write a service's evidence).
    """
    text = action.strip()
    if not text:
        raise ValidationError([Issue("action", "must not be empty")])
    if text.lower().startswith(MANUAL_PREFIX):
        rest = text[len(MANUAL_PREFIX) :]
        if not rest.strip(". "):
            raise ValidationError([Issue("action", "must name what was done after 'manual.'")])
        return MANUAL_PREFIX + rest
    namespace = namespace_of(text)
    if namespace in SYSTEM_NAMESPACES:
        raise ValidationError(
            [
                Issue(
                    "action",
                    f"'{namespace}.*' is a reserved system namespace: only the leitstand service "
                    f"that owns it writes such evidence; record manual evidence as "
                    f"'manual.{text}' or under another name",
                )
            ]
        )
    return MANUAL_PREFIX + text
