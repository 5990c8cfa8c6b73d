"""DSSE attestations of image layouts: PAE, signing, trusted and foreign keys, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leitstand.errors import ConfigError
from leitstand.images.attest import (
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    AttestationError,
    Envelope,
    ImagePredicate,
    Signature,
    Statement,
    attest_layout,
    attestation_path,
    key_id,
    load_public_key,
    pae,
    sign_envelope,
    verify_attestation,
    verify_image,
    verify_signature,
)
from leitstand.images.config import ImageConfig
from leitstand.images.oci import ImageRef, created_from_epoch, write_layout

EPOCH = 1_700_000_000
SBOM = "sha256:" + "ab" * 32
BUILT_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PREDICATE = ImagePredicate(sbom_digest=SBOM, gate_run_id=7, built_at=BUILT_AT)

# RFC 8032, section 7.1, TEST 1 and TEST 2: the keys of the DSSE test vectors.
RFC8032_1 = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
RFC8032_2 = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
)
MINIMAL_STATEMENT = b'{"_type":"https://in-toto.io/Statement/v1"}'


def _layout(directory: Path, *, epoch: int = EPOCH) -> ImageRef:
    tree = directory.with_name(f"{directory.name}-rootfs")
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "leitstand.conf").write_text("listen = 8080\n", encoding="utf-8")
    return write_layout(
        directory,
        rootfs_tar=tree,
        config=ImageConfig(name="leitstand", user="10001"),
        tag="2.0.1",
        created=created_from_epoch(epoch),
    )


@pytest.fixture
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signed(tmp_path: Path, signer: Ed25519PrivateKey) -> tuple[Path, ImageRef]:
    out = tmp_path / "image"
    ref = _layout(out)
    attest_layout(out, private_key=signer, predicate=PREDICATE)
    return out, ref


def _envelope_file(out: Path, ref: ImageRef) -> Path:
    return out / "attestations" / f"{ref.manifest.hex}.dsse.json"


# --- PAE and DSSE ------------------------------------------------------------------------------


def test_pae_matches_the_dsse_protocol_example() -> None:
    # protocol.md, "Test Vectors".
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters_and_keeps_an_empty_body() -> None:
    assert pae("application/vnd.exämple+json", b"{}") == (
        b"DSSEv1 29 application/vnd.ex\xc3\xa4mple+json 2 {}"
    )
    assert pae(PAYLOAD_TYPE, b"") == b"DSSEv1 28 application/vnd.in-toto+json 0 "


def test_ed25519_signatures_over_pae_match_the_dsse_vectors() -> None:
    # Ed25519 is deterministic: the RFC 8032 TEST 1 key signs this PAE to the vector's bytes.
    expected = base64.b64decode(
        "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
    )
    envelope = sign_envelope(MINIMAL_STATEMENT, RFC8032_1)
    assert envelope.signatures[0].sig == expected
    assert verify_signature(envelope, [RFC8032_1.public_key()]) == key_id(RFC8032_1.public_key())


def test_url_safe_base64_envelopes_are_accepted() -> None:
    raw = json.dumps(
        {
            "payload": "-_-_Pj8=",
            "payloadType": PAYLOAD_TYPE,
            "signatures": [
                {
                    "keyid": "A",
                    "sig": "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW"
                    "886DbWNWcCmX5twLrAw==",
                }
            ],
        }
    ).encode()
    envelope = Envelope.parse(raw)
    assert envelope.payload == bytes.fromhex("fbffbf3e3f")
    # keyid "A" names no trusted key: it is only a hint, so every trusted key is tried.
    assert verify_signature(envelope, [RFC8032_2.public_key(), RFC8032_1.public_key()]) == (
        key_id(RFC8032_1.public_key())
    )


def test_a_swapped_payload_type_breaks_the_signature() -> None:
    envelope = sign_envelope(MINIMAL_STATEMENT, RFC8032_1)
    swapped = Envelope("application/vnd.example.other+json", envelope.payload, envelope.signatures)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_signature(swapped, [RFC8032_1.public_key()])


def test_key_id_is_the_sha256_of_the_raw_public_key() -> None:
    raw = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert key_id(RFC8032_1.public_key()) == hashlib.sha256(raw).hexdigest()


def test_mixed_base64_alphabets_and_empty_signature_lists_are_malformed() -> None:
    with pytest.raises(AttestationError, match="payload is not base64"):
        Envelope.parse(b'{"payload":"a+b-","payloadType":"x","signatures":[{"sig":"AA=="}]}')
    with pytest.raises(AttestationError, match="no signatures"):
        Envelope.parse(b'{"payload":"","payloadType":"x","signatures":[]}')


# --- signed layouts ----------------------------------------------------------------------------


def test_a_signed_layout_verifies_and_carries_the_predicate(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    assert verify_image(out, [signer.public_key()]) == []
    verified = verify_attestation(out, [signer.public_key()])
    assert verified.keyid == key_id(signer.public_key())
    assert verified.statement == {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "leitstand", "digest": {"sha256": ref.manifest.hex}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "sbom_digest": SBOM,
            "gate_run_id": 7,
            "built_at": "2026-03-01T12:00:00.000000Z",
            "tag": ref.tag,
        },
    }
    assert ref.tag == "2.0.1"  # the tag is signed: an edited index.json no longer verifies


def test_the_envelope_lives_under_attestations_named_by_the_manifest_digest(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    assert attestation_path(out, ref.manifest.digest) == path
    raw = path.read_bytes()
    envelope = json.loads(raw)
    assert raw == json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert envelope["signatures"] == [
        {"keyid": key_id(signer.public_key()), "sig": envelope["signatures"][0]["sig"]}
    ]


def test_a_foreign_key_is_refused_naming_its_keyid(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    trusted = Ed25519PrivateKey.generate().public_key()
    problems = verify_image(out, [trusted])
    assert [(p.path, p.message) for p in problems] == [
        (
            f"attestations/{ref.manifest.hex}.dsse.json",
            f"signed by key {key_id(signer.public_key())}, not trusted",
        )
    ]


def test_an_envelope_about_another_manifest_is_refused(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    out = tmp_path / "image"
    ref = _layout(out)
    other = _layout(tmp_path / "other", epoch=EPOCH + 60)
    assert other.manifest.digest != ref.manifest.digest
    # A valid signature by a trusted key, over a statement about the other image, placed here.
    envelope = sign_envelope(Statement.for_image(other, PREDICATE).to_json(), signer)
    path = _envelope_file(out, ref)
    path.parent.mkdir()
    path.write_bytes(envelope.to_json())
    problems = verify_image(out, [signer.public_key()])
    assert len(problems) == 1
    assert problems[0].message == (
        f"attestation subject ({other.manifest.digest}) is not this image's manifest "
        f"{ref.manifest.digest}"
    )


def test_a_tampered_payload_is_refused(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    envelope = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["gate_run_id"] = 8  # claim another (say, a passing) gate run
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(envelope), encoding="utf-8")
    problems = verify_image(out, [signer.public_key()])
    assert [p.message for p in problems] == [
        f"signature by key {key_id(signer.public_key())} does not verify "
        "(the payload or the signature was changed)"
    ]


def test_a_foreign_signature_with_a_trusted_keyid_is_refused(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    original = Envelope.parse(path.read_bytes())
    forged = sign_envelope(original.payload, Ed25519PrivateKey.generate())
    claimed = Signature(key_id(signer.public_key()), forged.signatures[0].sig)
    path.write_bytes(Envelope(original.payload_type, original.payload, (claimed,)).to_json())
    with pytest.raises(AttestationError, match="does not verify"):
        verify_attestation(out, [signer.public_key()])


def test_a_missing_attestation_is_a_problem(tmp_path: Path, signer: Ed25519PrivateKey) -> None:
    out = tmp_path / "image"
    ref = _layout(out)
    problems = verify_image(out, [signer.public_key()])
    assert [p.message for p in problems] == [f"no attestation for manifest {ref.manifest.digest}"]


def test_a_changed_blob_of_a_signed_layout_is_named(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    layer = out / ref.layers[0].path
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    problems = verify_image(out, [signer.public_key()])
    assert [p.path for p in problems] == [ref.layers[0].path]
    assert "layer blob changed" in problems[0].message


def test_a_layout_that_does_not_verify_is_not_signed(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    out = tmp_path / "image"
    ref = _layout(out)
    (out / ref.config.path).write_bytes(b"{}")
    with pytest.raises(AttestationError, match="refusing to sign"):
        attest_layout(out, private_key=signer, predicate=PREDICATE)
    assert not (out / "attestations").exists()


def test_a_statement_of_another_predicate_type_is_refused(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    statement = Statement(
        "leitstand", ref.manifest.digest, PREDICATE.as_dict(), predicate_type="https://x.test/v1"
    )
    _envelope_file(out, ref).write_bytes(sign_envelope(statement.to_json(), signer).to_json())
    with pytest.raises(AttestationError, match=re.escape("predicate type 'https://x.test/v1'")):
        verify_attestation(out, [signer.public_key()])


# --- keys and predicate ------------------------------------------------------------------------


def test_trusted_keys_load_from_public_or_private_pem(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "image.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = tmp_path / "image.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert key_id(load_public_key(public)) == key_id(key.public_key())
    assert key_id(load_public_key(private)) == key_id(key.public_key())


def test_a_key_that_is_not_ed25519_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "ec.pub"
    path.write_bytes(
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="expected an Ed25519 key"):
        load_public_key(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_public_key(tmp_path / "absent.pub")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"sbom_digest": "sha256:abc"}, "sbom_digest"),
        ({"gate_run_id": 0}, "gate_run_id"),
        ({"built_at": datetime(2026, 3, 1, 12, 0)}, "timezone-aware"),
    ],
)
def test_the_predicate_refuses_malformed_values(fields: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"sbom_digest": SBOM, "gate_run_id": 7, "built_at": BUILT_AT}
    with pytest.raises(ValueError, match=match):
        ImagePredicate(**{**values, **fields})  # type: ignore[arg-type]


def test_one_trusted_signature_is_enough_and_the_untrusted_one_is_not_the_signer(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    original = Envelope.parse(path.read_bytes())
    stranger = Ed25519PrivateKey.generate()
    extra = sign_envelope(original.payload, stranger).signatures[0]
    both = Envelope(original.payload_type, original.payload, (extra, *original.signatures))
    path.write_bytes(both.to_json())
    verified = verify_attestation(out, [signer.public_key()])
    assert verified.keyid == key_id(signer.public_key())
    assert verified.keyid != key_id(stranger.public_key())


def test_a_bad_signature_under_a_trusted_keyid_then_a_good_one_verifies(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    original = Envelope.parse(path.read_bytes())
    good = original.signatures[0]
    bad = Signature(good.keyid, bytes(64))
    path.write_bytes(Envelope(original.payload_type, original.payload, (bad, good)).to_json())
    assert verify_attestation(out, [signer.public_key()]).keyid == good.keyid


def test_the_tag_is_signed_in_the_predicate(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey
) -> None:
    out, ref = signed
    verified = verify_attestation(out, [signer.public_key()])
    assert verified.statement["predicate"]["tag"] == ref.tag == "2.0.1"


def test_a_symlinked_attestation_is_refused(
    signed: tuple[Path, ImageRef], signer: Ed25519PrivateKey, tmp_path: Path
) -> None:
    out, ref = signed
    path = _envelope_file(out, ref)
    copy = tmp_path / "envelope-copy.json"
    copy.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(copy)
    with pytest.raises(AttestationError, match="symbolic link"):
        verify_attestation(out, [signer.public_key()])


@pytest.mark.parametrize("text", [b"[" + b"9" * 5000 + b"]", b"[" * 10000 + b"]" * 10000])
def test_hostile_json_envelopes_are_attestation_errors(text: bytes) -> None:
    with pytest.raises(AttestationError, match="not valid JSON"):
        Envelope.parse(text)


def test_a_key_of_an_unsupported_algorithm_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.exceptions import UnsupportedAlgorithm

    import leitstand.images.attest as attest

    def unsupported(*_args: object, **_kwargs: object) -> object:
        raise UnsupportedAlgorithm("no such curve")

    monkeypatch.setattr(attest.serialization, "load_pem_public_key", unsupported)
    path = tmp_path / "odd.pem"
    path.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match="not a PEM-encoded Ed25519 key"):
        load_public_key(path)
