"""An OpenFeature provider over leitstand's flags, so applications use the standard API.

    from openfeature import api
    from leitstand.flags.provider import LeitstandProvider

    provider = LeitstandProvider.connect(URL, token=TOKEN, environment="production")
    api.set_provider(provider)
    context = EvaluationContext("user-1", {"tenantId": "acme"})
    api.get_client().get_boolean_value("new-billing", False, context)

Evaluation is local (the in-process client's snapshot). Bad input never raises: an unknown flag,
a type mismatch or a missing tenant id resolve to the caller's default with the OpenFeature
error code (FLAG_NOT_FOUND, TYPE_MISMATCH, INVALID_CONTEXT, TARGETING_KEY_MISSING).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata

from leitstand.flags.client import ClientStatus, FlagClient
from leitstand.flags.evaluation import Resolution, Snapshot
from leitstand.flags.model import TARGETING_KEY, ValueType

__all__ = ["PROVIDER_NAME", "LeitstandProvider"]

PROVIDER_NAME = "leitstand"
T = TypeVar("T")


class _StaticSource:
    """A fixed snapshot (tests, offline tools)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def resolve(
        self, key: str, context: Mapping[str, object], *, expected: ValueType | None = None
    ) -> Resolution:
        return self.snapshot.resolve(key, context, expected=expected)


class LeitstandProvider(AbstractProvider):
    """OpenFeature provider: metadata, the five resolve methods, events on snapshot changes."""

    def __init__(
        self, client: FlagClient | None = None, *, snapshot: Snapshot | None = None
    ) -> None:
        super().__init__()
        self.client = client
        self._source: FlagClient | _StaticSource
        if client is not None and snapshot is None:
            self._source = client
        elif snapshot is not None and client is None:
            self._source = _StaticSource(snapshot)
        else:
            raise ValueError("give either a FlagClient or a fixed Snapshot")
        self._metadata = Metadata(name=PROVIDER_NAME)
        if client is not None:
            client.on_snapshot(self._snapshot_changed)
            client.on_status(self._status_changed)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        token: str,
        environment: str,
        poll_interval: float = 10.0,
        cache_file: Path | None = None,
    ) -> LeitstandProvider:
        """A provider with its own polling client (started by OpenFeature's initialize)."""
        client = FlagClient(
            url,
            token=token,
            environment=environment,
            poll_interval=poll_interval,
            cache_file=cache_file,
        )
        return cls(client)

    # -- lifecycle ---------------------------------------------------------------------------

    def get_metadata(self) -> Metadata:
        return self._metadata

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Fetch the first snapshot (or the cached one) and start polling."""
        if self.client is None:
            return
        if not self.client.start():
            # OpenFeature marks the provider ERROR; polling goes on and READY follows.
            raise ProviderNotReadyError(self.client.last_error or "no flag snapshot")

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.close()

    def _snapshot_changed(self, old: Snapshot | None, new: Snapshot) -> None:
        if old is None:
            return
        changed = sorted(
            key
            for key in set(old.flags) | set(new.flags) | set(old.archived) | set(new.archived)
            if old.flags.get(key) != new.flags.get(key)
        )
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    def _status_changed(self, status: ClientStatus, message: str | None) -> None:
        if status is ClientStatus.READY:
            self.emit_provider_ready(ProviderEventDetails())
        elif status is ClientStatus.STALE:
            self.emit_provider_stale(ProviderEventDetails(message=message))
        elif status is ClientStatus.ERROR:
            self.emit_provider_error(
                ProviderEventDetails(message=message, error_code=ErrorCode.GENERAL)
            )

    # -- the five resolve methods ------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, ValueType.BOOLEAN)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, ValueType.STRING)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, ValueType.INTEGER)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, ValueType.FLOAT)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, evaluation_context, ValueType.OBJECT)

    def _resolve(
        self,
        key: str,
        default: T,
        evaluation_context: EvaluationContext | None,
        expected: ValueType,
    ) -> FlagResolutionDetails[T]:
        try:
            result = self._source.resolve(key, _context(evaluation_context), expected=expected)
            if result.error_code is not None:
                return FlagResolutionDetails(
                    value=default,
                    reason=result.reason.value,
                    error_code=ErrorCode(result.error_code.value),
                    error_message=result.error_message,
                )
            value: Any = result.value
            if expected is ValueType.FLOAT and isinstance(value, int):
                value = float(value)
            metadata: dict[str, bool | int | float | str] = {}
            if result.rule is not None:
                metadata["rule"] = result.rule
            if self.client is not None and self.client.status is not ClientStatus.READY:
                metadata["snapshot"] = self.client.status.value.lower()
            return FlagResolutionDetails(
                value=value,
                variant=result.variant,
                reason=result.reason.value,
                flag_metadata=metadata,
            )
        except Exception as exc:  # an application must never see an exception
            return FlagResolutionDetails(
                value=default,
                reason="ERROR",
                error_code=ErrorCode.GENERAL,
                error_message=f"{type(exc).__name__}: {exc}",
            )


def _context(evaluation_context: EvaluationContext | None) -> dict[str, object]:
    if evaluation_context is None:
        return {}
    context: dict[str, object] = dict(evaluation_context.attributes)
    if evaluation_context.targeting_key:
        context[TARGETING_KEY] = evaluation_context.targeting_key
    return context
