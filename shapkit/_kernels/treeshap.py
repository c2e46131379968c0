"""Numba kernels over the flat tree representation of :mod:`shapkit.trees.ensemble`.

Node ``n`` of the concatenated trees splits on column ``feature[n]`` (``-1``: a leaf) with
decision kind ``decision[n]`` (the ``DEC_*`` codes below); ``left[n]``/``right[n]`` are
absolute node indices and ``default_left[n]`` is where a missing value goes. Leaf values
are ``values[n, :]``; tree ``t`` starts at ``roots[t]`` and adds to every output
(``tree_output[t] == -1``) or to output ``tree_output[t]`` only. Categorical splits read
bitsets of 32-bit words from ``cat_words``: the categories that go left start at
``cat_left[n]``, the known categories (HGB: the others go right, unknown ones go the
missing way) at ``cat_known[n]``, each ``cat_nwords[n]`` words long.

Interventional TreeSHAP (Lundberg et al., 2020): for an explicand ``x`` and a background
row ``r``, walk each tree; where ``x`` and ``r`` go the same way follow that branch, where
they differ follow both, marking the split's player as taken from ``x`` (set A) or from
``r`` (set B); a marked player follows its mark. A leaf with value ``u`` reached with
``|A| = a`` and ``|B| = b`` gives ``u (a-1)! b! / (a+b)!`` to each player of A and
``-u a! (b-1)! / (a+b)!`` to each of B. Instead of looping over A and B at every leaf,
the walk returns the sums of these two weights over each subtree, and the player marked
at a node takes the sum of the subtree on its side (``O(1)`` per visited node).

The kernels work on a row range and release the GIL (``nogil=True``); callers run row
chunks on Python threads (:func:`shapkit.trees.ensemble.run_row_chunks`). This is the
parallelism of ``prange`` without Numba's OpenMP pool, whose spinning threads were
measured to slow scikit-learn / XGBoost / LightGBM OpenMP code run afterwards in the same
process by 20-40x on a 2-core machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: ``x <= threshold`` goes left; NaN goes the default way (scikit-learn, HGB, LightGBM NaN).
DEC_LE = 0
#: ``x < threshold`` goes left; NaN goes the default way (XGBoost).
DEC_LT = 1
#: LightGBM ``missing_type=None``: NaN is read as 0.0, then ``x <= threshold``.
DEC_LE_NAN_AS_ZERO = 2
#: LightGBM ``missing_type=Zero``: NaN is read as 0.0; ``|x| <= 1e-35`` goes the default way.
DEC_LE_ZERO_MISSING = 3
#: LightGBM categorical: NaN or ``int(x) < 0`` go right; ``int(x)`` in the set left, else right.
DEC_CAT_LIGHTGBM = 4
#: HGB categorical: NaN, negative or unknown categories go the default (missing) way;
#: ``int(x)`` in the left set goes left, a known category right.
DEC_CAT_HGB = 5

_LGBM_ZERO = 1e-35


@njit(cache=True, inline="always")
def _in_bitset(words: np.ndarray, start: int, n_words: int, value: int) -> bool:
    w = value >> 5
    if w >= n_words:
        return False
    return (words[start + w] >> np.uint32(value & 31)) & np.uint32(1) == np.uint32(1)


@njit(cache=True, inline="always")
def _goes_left(
    n: int,
    v: float,
    decision: np.ndarray,
    threshold: np.ndarray,
    default_left: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
) -> bool:
    """Whether value ``v`` of node ``n``'s split column goes to the left child."""
    kind = decision[n]
    if kind == DEC_LE:
        if np.isnan(v):
            return default_left[n]
        return v <= threshold[n]
    if kind == DEC_LT:
        if np.isnan(v):
            return default_left[n]
        return v < threshold[n]
    if kind == DEC_LE_NAN_AS_ZERO:
        if np.isnan(v):
            v = 0.0
        return v <= threshold[n]
    if kind == DEC_LE_ZERO_MISSING:
        if np.isnan(v):
            v = 0.0
        if abs(v) <= _LGBM_ZERO:
            return default_left[n]
        return v <= threshold[n]
    if kind == DEC_CAT_LIGHTGBM:  # int(v) truncates: -0.5 is category 0, as in LightGBM
        if np.isnan(v) or v <= -1.0 or v >= 2147483647.0:
            return False
        return _in_bitset(cat_words, cat_left[n], cat_nwords[n], int(v))
    # DEC_CAT_HGB
    if np.isnan(v) or v < 0.0 or v >= 2147483647.0:
        return default_left[n]
    c = int(v)
    if _in_bitset(cat_words, cat_left[n], cat_nwords[n], c):
        return True
    if _in_bitset(cat_words, cat_known[n], cat_nwords[n], c):
        return False
    return default_left[n]


