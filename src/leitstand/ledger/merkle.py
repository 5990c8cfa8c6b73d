"""RFC 9162 §2.1 Merkle trees: hashing, compact ranges, proofs over a node store, verification.

Pure (hashlib only, no I/O). Node ``(level, index)`` is the perfect subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf hash. The store keeps, in the
row of leaf i, every perfect subtree that ends at leaf i, so node ``(L, k)`` lives in row
``node_row(L, k) == (k + 1) * 2**L - 1`` at position L. Proof builders come in pairs: ``*_nodes``
names every stored node needed (fetch them in one query), the other computes from ``get_node``.
A root does not commit to its tree size on its own: verifiers must take size and root together
from one signed checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "GetNode",
    "NodeId",
    "consistency_proof",
    "consistency_proof_nodes",
    "decompose",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "leaf_hash",
    "node_hash",
    "node_row",
    "range_hash",
    "range_nodes",
    "range_proof",
    "range_proof_nodes",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
    "verify_range",
]

NodeId: TypeAlias = tuple[int, int]
GetNode: TypeAlias = Callable[[int, int], bytes]

HASH_SIZE = 32
_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
EMPTY_ROOT: bytes = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def node_row(level: int, index: int) -> int:
    """Return the leaf row that stores node (level, index): the last leaf it covers."""
    return ((index + 1) << level) - 1


def _split(n: int) -> int:
    # The RFC's k: the largest power of two strictly less than n (n >= 2).
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: bytes) -> bool:
    return len(value) == HASH_SIZE


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 root of the tree whose leaf hashes are given, level by level."""
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha256, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        # Pairing bottom-up and promoting an odd last node unchanged builds exactly the RFC
        # tree: the left subtree at every split is perfect, so pairs never straddle a split.
        odd = level[-1] if len(level) & 1 else None
        pairs = iter(level)  # zip(it, it) walks adjacent pairs without slicing copies
        level = [
            sha256(prefix + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if odd is not None:
            level.append(odd)
    return level[0]


def decompose(begin: int, end: int) -> list[NodeId]:
    """Return the maximal aligned perfect subtrees covering leaves [begin, end), left to right."""
    if not 0 <= begin <= end:
        raise ValueError(f"invalid leaf range [{begin}, {end})")
    nodes: list[NodeId] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


class CompactRange:
    """The perfect-subtree hashes covering leaves [begin, end), left to right (the frontier)."""

    __slots__ = ("_begin", "_end", "_hashes")

    def __init__(self, begin: int, end: int, hashes: list[bytes]) -> None:
        self._begin = begin
        self._end = end
        self._hashes = hashes

    @classmethod
    def empty(cls, begin: int = 0) -> CompactRange:
        """Return an empty range positioned at leaf ``begin``."""
        if begin < 0:
            raise ValueError(f"begin must be >= 0 (got {begin})")
        return cls(begin, begin, [])

    @classmethod
    def from_hashes(cls, begin: int, end: int, hashes: Sequence[bytes]) -> CompactRange:
        """Return the range [begin, end) from its hashes in ``decompose(begin, end)`` order."""
        expected = len(decompose(begin, end))
        if len(hashes) != expected:
            raise ValueError(f"range [{begin}, {end}) needs {expected} hashes (got {len(hashes)})")
        if not all(_is_hash(h) for h in hashes):
            raise ValueError(f"compact range hashes must be {HASH_SIZE} bytes each")
        return cls(begin, end, list(hashes))

    @classmethod
    def from_nodes(cls, size: int, get_node: GetNode) -> CompactRange:
        """Rebuild the frontier of the tree of ``size`` leaves from stored nodes."""
        return cls(0, size, [get_node(level, index) for level, index in decompose(0, size)])

    @property
    def begin(self) -> int:
        """First leaf index covered."""
        return self._begin

    @property
    def end(self) -> int:
        """One past the last leaf index covered."""
        return self._end

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._end - self._begin

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The subtree hashes, left to right, as ``decompose(begin, end)`` names them."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[bytes]:
        """Add the next leaf hash; return the subtree hashes it completes, level 0 upward."""
        # Hot path (tens of thousands of calls per second): no validation, locals only.
        hashes = self._hashes
        end = self._end + 1
        self._end = end
        if end & 1:  # an even leaf index completes no subtree but itself
            hashes.append(leaf)
            return [leaf]
        merges = (end & -end).bit_length() - 1
        if self._begin:
            # A range that does not start at 0 cannot merge across its left edge.
            while end - (1 << merges) < self._begin:
                merges -= 1
        completed = [leaf]
        sha256, prefix, h = _sha256, _NODE_PREFIX, leaf
        for _ in range(merges):
            h = sha256(prefix + hashes.pop() + h).digest()
            completed.append(h)
        hashes.append(h)
        return completed

    def merge(self, other: CompactRange) -> None:
        """Extend this range in place by the adjacent range ``other`` (other.begin == end)."""
        if other._begin != self._end:
            raise ValueError(
                f"ranges are not adjacent: [{self._begin}, {self._end}) "
                f"and [{other._begin}, {other._end})"
            )
        ids = decompose(self._begin, self._end)
        hashes = self._hashes
        for (level, index), h in zip(
            decompose(other._begin, other._end), other._hashes, strict=True
        ):
            node, lvl, idx = h, level, index
            while idx & 1 and ids and ids[-1] == (lvl, idx - 1):
                ids.pop()
                node = node_hash(hashes.pop(), node)
                lvl, idx = lvl + 1, idx >> 1
            ids.append((lvl, idx))
            hashes.append(node)
        self._end = other._end

    def root(self) -> bytes:
        """Return the RFC 9162 root of the tree of ``end`` leaves (needs begin == 0)."""
        if self._begin:
            raise ValueError(f"root() needs a range starting at leaf 0 (begins at {self._begin})")
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        h = hashes[-1]
        for i in range(len(hashes) - 2, -1, -1):
            h = _sha256(_NODE_PREFIX + hashes[i] + h).digest()
        return h

    def copy(self) -> CompactRange:
        """Return an independent copy."""
        return CompactRange(self._begin, self._end, list(self._hashes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return (self._begin, self._end, self._hashes) == (other._begin, other._end, other._hashes)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(begin={self._begin}, end={self._end}, hashes={len(self._hashes)})"


def range_nodes(a: int, b: int) -> list[NodeId]:
    """Return the stored nodes that ``range_hash(a, b)`` reads, left to right."""
    if not 0 <= a <= b:
        raise ValueError(f"invalid leaf range [{a}, {b})")
    out: list[NodeId] = []
    _collect(a, b, out)
    return out


def _collect(a: int, b: int, out: list[NodeId]) -> None:
    n = b - a
    if n == 0:
        return
    if n & (n - 1) == 0 and a & (n - 1) == 0:
        level = n.bit_length() - 1
        out.append((level, a >> level))
        return
    k = _split(n)
    _collect(a, a + k, out)
    _collect(a + k, b, out)


def range_hash(a: int, b: int, get_node: GetNode) -> bytes:
    """Return MTH(D[a:b]) per RFC 9162, reading aligned perfect subtrees from ``get_node``."""
    if not 0 <= a <= b:
        raise ValueError(f"invalid leaf range [{a}, {b})")
    n = b - a
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and a & (n - 1) == 0:
        level = n.bit_length() - 1
        return get_node(level, a >> level)
    k = _split(n)
    return node_hash(range_hash(a, a + k, get_node), range_hash(a + k, b, get_node))


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    # PATH(m, D[n]) (RFC 9162 §2.1.3.1) as the leaf ranges whose MTH it lists, bottom first.
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    # PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1) as leaf ranges, bottom first.
    if not 0 <= m <= n:
        raise ValueError(f"consistency needs 0 <= m <= n (got m={m}, n={n})")
    ranges: list[tuple[int, int]] = []
    if m in (0, n):
        return ranges  # nothing to prove: the RFC defines proofs for 0 < m < n only
    lo, hi, known = 0, n, True
    while m != hi:
        k = _split(hi - lo)
        if m <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            known = False
    if not known:
        ranges.append((lo, hi))  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    ranges.reverse()
    return ranges


def _nodes_of(ranges: list[tuple[int, int]]) -> set[NodeId]:
    out: list[NodeId] = []
    for a, b in ranges:
        _collect(a, b, out)
    return set(out)


def inclusion_proof_nodes(index: int, size: int) -> set[NodeId]:
    """Return every stored node that ``inclusion_proof(index, size)`` reads."""
    return _nodes_of(_inclusion_ranges(index, size))


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 inclusion proof PATH(index, D[size])."""
    return [range_hash(a, b, get_node) for a, b in _inclusion_ranges(index, size)]


def consistency_proof_nodes(m: int, n: int) -> set[NodeId]:
    """Return every stored node that ``consistency_proof(m, n)`` reads."""
    return _nodes_of(_consistency_ranges(m, n))


def consistency_proof(m: int, n: int, get_node: GetNode) -> list[bytes]:
    """Return the RFC 9162 consistency proof PROOF(m, D[n]); empty when m == 0 or m == n."""
    return [range_hash(a, b, get_node) for a, b in _consistency_ranges(m, n)]


def range_proof_nodes(a: int, b: int, n: int) -> set[NodeId]:
    """Return every stored node that ``range_proof(a, b, n)`` reads."""
    if not 0 <= a <= b <= n:
        raise ValueError(f"range proof needs 0 <= a <= b <= n (got {a}, {b}, {n})")
    return set(decompose(0, a)) | set(decompose(b, n))


def range_proof(a: int, b: int, n: int, get_node: GetNode) -> tuple[list[bytes], list[bytes]]:
    """Return the compact ranges of [0, a) and [b, n) that complete leaves [a, b) to size n."""
    if not 0 <= a <= b <= n:
        raise ValueError(f"range proof needs 0 <= a <= b <= n (got {a}, {b}, {n})")
    left = [get_node(level, index) for level, index in decompose(0, a)]
    right = [get_node(level, index) for level, index in decompose(b, n)]
    return left, right


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof exactly as RFC 9162 §2.1.3.2 specifies."""
    if not 0 <= index < size:  # step 1
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    fn, sn, r = index, size - 1, leaf_hash  # steps 2 and 3
    for p in proof:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof exactly as RFC 9162 §2.1.4.2 specifies.

    The RFC algorithm covers 0 < m < n. For m == n the proof must be empty and the roots equal;
    for m == 0 the proof must be empty and ``root_m`` must be the empty-tree hash.
    """
    if not 0 <= m <= n:
        return False
    if not (_is_hash(root_m) and _is_hash(root_n) and all(_is_hash(p) for p in proof)):
        return False
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if not proof:  # step 1
        return False
    path = [root_m, *proof] if m & (m - 1) == 0 else list(proof)  # step 2
    fn, sn = m - 1, n - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n  # step 7


def verify_range(
    a: int,
    leaf_hashes: Sequence[bytes],
    n: int,
    left: Sequence[bytes],
    right: Sequence[bytes],
    root: bytes,
) -> bool:
    """Check that leaves [a, a + len(leaf_hashes)) with a range proof yield ``root`` of size n."""
    b = a + len(leaf_hashes)
    if not 0 <= a <= b <= n or not _is_hash(root):
        return False
    if len(left) != len(decompose(0, a)) or len(right) != len(decompose(b, n)):
        return False
    if not all(_is_hash(h) for h in (*left, *right)) or not all(map(_is_hash, leaf_hashes)):
        return False
    tree = CompactRange(0, a, list(left))
    for h in leaf_hashes:
        tree.append(h)
    tree.merge(CompactRange(b, n, list(right)))
    return tree.root() == root
