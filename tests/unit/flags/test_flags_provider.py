"""OpenFeature conformance of LeitstandProvider through the standard OpenFeature API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import AbstractProvider, ProviderStatus

from leitstand.flags.evaluation import Snapshot
from leitstand.flags.model import FlagConfig, Rule, Serve, Targeting, ValueType
from leitstand.flags.provider import LeitstandProvider

from .helpers import NORD, SUED, flag, on_for


def snapshot() -> Snapshot:
    configs: list[FlagConfig] = [
        flag(on_for(NORD)),
        flag(
            Targeting(enabled=True, default=Serve(variant="fresh")),
            key="button-colour",
            value_type=ValueType.STRING,
            variants={"classic": "blue", "fresh": "green"},
            off_variant="classic",
        ),
        flag(
            Targeting(
                enabled=True,
                rules=(Rule(name="big", serve=Serve(variant="many"), tenants=(NORD,)),),
                default=Serve(variant="few"),
            ),
            key="page-size",
            value_type=ValueType.INTEGER,
            variants={"few": 20, "many": 100},
            off_variant="few",
        ),
        flag(
            Targeting(enabled=True, default=Serve(variant="x")),
            key="sample-rate",
            value_type=ValueType.FLOAT,
            variants={"x": 0.25, "y": 1.0},
            off_variant="y",
        ),
        flag(
            Targeting(enabled=True, default=Serve(variant="v2")),
            key="limits",
            value_type=ValueType.OBJECT,
            variants={"v1": {"max": 1}, "v2": {"max": 5, "burst": [1, 2]}},
            off_variant="v1",
        ),
    ]
    return Snapshot(
        environment="production",
        flags={c.key: c for c in configs},
        archived=frozenset({"old-export"}),
    )


@pytest.fixture
def client() -> Iterator[object]:
    api.set_provider_and_wait(LeitstandProvider(snapshot=snapshot()))
    yield api.get_client()
    api.clear_providers()


def ctx(tenant: str | None = NORD) -> EvaluationContext:
    return EvaluationContext("user-1", {"tenantId": tenant} if tenant else {})


def test_provider_is_an_abstract_provider_with_metadata() -> None:
    provider = LeitstandProvider(snapshot=snapshot())
    assert isinstance(provider, AbstractProvider)
    assert provider.get_metadata().name == "leitstand"
    api.set_provider_and_wait(provider)
    try:
        assert api.get_provider_metadata().name == "leitstand"
        assert api.get_client().get_provider_status() is ProviderStatus.READY
    finally:
        api.clear_providers()


def test_the_five_resolve_methods_return_value_variant_and_reason(client: object) -> None:
    c = client  # OpenFeatureClient
    boolean = c.get_boolean_details("new-billing", False, ctx())  # type: ignore[attr-defined]
    assert (boolean.value, boolean.variant, boolean.reason) == (True, "on", Reason.TARGETING_MATCH)
    assert boolean.flag_metadata == {"rule": "tenants"}
    string = c.get_string_details("button-colour", "red", ctx())  # type: ignore[attr-defined]
    assert (string.value, string.variant, string.reason) == ("green", "fresh", Reason.STATIC)
    integer = c.get_integer_details("page-size", 10, ctx())  # type: ignore[attr-defined]
    assert (integer.value, integer.variant) == (100, "many")
    assert c.get_integer_value("page-size", 10, ctx(SUED)) == 20  # type: ignore[attr-defined]
    number = c.get_float_details("sample-rate", 0.0, ctx())  # type: ignore[attr-defined]
    assert (number.value, number.variant) == (0.25, "x")
    obj = c.get_object_details("limits", {}, ctx())  # type: ignore[attr-defined]
    assert (obj.value, obj.variant) == ({"max": 5, "burst": [1, 2]}, "v2")
    assert c.get_float_value("page-size", 0.5, ctx()) == 100.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("call", "key", "default", "context", "code"),
    [
        ("get_boolean_details", "nope", True, ctx(), ErrorCode.FLAG_NOT_FOUND),
        ("get_boolean_details", "old-export", True, ctx(), ErrorCode.FLAG_NOT_FOUND),
        ("get_string_details", "new-billing", "x", ctx(), ErrorCode.TYPE_MISMATCH),
        ("get_integer_details", "button-colour", 7, ctx(), ErrorCode.TYPE_MISMATCH),
        ("get_object_details", "new-billing", {"d": 1}, ctx(), ErrorCode.TYPE_MISMATCH),
        ("get_boolean_details", "new-billing", True, ctx(tenant=None), ErrorCode.INVALID_CONTEXT),
        ("get_boolean_details", "new-billing", True, None, ErrorCode.INVALID_CONTEXT),
    ],
)
def test_bad_input_gives_the_error_code_and_the_callers_default(
    client: object, call: str, key: str, default: object, context: object, code: ErrorCode
) -> None:
    details = getattr(client, call)(key, default, context)
    assert details.value == default
    assert details.error_code is code
    assert details.reason == Reason.ERROR
    assert details.error_message


def test_a_missing_targeting_key_for_a_rollout_is_reported(client: object) -> None:
    rollout = flag(Targeting(enabled=True, default=Serve(variant="on", percentage=30)))
    api.set_provider_and_wait(
        LeitstandProvider(snapshot=Snapshot("production", {rollout.key: rollout}))
    )
    details = api.get_client().get_boolean_details(
        "new-billing", False, EvaluationContext(None, {"tenantId": NORD})
    )
    assert details.error_code is ErrorCode.TARGETING_KEY_MISSING
    assert details.value is False


def test_an_internal_failure_still_returns_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = LeitstandProvider(snapshot=snapshot())

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(provider._source, "resolve", broken)
    details = provider.resolve_boolean_details("new-billing", True, ctx())
    assert (details.value, details.error_code) == (True, ErrorCode.GENERAL)
    assert details.error_message == "RuntimeError: boom"


def test_a_provider_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="either a FlagClient or a fixed Snapshot"):
        LeitstandProvider()
