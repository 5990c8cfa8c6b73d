"""`leitstand gate`: run the quality gates on a project; write a CI pipeline definition."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from leitstand.auth.model import Actor, Role
from leitstand.cli_support import (
    TokenOpt,
    console,
    emit_json,
    err_console,
    open_container,
    resolve_actor,
)
from leitstand.errors import Issue, ValidationError
from leitstand.gates.ci import github_workflow, gitlab_pipeline
from leitstand.gates.environment import PipOptions
from leitstand.gates.model import RunResult, Status, exit_code, parse_stages
from leitstand.gates.service import GateRequest
from leitstand.validators import check_version

if TYPE_CHECKING:
    from leitstand.gates.store import GateRunRecord

__all__ = ["app"]

app = typer.Typer(
    help="Quality gates: build, test, security, compliance; CI pipelines.", no_args_is_help=True
)
#: Who may run the gates (the run is evidence recorded under their name): CI's user and people.
GATE_RUNNERS = (Role.DEVOPS, Role.DEVELOPER, Role.QA, Role.SECURITY)
_MARK = {Status.PASS: "[green]✓[/]", Status.FAIL: "[red]✗[/]", Status.SKIP: "[yellow]-[/]"}


@app.command("run")
def run(
    path: Annotated[Path, typer.Argument(help="The project (pyproject.toml or requirements.txt)")],
    stage: Annotated[str | None, typer.Option(help="Stages, e.g. build,test,security")] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Run later stages after a failed one")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default PATH/gate-report)")
    ] = None,
    python: Annotated[
        Path | None, typer.Option(help="Use this environment's Python instead of a fresh one")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Policy file (default PATH/leitstand.yaml)")
    ] = None,
    find_links: Annotated[
        list[str] | None, typer.Option("--find-links", help="pip --find-links (offline)")
    ] = None,
    index_url: Annotated[str | None, typer.Option(help="pip --index-url")] = None,
    no_index: Annotated[bool, typer.Option("--no-index", help="pip --no-index (offline)")] = False,
    version: Annotated[
        str | None, typer.Option(help="Version to check (default: the project's)")
    ] = None,
    commit: Annotated[
        str | None, typer.Option(help="Commit (default: CI variables or .git)")
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of summary.md: de or en")] = "de",
    change: Annotated[
        int | None,
        typer.Option(
            "--change", min=1, help="Change record the run is for (default: by service+version)"
        ),
    ] = None,
    dist: Annotated[
        Path | None,
        typer.Option(
            "--dist", help="Built artifacts this run checks when it does not build (their digests)"
        ),
    ] = None,
    osv_db: Annotated[
        Path | None,
        typer.Option("--osv-db", help="OSV database folder (JSON/YAML files, nested allowed)"),
    ] = None,
    token: TokenOpt = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print report.json with the recorded run's id (run_id)"),
    ] = False,
    stream: Annotated[
        bool, typer.Option("--stream", help="Show the test run's output while it runs")
    ] = False,
) -> None:
    """Run the gates; exit 0 when all passed, 1 when one failed, 2 for bad input.

    The run is recorded; its id (``gate run #ID``, ``run_id`` in ``--json``) is what
    ``leitstand image sign --gate-run`` takes.
    """
    try:
        stages = parse_stages(stage)
    except ValueError as exc:
        raise ValidationError([Issue("--stage", str(exc))]) from None
    if osv_db is not None and not osv_db.is_dir():
        raise ValidationError(
            [Issue("--osv-db", f"a folder of OSV records (got {osv_db}: not a folder)")]
        )
    if lang not in ("de", "en"):
        raise ValidationError([Issue("--lang", f"expected de or en (got {lang!r})")])
    if version is not None:
        check_version(version, "--version")
    if python is not None and not python.is_file():
        raise ValidationError(
            [Issue("--python", f"a Python executable (got {python}: not a file)")]
        )
    links = tuple(str(Path(p).resolve()) if Path(p).exists() else p for p in find_links or [])
    request = GateRequest(
        path=path,
        stages=stages,
        out=out,
        keep_going=keep_going,
        python=python,
        pip=PipOptions(find_links=links, index_url=index_url, no_index=no_index),
        config=config,
        lang=lang,
        commit=commit,
        version=version,
        change=change,
        dist=dist,
        osv_db=osv_db,
    )
    container = open_container()
    try:
        actor = resolve_actor(container, token, action="gate.run", roles=GATE_RUNNERS)
        result, folder, record = _run(container, request, actor, quiet=json_out, stream=stream)
    finally:
        container.close()
    if json_out:
        # report.json as written (its SHA-256 is in the evidence), plus the run's id.
        emit_json({**result.as_dict(), "run_id": record.id})
    else:
        _print(result, folder, record.id)
    raise typer.Exit(exit_code(result))


def _run(
    container: object, request: GateRequest, actor: Actor, *, quiet: bool, stream: bool = False
) -> tuple[RunResult, Path, GateRunRecord]:
    gates = container.gates  # type: ignore[attr-defined]
    if quiet or not err_console.is_terminal:

        def log(event: str, text: str) -> None:
            if not quiet and event in ("stage", "done"):
                err_console.print(f"{event}: {text}", markup=False)
            elif not quiet and stream and event == "output":
                # Plain lines, flushed one by one: a CI log shows pytest's progress as it runs.
                err_console.file.write(text + "\n")
                err_console.file.flush()

        return gates.run(request, actor=actor, progress=log)  # type: ignore[no-any-return]
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        tasks: dict[str, object] = {}

        def show(event: str, text: str) -> None:
            if event == "stage":
                tasks[text] = bar.add_task(f"{text.upper()}", total=None)
            elif event == "check":
                bar.console.print(f"  {text}", markup=False)
            elif event == "output" and stream:
                bar.console.print(text, markup=False, highlight=False)
            elif event == "done":
                name, _, status = text.partition(": ")
                task = tasks.get(name)
                if task is not None:
                    bar.update(task, description=f"{name.upper()}: {status}", total=1, completed=1)  # type: ignore[arg-type]

        return gates.run(request, actor=actor, progress=show)  # type: ignore[no-any-return]


def _detail_lines(detail: object, limit: int = 4) -> list[str]:
    """The telling lines of a finding's detail: pytest's ``E`` lines, else the last line."""
    if not isinstance(detail, str) or not detail.strip():
        return []
    lines = [line.rstrip() for line in detail.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    chosen = errors[:limit] if errors else lines[-1:]
    return [line[:300] for line in chosen]


def _print(result: RunResult, folder: Path, run_id: int) -> None:
    for stage in result.stages:
        console.print(
            f"{_MARK[stage.status]} [bold]{stage.stage.value.upper()}[/] ({stage.duration_s:.1f}s)"
        )
        for check in stage.checks:
            console.print(f"   {_MARK[check.status]} {check.id}: {check.summary}", highlight=False)
            for finding in [f for f in check.findings if f.blocking][:10]:
                console.print(f"       {finding.rule}: {finding.message}", markup=False)
                for line in _detail_lines(finding.data.get("detail")):
                    console.print(f"         {line}", markup=False, highlight=False)
    for skipped in result.not_run:
        console.print(f"[yellow]-[/] {skipped.value.upper()}: not run (a previous stage failed)")
    verdict = (
        "[green]all gates passed[/]"
        if result.status is not Status.FAIL
        else "[red]a gate failed: the deployment is blocked[/]"
    )
    console.print(f"{verdict}; reports in {folder}")
    console.print(f"gate run #{run_id}: {result.status.value}", markup=False)


@app.command("ci")
def ci(
    gitlab: Annotated[bool, typer.Option("--gitlab", help="Write .gitlab-ci.yml")] = False,
    github: Annotated[
        bool, typer.Option("--github", help="Write .github/workflows/leitstand-gates.yml")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Target file (default: the platform's path)")
    ] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print instead of writing")] = False,
) -> None:
    """Write a pipeline: stages 1-4 as jobs, staging automatically, production on approval."""
    if gitlab == github:
        raise ValidationError([Issue("--gitlab/--github", "exactly one of --gitlab or --github")])
    container = open_container()
    try:
        policy = container.policy
    finally:
        container.close()
    text = gitlab_pipeline(policy) if gitlab else github_workflow(policy)
    if stdout:
        console.print(text, markup=False, end="")
        return
    target = out or (
        Path(".gitlab-ci.yml") if gitlab else Path(".github/workflows/leitstand-gates.yml")
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    console.print(f"wrote {target}")
