"""``Explanation``: Shapley values of many rows, with their names and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Explanation:
    """Shapley values of explained rows.

    Attributes
    ----------
    values : ndarray of shape (n, d) or (n, d, k)
        Shapley value of each player (feature or group) for each row, per output for
        multi-output models.
    base_values : ndarray of shape (n,) or (n, k)
        ``v(empty set)``: the mean model output over the background.
    std_errors : ndarray, same shape as ``values``
        Standard errors of ``values``; zeros for exact methods.
    data : DataFrame
        The explained rows, with their original columns.
    feature_names : list of str
        Player names (column names, or group names for grouped columns).
    output_names : list of str
        Names of the model outputs (class labels for classifiers).
    method : str
        The estimator used.
    n_evals : ndarray of shape (n,)
        Game evaluations (coalitions) used per row.
    predictions : ndarray of shape (n,) or (n, k)
        The model output for each row; ``base_values + values.sum(1) == predictions``.
    player_columns : dict
        The data columns of each player.
    settings : dict
        Estimator and data settings (method, budget, background size, ...).
    background : DataFrame or None
        The background rows the values are relative to.
    """

    values: np.ndarray
    base_values: np.ndarray
    std_errors: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]
    output_names: list[str]
    method: str
    n_evals: np.ndarray
    predictions: np.ndarray
    player_columns: dict[str, list[Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    background: pd.DataFrame | None = None

    def __len__(self) -> int:
        return self.values.shape[0]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.values.shape)
        return (
            f"Explanation(method={self.method!r}, values {shape}, "
            f"features={self.feature_names[:5]}{'...' if len(self.feature_names) > 5 else ''}, "
            f"outputs={self.output_names})"
        )

    @property
    def is_multi_output(self) -> bool:
        """True when ``values`` has an output axis: shape ``(n, d, k)``."""
        return self.values.ndim == 3

    def _feature_values(self) -> list[list[Any]]:
        """Per row, the value of each player: its cell, or ``col=value; ...`` for groups."""
        rows = []
        for _, record in self.data.iterrows():
            row = []
            for name in self.feature_names:
                columns = self.player_columns.get(name, [name])
                if len(columns) == 1:
                    row.append(record[columns[0]])
                else:
                    row.append("; ".join(f"{c}={record[c]}" for c in columns))
            rows.append(row)
        return rows

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (row, feature, output).

        Columns: ``row`` (X's index label), ``feature``, ``output``, ``feature_value``,
        ``shap_value``, ``std_error``.

        Example
        -------
        >>> import numpy as np, shapkit
        >>> X = np.array([[1.0, 2.0], [0.0, 1.0]])
        >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), X)
        >>> expl.to_frame()[["row", "feature", "shap_value"]].round(2).values.tolist()
        [[0, 'x0', 0.5], [0, 'x1', 1.5], [1, 'x0', -0.5], [1, 'x1', -1.5]]
        """
        values = self.values if self.is_multi_output else self.values[:, :, None]
        errors = self.std_errors if self.is_multi_output else self.std_errors[:, :, None]
        n, d, k = values.shape
        features = self._feature_values()
        index = list(self.data.index)
        return pd.DataFrame(
            {
                "row": np.repeat(np.asarray(index, dtype=object), d * k),
                "feature": np.tile(np.repeat(np.asarray(self.feature_names, dtype=object), k), n),
                "output": np.tile(np.asarray(self.output_names, dtype=object), n * d),
                "feature_value": pd.Series(
                    [features[i][j] for i in range(n) for j in range(d) for _ in range(k)],
                    dtype=object,
                ),
                "shap_value": values.reshape(-1),
                "std_error": errors.reshape(-1),
            }
        )
