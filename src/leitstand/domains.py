"""The registry of domains: one entry per domain drives the composition root, the app's routers,
the tables Alembic sees, the CLI's command groups and the migration folders.

Entries name modules as strings (``"module:attribute"``), so that reading the registry imports
nothing: the CLI loads a command group only when it runs (``leitstand --version`` imports no
domain), the app imports routers when it is built. Adding a domain is one folder and one entry
here (see docs/architecture.md, "Adding a domain").

The order is the wiring order: a domain's ``wire`` may use the services of the domains above it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DOMAINS", "Command", "Domain", "load", "revision_folders"]


@dataclass(frozen=True)
class Command:
    """A CLI command group: ``leitstand <name> ...`` is the Typer app at ``target``."""

    name: str
    target: str
    help: str


@dataclass(frozen=True)
class Domain:
    name: str
    tables: tuple[str, ...] = ()
    """Modules whose import registers the domain's tables on ``Base.metadata``."""
    routers: tuple[str, ...] = ()
    """``module:attribute`` of each APIRouter (API first, then web pages)."""
    commands: tuple[Command, ...] = ()
    wire: str | None = None
    """``module:function`` called with the ``Wiring`` of the composition root."""
    jobs: str | None = None
    """``module:function`` called with the finished container to register recurring jobs."""
    package: str = field(default="")

    @property
    def module(self) -> str:
        return self.package or f"leitstand.{self.name}"


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "policy",
        commands=(
            Command(
                "policy", "leitstand.policy.cli:app", "Show and validate the operations policy."
            ),
        ),
    ),
    Domain(
        "ledger",
        tables=("leitstand.ledger.store", "leitstand.ledger.verifications"),
        routers=("leitstand.ledger.api:router",),
        commands=(
            Command(
                "audit",
                "leitstand.ledger.cli:app",
                "Evidence ledger: record, list, verify, prove and export.",
            ),
            Command(
                "witness",
                "leitstand.ledger.witness_cli:app",
                "Run a transparency-log witness that cosigns the ledger's checkpoints.",
            ),
        ),
        jobs="leitstand.ledger.jobs:register_ledger_jobs",
    ),
    Domain(
        "auth",
        tables=("leitstand.auth.store",),
        routers=("leitstand.auth.api:router",),
        commands=(Command("user", "leitstand.auth.cli:app", "Users, roles and API tokens."),),
    ),
    Domain(
        "scheduler",
        tables=("leitstand.scheduler.store",),
        routers=("leitstand.scheduler.api:router",),
        commands=(
            Command(
                "scheduler", "leitstand.scheduler.cli:app", "Durable timers and recurring jobs."
            ),
        ),
    ),
    Domain("web", routers=("leitstand.web.views:router", "leitstand.web.chart_views:router")),
    Domain(
        "logs",
        tables=("leitstand.logs.store",),
        wire="leitstand.logs.wiring:wire",
        routers=("leitstand.logs.api:router",),
        commands=(
            Command(
                "logs",
                "leitstand.logs.cli:app",
                "Log management: rsyslog/logrotate from the policy, sealed segments, retention.",
            ),
        ),
        jobs="leitstand.logs.wiring:register_log_jobs",
    ),
    Domain(
        "alerting",
        tables=("leitstand.alerting.store",),
        wire="leitstand.alerting.wiring:wire",
        routers=("leitstand.alerting.api:router", "leitstand.alerting.views:router"),
        commands=(
            Command(
                "alert", "leitstand.alerting.cli:alerts_app", "Alerts: list, show, acknowledge."
            ),
            Command(
                "alerting",
                "leitstand.alerting.cli:alerting_app",
                "Prometheus rules, Alertmanager config and Grafana dashboards from the policy.",
            ),
            Command("oncall", "leitstand.alerting.cli:oncall_app", "The on-call rotation."),
            Command(
                "stack",
                "leitstand.alerting.cli:stack_app",
                "The local Prometheus stack managed by `leitstand up`.",
            ),
        ),
    ),
    Domain(
        "incidents",
        tables=("leitstand.incidents.store",),
        wire="leitstand.incidents.wiring:wire",
        routers=("leitstand.incidents.api:router", "leitstand.incidents.views:router"),
        commands=(
            Command(
                "incident",
                "leitstand.incidents.cli:app",
                "Incidents: response phases, DORA, GDPR, post-mortems.",
            ),
        ),
    ),
    Domain(
        "changes",
        tables=("leitstand.changes.store",),
        wire="leitstand.changes.wiring:wire",
        routers=("leitstand.changes.api:router", "leitstand.changes.views:router"),
        commands=(
            Command(
                "change",
                "leitstand.changes.cli:app",
                "Change records and their approval (four eyes).",
            ),
        ),
    ),
    Domain(
        "flags",
        tables=("leitstand.flags.store",),
        wire="leitstand.flags.wiring:wire",
        routers=("leitstand.flags.api:router", "leitstand.flags.views:router"),
        commands=(
            Command(
                "flag",
                "leitstand.flags.cli:app",
                "Feature flags per tenant: targeting, rollouts, kill switch, lifecycle.",
            ),
        ),
    ),
    Domain(
        "gates",
        tables=("leitstand.gates.store",),
        wire="leitstand.gates.wiring:wire",
        routers=("leitstand.gates.api:router",),
        commands=(
            Command(
                "gate",
                "leitstand.gates.cli:app",
                "Quality gates: build, test, security, compliance; CI pipelines.",
            ),
        ),
    ),
    # Wired after gates: signing reads their run records (a port; images sit below in the layers).
    Domain(
        "images",
        tables=("leitstand.images.store",),
        wire="leitstand.images.wiring:wire",
        commands=(
            Command(
                "image",
                "leitstand.images.cli:app",
                "Container images: build leitstand's own; verify and sign OCI image layouts.",
            ),
        ),
    ),
    Domain(
        "backups",
        tables=("leitstand.backups.store",),
        wire="leitstand.backups.wiring:wire",
        routers=("leitstand.backups.api:router", "leitstand.backups.views:router"),
        commands=(
            Command(
                "backup",
                "leitstand.backups.cli:backup_app",
                "Backups: set up repositories, run the schedule, retention, RPO/RTO status.",
            ),
            Command(
                "drill",
                "leitstand.backups.cli:drill_app",
                "Recovery drills (the seed's recovery tests) with Testprotokoll.",
            ),
        ),
        jobs="leitstand.backups.wiring:register_backup_jobs",
    ),
    Domain(
        "releases",
        tables=("leitstand.releases.store",),
        wire="leitstand.releases.wiring:wire",
        routers=("leitstand.releases.api:router", "leitstand.releases.views:router"),
        commands=(
            Command(
                "release", "leitstand.releases.cli:app", "Releases: blue-green, canary, rollback."
            ),
        ),
    ),
)


def load(target: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def commands() -> Iterator[Command]:
    for domain in DOMAINS:
        yield from domain.commands


def revision_folders() -> list[Path]:
    """Each domain's Alembic revisions folder (``leitstand/<domain>/revisions``), where present."""
    root = Path(__file__).parent
    return [root / d.name / "revisions" for d in DOMAINS if (root / d.name / "revisions").is_dir()]
