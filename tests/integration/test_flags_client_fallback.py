"""The in-process client against a real `leitstand up`: polling with ETags, and the last good
snapshot when the server is gone (OpenFeature STALE), after an application restart too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.provider import ProviderStatus

from leitstand.flags.client import ClientStatus, FlagClient
from leitstand.flags.provider import LeitstandProvider
from leitstand.testing import ServerProcess, free_port, wait_for

pytestmark = pytest.mark.slow

NORD, WEST = "example-makler-nord", "example-vorsorge-west"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(home=tmp_path / ".leitstand", port=free_port())
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _reset_openfeature() -> Iterator[None]:
    yield
    api.clear_providers()


def call(server: ServerProcess, token: str, method: str, path: str, body: dict) -> None:
    response = httpx.request(
        method,
        f"{server.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def ctx(tenant: str) -> EvaluationContext:
    return EvaluationContext("user-1", {"tenantId": tenant})


def test_client_keeps_the_last_good_snapshot_while_the_server_is_down(
    server: ServerProcess, tmp_path: Path
) -> None:
    token = server.token()
    assert token is not None
    call(server, token, "POST", "/api/v1/flags", {"key": "new-billing", "type": "release"})
    call(
        server,
        token,
        "POST",
        "/api/v1/flags/new-billing/tenants",
        {"environment": "production", "add": [NORD], "reason": "pilot"},
    )
    cache = tmp_path / "app" / "flags.json"
    client = FlagClient(
        server.url,
        token=token,
        environment="production",
        poll_interval=0.1,
        max_backoff=0.2,
        timeout=1.0,
        cache_file=cache,
    )
    provider = LeitstandProvider(client)
    events: list[ProviderEvent] = []

    def record(event: ProviderEvent) -> Callable[[EventDetails], None]:
        return lambda _details: events.append(event)

    for event in (
        ProviderEvent.PROVIDER_STALE,
        ProviderEvent.PROVIDER_READY,
        ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
    ):
        api.add_handler(event, record(event))
    api.set_provider_and_wait(provider)
    flags = api.get_client()
    assert flags.get_boolean_value("new-billing", False, ctx(NORD)) is True
    assert flags.get_boolean_value("new-billing", False, ctx(WEST)) is False

    # A change reaches the application by polling; unchanged polls are 304s.
    wait_for("an unchanged poll (304)", lambda: client.not_modified > 0)
    call(
        server,
        token,
        "POST",
        "/api/v1/flags/new-billing/tenants",
        {"environment": "production", "add": [WEST], "reason": "second pilot"},
    )
    wait_for(
        "the change to reach the application",
        lambda: flags.get_boolean_value("new-billing", False, ctx(WEST)) is True,
    )
    assert ProviderEvent.PROVIDER_CONFIGURATION_CHANGED in events

    # The server goes away: evaluations go on from the last good snapshot.
    assert server.stop() == 0
    # A poll during the graceful shutdown may already have failed with a 503; the server is
    # gone only once a poll found nobody listening.
    wait_for("a poll finding nobody listening", lambda: "unreachable" in (client.last_error or ""))
    assert client.status is ClientStatus.STALE
    assert flags.get_provider_status() is ProviderStatus.STALE
    assert ProviderEvent.PROVIDER_STALE in events
    for _ in range(20):
        details = flags.get_boolean_details("new-billing", False, ctx(WEST))
        assert (details.value, details.error_code) == (True, None)
        assert details.flag_metadata["snapshot"] == "stale"

    # An application restarted while leitstand is still down starts from its cached snapshot.
    restarted = FlagClient(
        server.url, token=token, environment="production", cache_file=cache, timeout=0.5
    )
    try:
        assert restarted.start(background=False) is True
        assert restarted.status is ClientStatus.STALE
        assert restarted.resolve("new-billing", {"tenantId": NORD}).value is True
    finally:
        restarted.close()

    # leitstand comes back: the client is READY again.
    again = ServerProcess(home=server.home, port=server.port)
    try:
        again.wait_ready()
        wait_for("the client READY again", lambda: client.status is ClientStatus.READY)
        assert flags.get_provider_status() is ProviderStatus.READY
        assert flags.get_boolean_value("new-billing", False, ctx(NORD)) is True
    finally:
        again.stop()


def test_without_server_and_cache_the_application_gets_its_defaults(tmp_path: Path) -> None:
    client = FlagClient(
        f"http://127.0.0.1:{free_port()}",
        token="lst_x",
        environment="production",
        poll_interval=30,
        timeout=0.5,
        cache_file=tmp_path / "none.json",
    )
    api.set_provider(LeitstandProvider(client))
    flags = api.get_client()
    wait_for("the provider in ERROR", lambda: flags.get_provider_status() is ProviderStatus.ERROR)
    details = flags.get_boolean_details("new-billing", True, ctx(NORD))
    assert (details.value, details.error_code) == (True, ErrorCode.PROVIDER_NOT_READY)
