"""`leitstand witness`: run a C2SP tlog-witness for a leitstand ledger (on another machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leitstand.cli_support import console, err_console
from leitstand.ledger.witness_server import WitnessCore, WitnessServer

__all__ = ["app"]

app = typer.Typer(
    help="Run a transparency-log witness that cosigns the ledger's checkpoints.",
    no_args_is_help=True,
)

HomeOpt = Annotated[
    Path, typer.Option("--home", help="The witness's own folder (its key and state)")
]


def _log_keys(values: list[str]) -> list[str]:
    keys: list[str] = []
    for value in values:
        path = Path(value)
        keys.extend(path.read_text("utf-8").split() if path.is_file() else [value])
    return keys


@app.command("serve")
def serve(
    home: HomeOpt,
    log_key: Annotated[
        list[str] | None,
        typer.Option(
            "--log-key",
            help="Verifier key of a ledger to witness (text or a file holding it); remembered",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="This witness's key name (first start only)")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free)")] = 8770,
) -> None:
    """Serve POST /add-checkpoint and GET /<origin hash>/checkpoint (C2SP tlog-witness)."""
    core = WitnessCore.open(home, name=name, log_keys=_log_keys(log_key or []))
    server = WitnessServer(core, host=host, port=port)
    err_console.print(f"witness {core.key.name} listening on {server.url}")
    console.print(core.key.format())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("key")
def key(
    home: HomeOpt,
    name: Annotated[
        str | None, typer.Option(help="This witness's key name (first start only)")
    ] = None,
    log_key: Annotated[
        list[str] | None, typer.Option("--log-key", help="Verifier key of a ledger to witness")
    ] = None,
) -> None:
    """Print the witness's verifier key (for policy ledger.witnesses[].key)."""
    core = WitnessCore.open(home, name=name, log_keys=_log_keys(log_key or []), need_log_key=False)
    console.print(core.key.format())
