"""The SAGE game of a batch of rows: ``v_i(S) = -loss(f_S(x_i), y_i)`` for each row i,
with ``f_S(x) = mean_b f(x_S, b_notS)`` over every background row (exact inside the
loss: a sampled mean inside a non-linear loss would bias it)."""

from __future__ import annotations

import numpy as np

from ..games import CALL_BYTES, MIN_ROWS_PER_CALL, MarginalGame, call_model
from ..models.base import Model
from ..tabular import RowMasker
from .losses import Loss, check_prediction


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
    the rows it was handed.
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