@njit(cache=True, nogil=True)
def ensemble_predict(
    X: np.ndarray,
    start: int,
    stop: int,
    out: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    base_offset: np.ndarray,
) -> None:
    """Write ``base_offset`` + the leaf values rows ``start..stop-1`` of X reach into ``out``."""
    k = values.shape[1]
    for i in range(start, stop):
        for c in range(k):
            out[i, c] = base_offset[c]
        for t in range(roots.shape[0]):
            node = roots[t]
            while feature[node] >= 0:
                if _goes_left(
                    node, X[i, feature[node]], decision, threshold, default_left,
                    cat_left, cat_known, cat_nwords, cat_words,
                ):  # fmt: skip
                    node = left[node]
                else:
                    node = right[node]
            c = tree_output[t]
            if c < 0:
                for c2 in range(k):
                    out[i, c2] += values[node, c2]
            else:
                out[i, c] += values[node, c]


def shapley_weights(n_players: int) -> np.ndarray:
    """``W[p, q] = p! q! / (p + q + 1)!`` for ``0 <= p, q <= n_players``.

    A leaf reached with ``|A| = a`` and ``|B| = b`` gives ``u W[a-1, b]`` to each player of
    A and ``-u W[a, b-1]`` to each player of B.
    """
    from math import comb

    size = n_players + 1
    table = np.zeros((size, size))
    for p in range(size):
        for q in range(size - p):
            table[p, q] = 1.0 / ((p + q + 1) * comb(p + q, p))
    return table


@njit(cache=True, nogil=True)
def interventional_treeshap(
    X: np.ndarray,
    start: int,
    stop: int,
    phi_all: np.ndarray,
    background: np.ndarray,
    feature_player: np.ndarray,
    n_players: int,
    weights: np.ndarray,
    max_depth: int,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
) -> None:
    """Exact Shapley values of ``v(S) = mean_r f(x_S, r_notS)`` for rows ``start..stop-1``
    of X, written into ``phi_all`` ``(n, n_players, k)``.

    ``feature_player[j]`` is the player of column ``j``; the game is over players, so a
    group of columns is one player (its value is not the sum of its columns' values).
    ``weights`` comes from :func:`shapley_weights`; ``max_depth`` bounds the depth of every
    tree (root at depth 0). Values are not offset: per tree and background row they add up
    to ``tree(x) - tree(r)``.
    """
    m = background.shape[0]
    k = values.shape[1]
    n_trees = roots.shape[0]
    stack_size = max_depth + 2
    for i in range(start, stop):
        phi = np.zeros((n_players, k))
        marks = np.zeros(n_players, dtype=np.int8)  # 0 unmarked, 1 from x (A), 2 from r (B)
        st_node = np.empty(stack_size, dtype=np.int64)
        st_state = np.empty(stack_size, dtype=np.int8)
        st_xleft = np.empty(stack_size, dtype=np.bool_)
        res_pos = np.zeros((stack_size, k))
        res_neg = np.zeros((stack_size, k))
        x = X[i]
        for t in range(n_trees):
            c0 = tree_output[t]
            c1 = c0 + 1
            if c0 < 0:
                c0 = 0
                c1 = k
            for r in range(m):
                b_row = background[r]
                n_a = 0
                n_b = 0
                sp = 0
                st_node[0] = roots[t]
                st_state[0] = 0
                while sp >= 0:
                    node = st_node[sp]
                    state = st_state[sp]
                    if state == 0:
                        f = feature[node]
                        if f < 0:  # a leaf: the weight sums of this one-leaf subtree
                            for c in range(c0, c1):
                                u = values[node, c]
                                res_pos[sp, c] = u * weights[n_a - 1, n_b] if n_a > 0 else 0.0
                                res_neg[sp, c] = u * weights[n_a, n_b - 1] if n_b > 0 else 0.0
                            sp -= 1
                            continue
                        p = feature_player[f]
                        mark = marks[p]
                        if mark == 1:
                            go_x = _goes_left(
                                node, x[f], decision, threshold, default_left,
                                cat_left, cat_known, cat_nwords, cat_words,
                            )  # fmt: skip
                            st_node[sp] = left[node] if go_x else right[node]
                            continue
                        if mark == 2:
                            go_r = _goes_left(
                                node, b_row[f], decision, threshold, default_left,
                                cat_left, cat_known, cat_nwords, cat_words,
                            )  # fmt: skip
                            st_node[sp] = left[node] if go_r else right[node]
                            continue
                        go_x = _goes_left(
                            node, x[f], decision, threshold, default_left,
                            cat_left, cat_known, cat_nwords, cat_words,
                        )  # fmt: skip
                        go_r = _goes_left(
                            node, b_row[f], decision, threshold, default_left,
                            cat_left, cat_known, cat_nwords, cat_words,
                        )  # fmt: skip
                        if go_x == go_r:  # same way: this frame moves on to the child
                            st_node[sp] = left[node] if go_x else right[node]
                            continue
                        # they differ: first x's side with p in A
                        marks[p] = 1
                        n_a += 1
                        st_state[sp] = 1
                        st_xleft[sp] = go_x
                        sp += 1
                        st_node[sp] = left[node] if go_x else right[node]
                        st_state[sp] = 0
                    elif state == 1:  # back from x's side: credit p, then r's side with p in B
                        p = feature_player[feature[node]]
                        for c in range(c0, c1):
                            phi[p, c] += res_pos[sp + 1, c]
                            res_pos[sp, c] = res_pos[sp + 1, c]
                            res_neg[sp, c] = res_neg[sp + 1, c]
                        marks[p] = 2
                        n_a -= 1
                        n_b += 1
                        st_state[sp] = 2
                        sp += 1
                        st_node[sp] = right[node] if st_xleft[sp - 1] else left[node]
                        st_state[sp] = 0
                    else:  # back from r's side
                        p = feature_player[feature[node]]
                        for c in range(c0, c1):
                            phi[p, c] -= res_neg[sp + 1, c]
                            res_pos[sp, c] += res_pos[sp + 1, c]
                            res_neg[sp, c] += res_neg[sp + 1, c]
                        marks[p] = 0
                        n_b -= 1
                        sp -= 1
        for p in range(n_players):
            for c in range(k):
                phi_all[i, p, c] = phi[p, c] / m


