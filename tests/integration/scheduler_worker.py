"""A leitstand scheduler process for the restart and race tests (run as a script).

Environment: the usual LEITSTAND_* settings, plus
WORKER_NAME (recorded with each effect), WORKER_CRASH_KEY (kill the process mid-firing of that
timer, once: a marker file next to the database prevents a second crash), WORKER_SLEEP (seconds a
handler takes), WORKER_SECONDS (how long to keep polling).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from leitstand.bootstrap import build
from leitstand.scheduler.service import JobContext
from leitstand.settings import Settings


def main() -> int:
    settings = Settings()
    container = build(settings, migrate=False)
    name = os.environ.get("WORKER_NAME", "w")
    crash_key = os.environ.get("WORKER_CRASH_KEY")
    marker = Path(os.environ.get("WORKER_MARKER", str(settings.home / "crashed.marker")))
    pause = float(os.environ.get("WORKER_SLEEP", "0"))

    def effect(ctx: JobContext) -> None:
        ctx.session.execute(
            sa.text("INSERT INTO test_effects (job_key, instance) VALUES (:k, :i)"),
            {"k": ctx.key, "i": name},
        )
        if pause:
            time.sleep(pause)
        if crash_key and ctx.key == crash_key and not marker.exists():
            marker.write_text("crashed once")
            os._exit(137)  # a hard crash: no rollback handler, no cleanup

    container.scheduler.register("test.effect", effect)
    deadline = time.monotonic() + float(os.environ.get("WORKER_SECONDS", "2"))
    fired = 0
    while time.monotonic() < deadline:
        n = container.scheduler.run_due(limit=50)
        fired += n
        if n == 0:
            time.sleep(0.05)
    print(f"fired={fired}")
    container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
