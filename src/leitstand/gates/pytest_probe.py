"""A pytest plugin leitstand loads into the project's test run (``-p leitstand_gate_probe``).

It writes, per collected test, its markers, location and outcome to the JSON file named by
``LEITSTAND_GATE_PROBE``. It imports nothing from leitstand: the project's environment does not
have leitstand installed, so this file is copied into a folder on the test run's PYTHONPATH.

With pytest-xdist, workers collect (each writes what it collected to ``<file>.<worker>``) and the
controller sees every outcome; the controller merges both at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__: list[str] = []

_tests: dict[str, dict[str, Any]] = {}
_state: dict[str, str | None] = {"worker": None}


def pytest_configure(config: Any) -> None:
    # An xdist worker has ``workerinput``; the environment variable alone would also be seen by
    # a pytest that a test starts inside a worker (a gate run within the tests).
    workerinput = getattr(config, "workerinput", None)
    _state["worker"] = str(workerinput["workerid"]) if workerinput else None


def _worker() -> str | None:
    return _state["worker"]


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
        if _worker() is not None:
            return  # the controller records outcomes
        # Under xdist the controller did not collect: start the record, markers come later.
        test = _tests[report.nodeid] = {"markers": [], "outcome": "not run"}
    if report.failed:
        _note_failure(report)
        test["outcome"] = "failed"
        test["phase"] = report.when
        test["message"] = str(getattr(report, "longreprtext", ""))[-2000:]
    elif report.skipped and test["outcome"] != "failed":
        test["outcome"] = "skipped"
    elif (report.when == "call" and report.passed and test["outcome"] == "not run") or (
        report.when == "call" and report.passed and hasattr(report, "wasxfail")
    ):
        test["outcome"] = "passed"


def _note_failure(report: Any) -> None:
    """Append the failure to ``<probe>-failures`` at once: a run stopped on a timeout never
    reaches ``pytest_sessionfinish``, and the gate still names what had failed."""
    target = os.environ.get("LEITSTAND_GATE_PROBE")
    if not target or _worker() is not None:
        return
    message = str(getattr(report, "longreprtext", ""))[-2000:]
    line = json.dumps({"nodeid": report.nodeid, "phase": report.when, "message": message})
    with Path(f"{target}-failures").open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    target = os.environ.get("LEITSTAND_GATE_PROBE")
    if not target:
        return
    worker = _worker()
    if worker is not None:
        collected = {
            k: {key: v[key] for key in ("markers", "file", "line")} for k, v in _tests.items()
        }
        Path(f"{target}.{worker}").write_text(json.dumps(collected), encoding="utf-8")
        return
    for part in sorted(Path(target).parent.glob(f"{Path(target).name}.*")):
        for nodeid, info in json.loads(part.read_text(encoding="utf-8")).items():
            record = _tests.setdefault(nodeid, {"outcome": "not run"})
            record.update(info)
    for record in _tests.values():
        record.setdefault("file", None)
        record.setdefault("line", None)
    Path(target).write_text(
        json.dumps({"exitstatus": int(exitstatus), "tests": _tests}), encoding="utf-8"
    )
