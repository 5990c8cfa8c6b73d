"""`leitstand policy reload` (SIGHUP) applies an edited policy to a running `leitstand up`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from leitstand.testing import ServerProcess, free_port, wait_for
from leitstand.testing.cli import run_cli


def _reload(home: Path, policy: Path) -> subprocess.CompletedProcess[str]:
    # The command runs in-process; the `leitstand up` it signals (SIGHUP) is a child process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env.update({"LEITSTAND_HOME": str(home), "LEITSTAND_POLICY": str(policy)})
    return run_cli(["policy", "reload"], env=env)


def test_policy_reload_applies_an_edit_and_refuses_a_broken_file(tmp_path: Path) -> None:
    home = tmp_path / ".leitstand"
    policy = tmp_path / "leitstand.yaml"
    policy.write_text("alerting:\n  ack_timeout: 15m\n")
    missing = _reload(home, policy)
    assert missing.returncode == 2 and "no running `leitstand up`" in missing.stderr

    server = ServerProcess(home=home, port=free_port(), env={"LEITSTAND_POLICY": str(policy)})
    try:
        server.wait_ready()
        token = server.token()
        assert token is not None
        auth = {"Authorization": f"Bearer {token}"}

        def ack_timeout() -> Any:
            answer = httpx.get(f"{server.url}/api/v1/policy", headers=auth, timeout=10)
            return answer.json()["alerting"]["ack_timeout"]

        before = ack_timeout()
        policy.write_text("alerting:\n  ack_timeout: [not, a, duration]\n")
        refused = _reload(home, policy)
        assert refused.returncode == 2 and "ack_timeout" in refused.stderr
        assert ack_timeout() == before

        policy.write_text("alerting:\n  ack_timeout: 5m\n")
        done = _reload(home, policy)
        assert done.returncode == 0, done.stderr
        assert "SIGHUP" in done.stdout
        after = wait_for("the reloaded policy", lambda: (v := ack_timeout()) != before and v)
        assert after != before
        entries = httpx.get(
            f"{server.url}/api/v1/audit/entries",
            params={"action": "policy.reloaded"},
            headers=auth,
            timeout=10,
        ).json()
        assert len(entries) == 1 and entries[0]["payload"]["references"] > 0
    finally:
        assert server.stop() == 0
    assert not (home / "leitstand-up.pid").exists()
