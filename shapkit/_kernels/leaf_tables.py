"""Numba kernels of TreeSHAP by leaf patterns: interventional values whose cost per
explained row does not grow with the background, and path-dependent values from node
covers (the section at the end).

A leaf whose path tests the distinct players ``s_0 .. s_{k-1}`` (its *slots*) sees a row
through its *pattern*: the k-bit mask of the slots whose every condition on the path the
row meets (missing-value directions included). The leaf is reached by the hybrid row
``(x_S, z_notS)`` iff each slot's conditions are met by x (slot in S) or by z (not in S),
so a pair (explicand pattern ``p``, background pattern ``q``) adds to the leaf's Shapley
values only when ``p | q`` is full; then ``A = p & ~q`` (x passes, z fails) and
``B = ~p`` (x fails, z passes), and the leaf value ``u`` gives ``u W[|A|-1, |B|]`` to each
slot of A and ``-u W[|A|, |B|-1]`` to each slot of B (``W[a, b] = a! b! / (a+b+1)!``).

Two ways to sum over the background rows, chosen per leaf by the orchestrator
(:mod:`shapkit.closed_form.leaf_tables`):

* **pattern lists**: the background's distinct patterns with their counts; an explained
  row sums over them (``O(distinct patterns x k)`` per row and leaf) the same graded sums
  as the table's row for its pattern, in the same order: bit-identical to the table.
* **tables**: write ``c = ~p`` and ``U = q``. Contributing ``U`` are the supersets of
  ``c`` and ``|A| = k - |U|``, so every entry is a sum over supersets of ``c`` graded by
  ``|U|``. One graded superset-sum transform of the background histogram
  (``S[r, c] = #{background rows with pattern U ⊇ c, |U| = r}``, ``O(k^2 2^k)``) gives
  ``table[p, s] = sum_r (S[r, c] - S[r, c | s]) W[k-r-1, |c|]`` for ``s`` in ``p`` and
  ``-sum_r S[r, c] W[k-r, |c|-1]`` for ``s`` not in ``p``. An explained row is then one
  lookup per leaf and slot.

Kernels take a leaf range ``leaf0 .. leaf1-1`` (a *block*), the nodes on its paths
(``used[n - n0]``) and per-block arrays indexed by ``leaf - leaf0``; they work on row
ranges in chunks of :data:`ROW_CHUNK` rows, leaves as the outer loop within a chunk, and
release the GIL, like :mod:`shapkit._kernels.treeshap`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .treeshap import LAST_NUMERIC, categorical_left, numeric_left


@njit(cache=True, inline="always")
def _popcount(x: int) -> int:
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@njit(cache=True)
def leaf_paths(
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    roots: np.ndarray,
    feature_player: np.ndarray,
    n_players: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
           np.ndarray, np.ndarray]:  # fmt: skip
    """Per leaf: its node and tree, its path (nodes, way taken, player slot) and players.

    Returns ``leaf_node, leaf_tree, path_start (n_leaves + 1), path_node, path_left,
    path_slot, player_start (n_leaves + 1), slot_player, max_players``.
    """
    n_nodes = feature.shape[0]
    n_leaves = 0
    for n in range(n_nodes):
        if feature[n] < 0:
            n_leaves += 1
    parent = np.full(n_nodes, -1, dtype=np.int64)
    went_left = np.zeros(n_nodes, dtype=np.bool_)
    tree_of = np.zeros(n_nodes, dtype=np.int64)
    for t in range(roots.shape[0]):
        stack = [roots[t]]
        while len(stack) > 0:
            node = stack.pop()
            tree_of[node] = t
            if feature[node] >= 0:
                parent[left[node]] = node
                went_left[left[node]] = True
                parent[right[node]] = node
                went_left[right[node]] = False
                stack.append(left[node])
                stack.append(right[node])
    leaf_node = np.empty(n_leaves, dtype=np.int64)
    leaf_tree = np.empty(n_leaves, dtype=np.int64)
    path_start = np.zeros(n_leaves + 1, dtype=np.int64)
    player_start = np.zeros(n_leaves + 1, dtype=np.int64)
    lengths = np.zeros(n_leaves, dtype=np.int64)
    counts = np.zeros(n_leaves, dtype=np.int64)
    seen = np.full(n_players, -1, dtype=np.int64)
    li = 0
    for n in range(n_nodes):
        if feature[n] >= 0:
            continue
        leaf_node[li] = n
        leaf_tree[li] = tree_of[n]
        node = n
        while parent[node] >= 0:
            p = feature_player[feature[parent[node]]]
            lengths[li] += 1
            if seen[p] != li:
                seen[p] = li
                counts[li] += 1
            node = parent[node]
        li += 1
    for i in range(n_leaves):
        path_start[i + 1] = path_start[i] + lengths[i]
        player_start[i + 1] = player_start[i] + counts[i]
    path_node = np.empty(path_start[n_leaves], dtype=np.int64)
    path_left = np.empty(path_start[n_leaves], dtype=np.bool_)
    path_slot = np.empty(path_start[n_leaves], dtype=np.int64)
    slot_player = np.empty(player_start[n_leaves], dtype=np.int64)
    slot_of = np.full(n_players, -1, dtype=np.int64)
    max_players = 0
    for i in range(n_leaves):
        n_slots = 0
        pos = path_start[i]
        node = leaf_node[i]
        while parent[node] >= 0:
            par = parent[node]
            p = feature_player[feature[par]]
            if slot_of[p] < 0:
                slot_of[p] = n_slots
                slot_player[player_start[i] + n_slots] = p
                n_slots += 1
            path_node[pos] = par
            path_left[pos] = went_left[node]
            path_slot[pos] = slot_of[p]
            pos += 1
            node = par
        for s in range(n_slots):
            slot_of[slot_player[player_start[i] + s]] = -1
        if n_slots > max_players:
            max_players = n_slots
    return (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
            slot_player, np.int64(max_players))  # fmt: skip


@njit(cache=True, inline="always")
def leaf_outputs(tree_output: np.ndarray, tree: int, k_out: int) -> tuple[int, int]:
    """The outputs ``c0 .. c1-1`` a leaf of ``tree`` adds to: its tree's one output, or
    every output where ``tree_output[tree] < 0`` (a multi-output tree)."""
    c0 = tree_output[tree]
    if c0 < 0:
        return 0, k_out
    return c0, c0 + 1


#: Rows a kernel holds at once: their directions at the block's nodes, one leaf's patterns.
ROW_CHUNK = 256
#: Leaves of at most this many players count their background patterns in four lanes.
SPLIT_COUNT_SLOTS = 6


@njit(cache=True)
def _chunk_directions(
    X: np.ndarray, r0: int, nr: int, n0: int, used: np.ndarray, dirs: np.ndarray,
    feature: np.ndarray, threshold: np.ndarray, default_left: np.ndarray,
    decision: np.ndarray, cat_left: np.ndarray, cat_known: np.ndarray,
    cat_nwords: np.ndarray, cat_words: np.ndarray,
) -> None:  # fmt: skip
    """``dirs[n - n0, r]``: row ``r0 + r`` goes left at node n, for the nodes ``used``."""
    for u in range(used.shape[0]):
        if not used[u]:
            continue
        n = n0 + u
        f = feature[n]
        kind = decision[n]
        if kind <= LAST_NUMERIC:
            thr = threshold[n]
            dl = default_left[n]
            for r in range(nr):
                dirs[u, r] = numeric_left(kind, X[r0 + r, f], thr, dl)
        else:
            for r in range(nr):
                dirs[u, r] = categorical_left(kind, n, X[r0 + r, f], default_left[n],
                                              cat_left, cat_known, cat_nwords,
                                              cat_words)  # fmt: skip


@njit(cache=True)
def _chunk_patterns(
    dirs: np.ndarray, nr: int, n0: int, lo: int, hi: int, n_slots: int,
    path_node: np.ndarray, path_left: np.ndarray, path_slot: np.ndarray, out: np.ndarray,
) -> None:  # fmt: skip
    """``out[r]``: the pattern of chunk row r for the leaf whose path is ``lo..hi-1``."""
    full = (np.int64(1) << n_slots) - 1
    for r in range(nr):
        out[r] = full
    for q in range(lo, hi):
        u = path_node[q] - n0
        want = path_left[q]
        off = ~(np.int64(1) << path_slot[q])
        for r in range(nr):
            if dirs[u, r] != want:
                out[r] &= off


@njit(cache=True, nogil=True)
def background_patterns(
    B: np.ndarray, start: int, stop: int, n0: int, used: np.ndarray,
    leaf0: int, leaf1: int,
    hist_off: np.ndarray, hist: np.ndarray, list_off: np.ndarray, patterns: np.ndarray,
    path_start: np.ndarray, path_node: np.ndarray, path_left: np.ndarray,
    path_slot: np.ndarray, player_start: np.ndarray,
    feature: np.ndarray, threshold: np.ndarray, default_left: np.ndarray,
    decision: np.ndarray, cat_left: np.ndarray, cat_known: np.ndarray,
    cat_nwords: np.ndarray, cat_words: np.ndarray,
) -> None:  # fmt: skip
    """Background rows ``start..stop-1`` into the block's leaves: a leaf with
    ``hist_off[j] >= 0`` counts its rows' patterns in ``hist[hist_off[j] + pattern]``
    (dense, ``2^k`` entries); the others write ``patterns[list_off[j] + row]``. ``used``
    marks the nodes ``n0 + u`` on the block's paths."""
    dirs = np.empty((used.shape[0], ROW_CHUNK), dtype=np.bool_)
    pat = np.empty(ROW_CHUNK, dtype=np.int64)
    lanes = np.zeros(4 << SPLIT_COUNT_SLOTS, dtype=np.int64)
    for r0 in range(start, stop, ROW_CHUNK):
        nr = min(ROW_CHUNK, stop - r0)
        _chunk_directions(B, r0, nr, n0, used, dirs, feature, threshold, default_left,
                          decision, cat_left, cat_known, cat_nwords, cat_words)  # fmt: skip
        for leaf in range(leaf0, leaf1):
            j = leaf - leaf0
            n_slots = player_start[leaf + 1] - player_start[leaf]
            if n_slots == 0:
                continue
            _chunk_patterns(dirs, nr, n0, path_start[leaf], path_start[leaf + 1], n_slots,
                            path_node, path_left, path_slot, pat)  # fmt: skip
            if hist_off[j] >= 0 and n_slots <= SPLIT_COUNT_SLOTS:
                # four counters per pattern, by row mod 4: consecutive rows of the same
                # pattern do not wait on each other's increment
                size = np.int64(1) << n_slots
                for r in range(nr):
                    lanes[((r & 3) << n_slots) + pat[r]] += 1
                h0 = hist_off[j]
                for u in range(size):
                    hist[h0 + u] += (lanes[u] + lanes[size + u]) + (
                        lanes[2 * size + u] + lanes[3 * size + u])
                    lanes[u] = lanes[size + u] = lanes[2 * size + u] = lanes[3 * size + u] = 0
            elif hist_off[j] >= 0:
                h0 = hist_off[j]
                for r in range(nr):
                    hist[h0 + pat[r]] += 1.0
            else:
                l0 = list_off[j] + r0
                for r in range(nr):
                    patterns[l0 + r] = pat[r]


