"""Merkle tree properties against a textbook RFC 9162 reference, over random trees up to ~300."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leitstand.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_proof_nodes,
    decompose,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    node_row,
    range_hash,
    range_nodes,
    range_proof,
    range_proof_nodes,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
    verify_range,
)

MAX_SIZE = 300
sizes = st.integers(min_value=1, max_value=MAX_SIZE)
seeds = st.binary(max_size=8)
PROPERTY = settings(max_examples=30, deadline=None)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    """RFC 9162 §2.1 written out literally: MTH, PATH and SUBPROOF over a list of leaf hashes."""

    def __init__(self, hashes: list[bytes]) -> None:
        self.hashes = hashes
        self._cache: dict[tuple[int, int], bytes] = {}

    def mth(self, a: int, b: int) -> bytes:
        if b == a:
            return EMPTY_ROOT
        if b - a == 1:
            return self.hashes[a]
        if (a, b) not in self._cache:
            k = _split(b - a)
            self._cache[(a, b)] = node_hash(self.mth(a, a + k), self.mth(a + k, b))
        return self._cache[(a, b)]

    def path(self, m: int, a: int, b: int) -> list[bytes]:
        if b - a == 1:
            return []
        k = _split(b - a)
        if m < k:
            return [*self.path(m, a, a + k), self.mth(a + k, b)]
        return [*self.path(m - k, a + k, b), self.mth(a, a + k)]

    def subproof(self, m: int, a: int, b: int, known: bool) -> list[bytes]:
        if m == b - a:
            return [] if known else [self.mth(a, b)]
        k = _split(b - a)
        if m <= k:
            return [*self.subproof(m, a, a + k, known), self.mth(a + k, b)]
        return [*self.subproof(m - k, a + k, b, False), self.mth(a, a + k)]


@lru_cache(maxsize=64)
def _tree(size: int, seed: bytes) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    """Distinct leaf hashes and the node store that CompactRange.append fills, row by row."""
    hashes = [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(size)]
    store: dict[tuple[int, int], bytes] = {}
    tree = CompactRange.empty()
    for i, h in enumerate(hashes):
        for level, node in enumerate(tree.append(h)):
            store[(level, ((i + 1) >> level) - 1)] = node
    return hashes, store


def _recording(
    store: dict[tuple[int, int], bytes],
) -> tuple[Callable[[int, int], bytes], set[tuple[int, int]]]:
    read: set[tuple[int, int]] = set()

    def get_node(level: int, index: int) -> bytes:
        read.add((level, index))
        return store[(level, index)]

    return get_node, read


def _flip(value: bytes, bit: int) -> bytes:
    return bytes([value[0] ^ (1 << (bit % 8))]) + value[1:]


def test_compact_range_root_equals_reference_for_every_size_up_to_max() -> None:
    hashes, _ = _tree(MAX_SIZE, b"every-size")
    ref = Reference(hashes)
    tree = CompactRange.empty()
    assert tree.root() == EMPTY_ROOT
    for n, h in enumerate(hashes, start=1):
        tree.append(h)
        assert tree.root() == ref.mth(0, n) == root_from_leaf_hashes(hashes[:n])


@PROPERTY
@given(size=sizes, seed=seeds)
def test_append_returns_every_perfect_subtree_ending_at_the_leaf(size: int, seed: bytes) -> None:
    hashes, _ = _tree(size, seed)
    ref = Reference(hashes)
    tree = CompactRange.empty()
    for i, h in enumerate(hashes):
        completed = tree.append(h)
        trailing_zeros = ((i + 1) & -(i + 1)).bit_length() - 1
        assert len(completed) == trailing_zeros + 1
        for level, node in enumerate(completed):
            assert node == ref.mth(i + 1 - (1 << level), i + 1)
            assert node_row(level, ((i + 1) >> level) - 1) == i


@PROPERTY
@given(size=sizes, seed=seeds, data=st.data())
def test_every_inclusion_proof_verifies_and_mutations_fail(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    hashes, store = _tree(size, seed)
    ref, root = Reference(hashes), root_from_leaf_hashes(hashes)
    for index in range(size):
        get_node, read = _recording(store)
        proof = inclusion_proof(index, size, get_node)
        assert proof == ref.path(index, 0, size)
        assert read == inclusion_proof_nodes(index, size)  # one query fetches all of it
        assert verify_inclusion(hashes[index], index, size, proof, root)
        if size > 1:
            other = data.draw(st.sampled_from([j for j in range(size) if j != index]), "other")
            assert not verify_inclusion(hashes[index], other, size, proof, root)
        assert not verify_inclusion(hashes[index], index, size, proof, _flip(root, index))
        assert not verify_inclusion(hashes[index], index, size * 2, proof, root)
        assert not verify_inclusion(hashes[index], index, size, [*proof, root], root)
        if proof:
            at = data.draw(st.integers(0, len(proof) - 1), "at")
            bad = list(proof)
            bad[at] = _flip(bad[at], data.draw(st.integers(0, 7), "bit"))
            assert not verify_inclusion(hashes[index], index, size, bad, root)
            assert not verify_inclusion(hashes[index], index, size, proof[:-1], root)


@PROPERTY
@given(size=sizes, seed=seeds, data=st.data())
def test_every_consistency_proof_verifies_and_mutations_fail(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    hashes, store = _tree(size, seed)
    ref = Reference(hashes)
    root_n = ref.mth(0, size)
    for m in range(size + 1):
        get_node, read = _recording(store)
        proof = consistency_proof(m, size, get_node)
        assert proof == ([] if m in (0, size) else ref.subproof(m, 0, size, True))
        assert read == consistency_proof_nodes(m, size)
        root_m = ref.mth(0, m)
        assert verify_consistency(m, size, root_m, root_n, proof)
        assert not verify_consistency(m, size, _flip(root_m, m), root_n, proof)
        if m:  # the empty tree is a prefix of every tree, whatever its root
            assert not verify_consistency(m, size, root_m, _flip(root_n, m), proof)
        if proof:
            at = data.draw(st.integers(0, len(proof) - 1), "at")
            bad = list(proof)
            bad[at] = _flip(bad[at], data.draw(st.integers(0, 7), "bit"))
            assert not verify_consistency(m, size, root_m, root_n, bad)
            assert not verify_consistency(m, size, root_m, root_n, proof[:-1])
            assert not verify_consistency(m, size, root_m, root_n, [*proof, root_n])
            others = [j for j in range(1, size) if j != m]
            if others:
                other = data.draw(st.sampled_from(others), "other")
                assert not verify_consistency(other, size, root_m, root_n, proof)


@PROPERTY
@given(size=sizes, seed=seeds, data=st.data())
def test_range_proof_round_trips_and_rejects_tampering(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    hashes, store = _tree(size, seed)
    root = root_from_leaf_hashes(hashes)
    a = data.draw(st.integers(0, size), "a")
    b = data.draw(st.integers(a, size), "b")
    get_node, read = _recording(store)
    left, right = range_proof(a, b, size, get_node)
    assert read == range_proof_nodes(a, b, size)
    assert verify_range(a, hashes[a:b], size, left, right, root)
    if b > a:
        i = data.draw(st.integers(a, b - 1), "tampered")
        tampered = list(hashes[a:b])
        tampered[i - a] = _flip(tampered[i - a], i)
        assert not verify_range(a, tampered, size, left, right, root)
        assert not verify_range(a, hashes[a : b - 1], size, left, right, root)
    if left:
        assert not verify_range(a, hashes[a:b], size, [_flip(left[0], 0), *left[1:]], right, root)
    if right:
        assert not verify_range(
            a, hashes[a:b], size, left, [*right[:-1], _flip(right[-1], 1)], root
        )
    assert not verify_range(a, hashes[a:b], size, left, right, _flip(root, 2))
    if b > a and a + 1 <= size - (b - a):  # the same leaves claimed one position later
        assert not verify_range(a + 1, hashes[a:b], size, left, right, root)


@PROPERTY
@given(size=sizes, seed=seeds, data=st.data())
def test_compact_ranges_not_starting_at_zero_append_and_merge_like_the_tree(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    hashes, store = _tree(size, seed)
    a = data.draw(st.integers(0, size), "a")
    b = data.draw(st.integers(a, size), "b")
    c = data.draw(st.integers(b, size), "c")

    def built(begin: int, end: int) -> CompactRange:
        part = CompactRange.empty(begin)
        for h in hashes[begin:end]:
            part.append(h)
        return part

    for begin, end in ((a, b), (b, c), (a, c)):
        want = [store[node] for node in decompose(begin, end)]
        assert list(built(begin, end).hashes) == want
        assert built(begin, end) == CompactRange.from_hashes(begin, end, want)
    merged = built(a, b)
    merged.merge(built(b, c))
    assert merged == built(a, c)
    whole = CompactRange.from_hashes(0, a, [store[n] for n in decompose(0, a)])
    whole.merge(built(a, size))
    assert whole.root() == root_from_leaf_hashes(hashes)


@PROPERTY
@given(begin=st.integers(0, 5000), length=st.integers(0, 5000))
def test_decompose_yields_maximal_aligned_subtrees_in_order(begin: int, length: int) -> None:
    end = begin + length
    nodes = decompose(begin, end)
    position = begin
    for level, index in nodes:
        assert index << level == position  # contiguous and aligned
        position += 1 << level
        parent_start = (index >> 1) << (level + 1)
        assert not (parent_start >= begin and parent_start + (2 << level) <= end)  # maximal
    assert position == end
    levels = [level for level, _ in nodes]
    rising = 1
    while rising < len(levels) and levels[rising] > levels[rising - 1]:
        rising += 1
    falling = levels[rising:]
    assert falling == sorted(set(falling), reverse=True)  # strictly rising, then falling


@PROPERTY
@given(size=sizes, seed=seeds, data=st.data())
def test_range_hash_is_the_reference_mth_even_for_unaligned_ranges(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    hashes, store = _tree(size, seed)
    a = data.draw(st.integers(0, size), "a")
    b = data.draw(st.integers(a, size), "b")
    get_node, read = _recording(store)
    assert range_hash(a, b, get_node) == Reference(hashes[a:b]).mth(0, b - a)
    assert read == set(range_nodes(a, b))


def test_stored_frontier_rebuilds_the_compact_range() -> None:
    hashes, store = _tree(77, b"frontier")
    tree = CompactRange.from_nodes(77, lambda level, index: store[(level, index)])
    assert tree.root() == root_from_leaf_hashes(hashes)
    assert (tree.begin, tree.end, tree.size) == (0, 77, 77)
    copy = tree.copy()
    copy.append(leaf_hash(b"next"))
    assert copy != tree
    assert copy.size == 78


def test_invalid_arguments_raise_value_error() -> None:
    store = _tree(8, b"")[1]

    def get_node(level: int, index: int) -> bytes:
        return store[(level, index)]

    with pytest.raises(ValueError, match="outside a tree of size 8"):
        inclusion_proof(8, 8, get_node)
    with pytest.raises(ValueError, match="0 <= m <= n"):
        consistency_proof(9, 8, get_node)
    with pytest.raises(ValueError, match="0 <= a <= b <= n"):
        range_proof(3, 2, 8, get_node)
    with pytest.raises(ValueError, match="invalid leaf range"):
        decompose(5, 4)
    with pytest.raises(ValueError, match="needs 2 hashes"):
        CompactRange.from_hashes(0, 3, [EMPTY_ROOT])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange.from_hashes(0, 1, [b"short"])
    with pytest.raises(ValueError, match="not adjacent"):
        CompactRange.empty().merge(CompactRange.empty(1))
    with pytest.raises(ValueError, match="starting at leaf 0"):
        CompactRange.empty(4).root()


def test_verifiers_reject_malformed_inputs_instead_of_raising() -> None:
    hashes, store = _tree(5, b"x")
    root = root_from_leaf_hashes(hashes)
    proof = inclusion_proof(2, 5, lambda level, index: store[(level, index)])
    assert not verify_inclusion(hashes[2], -1, 5, proof, root)
    assert not verify_inclusion(hashes[2], 5, 5, proof, root)
    assert not verify_inclusion(hashes[2][:31], 2, 5, proof, root)
    assert not verify_consistency(-1, 5, EMPTY_ROOT, root, [])
    assert not verify_range(-1, hashes, 5, [], [], root)
    assert not verify_range(0, hashes, 4, [], [], root)
    assert not verify_range(0, [h[:16] for h in hashes], 5, [], [], root)
    assert verify_range(0, hashes, 5, [], [], root)
