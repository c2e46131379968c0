"""Plots of how the players' values add up to predictions: ``heatmap`` (rows x players),
``decision`` (each row's path from the base value to its prediction) and ``force`` (one
row's pushes up and down, on one line). matplotlib only; each takes an ``ax`` and
returns it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .plots import (
    LITERAL,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    VALUE_CMAP,
    check_count,
    check_row,
    format_value,
    new_axes,
    one_output,
    other_label,
    signed,
    split_top,
    tidy,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..explanation import Explanation

__all__ = ["decision", "force", "heatmap"]

#: Row orders of :func:`heatmap`.
ORDERS = ("similarity", "prediction", "none")
#: Most rows :func:`decision` draws as lines (more are an unreadable band).
MAX_DECISION_ROWS = 200


def _diverging() -> Any:
    """Blue (pushes down) - white - vermillion (pushes up): the signs' colours."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("shapkit_signs", [NEGATIVE, "#FFFFFF", POSITIVE])


def _players(expl: Explanation, max_features: int) -> tuple[np.ndarray, list[str]]:
    """Values ``(n, m)`` of the most important players (mean |value|) and, beyond
    ``max_features``, the rest summed; with their names, most important first."""
    values = expl.values
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")
    top, rest = split_top(order, max_features)
    columns = [values[:, j] for j in top]
    names = [str(expl.feature_names[j]) for j in top]
    if rest.size:
        columns.append(values[:, rest].sum(axis=1))
        names.append(other_label(rest.size))
    return np.column_stack(columns), names


def _row_order(values: np.ndarray, predictions: np.ndarray, order: str) -> np.ndarray:
    if order == "none" or len(values) < 3:
        return np.arange(len(values))
    if order == "prediction":
        return np.argsort(predictions, kind="stable")
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    distances = pdist(values)
    if not np.any(distances > 0):
        return np.arange(len(values))
    tree = linkage(distances, method="average")
    return np.asarray(leaves_list(optimal_leaf_ordering(tree, distances)))


