"""The marginal game of one explained row, evaluated on compiled trees through a link.

:class:`LinkedTreeGame` is the game :class:`shapkit.games.MarginalGame` computes through
the model, ``v(S) = mean_b f(x_S, b_notS)``, for a model whose output ``f`` is
``link(margins)`` of its trees (:mod:`shapkit.trees.links`). It never calls the model:
each background row's pair with ``x`` is read from the trees once, and each coalition
costs the entries where the two rows part, or a table lookup
(:mod:`shapkit._kernels.tree_games`). Estimators take it like any game, so an estimator
with a given seed asks for the same coalitions and gets the same values (to rounding) as
through the model.
"""

from __future__ import annotations

import numpy as np

from .._kernels.tree_games import (
    block_entries,
    block_sums,
    coalition_bits,
    node_directions,
    path_dependent_sums,
)
from ..exceptions import ModelOutputError
from .ensemble import TreeEnsemble, run_row_chunks
from .links import LOG_ODDS_EPS, LinkedTrees
from .readers import TreeModel

__all__ = ["LinkedTreeGame", "PathDependentTreeGame", "directions", "node_players"]

#: Most bytes of the background rows' split directions kept for a chunk of rows (one byte
#: per background row and node); past it, each pair computes them as it walks.
DIRECTION_BYTES = 64 << 20
#: Most bytes of a game's leaf entries kept between its calls (32 bytes per entry, ~4
#: entries per tree and background row on depth-6 boosting); past it, every call walks the
#: trees again.
ENTRY_BYTES = 64 << 20
#: Background rows are summed in this many blocks (fewer for small backgrounds), each on
#: its own accumulator: the values do not depend on the number of threads.
BACKGROUND_BLOCKS = 16


def node_players(tm: TreeModel, column_player: np.ndarray) -> np.ndarray:
    """The player of each node's split column (0 for leaves), int64 ``(n_nodes,)``;
    ``column_player`` gives the player of each input column."""
    players = np.asarray(column_player, dtype=np.int64)
    if tm.feature_column is not None:  # one-hot Pipelines: tree columns -> input columns
        players = players[tm.feature_column]
    feature = tm.ensemble.feature
    return np.ascontiguousarray(np.where(feature >= 0, players[np.maximum(feature, 0)], 0))


def directions(ens: TreeEnsemble, rows: np.ndarray) -> np.ndarray:
    """Where each row (in the trees' columns) goes at each node: uint8 ``(n, n_nodes)``,
    1 for left (:func:`~shapkit._kernels.tree_games.node_directions`)."""
    out = np.empty((rows.shape[0], ens.n_nodes), dtype=np.uint8)
    arrays = (ens.feature, ens.threshold, ens.default_left, ens.decision, ens.cat_left,
              ens.cat_known, ens.cat_nwords, ens.cat_words)  # fmt: skip
    run_row_chunks(
        lambda start, stop: node_directions(rows, start, stop, out, *arrays),
        rows.shape[0],
        work_per_row=ens.n_nodes,
    )
    return out


def background_directions(linked: LinkedTrees, background: np.ndarray) -> np.ndarray:
    """:func:`directions` of the background rows when they fit :data:`DIRECTION_BYTES`,
    else an empty ``(0, n_nodes)`` array (the games then compute them per pair)."""
    n_nodes = linked.model.ensemble.n_nodes
    if background.shape[0] * n_nodes > DIRECTION_BYTES:
        return np.zeros((0, n_nodes), dtype=np.uint8)
    return directions(linked.model.ensemble, background)


