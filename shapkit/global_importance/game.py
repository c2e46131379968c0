"""The SAGE game of a batch of rows: ``v_i(S) = -loss(f_S(x_i), y_i)`` for each row i,
with ``f_S(x) = mean_b f(x_S, b_notS)`` over every background row (exact inside the
loss: a sampled mean inside a non-linear loss would bias it).

``f_S(x)`` comes from model calls on the masked rows, or, for a tree model whose output
its compiled trees reproduce (:class:`TreeRows`), from the trees themselves
(:class:`~shapkit.trees.game.LinkedTreeGame`): the same values to rounding, at a small
fraction of the cost per coalition."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._kernels.tree_games import block_entries, block_sums, coalition_bits
from ..games import CALL_BYTES, MIN_ROWS_PER_CALL, MarginalGame, call_model
from ..models.base import Model
from ..tabular import RowMasker
from ..trees.ensemble import run_row_chunks
from ..trees.game import background_directions, directions, node_players
from ..trees.links import (
    LOG_ODDS_EPS,
    MAX_PLAYERS,
    LinkedTrees,
    additive_trees,
    read_linked_trees,
    read_or_none,
)
from .losses import Loss, check_prediction


def read_sage_trees(
    model: Any, adapter: Model, output: str, X: Any, background: Any, n_players: int
) -> LinkedTrees | None:
    """The compiled trees of ``model`` with the link that gives the output the loss
    reads (``adapter``'s), checked on the first rows of the background and of X; None
    for a model without readable trees, more than
    :data:`~shapkit.trees.links.MAX_PLAYERS` players, or an output the trees do not
    reproduce on those rows (the model is then called)."""
    if n_players > MAX_PLAYERS:
        return None
    tm = read_or_none(model)
    if tm is None:
        return None
    linked = read_linked_trees(model, adapter, output, background, tm=tm)
    if linked is None:  # a regressor's prediction, a forest's averaged probabilities
        additive = additive_trees(tm)
        linked = additive if additive.reproduces(adapter, background) else None
    return linked if linked is not None and linked.reproduces(adapter, X) else None


class TreeRows:
    """``f_S(x)`` of the rows of X computed on compiled trees.

    Parameters
    ----------
    linked : LinkedTrees
        From :func:`read_sage_trees`.
    X, background : ndarray or DataFrame
        The user's rows (any columns the model takes).
    column_player : ndarray of int
        The player of each column of X.
    n_players : int
    """

    def __init__(
        self,
        linked: LinkedTrees,
        X: Any,
        background: Any,
        column_player: np.ndarray,
        n_players: int,
    ) -> None:
        self.linked = linked
        self.x = linked.model.features(X)
        self.background = linked.model.features(background)
        self.directions = background_directions(linked, self.background)
        self.node_player = node_players(linked.model, column_player)
        self.n_players = n_players
        self._kept: dict[int, tuple[np.ndarray, ...]] = {}
        self._kept_bytes = 0

    def describe(self) -> str:
        """What the games evaluate, in words."""
        return f"compiled trees ({self.linked.describe()})"

    def entries(self, row: int) -> tuple[np.ndarray, ...]:
        """Row ``row``'s leaf entries against every background row
        (:func:`~shapkit._kernels.tree_games.block_entries`)."""
        ens = self.linked.model.ensemble
        return block_entries(
            directions(ens, self.x[row : row + 1])[0], self.background, self.directions, 0,
            self.background.shape[0], self.node_player, ens.max_depth, *ens.kernel_arrays(),
            ens.base_offset,
        )  # fmt: skip

    def _entries_of(self, row: int) -> tuple[np.ndarray, ...]:
        """:meth:`entries`, kept for later calls (passes revisit rows) while they fit
        :data:`KEPT_ENTRY_BYTES`."""
        entries = self._kept.get(row)
        if entries is None:
            entries = self.entries(row)
            size = sum(a.nbytes for a in entries)
            if self._kept_bytes + size <= KEPT_ENTRY_BYTES:
                self._kept[row] = entries
                self._kept_bytes += size
        return entries

    def predict(self, rows: np.ndarray, masks: np.ndarray, keep: bool = True) -> np.ndarray:
        """``f_S(x)`` of each row at its own coalitions: ``masks`` bool ``(R, m, d)`` ->
        ``(R, m, width)``. Rows run on threads; ``keep``: keep their entries for later
        calls."""
        n_rows, m = masks.shape[0], masks.shape[1]
        bits = coalition_bits(np.ascontiguousarray(masks.reshape(n_rows * m, -1)))
        bits = bits.reshape(n_rows, m)
        sums = np.zeros((n_rows, m, self.linked.width))
        link, log_odds = self.linked.link, self.linked.log_odds

        def run(start: int, stop: int) -> None:
            for i in range(start, stop):
                row = int(rows[i])
                offsets, consts, e_in, e_out, e_value, e_output = (
                    self._entries_of(row) if keep else self.entries(row))
                block_sums(bits[i], self.n_players, link, log_odds, LOG_ODDS_EPS, offsets,
                           consts, e_in, e_out, e_value, e_output, sums[i])  # fmt: skip

        ens = self.linked.model.ensemble
        work = (m + 1) * ens.n_trees * self.background.shape[0]
        run_row_chunks(run, n_rows, work_per_row=work, chunks_per_thread=1)
        return sums / self.background.shape[0]

    def end_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """``f`` with no feature known, ``(width,)`` (the mean over the background), and
        with every feature, ``(n, width)`` (each row's own prediction)."""
        ens = self.linked.model.ensemble
        empty = self.linked.outputs(ens.predict(self.background)).mean(axis=0)
        return empty, self.linked.outputs(ens.predict(self.x))

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_kept": {}, "_kept_bytes": 0}  # workers find their own


def end_values(loss: Loss, trees: TreeRows) -> np.ndarray:
    """Every row's negative loss without and with every feature, ``(2, n)``, from the
    trees' own predictions (no coalition to evaluate)."""
    empty, full = trees.end_predictions()
    check_prediction(loss, full)
    n = full.shape[0]
    without = loss.fn(loss.target, np.broadcast_to(empty, (n, empty.shape[0])))
    return -np.stack([without, loss.fn(loss.target, full)])


#: Predictions computed on the compiled trees per step (rows x coalitions x outputs).
TREE_CELLS = 1 << 20
#: Most bytes of rows' leaf entries a :class:`TreeRows` keeps for later passes.
KEPT_ENTRY_BYTES = 256 << 20


class RowLossGame:
    """Negative per-row losses of the rows ``rows`` of the masker's X: masks
    ``(m, n_players)`` -> values ``(m, len(rows))``; ``mean=True`` returns their mean
    over the rows instead, ``(m, 1)``.

    ``ends`` (``(2, rows of X)``): every row's values at the empty and the full
    coalition, known beforehand; a call with exactly those two masks returns them.

    ``relabel`` (``(len(rows), n_players)``, each row a permutation) gives row i the
    game ``w_i(S) = v_i(relabel_i(S))``: player k of ``v_i`` is present when player
    ``relabel[i, k]`` of the mask is, so ``phi(v_i) = phi(w_i)[relabel[i]]``. An
    estimator that draws one set of coalitions for all the rows then samples each row's
    own game independently of the others' (:func:`unrelabel` maps the values back).

    The model is called on the masked rows of several explained rows at once, at most
    ``max_rows`` (and about ``CALL_BYTES`` of cells) per call. ``n_model_rows`` counts
    the rows it was handed. With ``trees`` (:class:`TreeRows`), each row's ``f_S`` is
    computed on the compiled trees instead, and ``n_model_rows`` counts the masked rows
    a model call would have taken (coalitions x background rows), so budgets mean the
    same on both paths.
    """

    def __init__(
        self,
        model: Model,
        masker: RowMasker,
        rows: np.ndarray,
        loss: Loss,
        column_player: np.ndarray,
        max_rows: int,
        mean: bool = False,
        relabel: np.ndarray | None = None,
        ends: np.ndarray | None = None,
        trees: TreeRows | None = None,
    ) -> None:
        self.model = model
        self.masker = masker
        self.rows = np.asarray(rows, dtype=np.int64)
        self.loss = loss
        self.column_player = np.ascontiguousarray(column_player, dtype=np.int64)
        self.mean = mean
        self.relabel = relabel
        self.ends = ends
        n_columns = max(len(column_player), 1)
        self.rows_per_call = min(max_rows, max(MIN_ROWS_PER_CALL, CALL_BYTES // (8 * n_columns)))
        self.trees = trees
        self.n_model_rows = 0
        self._checked = False

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.ascontiguousarray(masks, dtype=np.bool_)
        if (self.ends is not None and not self.mean and masks.shape[0] == 2
                and not masks[0].any() and masks[1].all()):  # fmt: skip
            return self.ends[:, self.rows]  # known: no model call
        m, n_background = masks.shape[0], self.masker.n_background
        per_row = m * n_background
        losses = np.empty((m, self.rows.size))
        if self.trees is not None:
            self._tree_losses(masks, losses)
            self.n_model_rows += per_row * self.rows.size
            return -losses.mean(axis=1, keepdims=True) if self.mean else -losses
        # explained rows per model call (at least one; a row's rows are split below)
        group = max(1, self.rows_per_call // max(per_row, 1))
        for lo in range(0, self.rows.size, group):
            hi = min(lo + group, self.rows.size)
            if hi - lo == 1 and per_row > self.rows_per_call:
                losses[:, lo] = self._one_row_in_slices(self._masks_of(masks, lo), lo)
                continue
            row_masks = masks if self.relabel is None else np.stack(
                [masks[:, self.relabel[r]] for r in range(lo, hi)])
            data = self.masker.masked_rows_of(self.rows[lo:hi], row_masks, self.column_player)
            predictions = call_model(self.model, data)
            self.n_model_rows += int(data.shape[0])
            means = predictions.reshape(hi - lo, m, n_background, -1).mean(axis=2)
            for r in range(lo, hi):
                losses[:, r] = self._loss(r, means[r - lo])
        out = -losses
        return out.mean(axis=1, keepdims=True) if self.mean else out

    def _tree_losses(self, masks: np.ndarray, losses: np.ndarray) -> None:
        """Fill ``losses`` ``(m, rows)`` from the compiled trees, :data:`TREE_CELLS`
        predictions at a time."""
        assert self.trees is not None
        m, width = masks.shape[0], self.trees.linked.width
        group = max(1, TREE_CELLS // max(m * width, 1))
        for lo in range(0, self.rows.size, group):
            hi = min(lo + group, self.rows.size)
            if self.relabel is None:
                row_masks = np.broadcast_to(masks, (hi - lo, *masks.shape))
            else:
                row_masks = np.stack([masks[:, self.relabel[r]] for r in range(lo, hi)])
            # a game over every row calls each row once per chunk of coalitions
            predictions = self.trees.predict(self.rows[lo:hi], row_masks, keep=not self.mean)
            for r in range(lo, hi):
                losses[:, r] = self._loss(r, predictions[r - lo])

    def _masks_of(self, masks: np.ndarray, r: int) -> np.ndarray:
        """Row r's masks (relabelled)."""
        if self.relabel is None:
            return masks
        return np.ascontiguousarray(masks[:, self.relabel[r]])

    def _one_row_in_slices(self, masks: np.ndarray, r: int) -> np.ndarray:
        """Row r's losses when its masked rows alone exceed one model call: the row's
        marginal game, which calls the model in slices."""
        game = MarginalGame(self.model, self.masker, int(self.rows[r]), self.column_player,
                            self.rows_per_call)  # fmt: skip
        predictions = game(masks)
        self.n_model_rows += masks.shape[0] * self.masker.n_background
        return self._loss(r, predictions)

    def _loss(self, r: int, prediction: np.ndarray) -> np.ndarray:
        if not self._checked:
            check_prediction(self.loss, prediction)
            self._checked = True
        target = np.broadcast_to(self.loss.target[self.rows[r]], (prediction.shape[0],))
        return self.loss.fn(target, prediction)


def unrelabel(values: np.ndarray, relabel: np.ndarray) -> np.ndarray:
    """Values ``(d, K)`` of the relabelled games back to the rows' own players:
    ``phi(v_i) = phi(w_i)[relabel[i]]``.

    Examples
    --------
    >>> unrelabel(np.array([[1.0], [2.0], [3.0]]), np.array([[2, 0, 1]]))[:, 0].tolist()
    [3.0, 1.0, 2.0]
    """
    return np.take_along_axis(values, relabel.T, axis=0)
