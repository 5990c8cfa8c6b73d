"""systemd units of a VM install, checked by systemd itself, offline.

``systemd-analyze verify`` parses each unit as systemd would load it (an unknown key, a bad
value or a missing executable is a finding at its line); ``systemd-analyze security
--offline=true`` rates each service's exposure (0 = locked down, 10 = none of systemd's
sandboxing), which must not exceed ``gates.containers.units.max_exposure``.

Both run against a scratch root folder that holds the unit, a stand-in for each absolute
executable the unit starts (the unit is meant for another machine) and this machine's
systemd units (for the targets it refers to).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from leitstand.gates.model import Finding, Severity, Tool
from leitstand.gates.tools import ToolFailure, find_tool, run_tool, tail

__all__ = ["INSTALL", "UNIT_SUFFIXES", "UnitCheck", "check_units"]

UNIT_SUFFIXES = (".service", ".socket", ".timer", ".path", ".mount")
INSTALL = "apt-get install systemd (it ships systemd-analyze)"
_SYSTEM_UNITS = ("/usr/lib/systemd/system", "/lib/systemd/system")
_EXEC = re.compile(r"^\s*Exec[A-Za-z]*\s*=\s*[-@:+!]*(/\S+)", re.MULTILINE)
_OVERALL = re.compile(r"Overall exposure level for (\S+): (\d+(?:\.\d+)?)")
_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class UnitCheck:
    """The findings of the units, each service's exposure (file -> 0.0..10.0), the tool."""

    findings: list[Finding]
    exposure: dict[str, float]
    tool: Tool


def _scratch_root(root: Path, units: dict[str, str]) -> None:
    """A root folder with ``units`` (name -> text), stand-ins for their executables, and a
    link to this machine's system units."""
    system = next((Path(p) for p in _SYSTEM_UNITS if Path(p).is_dir()), None)
    if system is not None:
        (root / "usr/lib/systemd").mkdir(parents=True)
        (root / "usr/lib/systemd/system").symlink_to(system)
    (root / "etc/systemd/system").mkdir(parents=True)
    inside = root.resolve()
    for name, text in units.items():
        (root / "etc/systemd/system" / name).write_text(text, encoding="utf-8")
        for executable in _EXEC.findall(text):
            stand_in = root / executable.lstrip("/")
            # Never a stand-in outside the scratch root (through "..", or through the link to
            # this machine's units): verify then reports the executable as missing.
            if not stand_in.resolve().is_relative_to(inside) or stand_in.exists():
                continue
            try:
                stand_in.parent.mkdir(parents=True, exist_ok=True)
                stand_in.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
                stand_in.chmod(0o755)
            except OSError:
                continue  # a path through one of our files: verify reports it


def _verify_findings(output: str, files: dict[str, str], scratch: Path) -> list[Finding]:
    """systemd-analyze's warnings about our units: ``PATH:LINE: message`` or ``UNIT: message``
    (its other lines are about this machine's own units)."""
    findings: list[Finding] = []
    for line in output.splitlines():
        for name, file in files.items():
            installed = str(scratch / "etc/systemd/system" / name)
            if line.startswith(installed + ":"):
                where, _, message = line[len(installed) + 1 :].partition(": ")
                number = int(where) if where.isdigit() else 1
            elif line.startswith(name + ": "):
                number, message = 1, line[len(name) + 2 :]
            else:
                continue
            findings.append(
                Finding(
                    rule="LS-SYSTEMD-VERIFY",
                    message=f"{file}:{number}: {message.replace(str(scratch), '')}",
                    severity=Severity.CRITICAL,
                    file=file,
                    line=number,
                    data={"tool": "systemd-analyze verify"},
                )
            )
    return findings


def check_units(root: Path, files: list[str], *, max_exposure: float) -> UnitCheck:
    """Verify the unit files ``files`` (relative to ``root``) and rate each service.

    Two files with the same unit name are checked one after the other (a scratch root
    each), so that a second ``leitstand.service`` is not hidden by the first.
    """
    binary = find_tool("systemd-analyze", install=INSTALL)
    # "systemd 252 (252.38-1~deb12u1)"
    words = run_tool([binary, "--version"], timeout=_TIMEOUT).stdout.split()
    tool = Tool("systemd-analyze", words[1] if len(words) > 1 else "unknown")
    findings: list[Finding] = []
    exposure: dict[str, float] = {}
    for file in files:
        name = Path(file).name
        text = (root / file).read_text(encoding="utf-8", errors="replace")
        with tempfile.TemporaryDirectory(prefix="leitstand-units-") as tmp:
            scratch = Path(tmp)
            _scratch_root(scratch, {name: text})
            done = run_tool(
                [binary, "verify", "--man=no", f"--root={scratch}", name],
                timeout=_TIMEOUT,
            )
            findings += _verify_findings(done.stderr + done.stdout, {name: file}, scratch)
            if not name.endswith(".service"):
                continue
            rated = run_tool(
                [binary, "security", "--offline=true", "--no-pager", f"--root={scratch}", name],
                timeout=_TIMEOUT,
            )
            match = _OVERALL.search(rated.stdout + rated.stderr)
            if match is None:
                raise ToolFailure(
                    f"systemd-analyze security rated no exposure for {file} "
                    f"(exit {rated.returncode}): {tail(rated.stderr or rated.stdout)}"
                )
            score = float(match.group(2))
            exposure[file] = score
            if score > max_exposure:
                findings.append(
                    Finding(
                        rule="LS-SYSTEMD-EXPOSURE",
                        message=f"{file}: systemd rates the service's exposure {score:.1f} "
                        f"(gates.containers.units.max_exposure: {max_exposure:.1f}); "
                        "`systemd-analyze security` lists what is missing",
                        severity=Severity.CRITICAL,
                        file=file,
                        line=1,
                        data={"exposure": score, "max_exposure": max_exposure},
                    )
                )
    return UnitCheck(findings, exposure, tool)
