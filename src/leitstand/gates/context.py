"""What every check receives: the project, the policy, the output folder, shared facts.

Facts that several checks need (the built wheel, the project environment, the pytest run) are
computed once, on first use, and shared; checks of one stage run in parallel threads, so the
memo is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from leitstand.flags.model import FlagRecord
from leitstand.gates.environment import Environment, PipOptions, create_environment
from leitstand.gates.project import Project, WheelMetadata, read_wheel_metadata
from leitstand.gates.tools import ToolFailure
from leitstand.policy.gates import GatesPolicy
from leitstand.policy.model import Policy
from leitstand.policy.pipeline import PipelinePolicy

__all__ = ["ApprovalLookup", "ChangeState", "FlagLookup", "GateContext", "ScannedImage"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChangeState:
    """What the compliance stage needs to know about the change record of a version."""

    id: int
    category: str
    status: str
    approved: bool
    requester: str
    approvals: tuple[tuple[str, str], ...]  # (approver, role)
    detail: str


@dataclass(frozen=True, slots=True)
class ScannedImage:
    """An image the image scan checked: the run records its manifest digest as an artifact."""

    layout: str  # relative to the project (an archive's path, or a storage reference)
    name: str
    tag: str
    manifest_digest: str
    sbom_digest: str  # of the CycloneDX SBOM in the gate report
    packages: int
    # "oci-layout" as found; "docker-archive" or "containers-storage" when skopeo copied the
    # image into a layout first (its manifest digest is then the copy's).
    source: str = "oci-layout"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ApprovalLookup(Protocol):
    """Finds the change record for a service version (the changes domain implements this)."""

    def __call__(self, *, service: str, version: str) -> ChangeState | None: ...


class FlagLookup(Protocol):
    """Lists the feature flags of the flag store, archived ones included (the flags domain)."""

    def __call__(self) -> Sequence[FlagRecord]: ...


@dataclass
class GateContext:
    """Inputs and shared, lazily computed facts of one gate run."""

    project: Project
    policy: Policy
    out: Path
    today: date
    now: datetime  # aware UTC: the moment the run judges time-bound rules at (flag lifetimes)
    pip_options: PipOptions
    python: Path | None = None  # an existing environment to use instead of a fresh one
    version_override: str | None = None
    approvals: ApprovalLookup | None = None
    flags: FlagLookup | None = None  # None: no flag store for this run (the check is skipped)
    osv_db: Path | None = None  # --osv-db: an OSV folder instead of gates.osv.path
    # Receives each line of the test run's output as it arrives (None: the output file only).
    test_output: Callable[[str], None] | None = None
    _images: list[ScannedImage] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    @property
    def gates(self) -> GatesPolicy:
        return self.policy.gates

    @property
    def pipeline(self) -> PipelinePolicy:
        return self.policy.pipeline

    def note_image(self, image: ScannedImage) -> None:
        """Keep an image the image scan checked (thread-safe)."""
        with self._lock:
            self._images.append(image)

    @property
    def scanned_images(self) -> list[ScannedImage]:
        """The images scanned in this run, in the order they were scanned."""
        with self._lock:
            return list(self._images)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """Compute ``key`` once; every other caller waits and gets the same value or error."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = ("ok", compute())
                except ToolFailure as exc:
                    self._memo[key] = ("error", exc)
            kind, value = self._memo[key]
        if kind == "error":
            raise ToolFailure(str(value))
        return cast(T, value)

    # -- shared facts ---------------------------------------------------------------------------

    @property
    def build_timeout(self) -> float:
        return self.gates.build.timeout.total_seconds()

    def runtime_environment(self) -> Environment:
        """The project installed with its runtime dependencies (fresh unless --python)."""
        return self.once("env.runtime", self._runtime_environment)

    def _runtime_environment(self) -> Environment:
        if self.python is not None:
            return Environment(
                python=self.python,
                pip_options=self.pip_options,
                timeout=self.build_timeout,
                given=True,
            )
        env = create_environment(
            self.out / "venv", pip_options=self.pip_options, timeout=self.build_timeout
        )
        wheel = self.built_wheel() if self.project.buildable else None
        if wheel is not None:
            env.install([str(wheel)])
        elif self.project.buildable:
            env.install([str(self.project.root)])
        else:
            args: list[str] = []
            for req in self.project.requirements:
                if req.name == "requirements.txt":
                    args += ["-r", str(req)]
            env.install(args or ["-r", str(self.project.requirements[0])])
        return env

    def test_environment(self) -> Environment:
        """The runtime environment plus the project's test extras."""
        return self.once("env.test", self._test_environment)

    def _test_environment(self) -> Environment:
        env = self.runtime_environment()
        if env.given:
            return env
        declared = self.metadata().extras if self.built_wheel() else self.project.extras
        extras = [e for e in self.gates.test.extras if e in declared]
        if extras:
            target = self.built_wheel() or self.project.root
            env.install([f"{target}[{','.join(extras)}]"])
        for req in self.project.requirements:
            if req.name != "requirements.txt":
                env.install(["-r", str(req)])
        return env

    def built_wheel(self) -> Path | None:
        """The wheel from the build check, if the build stage ran and built one."""
        built = self._memo.get("build.artifacts")
        if built is None or built[0] != "ok":
            return None
        artifacts = cast(list[Path], built[1])
        wheels = [p for p in artifacts if p.suffix == ".whl"]
        return wheels[0] if wheels else None

    def metadata(self) -> WheelMetadata:
        """Name, version and extras from the built wheel's METADATA (the project's if none)."""
        wheel = self.built_wheel()
        if wheel is None:
            return WheelMetadata(self.project.name, self.project.version, self.project.extras)
        return self.once(f"metadata:{wheel}", lambda: read_wheel_metadata(wheel))

    def name(self) -> str:
        """The distribution name: from the built metadata once built, else the project's."""
        return self.metadata().name

    def version(self) -> str:
        """The project version: given, read from the built wheel, static, or installed."""
        if self.version_override:
            return self.version_override
        built = self.metadata().version if self.built_wheel() else None
        if built:
            return built
        if self.project.version:
            return self.project.version
        return self.once("version.installed", self._installed_version)

    def _installed_version(self) -> str:
        key = self.project.name
        try:
            dists = self.runtime_environment().distributions()
        except ToolFailure:
            return "unknown"
        for dist in dists:
            if dist.key == key.lower().replace("_", "-"):
                return dist.version
        return "unknown"

    def rel(self, path: Path) -> str:
        """A path relative to the project root, with forward slashes (for reports)."""
        try:
            return path.resolve().relative_to(self.project.root).as_posix()
        except ValueError:
            return path.as_posix()
