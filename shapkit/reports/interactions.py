"""Summaries and plots of interaction values (:class:`~shapkit.InteractionExplanation`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._labels import label_positions
from .._validation import check_level
from .plots import new_axes
from .summary import abs_interval

if TYPE_CHECKING:  # the plots import nothing of the estimator layer at import time
    from ..interaction_explanation import InteractionExplanation

__all__ = ["interaction_heatmap", "interaction_summary"]


def _mirrored(inter: InteractionExplanation) -> bool:
    """Two outputs whose terms are each other's negatives (a binary classifier's
    probabilities): one says everything."""
    pairs, main = inter.pairs, inter.main
    if pairs.ndim != 4 or pairs.shape[3] != 2 or pairs.shape[0] == 0:
        return False
    scale = float(np.abs(main).max(initial=0.0)) + float(np.abs(inter.predictions).max())
    tol = 1e-9 * max(scale, 1e-300)
    totals = np.asarray(inter.predictions, dtype=float).sum(axis=1)
    return bool(
        np.ptp(totals) <= tol
        and np.abs(pairs[..., 0] + pairs[..., 1]).max() <= tol
        and np.abs(main[..., 0] + main[..., 1]).max() <= tol
    )


def _outputs(inter: InteractionExplanation, output: Any) -> list[int]:
    """Positions of the outputs to show: ``output``'s (a label), else a binary
    classifier's positive class, else every output (none for a one-output result)."""
    if inter.pairs.ndim == 3:
        if output is not None:
            raise KeyError(f"output={output!r}: this result has one output; leave it out.")
        return []
    names = list(inter.output_names)
    if output is not None:
        found = label_positions(names, output)
        if len(found) != 1:
            raise KeyError(f"output={output!r} is not one of the outputs {names}.")
        return [found[0]]
    if _mirrored(inter):
        return [1]
    return list(range(inter.pairs.shape[3]))


def interaction_summary(
    inter: InteractionExplanation,
    *,
    output: Any = None,
    level: float = 0.95,
    rows: str = "sample",
    top: int | None = None,
) -> pd.DataFrame:
    """The strongest pairs: mean |order-2 term| over rows with its interval, share, sign.

    Parameters
    ----------
    inter : InteractionExplanation
    output : label, optional
        Summarise this output (by its label in ``output_names``). Default: a binary
        classifier's positive class (its two outputs mirror each other), else every
        output, one block each under an ``output`` index level.
    level : float
        Coverage of ``[ci_low, ci_high]`` (default 0.95).
    rows : {"sample", "fixed"}
        As in :func:`shapkit.summary`: ``"sample"`` covers the population's mean |term|
        from the rows' variation (needs 2 rows); ``"fixed"`` these rows' mean, from
        estimation noise only (zero width for exact values).
    top : int, optional
        Keep the ``top`` strongest pairs of each block.

    Returns
    -------
    DataFrame
        Indexed by ``(feature_i, feature_j)`` (each pair once), sorted by ``rank``;
        columns ``mean_abs``, ``std_abs``, ``ci_low``, ``ci_high``, ``share`` (of the
        block's total ``mean_abs`` over pairs), ``mean`` (signed), ``rank``. ``attrs``
        hold the index, ``level``, ``rows`` and the outputs shown.

    Raises
    ------
    KeyError
        An unknown ``output``.
    ValueError
        A bad ``level`` or ``rows``, no rows, or a result without pairs (``max_order=1``).

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> f = lambda Z: Z[:, 0] * Z[:, 1] + Z[:, 2]
    >>> inter = shapkit.Explainer(f, X).interactions(X[:10])
    >>> interaction_summary(inter).index[0]
    ('x0', 'x1')
    """
    if rows not in ("sample", "fixed"):
        raise ValueError(f"rows={rows!r}: choose 'sample' or 'fixed'.")
    level = check_level(level)
    n, d = inter.main.shape[0], len(inter.feature_names)
    if n == 0:
        raise ValueError("The interaction values have no rows to summarise.")
    if inter.max_order < 2 or d < 2:
        raise ValueError("These interaction values have no pairs (max_order=1 or one player).")
    positions = _outputs(inter, output)
    i, j = np.triu_indices(d, 1)
    names = np.asarray(inter.feature_names, dtype=object)
    blocks = []
    shown: list[int | None] = list(positions) or [None]
    for position in shown:
        pairs = inter.pairs if position is None else inter.pairs[..., position]
        errors = inter.pair_std_errors if position is None else inter.pair_std_errors[..., position]
        values = pairs[:, i, j]
        mean, std, low, high = abs_interval(np.abs(values), errors[:, i, j], level, rows)
        total = mean.sum()
        frame = pd.DataFrame(
            {"mean_abs": mean, "std_abs": std, "ci_low": low, "ci_high": high,
             "share": mean / total if total > 0 else np.zeros_like(mean),
             "mean": values.mean(axis=0)},
            index=pd.MultiIndex.from_arrays([names[i], names[j]],
                                            names=["feature_i", "feature_j"]),
        )  # fmt: skip
        frame = frame.sort_values("mean_abs", ascending=False, kind="stable")
        frame["rank"] = np.arange(1, len(frame) + 1)
        blocks.append(frame if top is None else frame.head(top))
    if positions and len(positions) > 1:
        labels = [inter.output_names[p] for p in positions]
        result = pd.concat(blocks, keys=labels, names=["output", "feature_i", "feature_j"])
    else:
        result = blocks[0]
    result.attrs = {
        "index": inter.index, "level": float(level), "rows": rows,
        "outputs": [inter.output_names[p] for p in positions] if positions else [],
        "value_function": inter.settings.get("value_function"),
    }  # fmt: skip
    return result


def interaction_heatmap(
    inter: InteractionExplanation, ax: Any = None, *, output: Any = None
) -> Any:
    """A ``(d, d)`` heatmap of the mean |order-2 term| over rows of each pair (the
    diagonal left blank), one output (default as :func:`interaction_summary`: a binary
    classifier's positive class; a multi-output result needs ``output=``); returns the
    axes.

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> inter = shapkit.Explainer(lambda Z: Z[:, 0] * Z[:, 1], X).interactions(X[:5])
    >>> ax = interaction_heatmap(inter)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['x0', 'x1', 'x2']
    """
    positions = _outputs(inter, output)
    if len(positions) > 1:
        raise ValueError(
            f"The interaction values have {len(positions)} outputs "
            f"{list(inter.output_names)}; pick one with output=."
        )
    pairs = inter.pairs if not positions else inter.pairs[..., positions[0]]
    d = len(inter.feature_names)
    strength = np.abs(pairs).mean(axis=0) if pairs.shape[0] else np.zeros((d, d))
    shown = np.where(np.eye(d, dtype=bool), np.nan, strength)
    ax = new_axes(ax, 0.45 * d + 2.5, 0.45 * d + 1.5)
    image = ax.imshow(shown, cmap="Reds", vmin=0.0)
    ax.set_xticks(np.arange(d))
    ax.set_yticks(np.arange(d))
    ax.set_xticklabels([str(f) for f in inter.feature_names], rotation=45, ha="right")
    ax.set_yticklabels([str(f) for f in inter.feature_names])
    bar = ax.figure.colorbar(image, ax=ax)
    bar.set_label(f"mean |{inter.index} pair term|")
    ax.set_title(f"{inter.index} interactions")
    return ax
