"""The C2SP tlog-witness and tlog-cosignature/v1 implementation, over real HTTP on loopback."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.errors import ConfigError
from leitstand.ledger.checkpoint import Checkpoint, VerifierKey, sign_checkpoint
from leitstand.ledger.cosign import CosignerKey, cosign, cosigned_message, signature_lines
from leitstand.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    leaf_hash,
)
from leitstand.ledger.witness_client import RemoteWitness, WitnessUnreachable
from leitstand.ledger.witness_server import WitnessCore, WitnessServer, origin_hash

ORIGIN = "example.test/log"
LOG_KEY = Ed25519PrivateKey.generate()
LOG = VerifierKey.from_public_key(ORIGIN, LOG_KEY.public_key())
LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(64)]


def node(level: int, index: int) -> bytes:
    cr = CompactRange.empty(index << level)
    for h in LEAVES[index << level : (index + 1) << level]:
        cr.append(h)
    (top,) = cr.hashes
    return top


def root(size: int) -> bytes:
    cr = CompactRange.empty()
    for h in LEAVES[:size]:
        cr.append(h)
    return cr.root()


def note(size: int, *, key: Ed25519PrivateKey = LOG_KEY, root_hash: bytes | None = None) -> str:
    cp = Checkpoint(ORIGIN, size, root(size) if root_hash is None else root_hash)
    return sign_checkpoint(cp, name=ORIGIN, private_key=key)


def body(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode()


@pytest.fixture
def core(tmp_path: Path) -> WitnessCore:
    return WitnessCore.open(tmp_path / "w", name="witness.test/w1", log_keys=[LOG.format()])


@pytest.fixture
def server(core: WitnessCore) -> Iterator[WitnessServer]:
    srv = WitnessServer(core)
    srv.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_cosignature_v1_format_matches_the_spec(core: WitnessCore) -> None:
    key = Ed25519PrivateKey.generate()
    text = Checkpoint(ORIGIN, 5, root(5)).body()
    line = cosign(text, name="w.test/a", private_key=key, timestamp=1679315147)
    raw = base64.b64decode(line.split(" ")[2])
    cosigner = CosignerKey.for_private_key("w.test/a", key)
    assert raw[:4] == cosigner.key_id.to_bytes(4, "big")
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    assert cosigned_message(text, 1679315147).startswith(b"cosignature/v1\ntime 1679315147\n")
    key.public_key().verify(raw[12:], cosigned_message(text, 1679315147))
    # The vkey uses signature type 0x04 and round-trips; a log key (0x01) is not a witness key.
    assert base64.b64decode(cosigner.format().split("+", 2)[2])[0] == 0x04
    assert CosignerKey.parse(cosigner.format()) == cosigner
    with pytest.raises(ConfigError, match="type 0x04"):
        CosignerKey.parse(LOG.format())
    found = cosigner.find(text, [line.rstrip("\n")])
    assert found is not None and found.timestamp == 1679315147


def test_the_witness_cosigns_a_consistent_sequence_and_refuses_rollbacks(
    core: WitnessCore,
) -> None:
    first = core.add_checkpoint(body(0, [], note(10)))
    assert first.status == 200
    cp_body, _ = signature_lines(note(10))
    assert core.key.find(cp_body, [first.body.decode().rstrip("\n")]) is not None
    # The next one needs the proof from 10, not from 0: 409 with the witness's size.
    stale = core.add_checkpoint(body(0, [], note(20)))
    assert (stale.status, stale.body, stale.content_type) == (409, b"10\n", "text/x.tlog.size")
    proof = consistency_proof(10, 20, node)
    assert core.add_checkpoint(body(10, proof, note(20))).status == 200
    # A smaller tree (a rollback) can never be cosigned: its old size cannot match.
    assert core.add_checkpoint(body(20, [], note(15))).status == 400
    assert core.add_checkpoint(body(10, [], note(15))).status == 409
    # An inconsistent tree (another root at a larger size) is refused with 422.
    forged = note(30, root_hash=root(31))
    assert core.add_checkpoint(body(20, consistency_proof(20, 30, node), forged)).status == 422
    # Same size with another root: 422; same size and root: cosigned again.
    assert core.add_checkpoint(body(20, [], note(20, root_hash=root(21)))).status == 422
    assert core.add_checkpoint(body(20, [], note(20))).status == 200
    latest = core.latest(ORIGIN)
    assert latest is not None and Checkpoint.parse(signature_lines(latest)[0]).size == 20


def test_the_witness_checks_the_log_signature_origin_and_request_shape(
    core: WitnessCore,
) -> None:
    other = Ed25519PrivateKey.generate()
    assert core.add_checkpoint(body(0, [], note(3, key=other))).status == 403
    stranger = sign_checkpoint(
        Checkpoint("other/log", 3, root(3)), name="other/log", private_key=other
    )
    assert core.add_checkpoint(body(0, [], stranger)).status == 404
    assert core.add_checkpoint(body(0, [LEAVES[0]], note(3))).status == 422  # proof with old 0
    assert core.add_checkpoint(body(0, [], note(0, root_hash=root(3)))).status == 422
    assert core.add_checkpoint(body(0, [], note(0, root_hash=EMPTY_ROOT))).status == 200
    assert core.add_checkpoint(b"old 01\n\n" + note(3).encode()).status == 400
    assert core.add_checkpoint(b"nonsense").status == 400
    assert core.add_checkpoint(body(0, [LEAVES[0]] * 64, note(3))).status == 400


def test_http_round_trip_with_the_client_and_the_monitoring_read(server: WitnessServer) -> None:
    remote = RemoteWitness("w1", server.url, server.core.key, timeout=5)
    try:
        _round_trip(remote, server)
    finally:
        remote.close()


def _round_trip(remote: RemoteWitness, server: WitnessServer) -> None:
    assert remote.latest(ORIGIN, LOG) is None
    result = remote.add_checkpoint(0, [], note(8))
    assert result.status == 200 and result.cosignature is not None
    conflict = remote.add_checkpoint(0, [], note(9))
    assert (conflict.status, conflict.witness_size) == (409, 8)
    assert remote.add_checkpoint(8, consistency_proof(8, 9, node), note(9)).status == 200
    latest = remote.latest(ORIGIN, LOG)
    assert latest is not None
    assert (latest.checkpoint.size, latest.checkpoint.root_hash) == (9, root(9))
    assert latest.cosignature.name == "witness.test/w1"
    assert next((server.core.home / "state").iterdir()).name == f"{origin_hash(ORIGIN)}.log"


def test_an_oversized_body_is_refused_before_it_is_read(server: WitnessServer) -> None:
    import http.client

    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
    conn.putrequest("POST", "/add-checkpoint")
    conn.putheader("Content-Length", str(10 * 1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


def test_an_unreachable_witness_is_reported_as_such(tmp_path: Path, core: WitnessCore) -> None:
    srv = WitnessServer(core)
    url = srv.url
    srv.server_close()  # nothing listens there any more
    remote = RemoteWitness("w1", url, core.key, timeout=2)
    with pytest.raises(WitnessUnreachable, match="w1"):
        remote.latest(ORIGIN, LOG)


def test_a_witness_home_keeps_its_name_and_needs_a_log_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no trusted log key"):
        WitnessCore.open(tmp_path / "a", name=None, log_keys=[])
    first = WitnessCore.open(tmp_path / "b", name="w.test/b", log_keys=[LOG.format()])
    again = WitnessCore.open(tmp_path / "b", name=None, log_keys=[])
    assert again.key == first.key  # same key and name, the log key remembered
    with pytest.raises(ConfigError, match="belongs to witness"):
        WitnessCore.open(tmp_path / "b", name="w.test/other", log_keys=[])


def test_witness_key_prints_the_vkey_for_the_policy(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from leitstand.ledger.witness_cli import app

    result = CliRunner().invoke(app, ["key", "--home", str(tmp_path / "k"), "--name", "w.test/k"])
    assert result.exit_code == 0, result.output
    key = CosignerKey.parse(result.output.strip())
    assert key.name == "w.test/k"
    again = CliRunner().invoke(app, ["key", "--home", str(tmp_path / "k")])
    assert CosignerKey.parse(again.output.strip()) == key
