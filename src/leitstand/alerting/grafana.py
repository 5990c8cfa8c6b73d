"""Grafana provisioning files: the datasources and the dashboard provider (pure, rendered only).

Grafana reads every ``*.yaml``/``*.yml`` file of ``provisioning/datasources`` and
``provisioning/dashboards`` at start (format ``apiVersion: 1``). The Prometheus datasource has a
fixed uid and is the default, so the dashboards' ``datasource`` variable finds it; its
``timeInterval`` is the policy's scrape interval, so ``$__rate_interval`` spans at least four
scrapes. The Alertmanager datasource (Prometheus implementation) shows and silences the alerts
the policy's rules raise. No Grafana runs here: tests check the files against Grafana's
documented structure (docs/grafana.md).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

__all__ = [
    "ALERTMANAGER_UID",
    "FOLDER_UID",
    "PROMETHEUS_UID",
    "dashboard_provider",
    "datasources",
    "provisioning_files",
]

PROMETHEUS_UID = "leitstand-prometheus"
ALERTMANAGER_UID = "leitstand-alertmanager"
FOLDER_UID = "leitstand"


def datasources(
    prometheus_url: str, alertmanager_url: str, *, scrape_interval: timedelta | None = None
) -> dict[str, Any]:
    """``provisioning/datasources``: Prometheus (the default) and Alertmanager."""
    prometheus: dict[str, Any] = {"httpMethod": "POST"}
    if scrape_interval is not None:
        prometheus["timeInterval"] = f"{max(1, math.ceil(scrape_interval.total_seconds()))}s"
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (leitstand)",
                "uid": PROMETHEUS_UID,
                "type": "prometheus",
                "access": "proxy",
                "orgId": 1,
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
                "jsonData": prometheus,
            },
            {
                "name": "Alertmanager (leitstand)",
                "uid": ALERTMANAGER_UID,
                "type": "alertmanager",
                "access": "proxy",
                "orgId": 1,
                "url": alertmanager_url,
                "isDefault": False,
                "editable": False,
                "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
            },
        ],
    }


def dashboard_provider(dashboards_dir: str) -> dict[str, Any]:
    """``provisioning/dashboards``: a file provider reading the rendered dashboards folder.

    The dashboards are generated from the policy: Grafana may not delete or save them (a change
    belongs in the policy), and picks up a re-render within 30 seconds.
    """
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "leitstand",
                "orgId": 1,
                "folder": "leitstand",
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": dashboards_dir, "foldersFromFilesStructure": False},
            }
        ],
    }


def provisioning_files(
    prometheus_url: str,
    dashboards_dir: str,
    *,
    alertmanager_url: str,
    scrape_interval: timedelta | None = None,
) -> dict[str, dict[str, Any]]:
    """Both provisioning files, by path below Grafana's provisioning folder."""
    return {
        "datasources/leitstand.yml": datasources(
            prometheus_url, alertmanager_url, scrape_interval=scrape_interval
        ),
        "dashboards/leitstand.yml": dashboard_provider(dashboards_dir),
    }
