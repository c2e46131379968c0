"""Interventional TreeSHAP by leaf patterns: the background is read once per leaf, and an
explained row costs a lookup per leaf and path player, whatever the background's size.

The kernels and the algebra are in :mod:`shapkit._kernels.leaf_tables`. This module cuts
the leaves into blocks whose working memory stays under :data:`BLOCK_BYTES` and decides,
per leaf, between a *table* (built in ``O(k^2 2^k)`` from the background histogram, then
``O(k)`` per explained row) and the background's *pattern list* (``O(distinct patterns x
k)`` per explained row), by which costs less for the rows at hand.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import numpy as np

from .._kernels.leaf_tables import (
    background_patterns,
    build_path_tables,
    build_tables,
    distinct_counts,
    explain_rows,
    leaf_paths,
    reached_sums,
    slot_cover_shares,
)
from .._kernels.treeshap import shapley_weights
from ..trees.ensemble import run_row_chunks

__all__ = [
    "BLOCK_BYTES",
    "MAX_PATH_TABLE_SLOTS",
    "MAX_PATH_TABLE_WORK",
    "MAX_PATTERN_SLOTS",
    "MAX_TABLE_SLOTS",
    "leaf_pattern_shapley",
    "path_table_shapley",
]

#: Most distinct players a leaf's path may test (patterns are int64 bit masks).
MAX_PATTERN_SLOTS = 62
#: Most distinct players for a dense histogram and a table (a table is ``2^k x k`` floats:
#: 8 MiB at k = 16).
MAX_TABLE_SLOTS = 16
#: Working memory of one block of leaves (histograms, tables, pattern lists).
BLOCK_BYTES = 64 * 2**20
#: Most distinct players of a leaf for path-dependent tables (each entry costs O(k^2)).
MAX_PATH_TABLE_SLOTS = 12
#: Most table-building work (sum over leaves of ``k^2 2^k``) for path-dependent tables:
#: ~0.1 s. Deeper ensembles take the path algorithm, whose cost is per row; the choice
#: depends on the model only, so it never depends on how rows are chunked.
MAX_PATH_TABLE_WORK = 2e8


def leaf_pattern_shapley(
    ens: Any,
    x: np.ndarray,
    b: np.ndarray,
    players: np.ndarray,
    n_players: int,
    out: np.ndarray,
    tables: str = "auto",
    base: np.ndarray | None = None,
) -> bool:
    """Add the exact interventional Shapley values of ``ens`` on rows ``x`` against the
    background ``b`` into ``out (n, n_players, k)``.

    ``x`` and ``b`` are prepared (:meth:`TreeEnsemble.prepare`); ``players[f]`` is column
    f's player. ``tables``: ``"auto"`` (per leaf, the cheaper of a table and the pattern
    list), ``"always"`` (a table for every leaf of at most :data:`MAX_TABLE_SLOTS`
    players) or ``"never"`` (pattern lists only). ``base`` (``(k,)``), when given, gets
    the background's mean sum of leaf values added, read from the same patterns (the
    rows whose pattern at a leaf is full reach it). Returns False, with ``out`` and
    ``base`` untouched, when a path tests more than :data:`MAX_PATTERN_SLOTS` players.
    """
    paths = leaf_paths(ens.feature, ens.left, ens.right, ens.roots, players, n_players)
    if int(paths[-1]) > MAX_PATTERN_SLOTS:
        return False
    n_slots = np.diff(paths[6])
    dense = n_slots <= MAX_TABLE_SLOTS
    reached = np.zeros(ens.n_outputs)
    for leaf0, leaf1 in _blocks(n_slots, dense, b.shape[0]):
        _explain_block(ens, x, b, paths, leaf0, leaf1, out, tables, reached)
    if base is not None:
        base += reached / b.shape[0]
    return True


class BlockPatterns(NamedTuple):
    """The background as a block of leaves sees it: the nodes on the block's paths
    (``used[n - n0]``), each leaf's slot count ``ks``, the dense histograms (leaves of
    ``ks <= MAX_TABLE_SLOTS``, at ``hist_off``) and every leaf's distinct patterns with
    their counts (``starts``, ``masks``, ``counts``, as :func:`distinct_counts`)."""

    n0: int
    used: np.ndarray
    ks: np.ndarray
    dense: np.ndarray
    hist_off: np.ndarray
    hist: np.ndarray
    starts: np.ndarray
    masks: np.ndarray
    counts: np.ndarray


def read_background(
    ens: Any, b: np.ndarray, paths: tuple, leaf0: int, leaf1: int
) -> BlockPatterns:
    """Read the prepared background rows ``b`` into the patterns of leaves
    ``leaf0..leaf1-1`` (in parallel over background rows)."""
    (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
     slot_player, max_slots) = paths  # fmt: skip
    node_args = _split_arrays(ens)
    path_args = (path_start, path_node, path_left, path_slot, player_start)
    m = b.shape[0]
    n0, used = _used_nodes(path_node[path_start[leaf0] : path_start[leaf1]])
    ks = np.diff(player_start[leaf0:leaf1 + 1])
    dense = (ks <= MAX_TABLE_SLOTS) & (ks > 0)
    listed = ~dense & (ks > 0)
    hist_off = _offsets(np.where(dense, 2**ks, 0), dense)
    list_off = _offsets(np.where(listed, m, 0), listed)
    hist = np.zeros(int(np.sum(np.where(dense, 2**ks, 0))))
    patterns = np.empty(int(listed.sum()) * m, dtype=np.int64)
    lock = threading.Lock()

    def count(start: int, stop: int) -> None:
        local = np.zeros_like(hist)
        background_patterns(b, start, stop, n0, used, leaf0, leaf1, hist_off, local,
                            list_off, patterns, *path_args, *node_args)  # fmt: skip
        with lock:
            hist[:] += local

    path_length = float(path_start[leaf1] - path_start[leaf0])
    run_row_chunks(count, m, work_per_row=path_length)
    starts, masks, counts = distinct_counts(ks, hist_off, hist, list_off, patterns, m)
    return BlockPatterns(n0, used, ks, dense, hist_off, hist, starts, masks, counts)


def _explain_block(
    ens: Any, x: np.ndarray, b: np.ndarray, paths: tuple, leaf0: int, leaf1: int,
    out: np.ndarray, tables: str, reached: np.ndarray,
) -> None:  # fmt: skip
    """Leaves ``leaf0..leaf1-1``: read the background, build the tables that pay, add the
    leaves' values of every row of x to ``out``, and each leaf's value times the
    background rows that reach it to ``reached``."""
    (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
     slot_player, max_slots) = paths  # fmt: skip
    node_args = _split_arrays(ens)
    path_args = (path_start, path_node, path_left, path_slot, player_start)
    n, m = x.shape[0], b.shape[0]
    n0, used, ks, dense, hist_off, hist, starts, masks, counts = read_background(
        ens, b, paths, leaf0, leaf1
    )
    reached_sums(leaf0, leaf1, starts, masks, counts, player_start, leaf_node, leaf_tree,
                 ens.values, ens.tree_output, m, reached)  # fmt: skip
    path_length = float(path_start[leaf1] - path_start[leaf0])
    table_size = np.where(dense, 2**ks * ks, 0)
    if tables == "never":
        use = np.zeros_like(dense)
    elif tables == "always":
        use = dense
    else:  # a build of k (k + 1) 2^k and k per row, against k + 2 per row and pattern
        use = dense & (ks * (ks + 1) * 2.0**ks + n * ks < n * np.diff(starts) * (ks + 2.0))
    table_off = _offsets(np.where(use, table_size, 0), use)
    table = np.empty(int(np.sum(np.where(use, table_size, 0))))
    weights = shapley_weights(max(int(max_slots), 1))
    scale = 1.0 / m
    if use.any():
        run_row_chunks(
            lambda lo, hi: build_tables(lo, hi, ks, hist_off, hist, table_off, table,
                                        weights, scale),  # fmt: skip
            leaf1 - leaf0,
            work_per_row=float(np.mean(np.where(use, table_size * (ks + 1), 1))),
        )
    run_row_chunks(
        lambda lo, hi: explain_rows(
            x, lo, hi, out, n0, used, leaf0, leaf1, table_off, table, starts, masks, counts,
            scale, weights, leaf_node, leaf_tree, *path_args, slot_player, ens.values,
            ens.tree_output, int(max_slots), *node_args,
        ),
        n,
        work_per_row=path_length + masks.shape[0],
        chunks_per_thread=1,
    )


def path_table_shapley(
    ens: Any, x: np.ndarray, players: np.ndarray, n_players: int, out: np.ndarray
) -> bool:
    """Add the exact path-dependent Shapley values of ``ens`` on prepared rows ``x`` into
    ``out (n, n_players, k)`` by per-leaf tables indexed by the row's pattern. Returns
    False, with ``out`` untouched, when a leaf tests more than
    :data:`MAX_PATH_TABLE_SLOTS` players or the tables would cost more than
    :data:`MAX_PATH_TABLE_WORK` to build (then the path algorithm runs)."""
    paths = leaf_paths(ens.feature, ens.left, ens.right, ens.roots, players, n_players)
    (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
     slot_player, max_slots) = paths  # fmt: skip
    n_slots = np.diff(player_start)
    if int(max_slots) > MAX_PATH_TABLE_SLOTS:
        return False
    if float(np.sum(n_slots**2 * 2.0**n_slots)) > MAX_PATH_TABLE_WORK:
        return False
    shares = slot_cover_shares(path_start, path_node, path_left, path_slot, player_start,
                               ens.left, ens.right, ens.cover)  # fmt: skip
    for leaf0, leaf1 in _blocks(n_slots, np.ones(n_slots.shape[0], dtype=bool), 0):
        _explain_path_block(ens, x, paths, shares, leaf0, leaf1, out)
    return True


def _explain_path_block(
    ens: Any, x: np.ndarray, paths: tuple, shares: np.ndarray, leaf0: int, leaf1: int,
    out: np.ndarray,
) -> None:  # fmt: skip
    """Leaves ``leaf0..leaf1-1``: build their path-dependent tables, add the values of
    every row of x to ``out``."""
    (leaf_node, leaf_tree, path_start, path_node, path_left, path_slot, player_start,
     slot_player, max_slots) = paths  # fmt: skip
    if path_start[leaf1] == path_start[leaf0]:  # single-leaf trees: constants, no player
        return
    ks = np.diff(player_start[leaf0 : leaf1 + 1])
    use = ks > 0
    table_off = _offsets(np.where(use, 2**ks * ks, 0), use)
    table = np.empty(int(np.sum(np.where(use, 2**ks * ks, 0))))
    weights = shapley_weights(max(int(max_slots), 1))
    run_row_chunks(
        lambda first, last: build_path_tables(first, last, leaf0, ks, player_start, shares,
                                              table_off, table, weights),  # fmt: skip
        leaf1 - leaf0,
        work_per_row=float(np.mean(np.where(use, ks**2 * 2.0**ks, 0.0))),
    )
    n0, used = _used_nodes(path_node[path_start[leaf0] : path_start[leaf1]])
    node_args = _split_arrays(ens)
    no_lists = (np.zeros(leaf1 - leaf0 + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                np.zeros(0))  # fmt: skip
    run_row_chunks(
        lambda lo, hi: explain_rows(
            x, lo, hi, out, n0, used, leaf0, leaf1, table_off, table, *no_lists, 1.0,
            weights, leaf_node, leaf_tree, path_start, path_node, path_left, path_slot,
            player_start, slot_player, ens.values, ens.tree_output, int(max_slots),
            *node_args,
        ),
        x.shape[0],
        work_per_row=float(path_start[leaf1] - path_start[leaf0]),
        chunks_per_thread=1,
    )


def _split_arrays(ens: Any) -> tuple[np.ndarray, ...]:
    """The node arrays a split test reads: feature, threshold, default direction,
    decision kind and the categorical bitsets."""
    arrays = ens.kernel_arrays()
    return (arrays[0], arrays[1], arrays[4], arrays[5], *arrays[6:10])


def _used_nodes(block_nodes: np.ndarray) -> tuple[int, np.ndarray]:
    """``(n0, used)``: ``used[n - n0]`` marks the nodes on a block's paths."""
    n0 = int(block_nodes.min()) if block_nodes.size else 0
    used = np.zeros(int(block_nodes.max()) + 1 - n0 if block_nodes.size else 0, dtype=bool)
    used[block_nodes - n0] = True
    return n0, used


def _offsets(sizes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Start of each present entry in a concatenation of ``sizes``; -1 where absent."""
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    return np.where(present, starts, -1).astype(np.int64)


def _blocks(n_slots: np.ndarray, dense: np.ndarray, m: int) -> list[tuple[int, int]]:
    """Consecutive leaf ranges whose working memory is at most :data:`BLOCK_BYTES` (a
    leaf alone may exceed it): per dense leaf its histogram, a possible table and pattern
    list (``2^k (k + 4)`` floats), per other leaf its background patterns and their list
    (``3 m``)."""
    per_leaf = np.where(dense, 2.0**n_slots * (n_slots + 4), 3.0 * m) * 8.0
    per_leaf[n_slots == 0] = 0.0
    ends = np.cumsum(per_leaf)
    bounds = [0]
    while bounds[-1] < n_slots.shape[0]:
        lo = bounds[-1]
        floor = ends[lo - 1] if lo > 0 else 0.0
        hi = int(np.searchsorted(ends, floor + BLOCK_BYTES, side="right"))
        bounds.append(max(hi, lo + 1))
    return list(zip(bounds[:-1], bounds[1:], strict=True))
