"""Where each log type lives: its stream file, rotation, readers and legal hold (``logs.streams``).

The seed gives retention per log type (``logs.retention``); leitstand adds, per type key, the
file rsyslog writes the type's stream to (below ``directory``, relative to the leitstand home
unless absolute), how logrotate rotates it (``daily`` or at ``max_size``), which roles may read it
(audit logs: the compliance officer and the auditor) and whether its segments are under legal
hold (then ``leitstand logs expire`` keeps them past their retention). A type without an entry
here gets :func:`derived_stream`: ``<type>.log``, daily, readable by ``logs.access_roles``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, PolicyModel, Role, RoleList, Rules
from leitstand.policy.values import describe

__all__ = [
    "LogStream",
    "LogStreams",
    "Rotation",
    "default_log_streams",
    "derived_stream",
    "streams_field",
]

_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SIZE = re.compile(r"^[1-9][0-9]*[kMG]?$")
_TARGET = re.compile(r"^(managed|off|(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5})$")


def _file_name(value: str) -> str:
    if not _FILE.match(value) or value.endswith((".gz", ".sha256")):
        raise PydanticCustomError(
            "file_name", f"a plain file name such as audit.log (got {describe(value)})"
        )
    return value


def _size(value: str) -> str:
    if not _SIZE.match(value):
        raise PydanticCustomError(
            "size", f"a logrotate size such as 100M, 500k or 1G (got {describe(value)})"
        )
    return value


def _target(value: str) -> str:
    port = value.rpartition(":")[2]
    if not _TARGET.match(value) or (port.isdigit() and not 0 < int(port) < 65536):
        raise PydanticCustomError(
            "shipping",
            f"managed, off or an rsyslog HOST:PORT such as 127.0.0.1:10514 (got {describe(value)})",
        )
    return value


FileName = Annotated[str, AfterValidator(_file_name)]
Size = Annotated[str, AfterValidator(_size)]
ShippingTarget = Annotated[str, AfterValidator(_target)]


class Rotation(StrEnum):
    """When logrotate starts a new segment."""

    DAILY = "daily"
    SIZE = "size"


class LogStream(PolicyModel):
    """One log type's stream: file, rotation, readers and legal hold."""

    file: FileName
    rotation: Rotation = Rotation.DAILY
    # With rotation: size, a segment is rotated once it is this large (logrotate's units).
    max_size: Size = "100M"
    # Who may read this type's logs (search); every read of audit and security logs is recorded.
    readers: RoleList
    # Segments under legal hold are never expired, whatever their age.
    legal_hold: Flag = False


class LogStreams(PolicyModel):
    """Where the streams live and how rsyslog receives the lines."""

    # The folder of the streams and their rotated segments (relative: below the leitstand home).
    directory: str = "logs"
    # rsyslog listens on 127.0.0.1 at this port (imtcp, RFC 5424 framing or plain lines).
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 10514
    # Where `leitstand up` sends its own JSON log lines (RFC 5424 over TCP): ``managed`` to the
    # rsyslog of the managed stack when it runs, ``off`` nowhere but stderr, or HOST:PORT.
    shipping: ShippingTarget = "managed"
    types: dict[str, LogStream] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_file_per_type(self) -> Self:
        rules = Rules()
        seen: dict[str, str] = {}
        for key, stream in self.types.items():
            if stream.file in seen:
                rules.add(
                    f"types.{key}.file",
                    f"a file of its own (got {stream.file!r}, already the {seen[stream.file]} "
                    "stream)",
                )
            seen.setdefault(stream.file, key)
        rules.check()
        return self


_AUDIT_READERS = [Role.COMPLIANCE_OFFICER, Role.AUDITOR]
_SECURITY_READERS = [Role.SECURITY, Role.COMPLIANCE_OFFICER, Role.AUDITOR]
_OPS_READERS = [Role.DEVOPS, Role.SECURITY, Role.COMPLIANCE_OFFICER, Role.AUDITOR]


def derived_stream(key: str, readers: list[Role]) -> LogStream:
    """The stream of a log type the policy lists no stream for: ``<key>.log``, daily."""
    return LogStream(file=f"{key}.log", readers=list(readers))


def default_log_streams() -> LogStreams:
    """The streams of the seed's six log types (leitstand's defaults; the seed names none)."""
    return LogStreams(
        types={
            "audit": LogStream(file="audit.log", readers=_AUDIT_READERS),
            "security": LogStream(file="security.log", readers=_SECURITY_READERS),
            "application": LogStream(file="application.log", readers=_OPS_READERS),
            "access": LogStream(
                file="access.log", rotation=Rotation.SIZE, max_size="100M", readers=_OPS_READERS
            ),
            "performance": LogStream(file="performance.log", readers=_OPS_READERS),
            "debug": LogStream(
                file="debug.log", rotation=Rotation.SIZE, max_size="50M", readers=[Role.DEVOPS]
            ),
        }
    )


def streams_field() -> Any:
    """The ``logs.streams`` field of ``LogsPolicy``: the seed's streams unless the policy says
    otherwise (a fresh default per policy)."""
    return Field(default_factory=default_log_streams)
