"""Numba kernel of path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2).

The game is the trees' own conditional expectation: ``v(S)`` follows x's branch at a node
whose player is in S and otherwise averages both children weighted by their covers (the
training rows, or hessian sums, each node saw). No background is read.

Each tree is walked once per row, keeping the *unique path* of players met from the root:
per element its player, the fraction of covers that reached it (``zero``: the player not
in S) and whether x went that way (``one``: the player in S), and the permutation weights
of the subsets of the path (``weight``). Entering a node extends the path; a player met a
second time is first unwound (its earlier fractions multiply into the new ones). At a leaf
each path element gets ``value x (one - zero) x sum of the weights with it unwound``.
``O(leaves x depth^2)`` per tree and row.

The recursion is an explicit stack with one path copy per depth (``levels``); like the
other tree kernels it works on a row range and releases the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .treeshap import LAST_NUMERIC, categorical_left, numeric_left


@njit(cache=True, inline="always")
def _extend(pd_, pz, po, pw, lv, length, p_zero, p_one, player):  # noqa: ANN001, ANN202
    """Append (player, p_zero, p_one) to the path of level ``lv`` (``length`` elements)."""
    pd_[lv, length] = player
    pz[lv, length] = p_zero
    po[lv, length] = p_one
    pw[lv, length] = 1.0 if length == 0 else 0.0
    for i in range(length - 1, -1, -1):
        pw[lv, i + 1] += p_one * pw[lv, i] * (i + 1) / (length + 1)
        pw[lv, i] = p_zero * pw[lv, i] * (length - i) / (length + 1)


@njit(cache=True, inline="always")
def _unwound_sum(pz, po, pw, lv, length, k):  # noqa: ANN001, ANN202
    """Sum of the path's weights with element k unwound (the path is left unchanged)."""
    zero = pz[lv, k]
    one = po[lv, k]
    total = 0.0
    if one != 0.0:
        nxt = pw[lv, length - 1]
        for j in range(length - 2, -1, -1):
            tmp = nxt * length / ((j + 1) * one)
            total += tmp
            nxt = pw[lv, j] - tmp * zero * (length - 1 - j) / length
    elif zero != 0.0:
        for j in range(length - 2, -1, -1):
            total += pw[lv, j] * length / (zero * (length - 1 - j))
    return total


@njit(cache=True, inline="always")
def _unwind(pd_, pz, po, pw, lv, length, k):  # noqa: ANN001, ANN202
    """Remove element k from the path of level ``lv`` in place (``length - 1`` remain)."""
    zero = pz[lv, k]
    one = po[lv, k]
    nxt = pw[lv, length - 1]
    for j in range(length - 2, -1, -1):
        if one != 0.0:
            tmp = pw[lv, j]
            pw[lv, j] = nxt * length / ((j + 1) * one)
            nxt = tmp - pw[lv, j] * zero * (length - 1 - j) / length
        else:
            pw[lv, j] = pw[lv, j] * length / (zero * (length - 1 - j))
    for j in range(k, length - 1):
        pd_[lv, j] = pd_[lv, j + 1]
        pz[lv, j] = pz[lv, j + 1]
        po[lv, j] = po[lv, j + 1]


