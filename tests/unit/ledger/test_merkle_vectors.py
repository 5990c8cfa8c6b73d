"""The Merkle tree against the published transparency-dev/merkle RFC 6962 vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leitstand.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "rfc6962_transparency_dev.json").read_text("utf-8")
)
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves"]]
LEAF_HASHES = [leaf_hash(d) for d in LEAVES]
ROOTS = [bytes.fromhex(h) for h in VECTORS["roots"]]
NODES = [[bytes.fromhex(h) for h in level] for level in VECTORS["node_hashes"]]
SOME_HASH = bytes.fromhex(VECTORS["some_hash"])


def _get_node(level: int, index: int) -> bytes:
    return NODES[level][index]


def _proof(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def test_hasher_matches_rfc6962_reference_hashes() -> None:
    hasher = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_root"]
    assert leaf_hash(b"").hex() == hasher["empty_leaf"]
    assert leaf_hash(hasher["leaf"]["data_ascii"].encode()).hex() == hasher["leaf"]["hash"]
    node = hasher["node"]
    assert (
        node_hash(node["left_ascii"].encode(), node["right_ascii"].encode()).hex() == node["hash"]
    )


@pytest.mark.parametrize("size", range(9))
def test_roots_match_reference_for_every_size(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    tree = CompactRange.empty()
    for h in LEAF_HASHES[:size]:
        tree.append(h)
    assert tree.root() == ROOTS[size]


def test_append_completes_exactly_the_reference_node_hashes() -> None:
    tree = CompactRange.empty()
    for i, h in enumerate(LEAF_HASHES):
        completed = tree.append(h)
        assert completed == [NODES[lvl][((i + 1) >> lvl) - 1] for lvl in range(len(completed))]
        assert len(completed) == ((i + 1) & -(i + 1)).bit_length()


@pytest.mark.parametrize("size", range(9))
def test_frontier_matches_reference_compact_trees(size: int) -> None:
    want = [NODES[lvl][idx] for lvl, idx in VECTORS["compact_trees"][size]]
    tree = CompactRange.empty()
    for h in LEAF_HASHES[:size]:
        tree.append(h)
    assert list(tree.hashes) == want
    assert CompactRange.from_nodes(size, _get_node) == tree


INCLUSION = [(v["leaf"] - 1, v["size"], v["proof"]) for v in VECTORS["inclusion_proofs"]] + [
    (v["index"], v["size"], v["proof"]) for v in VECTORS["reference_inclusion_proofs"]
]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_are_generated_as_published(
    index: int, size: int, proof: list[str]
) -> None:
    assert inclusion_proof(index, size, _get_node) == _proof(proof)


CONSISTENCY = [
    (v["size1"], v["size2"], v["proof"])
    for v in VECTORS["consistency_proofs"] + VECTORS["reference_consistency_proofs"]
]


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_consistency_proofs_are_generated_as_published(m: int, n: int, proof: list[str]) -> None:
    assert consistency_proof(m, n, _get_node) == _proof(proof)


def _corrupt_inclusion(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, bytes, list[bytes], bytes]]:
    # Port of corruptInclusionProof in proof/verify_test.go.
    probes = [
        ("index - 1", index - 1, size, leaf, proof, root),
        ("index + 1", index + 1, size, leaf, proof, root),
        ("index ^ 2", index ^ 2, size, leaf, proof, root),
        ("size * 2", index, size * 2, leaf, proof, root),
        ("size // 2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, b"WrongLeaf", proof, root),
        ("empty root", index, size, leaf, proof, EMPTY_ROOT),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((f"modified proof[{i}] bit 3", index, size, leaf, flipped, root))
    if proof:
        probes.append(("removed component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append(
            ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root)
        )
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_published_inclusion_proofs_verify_and_every_corruption_fails(
    index: int, size: int, proof: list[str]
) -> None:
    path, root, leaf = _proof(proof), ROOTS[size], LEAF_HASHES[index]
    assert verify_inclusion(leaf, index, size, path, root)
    accepted = [
        desc
        for desc, i, n, lh, p, r in _corrupt_inclusion(index, size, path, root, leaf)
        if verify_inclusion(lh, i, n, p, r)
    ]
    assert accepted == []


def _corrupt_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: list[bytes]
) -> list[tuple[str, int, int, bytes, bytes, list[bytes]]]:
    # Port of corruptConsistencyProof in proof/verify_test.go.
    probes = [
        ("m - 1", m - 1, n, root_m, root_n, proof),
        ("m + 1", m + 1, n, root_m, root_n, proof),
        ("m ^ 2", m ^ 2, n, root_m, root_n, proof),
        ("n * 2", m, n * 2, root_m, root_n, proof),
        ("n // 2", m, n // 2, root_m, root_n, proof),
        ("wrong root_m", m, n, b"WrongRoot", root_n, proof),
        ("wrong root_n", m, n, root_m, b"WrongRoot", proof),
        ("swapped roots", m, n, root_n, root_m, proof),
        ("empty proof", m, n, root_m, root_n, []),
        ("trailing garbage", m, n, root_m, root_n, [*proof, b""]),
        ("trailing root_m", m, n, root_m, root_n, [*proof, root_m]),
        ("trailing root_n", m, n, root_m, root_n, [*proof, root_n]),
        ("preceding garbage", m, n, root_m, root_n, [b"", *proof]),
        ("preceding root_m", m, n, root_m, root_n, [root_m, *proof]),
        ("preceding root_n", m, n, root_m, root_n, [root_n, *proof]),
        ("preceding proof[0]", m, n, root_m, root_n, [proof[0], *proof]),
        ("truncated proof", m, n, root_m, root_n, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((f"modified proof[{i}] bit 4", m, n, root_m, root_n, flipped))
    return probes


@pytest.mark.parametrize(("m", "n", "proof"), CONSISTENCY)
def test_published_consistency_proofs_verify_and_every_corruption_fails(
    m: int, n: int, proof: list[str]
) -> None:
    path = _proof(proof)
    assert verify_consistency(m, n, ROOTS[m], ROOTS[n], path)
    if not path:  # upstream corrupts only non-trivial proofs
        return
    accepted = [
        desc
        for desc, a, b, ra, rb, p in _corrupt_consistency(m, n, ROOTS[m], ROOTS[n], path)
        if verify_consistency(a, b, ra, rb, p)
    ]
    assert accepted == []


@pytest.mark.parametrize(("index", "size"), VECTORS["verify_inclusion_probes"]["index_size"])
def test_inclusion_with_impossible_index_or_wrong_roots_is_rejected(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], b"")
    assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize("case", VECTORS["verify_inclusion_single_entry"]["cases"])
def test_single_entry_tree_root_is_its_leaf_hash(case: dict[str, Any]) -> None:
    h = leaf_hash(VECTORS["verify_inclusion_single_entry"]["data_ascii"].encode())
    leaf = h if case["leaf"] == "hash" else b""
    root = h if case["root"] == "hash" else b""
    assert verify_inclusion(leaf, 0, 1, [], root) is case["ok"]


def _named(name: str) -> bytes:
    return {
        "root1": b"don't care 1",
        "root2": b"don't care 2",
        "empty_root": EMPTY_ROOT,
    }[name]


@pytest.mark.parametrize("case", VECTORS["verify_consistency_table"]["cases"])
def test_consistency_edge_cases_follow_the_published_table(case: dict[str, Any]) -> None:
    want = case.get("leitstand_ok", case["ok"])
    proof = [_named(p) for p in case["proof"]]
    got = verify_consistency(
        case["size1"], case["size2"], _named(case["root1"]), _named(case["root2"]), proof
    )
    assert got is want


def test_trivial_consistency_needs_empty_proof_and_matching_32_byte_roots() -> None:
    # Our 32-byte restatement of the upstream cases we reject for their 12-byte roots.
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, SOME_HASH, [])
    assert verify_consistency(3, 3, SOME_HASH, SOME_HASH, [])
    assert not verify_consistency(0, 5, SOME_HASH, SOME_HASH, [])  # size 0 has one root
    assert not verify_consistency(3, 3, SOME_HASH, EMPTY_ROOT, [])
    assert not verify_consistency(3, 3, SOME_HASH, SOME_HASH, [SOME_HASH])


def _ids(nodes: list[list[int]]) -> set[tuple[int, int]]:
    return {(lvl, idx) for lvl, idx in nodes}


@pytest.mark.parametrize("case", VECTORS["inclusion_node_ids"])
def test_inclusion_proof_fetches_exactly_the_published_nodes(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ValueError, match="outside a tree"):
            inclusion_proof_nodes(case["index"], case["size"])
        return
    assert inclusion_proof_nodes(case["index"], case["size"]) == _ids(case["nodes"])


@pytest.mark.parametrize("case", VECTORS["consistency_node_ids"])
def test_consistency_proof_fetches_exactly_the_published_nodes(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ValueError, match="0 <= m <= n"):
            consistency_proof_nodes(case["size1"], case["size2"])
        return
    assert consistency_proof_nodes(case["size1"], case["size2"]) == _ids(case["nodes"])
