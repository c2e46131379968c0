"""The flat table of values: one row per explained row, one column per number.

The one encoder of the column names shared by the Dask backend, the command line,
resumable runs and Parquet files::

    base_value, shap_value:<feature>..., std_error:<feature>..., prediction, n_evals

With several outputs every name but ``n_evals`` gets an ``:<output>`` suffix
(``shap_value:<feature>:<output>``, feature-major). Where two names would read the same
(a feature ``"a:b"`` beside a feature ``"a"`` and an output ``"b"``), that group of
columns is named by position instead: ``shap_value#<j>`` or ``shap_value#<j>,<c>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "explanation_frame",
    "flat_frame",
    "labelled_names",
    "unflatten",
    "value_columns",
    "value_names",
]


def labelled_names(prefix: str, labels: Sequence[Any]) -> list[str]:
    """``prefix:<label>`` for each label; ``prefix#<j>`` for all when two would clash."""
    names = [f"{prefix}:{label}" for label in labels]
    if len(set(names)) < len(names):
        names = [f"{prefix}#{j}" for j in range(len(labels))]
    return names


def value_names(
    prefix: str, player_names: Sequence[Any], output_names: Sequence[Any] | None
) -> list[str]:
    """Names of the ``(player, output)`` columns in player-major order; one column per
    player (no output suffix) when ``output_names`` is None."""
    if output_names is None:
        return labelled_names(prefix, player_names)
    names = [f"{prefix}:{p}:{o}" for p in player_names for o in output_names]
    if len(set(names)) < len(names):
        k = len(output_names)
        names = [f"{prefix}#{i // k},{i % k}" for i in range(len(names))]
    return names


def output_names_or_none(output_names: Sequence[Any], n_outputs: int) -> list[Any] | None:
    """The output labels a flat table suffixes its names with: None for one output,
    else the labels (positions where the model named fewer outputs than it returned)."""
    if n_outputs == 1:
        return None
    return list(output_names) if len(output_names) == n_outputs else list(range(n_outputs))


def value_columns(
    player_names: Sequence[Any], output_names: Sequence[Any], n_outputs: int
) -> list[str]:
    """Every column name of the flat table, in order (see the module docstring)."""
    outputs = output_names_or_none(output_names, n_outputs)
    per_output = ["base_value"] if outputs is None else labelled_names("base_value", outputs)
    predictions = ["prediction"] if outputs is None else labelled_names("prediction", outputs)
    return [
        *per_output,
        *value_names("shap_value", player_names, outputs),
        *value_names("std_error", player_names, outputs),
        *predictions,
        "n_evals",
    ]


def flat_frame(
    values: np.ndarray,
    std_errors: np.ndarray,
    base_values: np.ndarray,
    predictions: np.ndarray,
    n_evals: np.ndarray,
    output_names: Sequence[Any],
    player_names: Sequence[Any],
    index: Any,
) -> pd.DataFrame:
    """The flat table of values ``(n, d)`` or ``(n, d, k)`` and their errors, base values
    and predictions ``(n,)`` or ``(n, k)``, with the given row index."""
    n, d = values.shape[:2]
    k = values.shape[2] if values.ndim == 3 else 1
    numbers = np.column_stack(
        [
            np.asarray(base_values, dtype=float).reshape(n, k),
            values.reshape(n, d * k),
            std_errors.reshape(n, d * k),
            np.asarray(predictions, dtype=float).reshape(n, k),
        ]
    )
    columns = value_columns(player_names, output_names, k)
    frame = pd.DataFrame(numbers, index=index, columns=columns[:-1])
    frame["n_evals"] = np.asarray(n_evals, dtype=np.int64)
    return frame


def explanation_frame(expl: Any) -> pd.DataFrame:
    """The flat table of an :class:`~shapkit.Explanation` (the columns of the Dask and
    command-line outputs), indexed like its rows.

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> expl = shapkit.explain(lambda Z: Z.sum(1), np.eye(2), background=np.zeros((1, 2)))
    >>> list(explanation_frame(expl).columns)
    ['base_value', 'shap_value:x0', 'shap_value:x1', 'std_error:x0', 'std_error:x1',
     'prediction', 'n_evals']
    """
    return flat_frame(
        expl.values, expl.std_errors, expl.base_values, expl.predictions, expl.n_evals,
        list(expl.output_names), list(expl.feature_names), expl.data.index,
    )  # fmt: skip


def unflatten(
    frame: pd.DataFrame, player_names: Sequence[Any], output_names: Sequence[Any]
) -> dict[str, np.ndarray]:
    """The arrays of a flat table (the inverse of :func:`flat_frame`): ``values`` and
    ``std_errors`` ``(n, d, k)``, ``base_values`` and ``predictions`` ``(n, k)`` and
    ``n_evals`` ``(n,)``, for the players and the model's outputs (``k`` of them; a table
    of one output has no suffixes).

    Raises ``ValueError`` naming the missing columns when the table was written for other
    players or outputs.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> table = pd.DataFrame({"base_value": [1.0], "shap_value:a": [2.0],
    ...                       "std_error:a": [0.0], "prediction": [3.0], "n_evals": [2]})
    >>> unflatten(table, ["a"], ["prediction"])["values"]
    array([[[2.]]])
    """
    n, d, k = len(frame), len(player_names), max(len(output_names), 1)
    columns = value_columns(player_names, output_names, k)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(
            f"The table lacks the columns {shown}{more} of players {list(player_names)[:8]} "
            f"and outputs {list(output_names)[:8]}: it was written for another model, other "
            f"groups or other columns."
        )

    def block(start: int, width: int) -> np.ndarray:
        return frame[columns[start : start + width]].to_numpy(dtype=np.float64)

    return {
        "base_values": block(0, k),
        "values": block(k, d * k).reshape(n, d, k),
        "std_errors": block(k + d * k, d * k).reshape(n, d, k),
        "predictions": block(k + 2 * d * k, k),
        "n_evals": frame["n_evals"].to_numpy(dtype=np.int64),
    }
