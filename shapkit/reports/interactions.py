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

__all__ = ["interaction_dependence", "interaction_heatmap", "interaction_summary"]


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


def _one_output(inter: InteractionExplanation, output: Any) -> int | None:
    """The position of the one output a plot draws (None: a one-output result), by the
    rule of :func:`_outputs`; raises ``ValueError`` where that leaves several."""
    positions = _outputs(inter, output)
    if len(positions) > 1:
        raise ValueError(
            f"The interaction values have {len(positions)} outputs "
            f"{list(inter.output_names)}; pick one with output=."
        )
    return positions[0] if positions else None


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
    position = _one_output(inter, output)
    pairs = inter.pairs if position is None else inter.pairs[..., position]
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


def interaction_dependence(
    inter: InteractionExplanation,
    feature: Any,
    *,
    partner: Any = "auto",
    output: Any = None,
    ax: Any = None,
) -> Any:
    """A feature's value (x-axis) against its order-2 term with ``partner``, one point
    per row, coloured by the partner's value: how the pair's joint effect changes with
    both. ``partner="auto"``: the player whose pair term with ``feature`` has the largest
    mean |value| over the rows (the strongest partner). Whiskers: ``+- 1.96`` standard
    errors (sampled values); missing x in a strip of their own and categories on a
    readable axis, as :func:`shapkit.plots.dependence`. One output (as
    :func:`interaction_heatmap`). Returns the axes.

    Raises
    ------
    KeyError
        An unknown feature, partner or output.
    ValueError
        ``partner`` is the feature itself, or no output is picked on a multi-output
        result.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> inter = shapkit.Explainer(lambda Z: Z[:, 0] * Z[:, 1], X).interactions(X[:20])
    >>> ax = interaction_dependence(inter, "x0")
    >>> ax.get_ylabel()
    'k-SII pair term of x0 and x1'
    """
    from ..explanation import Explanation
    from .plots import dependence

    position = _one_output(inter, output)
    pairs = inter.pairs if position is None else inter.pairs[..., position]
    errors = inter.pair_std_errors if position is None else inter.pair_std_errors[..., position]
    names = list(inter.feature_names)
    j = _player(names, feature, "feature")
    if isinstance(partner, str) and partner == "auto":
        strength = np.abs(pairs[:, j, :]).mean(axis=0) if pairs.shape[0] else np.zeros(len(names))
        strength[j] = -np.inf
        k = int(np.argmax(strength))
    else:
        k = _player(names, partner, "partner")
        if k == j:
            raise ValueError(f"partner={partner!r} is the feature itself; pick another player.")
    n = pairs.shape[0]
    columns = {name: list(inter.player_columns.get(name, [])) for name in names}
    # the pair's terms as the feature's values of an Explanation, for its dependence plot
    values, std_errors = np.zeros((n, len(names))), np.zeros((n, len(names)))
    values[:, j], std_errors[:, j] = pairs[:, j, k], errors[:, j, k]
    terms = Explanation(
        values=values, base_values=np.zeros(n), std_errors=std_errors,
        data=inter.data, feature_names=names, output_names=[], method=inter.method,
        n_evals=np.zeros(n, dtype=np.int64), predictions=np.zeros(n),
        player_columns={name: cs for name, cs in columns.items() if cs},
    )  # fmt: skip
    partner_columns = terms.columns_of(names[k])
    numeric = [c for c in partner_columns if pd.api.types.is_numeric_dtype(inter.data[c].dtype)]
    color = (numeric or partner_columns or [None])[0]
    ax = dependence(terms, names[j], color=color, ax=ax)
    ax.set_ylabel(f"{inter.index} pair term of {names[j]} and {names[k]}")
    return ax


def _player(names: list[Any], label: Any, what: str) -> int:
    found = label_positions(names, label)
    if len(found) != 1:
        shown = names if len(names) <= 12 else [*names[:12], "..."]
        raise KeyError(f"Unknown {what} {label!r}; the players are {shown}.")
    return found[0]