def heatmap(
    explanation: Explanation,
    *,
    max_features: int = 10,
    order: str = "similarity",
    output: Any = None,
    output_position: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Every row's Shapley values as one column of colours, players as rows (most
    important on top), with the model's output per row drawn above.

    ``order``: ``"similarity"`` (default: rows with similar values side by side, by
    hierarchical clustering with optimal leaf ordering), ``"prediction"`` (ascending) or
    ``"none"`` (as in the explanation). Colours run from blue (pushes the output down)
    through white (0) to vermillion (pushes it up), symmetric about 0 up to the 99th
    percentile of |value|; the colour bar is in the values' units. Beyond
    ``max_features`` the rest are summed into "N other features". A multi-output
    explanation draws the output labelled ``output``, or at ``output_position``
    (default: the positive class of a binary classifier, else the last output).

    Returns the Axes of the matrix (the output line is a second Axes above it).

    Raises
    ------
    ValueError
        An unknown ``order``; ``max_features`` below 1; no rows.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> X = np.random.default_rng(0).normal(size=(30, 3))
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0, 0.5]), X)
    >>> [t.get_text() for t in shapkit.plots.heatmap(expl).get_yticklabels()]
    ['x1', 'x0', 'x2']
    """
    if not isinstance(order, str) or order not in ORDERS:
        raise ValueError(f"order={order!r}: choose one of {list(ORDERS)}.")
    check_count(max_features, "max_features", "draw at least 1 feature", 10)
    expl, output_name = one_output(explanation, output, output_position)
    if len(expl) == 0:
        raise ValueError("The explanation has no rows to draw.")
    values, names = _players(expl, max_features)
    predictions = np.asarray(expl.predictions, dtype=float).reshape(len(expl))
    rows = _row_order(values, predictions, order)
    values, predictions = values[rows], predictions[rows]
    n, m = values.shape
    ax = new_axes(ax, 8.5, 2.2 + 0.38 * m)
    limit = float(np.nanpercentile(np.abs(values), 99)) or float(np.abs(values).max()) or 1.0
    image = ax.imshow(
        values.T, aspect="auto", cmap=_diverging(), vmin=-limit, vmax=limit,
        interpolation="nearest", extent=(-0.5, n - 0.5, m - 0.5, -0.5),
    )  # fmt: skip
    ax.set_yticks(np.arange(m), names, **LITERAL)
    if len(names) > max_features:
        ax.get_yticklabels()[-1].set_color("#555555")
        ax.get_yticklabels()[-1].set_fontstyle("italic")
    how = {"similarity": "ordered by similarity", "prediction": "ordered by prediction"}
    ax.set_xlabel(f"rows ({how.get(order, 'in their order')})", **LITERAL)
    ax.tick_params(axis="y", length=0)
    bar = ax.figure.colorbar(image, ax=ax, aspect=25, pad=0.02, fraction=0.04, shrink=0.8)
    target = f" on {output_name}" if explanation.is_multi_output else ""
    bar.set_label(f"Shapley value{target}", **LITERAL)
    bar.outline.set_visible(False)
    top = ax.inset_axes((0.0, 1.04, 1.0, 0.22), sharex=ax)
    top.plot(np.arange(n), predictions, color="#333333", linewidth=1.2)
    top.set_ylabel("output", fontsize=8, **LITERAL)
    top.tick_params(axis="x", labelbottom=False, length=0)
    top.tick_params(axis="y", labelsize=7)
    tidy(top)
    ax.set_xlim(-0.5, n - 0.5)
    return ax


def decision(
    explanation: Explanation,
    rows: Any = None,
    *,
    max_features: int = 10,
    output: Any = None,
    output_position: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Each row as a line climbing from the base value (bottom) through the players,
    least important first, to its prediction (top): where rows part ways shows which
    players decide them.

    ``rows``: positions (an int, a list of ints, a slice or a boolean mask); default
    every row, at most :data:`MAX_DECISION_ROWS` (more raise: pick them with
    ``rows=``). Players are ordered by mean |value| over the drawn rows; beyond
    ``max_features`` the rest are summed into "N other features" at the bottom. Lines
    are coloured by prediction (``cividis``). A multi-output explanation draws the output
    labelled ``output``, or at ``output_position`` (default: the positive class of a
    binary classifier, else the last output).

    Raises
    ------
    ValueError
        More than :data:`MAX_DECISION_ROWS` rows; no rows; ``max_features`` below 1.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> X = np.random.default_rng(0).normal(size=(30, 3))
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0, 0.5]), X)
    >>> [t.get_text() for t in shapkit.plots.decision(expl).get_yticklabels()]
    ['x2', 'x0', 'x1']
    """
    check_count(max_features, "max_features", "draw at least 1 feature", 10)
    expl, output_name = one_output(explanation, output, output_position)
    if rows is not None:
        expl = expl[[rows] if isinstance(rows, (int, np.integer)) else rows]
    n = len(expl)
    if n == 0:
        raise ValueError("No rows to draw.")
    if n > MAX_DECISION_ROWS:
        raise ValueError(
            f"{n} rows would draw as a solid band; a decision plot shows at most "
            f"{MAX_DECISION_ROWS}: pick rows with rows=, e.g. rows=slice(0, 100)."
        )
    values, names = _players(expl, max_features)
    values, names = values[:, ::-1], names[::-1]  # least important at the bottom
    base = np.asarray(expl.base_values, dtype=float).reshape(n)
    paths = np.column_stack([base, base[:, None] + np.cumsum(values, axis=1)])
    m = len(names)
    ax = new_axes(ax, 7.5, 1.8 + 0.42 * m)
    import matplotlib as mpl

    predictions = paths[:, -1]
    lo, hi = float(predictions.min()), float(predictions.max())
    norm = mpl.colors.Normalize(lo, hi if hi > lo else lo + 1.0)
    cmap = mpl.colormaps[VALUE_CMAP]
    heights = np.arange(m + 1) - 0.5
    width = float(np.clip(30.0 / np.sqrt(n), 0.6, 2.0))
    for i in np.argsort(predictions):
        ax.plot(paths[i], heights, color=cmap(norm(predictions[i])), linewidth=width, alpha=0.85)
    ax.set_yticks(np.arange(m), names, **LITERAL)
    for y in range(m):
        ax.axhline(y, color="#EEEEEE", linewidth=0.8, zorder=0)
    ax.set_ylim(-0.5, m - 0.5)
    if np.ptp(base) == 0:
        ax.axvline(base[0], color="#777777", linestyle=":", linewidth=1, zorder=1)
    target = f" ({output_name})" if explanation.is_multi_output else ""
    ax.set_xlabel(f"model output{target}, from the base value up", **LITERAL)
    bar = ax.figure.colorbar(
        mpl.cm.ScalarMappable(cmap=cmap, norm=norm), ax=ax, aspect=25, pad=0.02,
        fraction=0.04, shrink=0.6,
    )  # fmt: skip
    bar.set_label("prediction", **LITERAL)
    bar.outline.set_visible(False)
    ax.tick_params(axis="y", length=0)
    tidy(ax)
    return ax


