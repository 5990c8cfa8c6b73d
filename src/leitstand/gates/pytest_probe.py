"""A pytest plugin leitstand loads into the project's test run (``-p leitstand_gate_probe``).

It writes, per collected test, its markers, location and outcome to the JSON file named by
``LEITSTAND_GATE_PROBE``. It imports nothing from leitstand: the project's environment does not
have leitstand installed, so this file is copied into a folder on the test run's PYTHONPATH.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__: list[str] = []

_tests: dict[str, dict[str, Any]] = {}


def pytest_collection_finish(session: Any) -> None:
    for item in session.items:
        path, line, _name = item.location
        _tests[item.nodeid] = {
            "markers": sorted({m.name for m in item.iter_markers()}),
            "file": path,
            "line": (line + 1) if isinstance(line, int) else None,
            "outcome": "not run",
        }


def pytest_runtest_logreport(report: Any) -> None:
    test = _tests.get(report.nodeid)
    if test is None:
        return
    if report.failed:
        test["outcome"] = "failed"
        test["phase"] = report.when
        test["message"] = str(getattr(report, "longreprtext", ""))[-2000:]
    elif report.skipped and test["outcome"] != "failed":
        test["outcome"] = "skipped"
    elif (report.when == "call" and report.passed and test["outcome"] == "not run") or (
        report.when == "call" and report.passed and hasattr(report, "wasxfail")
    ):
        test["outcome"] = "passed"


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    target = os.environ.get("LEITSTAND_GATE_PROBE")
    if not target:
        return
    with open(target, "w", encoding="utf-8") as fh:  # noqa: PTH123 - no pathlib needed here
        json.dump({"exitstatus": int(exitstatus), "tests": _tests}, fh)
