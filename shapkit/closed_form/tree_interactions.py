"""Exact interaction values of tree ensembles, from leaf patterns, for any number of
players: interventional (against background rows) and path-dependent (from node covers).

Each leaf's game, for an explained row and a background pattern, is a product game whose
Moebius coefficients are known in closed form, so every index of order at most 2 whose
terms weigh ``m(T)`` by ``|T|`` (SII, k-SII, STII, FSII) has per-leaf coefficients that
depend on two counts only (:mod:`shapkit._kernels.tree_interactions`). A row costs, per
leaf of k players, its distinct background patterns (at most the background rows) times
``k^2`` for the interventional game, and ``O(k^3)`` for the path-dependent one; nothing
enumerates coalitions. The coefficients are computed in exact rational arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from math import comb
from typing import Any

import numpy as np

from .._kernels.leaf_tables import leaf_paths, slot_cover_shares
from .._kernels.path_treeshap import expected_values
from .._kernels.tree_interactions import interaction_rows, path_interaction_rows
from ..interactions.indices import index_weight
from ..trees import TreeModel, TreeNotSupportedError
from ..trees.ensemble import run_row_chunks
from .leaf_tables import (
    MAX_PATTERN_SLOTS,
    MAX_TABLE_SLOTS,
    _blocks,
    _split_arrays,
    _used_nodes,
    read_background,
)
from .tree import check_columns, check_players, check_reproduces

__all__ = ["leaf_coefficients", "tree_interactions"]


@cache
def leaf_coefficients(
    index: str, max_order: int, max_slots: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(main_a, main_b, pair_aa, pair_ab, pair_bb)``, each ``(K + 1, K + 1)`` indexed
    ``[a, b]`` (``K = max_slots``): a leaf's weight in the order-1 term of a slot in A
    or B and in the order-2 term of a pair in A x A, A x B or B x B, when the explicand
    alone passes the A slots and the background row alone the B slots. With ``w_o(t)``
    the index's weight of ``m(T)``, ``|T| = t``, in order-o terms:
    ``main_a = sum_s C(b, s) (-1)^s w_1(a + s)``, ``main_b = sum_s C(b-1, s-1) (-1)^s
    w_1(a + s)``, and the pairs likewise with ``C(b, s)``, ``C(b-1, s-1)``,
    ``C(b-2, s-2)`` and ``w_2``; exact fractions, rounded once.

    Examples
    --------
    >>> main_a, main_b, aa, ab, bb = leaf_coefficients("SII", 2, 2)
    >>> float(main_a[1, 1]), float(main_b[1, 1]), float(ab[1, 1])  # u [1 in S, 2 not in S]
    (0.5, -0.5, -1.0)
    """
    size = max_slots + 1
    tables = [np.zeros((size, size)) for _ in range(5)]
    weight = {
        (order, t): index_weight(index, max_order, order, t)
        for order in (1, 2) for t in range(order, size)
    }  # fmt: skip
    # (table, order, players of the term in B: the binomial's shift)
    plan = ((0, 1, 0), (1, 1, 1), (2, 2, 0), (3, 2, 1), (4, 2, 2))
    for a in range(size):
        for b in range(size - a):
            for table, order, in_b in plan:
                if (order == 1 and a + in_b < 1) or a + in_b < order or b < in_b:
                    continue
                total = Fraction(0)
                for s in range(in_b, b + 1):
                    if a + s >= order:
                        total += comb(b - in_b, s - in_b) * (-1) ** s * weight[order, a + s]
                tables[table][a, b] = float(total)
    main_a, main_b, pair_aa, pair_ab, pair_bb = tables
    return main_a, main_b, pair_aa, pair_ab, pair_bb


