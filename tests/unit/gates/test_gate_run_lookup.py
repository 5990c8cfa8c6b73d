"""The gates' named read of one run record by id (what image signing reads), and that id
where the runs are listed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import Container
from leitstand.gates.service import GateService
from leitstand.images.service import ImageService
from support.gate_runs import record_gate_run


def test_a_recorded_run_is_found_by_its_id_and_an_unknown_id_is_none(
    container: Container,
) -> None:
    record_gate_run(container, service="enterprise-api", version="2.4.0")
    digest = record_gate_run(
        container, service="enterprise-api", version="2.5.0", failed=["security"]
    )
    newest, older = container.gates.recorded(service="enterprise-api")
    assert container.gates.recorded_run(older.id) == older
    found = container.gates.recorded_run(newest.id)
    assert found == newest
    assert found is not None and found.status == "fail" and found.version == "2.5.0"
    assert found.artifact_digests == [digest]
    assert container.gates.recorded_run(newest.id + 1) is None
    assert container.gates.recorded_run(0) is None


def test_image_signing_is_wired_to_the_gates_run_records(container: Container) -> None:
    images = container.get(ImageService)
    gates = container.get(GateService)
    assert images.gate_runs == gates.recorded_run


def test_the_api_lists_each_run_with_the_id_image_signing_takes(container: Container) -> None:
    record_gate_run(container, service="enterprise-api", version="2.4.0")
    record_gate_run(container, service="batch-processing", version="1.0.0", failed=["test"])
    newest, older = container.gates.recorded()
    _, token = container.auth.add_user(name="audra", role=Role.AUDITOR, actor=SYSTEM_ACTOR)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(container), base_url="http://127.0.0.1") as client:
        listed = client.get("/api/v1/gates/runs", headers=headers)
        only = client.get(
            "/api/v1/gates/runs", params={"project": "enterprise-api"}, headers=headers
        )
        spec = client.get("/openapi.json").json()
    assert listed.status_code == 200, listed.text
    assert [(r["id"], r["index"], r["version"], r["status"]) for r in listed.json()] == [
        (newest.id, newest.ledger_index, "1.0.0", "fail"),
        (older.id, older.ledger_index, "2.4.0", "pass"),
    ]
    assert [r["id"] for r in only.json()] == [older.id]
    assert container.gates.recorded_run(older.id) == older  # the id image signing reads
    described = spec["components"]["schemas"]["GateRunOut"]["properties"]["id"]["description"]
    assert described == "the gate run's id, as `leitstand image sign --gate-run` takes it"