class LinkedTreeGame:
    """``v(S) = mean_b link(margins(x_S, b_notS))`` for one explained row.

    Parameters
    ----------
    linked : LinkedTrees
        The trees and their link.
    x : ndarray of shape (n_features,)
        The explained row in the trees' columns (``linked.model.features``).
    background : ndarray of shape (m, n_features)
        Background rows, likewise.
    background_dirs : ndarray of uint8
        :func:`background_directions` of ``background``.
    node_player : ndarray of int
        :func:`node_players`; at most 62 players.
    n_players : int
        Columns of the masks.

    Calls take bool masks ``(M, n_players)`` and return float64 ``(M, linked.width)``.
    """

    def __init__(
        self,
        linked: LinkedTrees,
        x: np.ndarray,
        background: np.ndarray,
        background_dirs: np.ndarray,
        node_player: np.ndarray,
        n_players: int,
    ) -> None:
        self.linked = linked
        self.x_dirs = directions(linked.model.ensemble, x[None, :])[0]
        self.background = background
        self.background_dirs = background_dirs
        self.node_player = node_player
        self.n_players = n_players
        m = background.shape[0]
        n_blocks = min(m, BACKGROUND_BLOCKS)
        self._bounds = np.linspace(0, m, n_blocks + 1).astype(np.int64)
        self._entries: list[tuple[np.ndarray, ...]] | None = None

    def _block_entries(self, block: int) -> tuple[np.ndarray, ...]:
        ens = self.linked.model.ensemble
        return block_entries(
            self.x_dirs, self.background, self.background_dirs, int(self._bounds[block]),
            int(self._bounds[block + 1]), self.node_player, ens.max_depth,
            *ens.kernel_arrays(), ens.base_offset,
        )  # fmt: skip

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        bits = coalition_bits(np.ascontiguousarray(masks, dtype=np.bool_))
        ens = self.linked.model.ensemble
        m = self.background.shape[0]
        n_blocks = self._bounds.shape[0] - 1
        sums = np.zeros((n_blocks, bits.shape[0], self.linked.width))
        kept = self._entries
        walked: list[tuple[np.ndarray, ...] | None] = [None] * n_blocks

        def add_blocks(first: int, last: int) -> None:
            for block in range(first, last):
                entries = kept[block] if kept is not None else self._block_entries(block)
                walked[block] = entries
                offsets, consts, e_in, e_out, e_value, e_output = entries
                block_sums(bits, self.n_players, self.linked.link, self.linked.log_odds,
                           LOG_ODDS_EPS, offsets, consts, e_in, e_out, e_value, e_output,
                           sums[block])  # fmt: skip

        work = bits.shape[0] * ens.n_trees * (m / max(n_blocks, 1))
        run_row_chunks(add_blocks, n_blocks, work_per_row=work)
        if kept is None:
            size = sum(e[2].shape[0] * 32 + e[1].nbytes for e in walked if e is not None)
            if size <= ENTRY_BYTES:  # later calls (sampling rounds) skip the walks
                self._entries = [e for e in walked if e is not None]
        values = sums.sum(axis=0) / m
        if not np.isfinite(values).all():
            raise ModelOutputError(
                f"The model's output ({self.linked.describe()}) overflows float64 on some "
                f"coalitions of this row (margins beyond ~709 for exp); rescale the target "
                f"or explain output='margin'."
            )
        return values


class PathDependentTreeGame:
    """The trees' cover-weighted game of one explained row (path-dependent TreeSHAP's,
    :mod:`shapkit.closed_form.tree_path`): ``v(S)`` follows the row at a node whose player
    is in S, else averages both children by their share of the node's cover; ``v(N)`` is
    the prediction and ``v(empty)`` the cover-weighted mean of the leaves.

    Parameters
    ----------
    model : TreeModel
        The trees, with their covers and base offset.
    x : ndarray of shape (n_features,)
        The explained row in the trees' columns (``model.features``).
    node_player : ndarray of int
        :func:`node_players`; at most 62 players.
    n_players : int
        Columns of the masks.

    Calls take bool masks ``(M, n_players)`` and return float64 ``(M, k)``, walking every
    tree per coalition (``O(coalitions x visited nodes)``).
    """

    def __init__(
        self, model: TreeModel, x: np.ndarray, node_player: np.ndarray, n_players: int
    ) -> None:
        self.model = model
        self.x_dirs = directions(model.ensemble, x[None, :])[0]
        self.node_player = node_player
        self.n_players = n_players

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        bits = coalition_bits(np.ascontiguousarray(masks, dtype=np.bool_))
        ens = self.model.ensemble
        out = np.zeros((bits.shape[0], ens.n_outputs))

        def add(start: int, stop: int) -> None:
            path_dependent_sums(self.x_dirs, bits, start, stop, self.node_player, ens.max_depth,
                                ens.feature, ens.left, ens.right, ens.cover, ens.values,
                                ens.roots, ens.tree_output, out)  # fmt: skip

        run_row_chunks(add, bits.shape[0], work_per_row=ens.n_trees * (ens.max_depth + 1))
        return out + ens.base_offset