@njit(cache=True, nogil=True)
def path_dependent_treeshap(
    X: np.ndarray,
    start: int,
    stop: int,
    phi: np.ndarray,
    feature_player: np.ndarray,
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
    cover: np.ndarray,
) -> None:
    """Add the path-dependent Shapley values of rows ``start..stop-1`` of X to
    ``phi (n, n_players, k)``; ``feature_player[f]`` is column f's player."""
    k_out = values.shape[1]
    levels = max_depth + 2
    width = max_depth + 2
    pd_ = np.zeros((levels, width), dtype=np.int64)
    pz = np.zeros((levels, width))
    po = np.zeros((levels, width))
    pw = np.zeros((levels, width))
    plen = np.zeros(levels, dtype=np.int64)
    st_node = np.zeros(levels, dtype=np.int64)
    st_zero = np.zeros(levels)
    st_one = np.zeros(levels)
    st_player = np.zeros(levels, dtype=np.int64)
    st_state = np.zeros(levels, dtype=np.int64)  # 0: enter, 1: hot child done, 2: both done
    st_hot = np.zeros(levels, dtype=np.int64)
    st_cold = np.zeros(levels, dtype=np.int64)
    st_iz = np.zeros(levels)
    st_io = np.zeros(levels)
    for i in range(start, stop):
        for t in range(roots.shape[0]):
            c0 = tree_output[t]
            c1 = c0 + 1
            if c0 < 0:
                c0 = 0
                c1 = k_out
            plen[0] = 0
            lv = 1
            st_node[1] = roots[t]
            st_zero[1] = 1.0
            st_one[1] = 1.0
            st_player[1] = -1
            st_state[1] = 0
            while lv >= 1:
                node = st_node[lv]
                if st_state[lv] == 0:
                    # the parent's (unwound) path, extended by this node's edge
                    length = plen[lv - 1]
                    for j in range(length):
                        pd_[lv, j] = pd_[lv - 1, j]
                        pz[lv, j] = pz[lv - 1, j]
                        po[lv, j] = po[lv - 1, j]
                        pw[lv, j] = pw[lv - 1, j]
                    _extend(pd_, pz, po, pw, lv, length, st_zero[lv], st_one[lv], st_player[lv])
                    length += 1
                    plen[lv] = length
                    f = feature[node]
                    if f < 0:  # a leaf: every path element but the root's gets its share
                        for e in range(1, length):
                            scale = _unwound_sum(pz, po, pw, lv, length, e)
                            scale *= po[lv, e] - pz[lv, e]
                            if scale != 0.0:
                                p = pd_[lv, e]
                                for c in range(c0, c1):
                                    phi[i, p, c] += scale * values[node, c]
                        lv -= 1
                        continue
                    kind = decision[node]
                    if kind <= LAST_NUMERIC:
                        go = numeric_left(kind, X[i, f], threshold[node], default_left[node])
                    else:
                        go = categorical_left(kind, node, X[i, f], default_left[node],
                                              cat_left, cat_known, cat_nwords,
                                              cat_words)  # fmt: skip
                    st_hot[lv] = left[node] if go else right[node]
                    st_cold[lv] = right[node] if go else left[node]
                    player = feature_player[f]
                    iz = 1.0
                    io = 1.0
                    for e in range(1, length):
                        if pd_[lv, e] == player:
                            iz = pz[lv, e]
                            io = po[lv, e]
                            _unwind(pd_, pz, po, pw, lv, length, e)
                            plen[lv] = length - 1
                            break
                    st_iz[lv] = iz
                    st_io[lv] = io
                    st_state[lv] = 1
                    child = st_hot[lv]
                    one = io
                else:
                    if st_state[lv] == 2:
                        lv -= 1
                        continue
                    st_state[lv] = 2
                    child = st_cold[lv]
                    one = 0.0
                total = cover[node]
                zero = st_iz[lv] * cover[child] / total if total > 0.0 else 0.0
                if zero == 0.0 and one == 0.0:
                    continue  # a subtree neither x nor the covers reach adds nothing
                st_node[lv + 1] = child
                st_zero[lv + 1] = zero
                st_one[lv + 1] = one
                st_player[lv + 1] = feature_player[feature[node]]
                st_state[lv + 1] = 0
                lv += 1


@njit(cache=True)
def expected_values(
    feature: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    values: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    cover: np.ndarray,
) -> np.ndarray:
    """The trees' cover-weighted mean leaf value summed per output, ``(k,)``: ``v(empty)``
    of the path-dependent game."""
    k_out = values.shape[1]
    out = np.zeros(k_out)
    stack = np.empty(feature.shape[0] + 1, dtype=np.int64)
    for t in range(roots.shape[0]):
        c0 = tree_output[t]
        c1 = c0 + 1
        if c0 < 0:
            c0 = 0
            c1 = k_out
        root_cover = cover[roots[t]]
        sp = 0
        stack[0] = roots[t]
        while sp >= 0:
            node = stack[sp]
            sp -= 1
            if feature[node] < 0:
                share = cover[node] / root_cover if root_cover > 0.0 else 0.0
                for c in range(c0, c1):
                    out[c] += share * values[node, c]
                continue
            stack[sp + 1] = left[node]
            stack[sp + 2] = right[node]
            sp += 2
    return out
