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

Call sites branch on the decision kind themselves, ``numeric_left`` (scalars) for numeric
splits and ``categorical_left`` (bitset arrays) otherwise: one function taking the node
arrays is not inlined by LLVM, and passing the arrays costs ~30 ns per node (docs/trees.md).
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
#: XGBoost categorical: NaN or negative go the default way; ``int(x)`` in the node's set
#: (stored in ``cat_left``) goes right, any other category left.
DEC_CAT_XGBOOST = 6

_LGBM_ZERO = 1e-35


@njit(cache=True, inline="always")
def _in_bitset(words: np.ndarray, start: int, n_words: int, value: int) -> bool:
    w = value >> 5
    if w >= n_words:
        return False
    return (words[start + w] >> np.uint32(value & 31)) & np.uint32(1) == np.uint32(1)


#: Decision kinds up to this one read only the node's threshold and default direction.
LAST_NUMERIC = DEC_LE_ZERO_MISSING


@njit(cache=True)
def numeric_left(kind: int, v: float, threshold: float, default_left: bool) -> bool:
    """Whether value ``v`` goes left at a numeric split (``kind <= LAST_NUMERIC``)."""
    if kind == DEC_LE:
        if np.isnan(v):
            return default_left
        return v <= threshold
    if kind == DEC_LT:
        if np.isnan(v):
            return default_left
        return v < threshold
    if np.isnan(v):  # LightGBM reads NaN as 0.0 (DEC_LE_NAN_AS_ZERO, DEC_LE_ZERO_MISSING)
        v = 0.0
    if kind == DEC_LE_ZERO_MISSING and abs(v) <= _LGBM_ZERO:
        return default_left
    return v <= threshold


@njit(cache=True)
def categorical_left(
    kind: int,
    n: int,
    v: float,
    default_left: bool,
    cat_left: np.ndarray,
    cat_known: np.ndarray,
    cat_nwords: np.ndarray,
    cat_words: np.ndarray,
) -> bool:
    """Whether value ``v`` goes left at categorical node ``n`` (``kind > LAST_NUMERIC``)."""
    if kind == DEC_CAT_LIGHTGBM:  # int(v) truncates: -0.5 is category 0, as in LightGBM
        if np.isnan(v) or v <= -1.0 or v >= 2147483647.0:
            return False
        return _in_bitset(cat_words, cat_left[n], cat_nwords[n], int(v))
    if kind == DEC_CAT_XGBOOST:
        if np.isnan(v) or v < 0.0 or v >= 2147483647.0:
            return default_left
        return not _in_bitset(cat_words, cat_left[n], cat_nwords[n], int(v))
    # DEC_CAT_HGB
    if np.isnan(v) or v < 0.0 or v >= 2147483647.0:
        return default_left
    c = int(v)
    if _in_bitset(cat_words, cat_left[n], cat_nwords[n], c):
        return True
    if _in_bitset(cat_words, cat_known[n], cat_nwords[n], c):
        return False
    return default_left


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
                v = X[i, feature[node]]
                kind = decision[node]
                if kind <= LAST_NUMERIC:
                    go = numeric_left(kind, v, threshold[node], default_left[node])
                else:
                    go = categorical_left(kind, node, v, default_left[node], cat_left,
                                          cat_known, cat_nwords, cat_words)  # fmt: skip
                node = left[node] if go else right[node]
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
                        kind = decision[node]
                        if kind <= LAST_NUMERIC:
                            go_x = numeric_left(kind, x[f], threshold[node], default_left[node])
                            go_r = numeric_left(kind, b_row[f], threshold[node],
                                                default_left[node])  # fmt: skip
                        else:
                            go_x = categorical_left(kind, node, x[f], default_left[node],
                                                    cat_left, cat_known, cat_nwords,
                                                    cat_words)  # fmt: skip
                            go_r = categorical_left(kind, node, b_row[f], default_left[node],
                                                    cat_left, cat_known, cat_nwords,
                                                    cat_words)  # fmt: skip
                        if mark == 1:
                            st_node[sp] = left[node] if go_x else right[node]
                            continue
                        if mark == 2:
                            st_node[sp] = left[node] if go_r else right[node]
                            continue
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