@njit(cache=True)
def distinct_counts(
    n_slots: np.ndarray, hist_off: np.ndarray, hist: np.ndarray, list_off: np.ndarray,
    patterns: np.ndarray, n_background: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Each block leaf's distinct background patterns, ascending, with their counts:
    ``(start (n_leaves + 1), masks, counts)``, read from the dense histogram where the leaf
    has one and from its sorted pattern list otherwise."""
    n_leaves = n_slots.shape[0]
    total = 0
    for j in range(n_leaves):
        if n_slots[j] == 0:
            continue
        if hist_off[j] >= 0:
            size = np.int64(1) << n_slots[j]
            for u in range(size):
                if hist[hist_off[j] + u] > 0.0:
                    total += 1
        else:
            total += n_background
    start = np.zeros(n_leaves + 1, dtype=np.int64)
    masks = np.empty(total, dtype=np.int64)
    counts = np.empty(total, dtype=np.float64)
    pos = 0
    for j in range(n_leaves):
        if n_slots[j] > 0 and hist_off[j] >= 0:
            size = np.int64(1) << n_slots[j]
            for u in range(size):
                c = hist[hist_off[j] + u]
                if c > 0.0:
                    masks[pos] = u
                    counts[pos] = c
                    pos += 1
        elif n_slots[j] > 0:
            buf = np.sort(patterns[list_off[j]:list_off[j] + n_background])
            r = 0
            while r < n_background:
                q = r
                while q < n_background and buf[q] == buf[r]:
                    q += 1
                masks[pos] = buf[r]
                counts[pos] = q - r
                pos += 1
                r = q
        start[j + 1] = pos
    return start, masks[:pos].copy(), counts[:pos].copy()


@njit(cache=True)
def reached_sums(
    leaf0: int, leaf1: int, starts: np.ndarray, masks: np.ndarray, counts: np.ndarray,
    player_start: np.ndarray, leaf_node: np.ndarray, leaf_tree: np.ndarray,
    values: np.ndarray, tree_output: np.ndarray, n_background: int, out: np.ndarray,
) -> None:  # fmt: skip
    """Add ``sum over the block's leaves of value x (background rows that reach the
    leaf)`` into ``out (k,)``: a row reaches a leaf when its pattern is full (it meets
    every condition of the path), and a leaf with no players is reached by every row."""
    k_out = values.shape[1]
    for leaf in range(leaf0, leaf1):
        j = leaf - leaf0
        n_slots = player_start[leaf + 1] - player_start[leaf]
        reached = 0.0
        if n_slots == 0:
            reached = float(n_background)
        elif starts[j + 1] > starts[j]:  # masks ascend: the full one is last, if any
            if masks[starts[j + 1] - 1] == (np.int64(1) << n_slots) - 1:
                reached = counts[starts[j + 1] - 1]
        if reached == 0.0:
            continue
        node = leaf_node[leaf]
        c0, c1 = leaf_outputs(tree_output, leaf_tree[leaf], k_out)
        for c in range(c0, c1):
            out[c] += values[node, c] * reached


@njit(cache=True, nogil=True)
def build_tables(
    first: int, last: int, n_slots: np.ndarray, hist_off: np.ndarray, hist: np.ndarray,
    table_off: np.ndarray, tables: np.ndarray, weights: np.ndarray, scale: float,
) -> None:  # fmt: skip
    """Tables of block leaves ``first..last-1`` that have one (``table_off[j] >= 0``):
    ``tables[table_off[j] + p * k + s]``, the weight of slot s for explicand pattern p,
    times ``scale`` (one over the number of background rows)."""
    for j in range(first, last):
        if table_off[j] < 0:
            continue
        k = n_slots[j]
        size = np.int64(1) << k
        graded = np.zeros((size, k + 1))  # graded[c, r]: rows with pattern U ⊇ c, |U| = r
        h0 = hist_off[j]
        for u in range(size):
            graded[u, _popcount(u)] = hist[h0 + u]
        for s in range(k):
            bit = np.int64(1) << s
            for u in range(size):
                if (u & bit) == 0:
                    for r in range(k + 1):
                        graded[u, r] += graded[u | bit, r]
        full = size - 1
        t0 = table_off[j]
        for p in range(size):
            c = full ^ p
            b = _popcount(c)
            neg = 0.0
            if b > 0:
                for r in range(b, k + 1):
                    neg += graded[c, r] * weights[k - r, b - 1]
                neg *= -scale
            for s in range(k):
                bit = np.int64(1) << s
                if p & bit:
                    acc = 0.0
                    for r in range(b, k):
                        acc += (graded[c, r] - graded[c | bit, r]) * weights[k - r - 1, b]
                    tables[t0 + p * k + s] = acc * scale
                else:
                    tables[t0 + p * k + s] = neg


@njit(cache=True, nogil=True)
def explain_rows(
    X: np.ndarray, start: int, stop: int, phi: np.ndarray,
    n0: int, used: np.ndarray, leaf0: int, leaf1: int,
    table_off: np.ndarray, tables: np.ndarray,
    list_start: np.ndarray, list_mask: np.ndarray, list_count: np.ndarray,
    scale: float, weights: np.ndarray,
    leaf_node: np.ndarray, leaf_tree: np.ndarray, path_start: np.ndarray,
    path_node: np.ndarray, path_left: np.ndarray, path_slot: np.ndarray,
    player_start: np.ndarray, slot_player: np.ndarray,
    values: np.ndarray, tree_output: np.ndarray, max_slots: int,
    feature: np.ndarray, threshold: np.ndarray, default_left: np.ndarray,
    decision: np.ndarray, cat_left: np.ndarray, cat_known: np.ndarray,
    cat_nwords: np.ndarray, cat_words: np.ndarray,
) -> None:  # fmt: skip
    """Add the block's leaves' Shapley values for explained rows ``start..stop-1`` to
    ``phi (n, n_players, k)``: a table lookup where the leaf has a table
    (``table_off[j] >= 0``), else the same sums over its distinct background patterns
    (bit-identical to the table). Leaves are the outer loop within a chunk of rows, so a
    leaf's table stays in cache."""
    k_out = values.shape[1]
    dirs = np.empty((used.shape[0], ROW_CHUNK), dtype=np.bool_)
    pat = np.empty(ROW_CHUNK, dtype=np.int64)
    graded = np.zeros((max_slots + 1, max_slots + 1))  # a pattern list's sums for one row
    for r0 in range(start, stop, ROW_CHUNK):
        nr = min(ROW_CHUNK, stop - r0)
        _chunk_directions(X, r0, nr, n0, used, dirs, feature, threshold, default_left,
                          decision, cat_left, cat_known, cat_nwords, cat_words)  # fmt: skip
        for leaf in range(leaf0, leaf1):
            j = leaf - leaf0
            n_slots = player_start[leaf + 1] - player_start[leaf]
            if n_slots == 0:
                continue
            _chunk_patterns(dirs, nr, n0, path_start[leaf], path_start[leaf + 1], n_slots,
                            path_node, path_left, path_slot, pat)  # fmt: skip
            node = leaf_node[leaf]
            c0, c1 = leaf_outputs(tree_output, leaf_tree[leaf], k_out)
            slots0 = player_start[leaf]
            if table_off[j] >= 0:
                t0 = table_off[j]
                for r in range(nr):
                    base = t0 + pat[r] * n_slots
                    for s in range(n_slots):
                        w = tables[base + s]
                        if w != 0.0:
                            player = slot_player[slots0 + s]
                            for c in range(c0, c1):
                                phi[r0 + r, player, c] += values[node, c] * w
                continue
            # the table's sums for this row's pattern only, in the table's order, so both
            # ways give bit-identical values (the counts are integers, exact in float64)
            full = (np.int64(1) << n_slots) - 1
            for r in range(nr):
                p = pat[r]
                c = full ^ p
                b = _popcount(c)
                for rr in range(n_slots + 1):
                    graded[0, rr] = 0.0
                    for s in range(n_slots):
                        graded[s + 1, rr] = 0.0
                for h in range(list_start[j], list_start[j + 1]):
                    q = list_mask[h]
                    if (q & c) != c:
                        continue
                    rq = _popcount(q)
                    cnt = list_count[h]
                    graded[0, rq] += cnt
                    for s in range(n_slots):
                        if q & p & (np.int64(1) << s):
                            graded[s + 1, rq] += cnt
                neg = 0.0
                if b > 0:
                    for rr in range(b, n_slots + 1):
                        neg += graded[0, rr] * weights[n_slots - rr, b - 1]
                    neg *= -scale
                for s in range(n_slots):
                    if p & (np.int64(1) << s):
                        w = 0.0
                        for rr in range(b, n_slots):
                            w += (graded[0, rr] - graded[s + 1, rr]) * weights[n_slots - rr - 1, b]
                        w *= scale
                    else:
                        w = neg
                    if w != 0.0:
                        player = slot_player[slots0 + s]
                        for cc in range(c0, c1):
                            phi[r0 + r, player, cc] += values[node, cc] * w


