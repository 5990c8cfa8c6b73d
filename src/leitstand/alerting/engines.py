"""The engines' own checkers (promtool, amtool, the blackbox exporter's ``--config.check``), as
subprocesses with argument lists and timeouts."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from leitstand.errors import ConfigError

__all__ = ["CheckFailed", "Engines", "find_engines"]

_TIMEOUT_S = 120


class CheckFailed(ConfigError):
    """An engine's checker refused a generated file; the message is the checker's own."""


@dataclass(frozen=True, slots=True)
class Engines:
    """Paths of the Prometheus stack's binaries (None when not installed)."""

    prometheus: str | None
    promtool: str | None
    alertmanager: str | None
    amtool: str | None
    node_exporter: str | None
    blackbox_exporter: str | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.prometheus, self.promtool, self.alertmanager, self.amtool)

    def _run(self, tool: str | None, name: str, args: list[str], cwd: Path) -> str:
        if tool is None:
            package = (
                "prometheus-blackbox-exporter"
                if name == "blackbox_exporter"
                else "prometheus prometheus-alertmanager"
            )
            raise ConfigError(f"{name} is not installed: apt-get install {package}")
        try:
            done = subprocess.run(  # noqa: S603 - fixed tool path and argument list
                [tool, *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CheckFailed(f"{name} {' '.join(args)} took longer than {_TIMEOUT_S}s") from exc
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            raise CheckFailed(f"{name} {' '.join(args)} failed:\n{output}")
        return output

    def check_rules(self, files: list[str], cwd: Path) -> str:
        """``promtool check rules``."""
        return self._run(self.promtool, "promtool", ["check", "rules", *files], cwd)

    def test_rules(self, files: list[str], cwd: Path) -> str:
        """``promtool test rules``."""
        return self._run(self.promtool, "promtool", ["test", "rules", *files], cwd)

    def check_config(self, file: str, cwd: Path) -> str:
        """``promtool check config`` (also checks the rule files it names)."""
        return self._run(self.promtool, "promtool", ["check", "config", file], cwd)

    def check_alertmanager(self, file: str, cwd: Path) -> str:
        """``amtool check-config``."""
        return self._run(self.amtool, "amtool", ["check-config", file], cwd)

    def check_blackbox(self, file: str, cwd: Path) -> str:
        """``prometheus-blackbox-exporter --config.check``."""
        return self._run(
            self.blackbox_exporter,
            "blackbox_exporter",
            ["--config.check", f"--config.file={file}"],
            cwd,
        )


def find_engines() -> Engines:
    """Look the binaries up on PATH (Debian's package names)."""
    return Engines(
        prometheus=shutil.which("prometheus"),
        promtool=shutil.which("promtool"),
        alertmanager=shutil.which("prometheus-alertmanager") or shutil.which("alertmanager"),
        amtool=shutil.which("amtool"),
        node_exporter=shutil.which("prometheus-node-exporter") or shutil.which("node_exporter"),
        blackbox_exporter=(
            shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
        ),
    )
