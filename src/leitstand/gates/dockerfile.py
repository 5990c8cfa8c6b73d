"""leitstand's own Dockerfile checks from the seed's container table (pure: text in, findings out).

Non-root USER, no ``latest`` or missing tag, base image from the allowed list, no secrets in
ENV/ARG, HEALTHCHECK present. Only the final stage's USER and HEALTHCHECK count; every stage's
image must carry a tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from leitstand.gates.model import Finding, Severity, matches_any

__all__ = ["Instruction", "check_dockerfile", "image_problem", "parse_dockerfile", "secret_name"]

_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)", re.I
)
_SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36})"
)
_ROOT = {"root", "0", "root:root", "0:0"}


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    args: str


@dataclass
class _Stage:
    image: str
    line: int
    name: str | None
    user: tuple[str, int] | None = None
    healthcheck: tuple[str, int] | None = None
    args: dict[str, str] = field(default_factory=dict)


def secret_name(name: str) -> bool:
    """True for variable names that carry credentials (DB_PASSWORD, API_TOKEN, ...)."""
    return bool(_SECRET_NAME.search(name))


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their first line number (continuations joined, comments dropped)."""
    out: list[Instruction] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer.append(line[:-1])
            continue
        buffer.append(line)
        joined = " ".join(part.strip() for part in buffer if not part.lstrip().startswith("#"))
        buffer = []
        keyword, _, args = joined.strip().partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned (latest or no tag), or None."""
    if image == "scratch" or "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag (it means latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image} uses the latest tag"
    return None


def _pairs(args: str) -> list[tuple[str, str]]:
    # ENV a=1 b="2"  or the legacy ENV a 1
    if "=" not in args.split(" ", 1)[0]:
        key, _, value = args.partition(" ")
        return [(key, value.strip().strip("\"'"))]
    pairs = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)", args)
    return [(k, v.strip("\"'")) for k, v in pairs]


def _expand(image: str, args: dict[str, str]) -> str:
    return re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), image
    )


def check_dockerfile(text: str, *, file: str, allowed_images: list[str]) -> list[Finding]:
    """Every violation of the seed's container rules in one Dockerfile."""
    findings: list[Finding] = []
    stages: list[_Stage] = []
    global_args: dict[str, str] = {}

    def add(rule: str, message: str, line: int) -> None:
        findings.append(
            Finding(rule=rule, message=message, severity=Severity.CRITICAL, file=file, line=line)
        )

    for ins in parse_dockerfile(text):
        if ins.keyword == "FROM":
            parts = [p for p in ins.args.split() if not p.startswith("--")]
            image = _expand(parts[0], global_args) if parts else ""
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stage = _Stage(image=image, line=ins.line, name=name)
            if image not in {s.name for s in stages if s.name}:
                problem = image_problem(image)
                if problem:
                    add("LS-IMAGE-TAG", problem, ins.line)
            stages.append(stage)
        elif ins.keyword in ("ENV", "ARG"):
            for key, value in _pairs(ins.args):
                if ins.keyword == "ARG" and not stages:
                    global_args[key] = value
                if value and (secret_name(key) or _SECRET_VALUE.search(value)):
                    add(
                        "LS-SECRET-IN-IMAGE",
                        f"{ins.keyword} {key} sets a secret in the image; inject it at run "
                        "time (Vault, environment) instead",
                        ins.line,
                    )
        elif ins.keyword == "USER" and stages:
            stages[-1].user = (ins.args.split()[0] if ins.args else "", ins.line)
        elif ins.keyword == "HEALTHCHECK" and stages:
            stages[-1].healthcheck = (ins.args.split()[0].upper() if ins.args else "", ins.line)
    if not stages:
        add("LS-NO-FROM", "no FROM instruction", 1)
        return findings
    final = stages[-1]
    if final.image not in {s.name for s in stages[:-1] if s.name} and not matches_any(
        final.image, allowed_images
    ):
        add(
            "LS-BASE-IMAGE",
            f"base image {final.image} is not on the allowed list ({', '.join(allowed_images)})",
            final.line,
        )
    if final.user is None:
        add("LS-ROOT-USER", "no USER instruction: the container runs as root", final.line)
    elif final.user[0].lower() in _ROOT:
        add("LS-ROOT-USER", f"USER {final.user[0]}: the container runs as root", final.user[1])
    if final.healthcheck is None or final.healthcheck[0] == "NONE":
        line = final.healthcheck[1] if final.healthcheck else final.line
        add("LS-HEALTHCHECK", "no HEALTHCHECK in the final stage", line)
    return findings