@njit(cache=True)
def max_tree_depth(
    feature: np.ndarray, left: np.ndarray, right: np.ndarray, roots: np.ndarray
) -> int:
    """Depth of the deepest leaf over all trees (a lone root leaf has depth 0)."""
    best = 0
    depth = np.zeros(feature.shape[0], dtype=np.int64)
    stack = np.empty(feature.shape[0] + 1, dtype=np.int64)
    for t in range(roots.shape[0]):
        sp = 0
        stack[0] = roots[t]
        depth[roots[t]] = 0
        while sp >= 0:
            node = stack[sp]
            sp -= 1
            if feature[node] < 0:
                if depth[node] > best:
                    best = depth[node]
                continue
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
            stack[sp + 1] = left[node]
            stack[sp + 2] = right[node]
            sp += 2
    return best


# --------------------------------------------------------------------------- leaf tables
#
# The same values, computed per leaf instead of per walk. A leaf L with value u is reached
# by the hybrid row (x_S, r_notS) iff every player p on L's path has its conditions met by
# x (p in S) or by r (p not in S). With bit masks over the distinct players of the path,
# xmask (conditions x meets) and rmask (conditions r meets), the pair (x, r) contributes
# iff xmask | rmask is full; then A = xmask & ~rmask, B = rmask & ~xmask, and the leaf's
# game u [A in S, B out of S] has the Shapley values of the walk. Background rows are
# summarised per leaf by their distinct rmasks and counts, so the cost per explicand is
# O(sum over leaves of distinct rmasks) instead of O(background * visited nodes).


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


@njit(cache=True, nogil=True)
def node_directions(
    X: np.ndarray,
    start: int,
    stop: int,
    out: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    default_left: np.ndarray,
    decision: np.ndarray,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
) -> None:
    """``out[i, n]``: row i goes left at internal node n (rows ``start..stop-1``)."""
    for i in range(start, stop):
        for n in range(feature.shape[0]):
            f = feature[n]
            if f >= 0:
                out[i, n] = _goes_left(
                    n, X[i, f], decision, threshold, default_left,
                    cat_left, cat_known, cat_nwords, cat_words,
                )  # fmt: skip


@njit(cache=True, inline="always")
def _path_mask(
    dirs: np.ndarray, row: int, lo: int, hi: int, n_slots: int,
    path_node: np.ndarray, path_left: np.ndarray, path_slot: np.ndarray,
) -> np.uint64:  # fmt: skip
    mask = (np.uint64(1) << np.uint64(n_slots)) - np.uint64(1)
    for q in range(lo, hi):
        if dirs[row, path_node[q]] != path_left[q]:
            mask &= ~(np.uint64(1) << np.uint64(path_slot[q]))
    return mask


