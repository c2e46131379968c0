"""Games: the one abstraction every estimator works on, ``v(masks) -> values``.

:class:`CheckedGame` wraps a user's callable and validates what it returns;
:class:`MarginalGame` is the interventional value function of one explained row,
``v(S) = mean_b f(x_S, b_notS)`` over background rows ``b``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._kernels.masking import accumulate_by_coalition
from .exceptions import GameOutputError, ModelCallError, ModelOutputError
from .models.base import Model, tensor_to_numpy
from .tabular import RowMasker

#: Default bound on the rows handed to the model in one call.
DEFAULT_MAX_ROWS = 100_000
#: Calls also stay near this many bytes of 8-byte cells (but at least
#: ``MIN_ROWS_PER_CALL`` rows): buffers of this size are reused by the allocator, while
#: larger ones are mapped fresh from the OS for every call. With a StandardScaler +
#: LogisticRegression pipeline on 30 columns, 100,000-row chunks (24 MB) made the model
#: alone ~10% slower and the whole explanation ~30% slower than 35,000-row chunks.
CALL_BYTES = 8 << 20
MIN_ROWS_PER_CALL = 4096


class CheckedGame:
    """A user game ``fn(masks) -> (m,) or (m, k)`` made safe for estimators.

    Calls return float64 ``(m, k)`` (a torch tensor is detached and copied to the CPU
    first, so one that requires grad is fine); a wrong shape, non-numeric or non-finite output, or
    an output width that changes between calls raises :class:`GameOutputError`.
    ``squeeze`` tells whether the user's game returned 1-D values.
    """

    def __init__(self, fn: Callable[[np.ndarray], Any], n_players: int) -> None:
        if not callable(fn):
            raise TypeError(f"game must be callable as game(masks); got {type(fn).__name__}.")
        self.fn = fn
        self.n_players = n_players
        self.squeeze: bool | None = None
        self.n_outputs: int | None = None

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        m = masks.shape[0]
        view = masks.view()
        view.flags.writeable = False  # the estimator keeps the masks it hands out
        try:
            raw = self.fn(view)
        except ValueError as exc:
            if "read-only" not in str(exc):
                raise
            raise GameOutputError(
                "The game tried to write into its masks argument, which shapkit keeps "
                "and passes read-only; copy it first (masks = masks.copy())."
            ) from exc
        raw = tensor_to_numpy(raw)  # a torch tensor, detached even if it requires grad
        if np.iscomplexobj(raw):
            raise GameOutputError(
                "The game returned complex numbers; Shapley values need real game values "
                "(return e.g. the real part or the modulus explicitly)."
            )
        try:
            values = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise GameOutputError(
                f"The game returned {type(raw).__name__}, which is not numeric ({exc}); "
                f"it must return an array of shape ({m},) or ({m}, k)."
            ) from exc
        squeeze = values.ndim == 1
        if squeeze:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] != m:
            raise GameOutputError(
                f"The game returned shape {np.shape(raw)} for masks of shape {masks.shape}; "
                f"it must return one value per mask: shape ({m},) or ({m}, k)."
            )
        if self.n_outputs is None:
            self.squeeze, self.n_outputs = squeeze, values.shape[1]
        elif (squeeze, values.shape[1]) != (self.squeeze, self.n_outputs):
            raise GameOutputError(
                f"The game returned shape {np.shape(raw)} after earlier calls returned "
                f"{'(m,)' if self.squeeze else f'(m, {self.n_outputs})'}; keep one shape."
            )
        if not np.isfinite(values).all():
            raise GameOutputError(
                "The game returned NaN or inf; Shapley values need finite game values."
            )
        return values


class MarginalGame:
    """Interventional game of explained row ``row``: ``v(S) = mean_b f(x_S, b_notS)``.

    Players are the columns of ``masks``; ``column_player`` maps data columns to them.
    The model sees at most ``max_rows`` masked rows per call (and about ``CALL_BYTES``
    of cells), whatever the number of coalitions or background rows, and the outputs are
    summed per coalition as they arrive, so memory stays bounded.
    """

    def __init__(
        self,
        model: Model,
        masker: RowMasker,
        row: int,
        column_player: np.ndarray,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.model = model
        self.masker = masker
        self.row = row
        self.column_player = np.ascontiguousarray(column_player, dtype=np.int64)
        self.max_rows = max_rows
        self.rows_per_call = min(
            max_rows, max(MIN_ROWS_PER_CALL, CALL_BYTES // (8 * max(len(column_player), 1)))
        )

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.ascontiguousarray(masks, dtype=np.bool_)
        n_background = self.masker.n_background
        n_rows = masks.shape[0] * n_background
        totals: np.ndarray | None = None
        for start in range(0, n_rows, self.rows_per_call):
            stop = min(start + self.rows_per_call, n_rows)
            data = self.masker.masked_rows(self.row, masks, self.column_player, start, stop)
            predictions = call_model(self.model, data)
            del data
            self.masker.release_rows()
            if totals is None:
                totals = np.zeros((masks.shape[0], predictions.shape[1]))
            elif predictions.shape[1] != totals.shape[1]:
                raise ModelOutputError(
                    f"The model returned {predictions.shape[1]} outputs per row after "
                    f"returning {totals.shape[1]}; it must always return the same number."
                )
            accumulate_by_coalition(predictions, start, n_background, totals)
        assert totals is not None
        values = totals / n_background
        if not np.isfinite(values).all():
            raise ModelOutputError(
                "The model's outputs are finite but too large to average over the "
                f"{n_background} background rows (their sum overflows float64, near "
                "1.8e308); rescale the model's output (e.g. predict in thousands or on a "
                "log scale)."
            )
        return values


def call_model(model: Model, data: Any) -> np.ndarray:
    """``model.predict(data)``, re-raising the model's own errors with context."""
    try:
        return model.predict(data)
    except (ModelOutputError, GameOutputError):
        raise
    except Exception as exc:
        dtypes = ""
        if hasattr(data, "dtypes"):
            dtypes = ", ".join(f"{c}: {t}" for c, t in data.dtypes.items())
            dtypes = f" with column dtypes {{{dtypes}}}"
        elif hasattr(data, "dtype"):
            dtypes = f" of dtype {data.dtype}"
        raise ModelCallError(
            f"The model raised {type(exc).__name__}: {exc}\n"
            f"shapkit called it on a {type(data).__name__} of shape {data.shape}{dtypes}, "
            f"the same type, columns and dtypes as the X you passed. If the model cannot "
            f"take these columns (e.g. strings), pass the Pipeline that encodes them, or "
            f"encode X before explaining."
        ) from exc