# ------------------------------------------------------------- path-dependent leaf tables
#
# The path-dependent game of one leaf is a product game: with z_s the product of the
# cover shares cover[child] / cover[parent] over the leaf's path edges of slot s, and o_s
# whether x meets slot s's conditions (the bits of x's pattern p), the leaf is reached with
# weight prod_{s in S} o_s prod_{s not in S} z_s. Its Shapley value for slot s depends on
# x only through p:
#   table[p, s] = (o_s - z_s) prod_{i not in p, i != s} z_i
#                 sum_r W(q - r, k - 1 - q + r) e_r(z over p minus s),   q = |p minus s|,
# with e_r the elementary symmetric polynomials, so a row is again one lookup per leaf and
# slot.


@njit(cache=True)
def slot_cover_shares(
    path_start: np.ndarray, path_node: np.ndarray, path_left: np.ndarray,
    path_slot: np.ndarray, player_start: np.ndarray, left: np.ndarray, right: np.ndarray,
    cover: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per (leaf, slot), indexed like ``slot_player``: the product of the cover shares of
    the leaf's path edges that test the slot's player (0 below a node of no cover)."""
    n_leaves = path_start.shape[0] - 1
    shares = np.ones(player_start[n_leaves])
    for leaf in range(n_leaves):
        base = player_start[leaf]
        for q in range(path_start[leaf], path_start[leaf + 1]):
            parent = path_node[q]
            child = left[parent] if path_left[q] else right[parent]
            total = cover[parent]
            shares[base + path_slot[q]] *= cover[child] / total if total > 0.0 else 0.0
    return shares


@njit(cache=True, nogil=True)
def build_path_tables(
    first: int, last: int, leaf0: int, n_slots: np.ndarray, player_start: np.ndarray,
    shares: np.ndarray, table_off: np.ndarray, tables: np.ndarray, weights: np.ndarray,
) -> None:  # fmt: skip
    """Path-dependent tables of block leaves ``first..last-1`` with ``table_off[j] >= 0``:
    ``tables[table_off[j] + p * k + s]`` (see the comment above). The elementary
    symmetric polynomials of every subset and the products of the shares outside it come
    from subset recursions (removing the highest slot), ``O(k 2^k)``; the table, from
    them, in ``O(k^2 2^k)``."""
    for j in range(first, last):
        if table_off[j] < 0:
            continue
        k = n_slots[j]
        size = np.int64(1) << k
        z0 = player_start[leaf0 + j]
        poly = np.zeros((size, k + 1))  # poly[u, r] = e_r(shares of the slots in u)
        product = np.ones(size)  # product[u] = prod of the shares of the slots in u
        poly[0, 0] = 1.0
        top = -1
        for u in range(1, size):
            if u == np.int64(1) << (top + 1):
                top += 1  # the highest slot of u
            rest = u ^ (np.int64(1) << top)
            z = shares[z0 + top]
            product[u] = product[rest] * z
            poly[u, 0] = 1.0
            for r in range(1, k + 1):
                poly[u, r] = poly[rest, r] + z * poly[rest, r - 1]
        full = size - 1
        t0 = table_off[j]
        for p in range(size):
            for s in range(k):
                bit = np.int64(1) << s
                inside = p & ~bit  # the slots of p other than s
                q = _popcount(inside)
                acc = 0.0
                for r in range(q + 1):
                    acc += weights[q - r, k - 1 - q + r] * poly[inside, r]
                one = 1.0 if p & bit else 0.0
                outside = product[full & ~p & ~bit]
                tables[t0 + p * k + s] = (one - shares[z0 + s]) * outside * acc