def tree_interactions(
    tm: TreeModel,
    X: Any,
    background: Any | None,
    column_player: Sequence[int] | np.ndarray | None = None,
    n_players: int | None = None,
    index: str = "k-SII",
    max_order: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact order-1 and order-2 terms of ``index`` for the trees of ``tm`` on the rows
    of X: of the interventional game against ``background`` rows, or, with
    ``background=None``, of the path-dependent game of node covers (shap's
    ``TreeExplainer(model)``). Groups of columns are players (``column_player``).

    Returns ``main (n, n_players, k)``, ``pairs (n, n_players, n_players, k)``
    (symmetric, zero diagonal), ``base_values (n, k)`` and ``predictions (n, k)``; for
    the efficient indices ``main.sum(1) + pairs.sum((1, 2)) / 2 == predictions - base``
    to rounding.

    Raises
    ------
    TreeNotSupportedError
        A leaf's path tests more than 62 players, or the trees carry no covers
        (path-dependent).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from shapkit.trees import read_tree_model
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> tm = read_tree_model(DecisionTreeRegressor().fit(X, X[:, 0] * X[:, 1]))
    >>> main, pairs, base, pred = tree_interactions(tm, X[3:], X[:1], index="STII")
    >>> main[0, :, 0].tolist(), pairs[0, 0, 1, 0].item()  # v(S) = 1 iff S = {0, 1}
    ([0.0, 0.0], 1.0)
    """
    check_columns(tm, X)
    ens = tm.ensemble
    x = tm.features(X)
    players, n_players = check_players(tm, column_player, n_players)
    paths = leaf_paths(ens.feature, ens.left, ens.right, ens.roots, players, n_players)
    (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
     slot_player, _) = paths  # fmt: skip
    max_slots = int(paths[-1])
    n_slots = np.diff(player_start)
    if max_slots > MAX_PATTERN_SLOTS:
        raise TreeNotSupportedError(
            f"A leaf of this model tests {max_slots} distinct players on its path; exact "
            f"tree interactions read at most {MAX_PATTERN_SLOTS}; use method='proxy' "
            f"(sampled coalitions) for this model."
        )
    n, k = x.shape[0], ens.n_outputs
    main = np.zeros((n, n_players, k))
    pairs = np.zeros((n, n_players, n_players, k))
    coefficients = leaf_coefficients(index, max_order, max(max_slots, 1))
    node_args = _split_arrays(ens)
    path_args = (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot,
                 player_start, slot_player)  # fmt: skip
    if background is None:
        _check_covers(tm)
        shares = slot_cover_shares(path_start, path_node, path_left, path_slot, player_start,
                                   ens.left, ens.right, ens.cover)  # fmt: skip
        b, scale = None, 1.0
    else:
        b = tm.features(background)
        scale = 1.0 / b.shape[0]

    def add_block(n0: int, used: np.ndarray, leaf0: int, leaf1: int, starts: np.ndarray,
                  masks: np.ndarray, weights: np.ndarray) -> None:  # fmt: skip
        run_row_chunks(
            lambda lo, hi: interaction_rows(
                x, lo, hi, main, pairs, n0, used, leaf0, leaf1, starts, masks, weights,
                scale, *coefficients, *path_args, ens.values, ens.tree_output, max_slots,
                *node_args,
            ),
            n,
            work_per_row=float(masks.shape[0]) * max_slots,
            chunks_per_thread=1,  # rows share patterns: one chunk keeps the cache warm
        )

    def add_path_block(n0: int, used: np.ndarray, leaf0: int, leaf1: int) -> None:
        run_row_chunks(
            lambda lo, hi: path_interaction_rows(
                x, lo, hi, main, pairs, n0, used, leaf0, leaf1, shares, coefficients[0],
                coefficients[2], *path_args, ens.values, ens.tree_output, max_slots,
                *node_args,
            ),
            n,
            work_per_row=float(leaf1 - leaf0) * max_slots**2,
            chunks_per_thread=1,  # rows share patterns: one chunk keeps the cache warm
        )

    # the path-dependent game keeps nothing per leaf: one block
    blocks = (
        [(0, n_slots.shape[0])] if b is None
        else _blocks(n_slots, n_slots <= MAX_TABLE_SLOTS, b.shape[0])
    )  # fmt: skip
    for leaf0, leaf1 in blocks:
        if path_start[leaf1] == path_start[leaf0]:
            continue  # single-leaf trees: constants, no player
        if b is None:
            n0, used = _used_nodes(path_node[path_start[leaf0] : path_start[leaf1]])
            add_path_block(n0, used, leaf0, leaf1)
        else:
            block = read_background(ens, b, paths, leaf0, leaf1)
            add_block(block.n0, block.used, leaf0, leaf1, block.starts, block.masks,
                      block.counts)  # fmt: skip
    pairs += np.swapaxes(pairs, 1, 2)  # the kernels fill the cells i < j
    predictions = ens.predict(x, prepared=True)
    check_reproduces(tm, X, predictions)
    if b is None:
        base = expected_values(ens.feature, ens.left, ens.right, ens.values, ens.roots,
                               ens.tree_output, ens.cover) + ens.base_offset  # fmt: skip
    else:
        base = ens.predict(b, prepared=True).mean(axis=0)
    return main, pairs, np.broadcast_to(base, predictions.shape).copy(), predictions


def _check_covers(tm: TreeModel) -> None:
    ens = tm.ensemble
    if not np.all(np.isfinite(ens.cover)) or np.any(ens.cover[ens.roots] <= 0):
        raise TreeNotSupportedError(
            f"{type(tm.estimator).__name__}'s trees carry no node covers, which the "
            f"path-dependent game needs; pass background rows for interventional values."
        )
