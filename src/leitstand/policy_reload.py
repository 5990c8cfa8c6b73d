"""Reload the policy of a running `leitstand up`: `leitstand policy reload` or SIGHUP.

`leitstand up` writes its PID to ``<home>/leitstand-up.pid``; `leitstand policy reload` checks the
edited policy file first (a broken file is refused there, exit 2, and the server is not
signalled), then sends SIGHUP. On SIGHUP the server loads the file again and, if it is valid,
every service of the process reads the new policy from then on (the container's policy and each
service's reference to it or to one of its sections are swapped), the managed monitoring stack
re-renders and reloads its engines, and ``policy.reloaded`` is recorded. A refused file changes
nothing: the running policy stays. What was scheduled at start (backup and ledger jobs, the
monthly recurring check) keeps its timing until the next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from leitstand.auth.model import SYSTEM_ACTOR
from leitstand.errors import ConfigError, LeitstandError
from leitstand.policy.base import PolicyModel
from leitstand.policy.loader import load_policy
from leitstand.policy.model import Policy

if TYPE_CHECKING:
    from leitstand.alerting.stack import LocalStack
    from leitstand.bootstrap import Container

__all__ = [
    "PID_FILE",
    "apply_policy",
    "install_sighup",
    "reload_policy",
    "remove_pid_file",
    "signal_reload",
    "write_pid_file",
]

log = structlog.get_logger(__name__)
PID_FILE = "leitstand-up.pid"
_MAX_DEPTH = 5


def _replacements(old: Policy, new: Policy) -> dict[int, Any]:
    """Old policy objects (the policy, its sections and their sections) -> the new ones."""
    found: dict[int, Any] = {id(old): new}

    def walk(before: PolicyModel, after: PolicyModel, depth: int) -> None:
        if depth > 2:
            return
        for name in type(before).model_fields:
            a, b = getattr(before, name, None), getattr(after, name, None)
            if isinstance(a, PolicyModel) and isinstance(b, PolicyModel):
                found.setdefault(id(a), b)
                walk(a, b, depth + 1)

    walk(old, new, 1)
    return found


def _attributes(obj: object) -> list[str]:
    names = list(vars(obj)) if hasattr(obj, "__dict__") else []
    for cls in type(obj).__mro__:
        slots = getattr(cls, "__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return [n for n in dict.fromkeys(names) if not n.startswith("__")]


def _swap(obj: object, replacements: dict[int, Any], seen: set[int], depth: int) -> int:
    """Point every reference to an old policy object at its new one; how many were swapped."""
    if depth > _MAX_DEPTH or id(obj) in seen:
        return 0
    seen.add(id(obj))
    swapped = 0
    for name in _attributes(obj):
        value = getattr(obj, name, None)
        if value is None:
            continue
        if id(value) in replacements:
            object.__setattr__(obj, name, replacements[id(value)])
            swapped += 1
        elif _ours(value):
            swapped += _swap(value, replacements, seen, depth + 1)
    return swapped


def _ours(value: object) -> bool:
    return type(value).__module__.startswith("leitstand.") and not isinstance(value, PolicyModel)


def apply_policy(container: Container, policy: Policy) -> int:
    """Make every service of ``container`` read ``policy``; the number of references swapped."""
    replacements = _replacements(container.policy, policy)
    seen: set[int] = set()
    swapped = _swap(container, replacements, seen, 0)  # the policy field and the core services
    for service in container.services:  # each domain's wired services
        swapped += _swap(service, replacements, seen, 1)
    container.reindex()  # `get(Policy)` answers the new policy
    return swapped


def reload_policy(container: Container, stack: LocalStack | None = None) -> bool:
    """Load the policy file again and apply it; the managed stack follows. False if refused."""
    path = container.policy_file
    if path is None:
        log.warning("policy_reload_skipped", reason="built-in defaults, no policy file")
        return False
    try:
        policy = load_policy(path)
        if stack is not None:
            stack.render(policy)  # checked by the engines before anything changes
    except LeitstandError as exc:
        log.error("policy_reload_refused", policy=str(path), error=exc.message)
        return False
    swapped = apply_policy(container, policy)
    engines: dict[str, bool] = {}
    if stack is not None:
        stack.policy = policy
        engines = stack.reload()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    container.audit.record_system(
        actor=SYSTEM_ACTOR,
        action="policy.reloaded",
        subject=f"policy:{path}",
        payload={"sha256": digest, "references": swapped, "engines": engines},
    )
    log.info("policy_reloaded", policy=str(path), references=swapped, engines=engines)
    return True


def install_sighup(container: Container, stack: LocalStack | None) -> None:
    """SIGHUP reloads the policy in a thread of its own (not inside the signal handler)."""
    lock = threading.Lock()

    def run() -> None:
        with lock:
            try:
                reload_policy(container, stack)
            except Exception as exc:  # a reload must never take the server down
                log.error("policy_reload_failed", error=str(exc))

    def handler(_signum: int, _frame: object) -> None:
        threading.Thread(target=run, name="leitstand-policy-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, handler)


def write_pid_file(home: Path) -> Path:
    # With PostgreSQL the home folder is not needed for the store and may not exist yet.
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / PID_FILE
    path.write_text(f"{os.getpid()}\n")
    return path


def remove_pid_file(home: Path) -> None:
    path = home / PID_FILE
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()


def signal_reload(home: Path) -> int:
    """Send SIGHUP to the `leitstand up` of ``home``; its PID. ConfigError if none runs."""
    path = home / PID_FILE
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        raise ConfigError(
            f"no running `leitstand up` for {home} (no {PID_FILE}); "
            "the policy is read when it starts"
        ) from None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ConfigError(
            f"`leitstand up` (PID {pid}) of {home} is no longer running; "
            "the policy is read when it starts"
        ) from None
    return pid
