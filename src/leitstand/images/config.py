"""What an image's config says about running it: user, environment, command, ports, health check.

``ImageConfig`` holds the runtime fields of the OCI image config (config.md, ``config`` object)
and the image's name (not part of the OCI config: the manifest annotation
``org.opencontainers.image.title`` and the subject name of the attestation).

Healthcheck: OCI's image config has no health check. Docker's ``Healthcheck`` object (``Test``,
``Interval``/``Timeout``/``StartPeriod`` in nanoseconds, ``Retries``) is written into
``config.Healthcheck``, where Docker and Podman read it; OCI runtimes ignore unknown fields
(config.md: "Any extra fields ... should be ignored").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Healthcheck", "ImageConfig"]

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*")
_HEALTH_KINDS = frozenset({"CMD", "CMD-SHELL", "NONE"})
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """Docker's health check (``config.Healthcheck``; not part of the OCI image config).

    ``test`` starts with ``CMD``, ``CMD-SHELL`` or ``NONE``; durations are seconds.
    """

    test: tuple[str, ...]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    start_period_s: float = 0.0
    retries: int = 3

    def __post_init__(self) -> None:
        if not self.test or self.test[0] not in _HEALTH_KINDS:
            raise ValueError(
                f"healthcheck test must start with CMD, CMD-SHELL or NONE (got {self.test!r})"
            )
        if min(self.interval_s, self.timeout_s, self.start_period_s) < 0 or self.retries < 0:
            raise ValueError("healthcheck durations and retries must be >= 0")

    def as_dict(self) -> dict[str, Any]:
        return {
            "Test": list(self.test),
            "Interval": round(self.interval_s * _NS),
            "Timeout": round(self.timeout_s * _NS),
            "StartPeriod": round(self.start_period_s * _NS),
            "Retries": self.retries,
        }


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What the image config says about running the image, and the image's name.

    ``name`` (e.g. ``leitstand`` or ``registry.example/ops/leitstand``) is not part of the OCI
    config: it is the manifest annotation ``org.opencontainers.image.title`` and the subject
    name of the attestation.
    """

    name: str
    user: str = ""
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    healthcheck: Healthcheck | None = None
    architecture: str = "amd64"
    os: str = "linux"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(
                f"image name {self.name!r}: expected lowercase path components such as "
                "'leitstand' or 'registry.example/ops/leitstand'"
            )
        for entry in self.env:
            if "=" not in entry or entry.startswith("="):
                raise ValueError(f"env entry {entry!r}: expected NAME=value")
        if not self.architecture or not self.os:
            raise ValueError("architecture and os must not be empty")

    def as_dict(self) -> dict[str, Any]:
        """The ``config`` object of the image config (empty fields left out)."""
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            out["Cmd"] = list(self.cmd)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.exposed_ports:
            out["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.as_dict()
        return out
