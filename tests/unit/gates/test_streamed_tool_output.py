"""A streamed tool run: each output line reaches the caller while the tool runs, all is kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from leitstand.gates.cli import _run
from leitstand.gates.runner import Progress
from leitstand.gates.service import _output_to
from leitstand.gates.tools import ToolFailure, run_tool
from leitstand.testing import wait_for

#: Prints "first", then waits until the file named in argv[1] exists before it prints "second".
SCRIPT = (
    "import pathlib, sys, time\n"
    "print('first', flush=True)\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "while not pathlib.Path(sys.argv[1]).exists():\n"
    "    time.sleep(0.01)\n"
    "print('second', flush=True)\n"
    "sys.exit(3)\n"
)


def test_lines_arrive_while_the_tool_runs_and_the_whole_output_is_kept(tmp_path: Path) -> None:
    go = tmp_path / "go"
    seen: list[str] = []

    def listen(line: str) -> None:
        seen.append(line)
        go.touch()  # the tool prints "second" only after "first" has reached us

    done = run_tool([sys.executable, "-c", SCRIPT, str(go)], timeout=120, on_line=listen)
    assert seen == ["first", "second"]
    assert done.stdout == "first\nsecond\n"
    assert done.stderr == "to stderr\n"
    assert done.returncode == 3


def test_a_streamed_run_keeps_its_timeout(tmp_path: Path) -> None:
    never = str(tmp_path / "never")
    with pytest.raises(ToolFailure, match="did not finish within 1s") as stopped:
        run_tool([sys.executable, "-c", SCRIPT, never], timeout=1, on_line=lambda _line: None)
    # What the tool printed before it was stopped is kept for the caller.
    assert "first\n" in stopped.value.output and "to stderr" in stopped.value.output


def test_a_plain_run_keeps_its_output_on_a_timeout(tmp_path: Path) -> None:
    never = str(tmp_path / "never")
    with pytest.raises(ToolFailure, match="did not finish within 1s") as stopped:
        run_tool([sys.executable, "-c", SCRIPT, never], timeout=1)
    assert "first" in stopped.value.output


def test_without_a_listener_the_output_is_only_returned(tmp_path: Path) -> None:
    (tmp_path / "go").touch()
    done = run_tool([sys.executable, "-c", SCRIPT, str(tmp_path / "go")], timeout=120)
    assert (done.stdout, done.returncode) == ("first\nsecond\n", 3)


class _Gates:
    """Stands in for the gate service: reports a stage, two output lines and the verdict."""

    def run(self, request: object, *, actor: object, progress: Progress) -> tuple[str, Path]:
        progress("stage", "test")
        progress("output", "..........  [ 50%]")
        progress("output", "..........  [100%]")
        progress("done", "test: pass")
        return "result", Path()


class _Container:
    gates = _Gates()


@pytest.mark.parametrize("stream", [True, False])
def test_the_cli_shows_the_test_output_only_when_asked(
    stream: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(_Container(), object(), object(), quiet=False, stream=stream)  # type: ignore[arg-type]
    shown = capsys.readouterr().err
    assert "stage: test" in shown and "done: test: pass" in shown
    assert ("[ 50%]\n" in shown and "[100%]\n" in shown) is stream


def test_a_status_line_redrawn_by_xdist_is_shown_once() -> None:
    shown: list[tuple[str, str]] = []
    forward = _output_to(lambda event, text: shown.append((event, text)))
    assert forward is not None
    for line in ["bringing up nodes...", "bringing up nodes...", "....  [ 50%]", "", ""]:
        forward(line)
    assert shown == [
        ("output", "bringing up nodes..."),
        ("output", "....  [ 50%]"),
        ("output", ""),
        ("output", ""),
    ]


#: Starts a child that would outlive it, writes the child's pid, then waits for ever.
SPAWNS = (
    "import pathlib, subprocess, sys, threading\n"
    "forever = 'import threading; threading.Event().wait()'\n"
    "child = subprocess.Popen([sys.executable, '-c', forever])\n"
    "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
    "print('started', flush=True)\n"
    "threading.Event().wait()\n"
)


def test_a_timeout_stops_the_tool_and_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    with pytest.raises(ToolFailure, match="did not finish within 3s"):
        run_tool(
            [sys.executable, "-c", SPAWNS, str(pid_file)], timeout=3, on_line=lambda _line: None
        )
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[0] == "Z"  # killed, waiting to be reaped

    wait_for("the tool's child to be stopped", gone, timeout=30)
