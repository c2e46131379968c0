"""``GlobalExplanation``: one importance per feature for a whole data set (SAGE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GlobalExplanation:
    """SAGE values: how much knowing each feature (or group) lowers the model's loss.

    Attributes
    ----------
    values, std_errors : ndarray of shape (d,)
        The values (loss reduction, in the loss's units) and their standard errors
        (0 when exact; ``inf`` where too few batches stand behind them).
    feature_names : list of str
    loss_empty, loss_full : float
        The mean loss with no feature known (the model's mean prediction over the
        background) and with every feature; ``values.sum() == loss_empty - loss_full``.
    loss : str
        The loss's name.
    n_evals : int
        Model rows evaluated.
    method : str
        ``"exact"`` or ``"permutation"``.
    n_rows : int
        Rows of X explained (exact), or row visits (sampled: rows are visited without
        replacement, pass after pass, so this exceeds the rows of X after a pass).
    converged : bool
        Sampled values: whether ``tol`` was met (False when the budget ran out first).
    evaluated_on : str
        Where ``f_S`` came from: ``"model calls"``, or ``"compiled trees (...)"`` for a
        tree model whose output its trees reproduce (the same values, to rounding).
    """

    values: np.ndarray
    std_errors: np.ndarray
    feature_names: list[str]
    loss_empty: float
    loss_full: float
    loss: str
    n_evals: int
    method: str
    n_rows: int
    converged: bool = True
    evaluated_on: str = "model calls"

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal intervals ``values -/+ z std_errors`` at ``level`` (infinite where the
        standard error is)."""
        from scipy.stats import norm

        from .._validation import check_level

        z = float(norm.ppf(0.5 + check_level(level) / 2))
        half = z * self.std_errors
        return self.values - half, self.values + half

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per feature, most important first: ``value``, ``std_error``,
        ``ci_low``, ``ci_high``, ``share`` (of the total loss reduction)."""
        low, high = self.interval(level)
        total = float(self.values.sum())
        share = self.values / total if total != 0 else np.full(self.values.shape, np.nan)
        frame = pd.DataFrame(
            {"value": self.values, "std_error": self.std_errors, "ci_low": low,
             "ci_high": high, "share": share},
            index=pd.Index(self.feature_names, name="feature"),
        )  # fmt: skip
        frame.attrs.update(loss=self.loss, loss_empty=self.loss_empty, loss_full=self.loss_full,
                           method=self.method, n_evals=self.n_evals, level=level)  # fmt: skip
        return frame.sort_values("value", ascending=False, kind="stable")

    def plot(self, ax: Any = None, *, level: float = 0.95, max_features: int = 20) -> Any:
        """Bar plot of the values with their intervals; returns the axes."""
        from ..reports.importance_plots import global_bar

        return global_bar(self, ax=ax, level=level, max_features=max_features)

    def __repr__(self) -> str:
        return (
            f"GlobalExplanation(method={self.method!r}, loss={self.loss!r}, "
            f"n_evals={self.n_evals}, features={len(self.feature_names)}, "
            f"loss_empty={self.loss_empty:.4g}, loss_full={self.loss_full:.4g})"
        )
