"""Exports: pinned keys, the manifest, consistency proofs and cosignatures travel with them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.bootstrap import Container
from leitstand.ledger.checkpoint import Checkpoint, VerifierKey, sign_checkpoint
from leitstand.ledger.cosign import CosignerKey, signature_lines
from leitstand.ledger.export import verify_export
from leitstand.ledger.witness_server import WitnessServer

from .test_ledger_service import record
from .test_ledger_witnesses import _settle, witnessed, witnesses  # noqa: F401 - fixtures


def _fix_manifest(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["sha256"]:
        manifest["sha256"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def exported(sqlite_container: Container, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    record(sqlite_container, 130)  # kept checkpoints at 1 and 100, head at 130
    folder = tmp_path / "export"
    sqlite_container.audit.export(folder)
    yield folder, sqlite_container.ledger.signer.verifier.format()


def test_an_unpinned_export_says_so_with_key_id_and_origin(exported: tuple[Path, str]) -> None:
    folder, key = exported
    report = verify_export(folder)
    assert report.ok, report.problems
    assert report.pinned is False
    data = report.as_dict()
    assert data["pinned"] is False and data["key"] == key and data["origin"] == "leitstand"
    assert any("UNPINNED" in line and key in line for line in report.notes())
    pinned = verify_export(folder, [key])
    assert pinned.ok and pinned.pinned is True
    assert not any("UNPINNED" in line for line in pinned.notes())


def test_an_export_re_signed_with_another_key_fails_against_the_pinned_key(
    exported: tuple[Path, str],
) -> None:
    folder, key = exported
    forger = Ed25519PrivateKey.generate()
    body, _ = signature_lines((folder / "checkpoint.note").read_text())
    (folder / "checkpoint.note").write_text(
        sign_checkpoint(Checkpoint.parse(body), name="leitstand", private_key=forger)
    )
    (folder / "key.vkey").write_text(
        VerifierKey.from_public_key("leitstand", forger.public_key()).format() + "\n"
    )
    chain = json.loads((folder / "consistency.json").read_text())
    for item in chain["checkpoints"]:
        cp_body, _ = signature_lines(item["note"])
        item["note"] = sign_checkpoint(
            Checkpoint.parse(cp_body), name="leitstand", private_key=forger
        )
    (folder / "consistency.json").write_text(json.dumps(chain))
    _fix_manifest(folder)
    assert verify_export(folder).ok  # unpinned, the folder vouches for itself...
    report = verify_export(folder, [key])  # ...pinned, it does not
    assert not report.ok
    assert "not signed by the pinned key" in report.problems[0].message


@pytest.mark.parametrize("change", ["changed", "added", "removed"])
def test_the_manifest_is_checked(exported: tuple[Path, str], change: str) -> None:
    folder, key = exported
    if change == "changed":
        (folder / "README.txt").write_text("nothing to see\n")
    elif change == "added":
        (folder / "extra.jsonl").write_text("{}\n")
    else:
        (folder / "cosignatures.json").unlink()
    report = verify_export(folder, [key])
    assert not report.ok
    assert change in report.problems[0].message


def test_exports_carry_consistency_proofs_between_kept_checkpoints(
    exported: tuple[Path, str],
) -> None:
    folder, key = exported
    chain = json.loads((folder / "consistency.json").read_text())["checkpoints"]
    assert [c["size"] for c in chain] == [1, 100, 130]
    report = verify_export(folder, [key])
    assert report.consistency_proofs_checked == 2
    chain[2]["proof_from_previous"] = chain[2]["proof_from_previous"][::-1]
    (folder / "consistency.json").write_text(json.dumps({"checkpoints": chain}))
    _fix_manifest(folder)
    report = verify_export(folder, [key])
    assert not report.ok
    assert "consistency proof from size 100 to 130 fails" in report.problems[0].message


def test_a_modified_exported_entry_is_named_exactly(exported: tuple[Path, str]) -> None:
    folder, key = exported
    lines = (folder / "entries.jsonl").read_bytes().splitlines()
    lines[50] = lines[50].replace(b'"i":50', b'"i":999')
    (folder / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    _fix_manifest(folder)
    report = verify_export(folder, [key])
    assert not report.ok
    assert report.first_bad_index == 50


def test_exports_carry_cosignatures_and_pin_the_witness_keys(
    witnessed: Container,  # noqa: F811 - fixture
    witnesses: list[WitnessServer],  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    record(witnessed, 25)
    _settle(witnessed)
    witnessed.audit.export(tmp_path / "e")
    log_key = witnessed.ledger.signer.verifier.format()
    w1 = witnesses[0].core.key
    pins = [log_key, w1.format()]
    items = json.loads((tmp_path / "e" / "cosignatures.json").read_text())["cosignatures"]
    assert {i["witness"] for i in items} == {"w1", "w2"}
    report = verify_export(tmp_path / "e", pins)
    assert report.ok and report.complete
    assert report.cosignatures_checked == len(items) // 2  # only the pinned witness counts
    # A pinned witness without a cosignature in the export makes the result incomplete.
    w2 = witnesses[1].core.key
    lonely = CosignerKey.for_private_key("witness.test/w3", Ed25519PrivateKey.generate())
    report = verify_export(tmp_path / "e", [log_key, w2.format(), lonely.format()])
    assert report.ok and not report.complete
    assert "witness.test/w3" in report.incomplete[0]
    # Pinning another key under witness w1's name makes its cosignatures fail.
    other = CosignerKey.for_private_key(w1.name, Ed25519PrivateKey.generate())
    report = verify_export(tmp_path / "e", [log_key, other.format()])
    assert not report.ok
    assert "witness w1" in report.problems[0].message
