"""Signed notes and checkpoints: golang.org/x/mod/sumdb/note vectors, round trips, tampering."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.errors import ConfigError, LeitstandError
from leitstand.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    key_id,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)
from leitstand.ledger.merkle import EMPTY_ROOT, leaf_hash

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "sumdb_note_golang.json").read_text("utf-8")
)
PETER, ENOCH, TEXT = VECTORS["peter"], VECTORS["enoch"], VECTORS["text"]
ROOT = leaf_hash(b"root")


def _peter_private_key() -> Ed25519PrivateKey:
    # Go signer keys are PRIVATE+KEY+<name>+<id>+base64(0x01 || 32-byte seed).
    encoded = PETER["signer_key"].split("+", 4)[4]
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def verifier(key: Ed25519PrivateKey) -> VerifierKey:
    return VerifierKey.from_public_key("ledger.example/audit", key.public_key())


def test_verifier_keys_round_trip_the_go_format() -> None:
    for who in (PETER, ENOCH):
        parsed = VerifierKey.parse(who["verifier_key"])
        assert parsed.name == who["name"]
        assert f"{parsed.key_id:08x}" == who["key_id"]
        assert parsed.format() == who["verifier_key"]


def test_key_id_is_derived_from_name_and_public_key() -> None:
    peter = VerifierKey.parse(PETER["verifier_key"])
    assert key_id(PETER["name"], peter.public_key) == int(PETER["key_id"], 16)
    assert key_id("PeterNeuman", peter.public_key) != int(PETER["key_id"], 16)


def test_signing_reproduces_the_go_signed_note_byte_for_byte() -> None:
    signed = sign_note(TEXT, name=PETER["name"], private_key=_peter_private_key())
    assert signed == VECTORS["signed"]
    derived = VerifierKey.from_public_key(PETER["name"], _peter_private_key().public_key())
    assert derived.format() == PETER["verifier_key"]


def test_go_note_opens_and_signatures_by_unknown_keys_are_ignored() -> None:
    peter = VerifierKey.parse(PETER["verifier_key"])
    enoch = VerifierKey.parse(ENOCH["verifier_key"])
    both = TEXT + "\n" + PETER["signature_line"] + ENOCH["signature_line"]
    assert open_note(both, peter) == TEXT
    assert open_note(both, enoch) == TEXT
    assert open_note(both.encode("utf-8"), peter) == TEXT


def test_note_without_the_expected_signature_is_rejected() -> None:
    enoch = VerifierKey.parse(ENOCH["verifier_key"])
    with pytest.raises(CheckpointError, match="no signature by key EnochRoot\\+af0cfe78"):
        open_note(VECTORS["signed"], enoch)


def test_go_invalid_signature_vector_is_rejected() -> None:
    sig = PETER["signature_line"]
    tampered = TEXT + "\n" + sig[:60] + "ABCD" + sig[60:]
    with pytest.raises(CheckpointError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(tampered, VerifierKey.parse(PETER["verifier_key"]))


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER["signature_line"][:-1],
        "\x01" + TEXT + "\n" + PETER["signature_line"],
        (b"\xff" + (TEXT + "\n" + PETER["signature_line"]).encode()),
        TEXT + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
        "dngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER["signature_line"] + "Unexpected line.\n",
        TEXT + "\n" + PETER["signature_line"] * 101,
    ],
    ids=[
        "no-signatures",
        "blank-line-only",
        "no-final-newline",
        "control-character",
        "invalid-utf8",
        "name-with-space",
        "unexpected-line",
        "too-many-signatures",
    ],
)
def test_go_malformed_notes_are_rejected(note: str | bytes) -> None:
    with pytest.raises(CheckpointError, match="malformed note"):
        open_note(note, VerifierKey.parse(PETER["verifier_key"]))


@pytest.mark.parametrize(
    "text",
    [
        *VECTORS["bad_verifier_keys"]["keys"],
        PETER["verifier_key"][:-1],
        PETER["verifier_key"].replace("+c74f20a3+", "+c74f20a4+"),
        PETER["verifier_key"].replace("PeterNeumann", "PeterNeuman"),
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ],
)
def test_mangled_verifier_keys_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="verifier key"):
        VerifierKey.parse(text)


def test_checkpoint_body_follows_c2sp_and_parses_back() -> None:
    cp = Checkpoint("ledger.example/audit", 42, ROOT, ("extension line",))
    body = cp.body()
    assert body == (
        f"ledger.example/audit\n42\n{base64.b64encode(ROOT).decode()}\nextension line\n"
    )
    assert Checkpoint.parse(body) == cp


def test_c2sp_example_checkpoint_body_parses() -> None:
    example = VECTORS["checkpoint_example"]
    cp = Checkpoint.parse(example["body"])
    assert (cp.origin, cp.size, cp.extensions) == (example["origin"], example["size"], ())
    assert base64.b64encode(cp.root_hash).decode() == example["root_base64"]
    assert cp.body() == example["body"]


def test_sign_and_open_round_trip(key: Ed25519PrivateKey, verifier: VerifierKey) -> None:
    cp = Checkpoint("ledger.example/audit", 0, EMPTY_ROOT)
    note = sign_checkpoint(cp, name=verifier.name, private_key=key)
    assert note.startswith(cp.body() + "\n\u2014 ledger.example/audit ")
    assert open_checkpoint(note, verifier) == cp
    assert open_checkpoint(note, verifier, origin="ledger.example/audit") == cp


def test_checkpoint_from_another_origin_is_rejected_when_origin_is_pinned(
    key: Ed25519PrivateKey, verifier: VerifierKey
) -> None:
    note = sign_checkpoint(
        Checkpoint("other.example/log", 1, ROOT), name=verifier.name, private_key=key
    )
    with pytest.raises(CheckpointError, match="not the expected"):
        open_checkpoint(note, verifier, origin="ledger.example/audit")


def test_tampered_body_is_rejected(key: Ed25519PrivateKey, verifier: VerifierKey) -> None:
    note = sign_checkpoint(
        Checkpoint("ledger.example/audit", 7, ROOT), name=verifier.name, private_key=key
    )
    with pytest.raises(CheckpointError, match="invalid signature"):
        open_checkpoint(note.replace("\n7\n", "\n8\n", 1), verifier)


def test_tampered_signature_is_rejected(key: Ed25519PrivateKey, verifier: VerifierKey) -> None:
    note = sign_checkpoint(
        Checkpoint("ledger.example/audit", 7, ROOT), name=verifier.name, private_key=key
    )
    body, line = note[: note.rindex("\u2014")], note[note.rindex("\u2014") :]
    name, encoded = line[2:-1].split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    forged = f"{body}\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="invalid signature"):
        open_checkpoint(forged, verifier)


def test_note_signed_by_another_key_is_rejected(verifier: VerifierKey) -> None:
    intruder = Ed25519PrivateKey.generate()  # same name, different key: different key ID
    note = sign_checkpoint(
        Checkpoint("ledger.example/audit", 7, ROOT), name=verifier.name, private_key=intruder
    )
    with pytest.raises(CheckpointError, match=r"no signature by key ledger\.example/audit\+"):
        open_checkpoint(note, verifier)


def test_checkpoint_error_reports_exit_code_one_and_is_a_leitstand_error() -> None:
    error = CheckpointError("x")
    assert isinstance(error, LeitstandError)
    assert error.exit_code == 1


@pytest.mark.parametrize(
    "body",
    [
        "origin\n5\n",
        "origin\n05\n" + base64.b64encode(ROOT).decode() + "\n",
        "origin\n-5\n" + base64.b64encode(ROOT).decode() + "\n",
        "origin\n\u0665\n" + base64.b64encode(ROOT).decode() + "\n",
        "origin\n5\n" + base64.b64encode(ROOT[:31]).decode() + "\n",
        "origin\n5\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n",
        "origin\n5\n" + base64.b64encode(ROOT).decode(),
        "origin\n5\n" + base64.b64encode(ROOT).decode() + "\n\n",
        "\n5\n" + base64.b64encode(ROOT).decode() + "\n",
        f"origin\n{2**64}\n" + base64.b64encode(ROOT).decode() + "\n",
    ],
    ids=[
        "two-lines",
        "leading-zero",
        "negative",
        "non-ascii-digit",
        "short-root",
        "unpadded-root",
        "no-final-newline",
        "empty-extension",
        "empty-origin",
        "size-over-uint64",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(CheckpointError, match="checkpoint"):
        Checkpoint.parse(body)


def test_validly_signed_but_malformed_checkpoint_is_rejected(
    key: Ed25519PrivateKey, verifier: VerifierKey
) -> None:
    note = sign_note("not a checkpoint\n", name=verifier.name, private_key=key)
    with pytest.raises(CheckpointError, match="malformed checkpoint"):
        open_checkpoint(note, verifier)


def test_invalid_key_names_are_refused(key: Ed25519PrivateKey) -> None:
    for name in ("", "a b", "a+b"):
        with pytest.raises(ConfigError, match="key name"):
            sign_checkpoint(Checkpoint("o", 1, ROOT), name=name, private_key=key)