@njit(cache=True)
def background_histograms(
    bg_dirs: np.ndarray,
    path_start: np.ndarray,
    path_node: np.ndarray,
    path_left: np.ndarray,
    path_slot: np.ndarray,
    player_start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per leaf, the distinct background rmasks and their counts: ``(start, masks, counts)``."""
    n_leaves = path_start.shape[0] - 1
    m = bg_dirs.shape[0]
    starts = np.zeros(n_leaves + 1, dtype=np.int64)
    masks = np.empty(n_leaves * m, dtype=np.uint64)
    counts = np.empty(n_leaves * m, dtype=np.float64)
    buf = np.empty(m, dtype=np.uint64)
    pos = 0
    for i in range(n_leaves):
        n_slots = player_start[i + 1] - player_start[i]
        for r in range(m):
            buf[r] = _path_mask(bg_dirs, r, path_start[i], path_start[i + 1], n_slots,
                                path_node, path_left, path_slot)  # fmt: skip
        buf.sort()
        r = 0
        while r < m:
            q = r
            while q < m and buf[q] == buf[r]:
                q += 1
            masks[pos] = buf[r]
            counts[pos] = q - r
            pos += 1
            r = q
        starts[i + 1] = pos
    return starts, masks[:pos].copy(), counts[:pos].copy()


@njit(cache=True, nogil=True)
def leaf_treeshap(
    x_dirs: np.ndarray,
    start: int,
    stop: int,
    phi_all: np.ndarray,
    n_background: int,
    weights: np.ndarray,
    leaf_node: np.ndarray,
    leaf_tree: np.ndarray,
    path_start: np.ndarray,
    path_node: np.ndarray,
    path_left: np.ndarray,
    path_slot: np.ndarray,
    player_start: np.ndarray,
    slot_player: np.ndarray,
    hist_start: np.ndarray,
    hist_mask: np.ndarray,
    hist_count: np.ndarray,
    values: np.ndarray,
    tree_output: np.ndarray,
    max_players: int,
) -> None:
    """Interventional TreeSHAP from leaf tables for rows ``start..stop-1`` (``x_dirs`` from
    :func:`node_directions`, indexed by row); writes ``phi_all (n, n_players, k)``."""
    k = values.shape[1]
    acc_a = np.zeros(max_players + 1)
    acc_b = np.zeros(max_players + 1)
    for i in range(start, stop):
        for leaf in range(leaf_node.shape[0]):
            n_slots = player_start[leaf + 1] - player_start[leaf]
            if n_slots == 0:
                continue
            full = (np.uint64(1) << np.uint64(n_slots)) - np.uint64(1)
            xmask = _path_mask(x_dirs, i, path_start[leaf], path_start[leaf + 1], n_slots,
                               path_node, path_left, path_slot)  # fmt: skip
            for s in range(n_slots):
                acc_a[s] = 0.0
                acc_b[s] = 0.0
            hit = False
            for h in range(hist_start[leaf], hist_start[leaf + 1]):
                rmask = hist_mask[h]
                if (xmask | rmask) != full:
                    continue
                a_set = xmask & ~rmask
                b_set = rmask & ~xmask
                if a_set == 0 and b_set == 0:
                    continue
                hit = True
                a = 0
                b = 0
                for s in range(n_slots):
                    bit = np.uint64(1) << np.uint64(s)
                    if a_set & bit:
                        a += 1
                    elif b_set & bit:
                        b += 1
                cnt = hist_count[h]
                wa = cnt * weights[a - 1, b] if a > 0 else 0.0
                wb = cnt * weights[a, b - 1] if b > 0 else 0.0
                for s in range(n_slots):
                    bit = np.uint64(1) << np.uint64(s)
                    if a_set & bit:
                        acc_a[s] += wa
                    elif b_set & bit:
                        acc_b[s] += wb
            if not hit:
                continue
            node = leaf_node[leaf]
            c0 = tree_output[leaf_tree[leaf]]
            c1 = c0 + 1
            if c0 < 0:
                c0 = 0
                c1 = k
            for s in range(n_slots):
                p = slot_player[player_start[leaf] + s]
                w = (acc_a[s] - acc_b[s]) / n_background
                if w != 0.0:
                    for c in range(c0, c1):
                        phi_all[i, p, c] += values[node, c] * w