def force(
    explanation: Explanation,
    row: int = 0,
    *,
    output: Any = None,
    output_position: int | None = None,
    max_labels: int = 6,
    ax: Axes | None = None,
) -> Axes:
    """One row's values on a single line: vermillion blocks push the output up from the
    left, blue blocks push it down from the right, and they meet at the prediction.

    Blocks are ordered by size, the largest next to the prediction; the ``max_labels``
    largest (among those at least 4% of the bar wide) are labelled ``feature = value``
    (groups by name) with their value, below the bar in two rows, where a label fits
    beside its neighbours. The base
    value and the prediction are marked. ``row`` is a position (an int). A multi-output
    explanation draws the output labelled ``output``, or at ``output_position``
    (default: the positive class of a binary classifier, else the last output).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, -3.0]), np.eye(2))
    >>> ax = shapkit.plots.force(expl, 0)
    >>> sorted(t.get_text().splitlines()[0] for t in ax.texts if " = " in t.get_text())
    ['x0 = 1', 'x1 = 0']
    """
    check_count(max_labels, "max_labels", "label at least 1 block", 6)
    expl, output_name = one_output(explanation, output, output_position)
    row = check_row(row, len(expl))
    phi = np.asarray(expl.values[row], dtype=float)
    base = float(np.asarray(expl.base_values)[row])
    prediction = float(np.asarray(expl.predictions)[row])
    record = expl.data.iloc[row]
    ax = new_axes(ax, 9.0, 2.4)
    up = [j for j in np.argsort(-phi, kind="stable") if phi[j] > 0]  # largest first
    down = [j for j in np.argsort(phi, kind="stable") if phi[j] < 0]
    span = float(np.abs(phi).sum()) or 1.0
    largest = np.argsort(-np.abs(phi), kind="stable")[:max_labels]
    # blocks narrower than 4% of the bar get no label: it would not fit under them
    labelled = {int(j) for j in largest if abs(phi[j]) >= 0.04 * span}
    end = prediction
    blocks: list[tuple[int, float, float]] = []  # (player, left, right)
    for j in up:  # leftwards from the prediction
        blocks.append((j, end - phi[j], end))
        end -= phi[j]
    end = prediction
    for j in down:  # rightwards from the prediction
        blocks.append((j, end, end - phi[j]))
        end -= phi[j]
    edges = [base, prediction] + [e for _, left, right in blocks for e in (left, right)]
    lo, hi = min(edges), max(edges)
    pad = 0.08 * (hi - lo) or 0.5
    char = 0.0085 * (hi - lo + 2 * pad)  # about one 8-point character, in the axis' units
    row_ends = [-np.inf, -np.inf]  # right end of the last label in each of two rows
    for j, left, right in sorted(blocks, key=lambda block: block[1]):
        colour = POSITIVE if phi[j] > 0 else NEGATIVE
        ax.barh(0, right - left, left=left, height=0.5, color=colour, edgecolor="white",
                linewidth=1.2, zorder=2)  # fmt: skip
        if j not in labelled:
            continue
        name = expl.feature_names[j]
        columns = expl.columns_of(name)
        label = f"{name} = {format_value(record[columns[0]])}" if len(columns) == 1 else str(name)
        centre, half = (left + right) / 2, 0.5 * char * max(len(label), 6) + char
        free = [r for r in (0, 1) if row_ends[r] <= centre - half]
        if not free:
            continue  # no room beside its neighbours: the block speaks by its size
        row_ends[free[0]] = centre + half
        ax.text(centre, -0.34 - 0.42 * free[0], f"{label}\n{signed(float(phi[j]))}",
                ha="center", va="top", fontsize=8, color=colour, **LITERAL)  # fmt: skip
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-1.45, 1.2)
    ax.axvline(base, color="#777777", linestyle=":", linewidth=1, zorder=1)
    ax.text(base, 1.1, f"base value {base:.4g}", ha="center", va="top", fontsize=8,
            color="#555555", **LITERAL)  # fmt: skip
    ax.plot([prediction], [0.3], marker="v", color="#333333", zorder=3)
    ax.text(prediction, 0.5, f"prediction {prediction:.4g}", ha="center", va="bottom",
            fontsize=9, fontweight="bold", **LITERAL)  # fmt: skip
    remainder = prediction - base - float(phi.sum())
    if abs(remainder) > 1e-9 * max(1.0, abs(prediction), abs(base)):
        ax.text(lo - pad, -1.4, f"{signed(remainder)} not in this explanation", fontsize=7,
                color=NEUTRAL, va="bottom", **LITERAL)  # fmt: skip
    ax.set_yticks([])
    target = f"output {output_name}, " if explanation.is_multi_output else ""
    ax.set_xlabel(f"model output ({target}row {expl.data.index[row]!s})", **LITERAL)
    tidy(ax)
    ax.spines["left"].set_visible(False)
    return ax
