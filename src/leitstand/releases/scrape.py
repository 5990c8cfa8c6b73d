"""Scrape targets of released instances for the managed Prometheus (file-based discovery).

When leitstand starts an instance it writes ``<home>/stack/release-targets/<service>-<env>.json``
in Prometheus's ``file_sd`` format: both slots of the environment with the labels ``service``,
``env`` and ``slot``. The Prometheus that `leitstand up` manages reads every file in that folder
(job ``leitstand-releases``, see ``leitstand.alerting.engine_config``) and notices changes by
itself, so the canary analysis finds each slot's series under ``instance="host:port"``.
"""

from __future__ import annotations

import json
from pathlib import Path

from leitstand.releases.runtime import Runtime

__all__ = ["TARGETS_FOLDER", "scrape_targets", "write_scrape_targets"]

#: Relative to the leitstand home; the managed stack's Prometheus reads ``*.json`` in it.
TARGETS_FOLDER = Path("stack") / "release-targets"


def scrape_targets(runtime: Runtime) -> list[dict[str, object]]:
    """One ``file_sd`` group per slot (its address and labels)."""
    groups: list[dict[str, object]] = []
    for slot, instance in runtime.environment.instances.items():
        host = f"[{instance.host}]" if ":" in instance.host else instance.host
        groups.append(
            {
                "targets": [f"{host}:{instance.port}"],
                "labels": {"service": runtime.service, "env": runtime.env, "slot": slot},
            }
        )
    return groups


def write_scrape_targets(home: Path, runtime: Runtime) -> Path:
    """Write (atomically) the scrape targets of ``runtime``'s slots; returns the file."""
    folder = home / TARGETS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{runtime.service}-{runtime.env}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(scrape_targets(runtime), indent=2))
    tmp.replace(path)
    return path
