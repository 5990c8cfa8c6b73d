"""No 500s: schemathesis generates requests for every operation of the OpenAPI, as several roles.

Bounded and reproducible: a few derandomized examples per operation, one in-process app on
SQLite. Every answer must be below 500 and its status code documented for the operation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import build
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.web.limits import api_routes

ROLES = (Role.DEVOPS, Role.ONCALL, Role.AUDITOR)
EXAMPLES_PER_OPERATION = 15
BUDGET_SECONDS = 300.0  # a guard against runaway generation; examples are the bound


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, dict[Role, str]]]:
    home = Path(tmp_path_factory.mktemp("fuzz")) / "home"
    container = build(Settings(home=home), clock=ManualClock(), migrate=True)
    admin = Actor(name="local:fuzz", role="local")
    tokens = {
        role: container.auth.add_user(name=f"fuzz-{role.value}", role=role, actor=admin)[1]
        for role in ROLES
    }
    try:
        yield create_app(container), tokens
    finally:
        container.close()


def _documented(operation: Any) -> set[str]:
    return {str(code) for code in operation.definition.raw.get("responses", {})}


def test_no_operation_answers_with_a_server_error_or_an_undocumented_status(
    fuzz_app: tuple[FastAPI, dict[Role, str]],
) -> None:
    app, tokens = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented_routes = sum(len(r.methods) for r in api_routes(app) if r.include_in_schema)
    assert len(operations) == documented_routes > 50
    failures: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    started = time.monotonic()

    for operation in operations:
        _fuzz(operation, tokens, seen, failures)
    elapsed = time.monotonic() - started
    assert not failures, "\n".join(sorted(set(failures)))
    assert elapsed < BUDGET_SECONDS, f"fuzzing took {elapsed:.0f} s"
    # The run reached past the guards: successes and refusals both occurred.
    statuses = {status for _label, _role, status in seen}
    assert {200, 403, 422} <= statuses, statuses


def _fuzz(
    operation: Any,
    tokens: dict[Role, str],
    seen: set[tuple[str, str, int]],
    failures: list[str],
) -> None:
    documented = _documented(operation)
    label = f"{operation.method.upper()} {operation.path}"
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, role=st.sampled_from(ROLES))
    def run(case: Any, role: Role) -> None:
        response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
        status = response.status_code
        seen.add((label, role.value, status))
        if status >= 500:
            failures.append(f"{label} as {role.value}: {status} {response.text[:300]}")
        elif str(status) not in documented and f"{str(status)[0]}XX" not in documented:
            failures.append(f"{label} as {role.value}: {status} is not documented")

    run()
