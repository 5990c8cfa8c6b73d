"""`leitstand up`: prepare the embedded (or configured) installation and serve it."""

from __future__ import annotations

import errno
import gc
import signal
import socket
import ssl
from typing import TYPE_CHECKING, Any

import uvicorn

from leitstand import __version__
from leitstand.alerting.stack import start_for_up
from leitstand.app import create_app
from leitstand.auth.model import SYSTEM_ACTOR
from leitstand.backups.wiring import schedule_backup_jobs
from leitstand.bootstrap import build
from leitstand.errors import ConfigError
from leitstand.incidents.wiring import schedule_incident_jobs
from leitstand.ledger.jobs import schedule_ledger_jobs
from leitstand.logs.pseudonym import processor_for
from leitstand.logs.shipping import Shipper, parse_target
from leitstand.logs.wiring import schedule_log_jobs
from leitstand.observability import configure_logging
from leitstand.policy_reload import install_sighup, remove_pid_file, write_pid_file
from leitstand.releases.wiring import reconcile_routers
from leitstand.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from leitstand.alerting.stack import LocalStack
    from leitstand.bootstrap import Container

__all__ = [
    "bind_socket",
    "freeze_startup_heap",
    "print_start_panel",
    "serve",
    "start_shipping",
    "tls_options",
]


def serve(settings: Settings, *, run_scheduler: bool = True) -> None:
    """Migrate, load policy and key, create the first user if needed, then serve until stopped."""
    configure_logging(settings.log_level)
    tls = tls_options(settings)
    # Bind first: a taken port must fail before anything is created or migrated.
    sock = bind_socket(settings.host, settings.port)
    try:
        container = build(settings, migrate=True)
    except BaseException:
        sock.close()
        raise
    # The policy's pseudonymisation of personal data in log lines ("Keine PII in Logs").
    pseudonymiser = processor_for(container.policy.logs, settings.home)
    configure_logging(settings.log_level, pseudonymiser=pseudonymiser)
    shipper: Shipper | None = None
    try:
        token = container.auth.ensure_first_user(actor=SYSTEM_ACTOR)
        if run_scheduler:
            schedule_ledger_jobs(container)
            schedule_backup_jobs(container)
            schedule_log_jobs(container)
            schedule_incident_jobs(
                container.scheduler, container.policy.incidents.response.recurring_check
            )
            reconcile_routers(container)
        report = container.audit.verify(actor=SYSTEM_ACTOR)
        container.audit.record_system(
            actor=SYSTEM_ACTOR,
            action="control_plane.started",
            subject=f"instance:{settings.instance_id}",
            payload={
                "version": __version__,
                "listen": f"{settings.host}:{sock.getsockname()[1]}",
                "database": container.db.dialect,
                "policy_file": str(container.policy_file) if container.policy_file else None,
                "ledger_intact": report.ok,
            },
        )
        host, port = sock.getsockname()[:2]
        scheme = "https" if tls else "http"
        url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}/"
        lines = [f"leitstand {__version__} serving on [bold]{url}[/bold]"]
        lines.append(f"home: {settings.home}  database: {container.db.dialect}")
        lines.append(
            f"policy: {container.policy_file or 'built-in defaults (seed)'}; "
            f"ledger: {report.summary()}"
        )
        stack, stack_line = start_for_up(container, url=url)
        lines.append(stack_line)
        shipper, shipping_line = start_shipping(container, stack)
        if shipper is not None:
            # The same lines as on stderr (redacted, pseudonymised) also go to rsyslog.
            configure_logging(settings.log_level, pseudonymiser=pseudonymiser, ship=shipper.offer)
        lines.append(shipping_line)
        if token is not None:
            lines.append("")
            lines.append("First devops user [bold]admin[/bold] created. API token (shown once):")
            lines.append(f"[bold]{token}[/bold]")
        print_start_panel(lines)
        app = create_app(container, run_scheduler=run_scheduler)
        freeze_startup_heap()
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
            **tls,
        )
        # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
        # handler that was installed before it: ours turns that into a clean exit 0.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        signal.signal(signal.SIGINT, _exit_cleanly)
        # `leitstand policy reload` (or kill -HUP) applies an edited policy without a restart.
        install_sighup(container, stack)
        write_pid_file(settings.home)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            remove_pid_file(settings.home)
            if stack is not None:
                stack.stop()
            container.audit.record_system(
                actor=SYSTEM_ACTOR,
                action="control_plane.stopped",
                subject=f"instance:{settings.instance_id}",
                payload={"version": __version__},
            )
    finally:
        if shipper is not None:
            configure_logging(settings.log_level, pseudonymiser=pseudonymiser)
            shipper.close()
        sock.close()
        container.close()


def start_shipping(container: Container, stack: LocalStack | None) -> tuple[Shipper | None, str]:
    """leitstand's own log lines to rsyslog (``logs.streams.shipping``): the managed stack's
    rsyslog when it runs, a configured HOST:PORT, or nowhere; the shipper and a status line."""
    target = container.policy.logs.streams.shipping
    if target == "off":
        return None, "log shipping: off (logs.streams.shipping)"
    if target == "managed":
        found = stack.rsyslog_target if stack is not None else None
        if found is None:
            return None, "log shipping: stderr only (the managed rsyslog does not run)"
        host, port = found
    else:
        host, port = parse_target(target)
    return Shipper(host, port), f"log shipping: rsyslog at {host}:{port} (RFC 5424 over TCP)"


def print_start_panel(lines: list[str], *, console: Console | None = None) -> None:
    """Print the start-up summary (Rich markup): a panel on a terminal, plain lines otherwise.

    A log (systemd's journal, a file, a pipe) gets every line whole: no box cut at 80 columns,
    the URL and the one-time token on lines of their own, for grep and copy.
    """
    from rich.panel import Panel

    if console is None:
        from leitstand import cli_support

        console = cli_support.console
    if console.is_terminal:
        # The panel fits the terminal: long lines wrap inside the box instead of being cut.
        console.print(Panel("\n".join(lines), title="leitstand up", expand=False), soft_wrap=False)
        return
    console.print("leitstand up", soft_wrap=True)
    for line in lines:
        console.print(line, soft_wrap=True)


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS options from ``--tls-cert``/``--tls-key``; checked before anything starts."""
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ConfigError("TLS needs both --tls-cert and --tls-key (LEITSTAND_TLS_CERT/_KEY)")
    cert, key = cert.expanduser().resolve(), key.expanduser().resolve()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except FileNotFoundError as exc:
        raise ConfigError(f"TLS file not found: {exc.filename}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"cannot use {cert} with {key} for TLS ({exc}): expected a PEM certificate "
            "and its matching unencrypted PEM private key"
        ) from exc
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}


def freeze_startup_heap() -> None:
    """Take what start-up allocated (modules, app, policy, ~200k objects) out of the collector.

    A full collection otherwise walks all of it: measured 80-90 ms pauses every few seconds
    under load, each one stalling every request in flight. Frozen objects are never collected,
    which is right for what lives as long as the process anyway.
    """
    gc.collect()
    gc.freeze()


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front, so a taken port is a clear error, not a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # protocol is TCP; with proto 0, Nagle plus delayed ACKs add ~40 ms to keep-alive calls.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use: stop the other process "
                f"or choose another with --port"
            ) from exc
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"no permission to bind {host}:{port}: choose a port above 1023"
            ) from exc
        raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
