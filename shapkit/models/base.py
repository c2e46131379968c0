"""The one model protocol every adapter implements."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Model(Protocol):
    """A model as shapkit sees it: data in, a float64 matrix ``(rows, k)`` out."""

    #: Names of the k outputs (class labels, "prediction", "output_0", ...).
    output_names: list[str]

    def predict(self, data: Any) -> np.ndarray:
        """Outputs for ``data`` (the type of X) as float64 ``(rows, k)``."""
        ...


def as_matrix(raw: Any, n_rows: int, source: str) -> np.ndarray:
    """Turn a model's raw output into float64 ``(rows, k)``, or raise ModelOutputError."""
    from ..exceptions import ModelOutputError

    if hasattr(raw, "to_numpy"):
        raw = raw.to_numpy()
    if np.iscomplexobj(raw):
        raise ModelOutputError(
            f"{source} returned complex numbers; Shapley values need real outputs. Wrap "
            f"the model to return a real quantity (e.g. the modulus or the real part)."
        )
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelOutputError(
            f"{source} returned {type(raw).__name__} that is not numeric ({exc}); "
            f"the model must return numbers of shape (rows,) or (rows, k)."
        ) from exc
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n_rows:
        raise ModelOutputError(
            f"{source} returned shape {np.shape(raw)} for {n_rows} input rows; "
            f"it must return one output per row: shape ({n_rows},) or ({n_rows}, k)."
        )
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).any(axis=1).sum())
        raise ModelOutputError(
            f"{source} returned non-finite values (NaN or inf) for {bad} of {n_rows} rows; "
            f"Shapley values of such outputs are undefined. Check the model on these inputs "
            f"or choose a bounded output (e.g. output='probability')."
        )
    return out
