"""Plots of explanations (matplotlib, the ``plot`` extra).

Every function draws on ``ax`` (a new figure when None), returns the Axes and never
calls ``plt.show()``. matplotlib is imported inside the functions, so importing this
module is cheap. Colours are colour-blind safe: the Okabe-Ito palette for categories
and signs (vermillion pushes the output up, blue pushes it down) and ``cividis`` for
feature values.

- :func:`bar`: mean |value| per feature with its interval (see :func:`shapkit.summary`).
- :func:`beeswarm`: every row's value per feature, coloured by the feature's value.
- :func:`waterfall`: one row, from the base value to the model's output.
- :func:`dependence`: a feature's value against its Shapley value, coloured by another.
- :func:`convergence`: one row's estimates +- standard error against the evaluations
  used, from a trace of :func:`shapkit.diagnostics.convergence_trace`.

Outputs of a multi-output explanation are chosen by label with ``output=`` (an int is a
label, never a position) or by position with ``output_position=``. Every text drawn from
a name or a cell (tick labels, titles, axis labels, legends, annotations) is drawn
literally, never parsed as mathtext or LaTeX, so a column named ``cost_$\\frac$`` or
``a$b$c`` is shown as it is.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._labels import label_positions, output_index, preview, same_label
from .._validation import check_level
from .summary import abs_interval, default_outputs, select_output

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..explanation import Explanation

#: Okabe & Ito's colour-blind-safe palette, blue first and yellow (weak on white) last.
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
POSITIVE = "#D55E00"  # vermillion: pushes the output up
NEGATIVE = "#0072B2"  # blue: pushes it down
NEUTRAL = "#8C8C8C"  # grey: "other features", missing or non-numeric values
BAR = "#0072B2"
VALUE_CMAP = "cividis"

#: Text properties that draw a string as it is: no mathtext (``$...$``), no LaTeX.
LITERAL: dict[str, Any] = {"parse_math": False, "usetex": False}

#: Default number of outputs :func:`bar` draws side by side (the most important ones).
MAX_OUTPUTS = 10

__all__ = [
    "bar",
    "beeswarm",
    "convergence",
    "dependence",
    "waterfall",
]


# --- shared helpers ----------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "shapkit's plots need matplotlib: pip install 'shapkit[plot]' (or matplotlib)."
        ) from error
    return plt


_DETACHED = contextvars.ContextVar("shapkit_detached_figures", default=False)


@contextlib.contextmanager
def detached_figures() -> Iterator[None]:
    """Within this block, new figures are plain ``matplotlib.figure.Figure`` objects,
    unknown to pyplot: no window, no backend, nothing to close (the HTML report)."""
    token = _DETACHED.set(True)
    try:
        yield
    finally:
        _DETACHED.reset(token)


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    """``ax``, or the Axes of a new figure of the given size (constrained layout, so
    long feature names are not cut)."""
    if ax is not None:
        return ax
    if _DETACHED.get():
        try:
            from matplotlib.figure import Figure
        except ImportError:
            _pyplot()  # raises the ImportError that says what to install
        return Figure(figsize=(width, height), layout="constrained").add_subplot()
    plt = _pyplot()
    _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return ax


def _literal(texts: Any) -> None:
    """Draw these Text artists as they are (see :data:`LITERAL`)."""
    for text in texts:
        if text is not None:
            text.set_parse_math(False)
            text.set_usetex(False)


def _literal_legend(legend: Any) -> None:
    _literal([*legend.get_texts(), legend.get_title()])


def tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def one_output(
    expl: Explanation, output: Any, output_position: int | None = None
) -> tuple[Explanation, Any]:
    """The single-output explanation to draw: the output labelled ``output`` or at
    ``output_position``, else the last output of a multi-output explanation (the
    positive class of a binary classifier)."""
    if output is None and output_position is None and expl.is_multi_output:
        output_position = -1
    single = select_output(expl, output, output_position)
    return single, single.output_names[0] if single.output_names else None


def check_max_outputs(max_outputs: Any) -> None:
    """Raise unless ``max_outputs`` is an int of at least 1."""
    check_count(max_outputs, "max_outputs", "show at least 1 output", 10)


def check_count(value: Any, name: str, least: str, example: int) -> None:
    """A TypeError unless ``value`` is an int, a ValueError (saying ``least``) below 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name}={value!r} ({type(value).__name__}): pass an int, e.g. {name}={example}."
        )
    if value < 1:
        raise ValueError(f"{name}={value}: {least}.")


def check_row(row: Any, n: int) -> int:
    """``row`` as a position in ``range(n)`` (negative from the end): a TypeError for
    anything but an int (a label, a str), an IndexError out of range."""
    if isinstance(row, (bool, np.bool_)) or not isinstance(row, (int, np.integer)):
        raise TypeError(
            f"row={row!r} ({type(row).__name__}): pass the row's position, an int from 0 to "
            f"{n - 1} (negative from the end). For the row labelled {row!r}, pass "
            f"expl.data.index.get_loc({row!r})."
        )
    if not -n <= row < n:
        raise IndexError(f"row={row} is out of range for an explanation of {n} rows.")
    return int(row) % n


def top_outputs(expl: Explanation, max_outputs: int) -> np.ndarray:
    """Positions of the ``max_outputs`` outputs with the largest mean |value| (summed
    over players), in the explanation's order; all of them when there are no more."""
    check_max_outputs(max_outputs)
    k = expl.values.shape[2] if expl.is_multi_output else 1
    if k <= max_outputs:
        return np.arange(k)
    importance = np.abs(expl.values).mean(axis=0).sum(axis=0)
    order = np.argsort(-importance, kind="stable")
    return np.sort(order[:max_outputs])


def split_top(order: np.ndarray, max_features: int) -> tuple[np.ndarray, np.ndarray]:
    """The players drawn on their own and the rest, drawn summed as "N other features"."""
    check_count(max_features, "max_features", "draw at least 1 feature", 10)
    if len(order) <= max_features:
        return order, order[:0]
    return order[: max_features - 1], order[max_features - 1 :]


def other_label(count: int) -> str:
    return f"{count} other feature" + ("s" if count != 1 else "")


def format_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, (float, np.floating)) and np.isnan(value):
            return "NaN"
        return f"{value:.4g}"
    return str(value)


def signed(value: float) -> str:
    return f"{value:+.3g}".replace("-", "\N{MINUS SIGN}")


def _colour_values(expl: Explanation, name: Any) -> np.ndarray | None:
    """A number in [0, 1] per row saying how high the player's value is, or None.

    One numeric column: its value scaled between its 5th and 95th percentiles. A group
    of numeric columns: the mean of its columns' percentile ranks among the rows.
    """
    x = expl.numeric_values(name)
    if x is not None:
        return _scale(x)
    columns = expl.columns_of(name)
    if len(columns) < 2:
        return None
    ranks = []
    for column in columns:
        series = expl.data[column]
        if not pd.api.types.is_numeric_dtype(series.dtype):
            return None
        ranks.append(series.astype(float).rank(pct=True).to_numpy())
    return np.nanmean(np.vstack(ranks), axis=0) if ranks else None


def _scale(x: np.ndarray) -> np.ndarray | None:
    limits = _colour_limits(x)
    if limits is None:
        return None
    lo, hi = limits
    if hi <= lo:
        return np.where(np.isnan(x), np.nan, 0.5)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _colour_limits(x: np.ndarray) -> tuple[float, float] | None:
    """The values the colour scale runs between: the 5th and 95th percentiles (the
    range where those agree); None when every value is missing."""
    if not (~np.isnan(x)).any():
        return None
    lo, hi = np.nanpercentile(x, [5, 95])
    if hi <= lo:
        lo, hi = np.nanmin(x), np.nanmax(x)
    return float(lo), float(hi)


def _value_colourbar(ax: Axes, label: str, limits: tuple[float, float] | None = None) -> None:
    """The colour scale of feature values: numeric ticks between ``limits`` (the values
    the colours run between), or, where every feature has its own scale (the beeswarm),
    its ends named by percentile."""
    import matplotlib as mpl

    lo, hi = limits if limits is not None else (0.0, 1.0)
    mappable = mpl.cm.ScalarMappable(cmap=VALUE_CMAP, norm=mpl.colors.Normalize(lo, hi))
    options: dict[str, Any] = {"aspect": 25, "pad": 0.02, "fraction": 0.04, "shrink": 0.6}
    if limits is None:
        bar = ax.figure.colorbar(mappable, ax=ax, ticks=[0, 1], **options)
        bar.ax.set_yticklabels(["low", "high"], **LITERAL)
        label = f"{label} (5th to 95th percentile)"
    else:
        bar = ax.figure.colorbar(mappable, ax=ax, **options)
    bar.set_label(label, **LITERAL)
    bar.outline.set_visible(False)


# --- bar ---------------------------------------------------------------------------------


def bar(
    explanation: Explanation,
    *,
    max_features: int = 10,
    output: Any = None,
    output_position: int | None = None,
    aggregate: bool = False,
    all_outputs: bool = False,
    max_outputs: int = MAX_OUTPUTS,
    level: float = 0.95,
    rows: str = "sample",
    ax: Axes | None = None,
) -> Axes:
    """Mean |Shapley value| per feature, most important on top, with its interval.

    The whiskers are the ``level`` interval of :func:`shapkit.summary` (row-to-row
    variation and estimation noise). Beyond ``max_features`` rows the least important
    features are summed into one "N other features" bar (the mean over rows of their
    summed |values|). A multi-output explanation gets one bar per output and feature,
    for the ``max_outputs`` outputs with the largest mean |value| (summed over
    features; the title says how many were left out), unless ``output=`` (a label) or
    ``output_position=`` picks one, or ``aggregate=True`` sums |values| over all outputs.
    A binary classifier's mirrored outputs show the positive class only, unless
    ``all_outputs=True`` (:func:`shapkit.reports.summary.mirrored_outputs`).

    Raises
    ------
    KeyError
        ``output`` is not one of the output labels.
    ValueError
        ``max_features`` or ``max_outputs`` below 1; both ``output`` and
        ``output_position``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), np.eye(2))
    >>> [t.get_text() for t in shapkit.plots.bar(expl).get_yticklabels()]
    ['x1', 'x0']
    """
    check_max_outputs(max_outputs)
    check_count(max_features, "max_features", "draw at least 1 feature", 10)
    level = check_level(level)
    if not isinstance(rows, str) or rows not in ("sample", "fixed"):
        raise ValueError(f"rows={rows!r}: choose 'sample' or 'fixed'.")
    expl = explanation
    if output is not None or output_position is not None:
        expl = select_output(expl, output, output_position)
    elif not (aggregate or all_outputs):
        expl = default_outputs(expl)
    grouped = expl.is_multi_output and not aggregate
    left_out = 0
    if grouped:
        shown = top_outputs(expl, max_outputs)
        left_out = expl.values.shape[2] - shown.size
        if left_out:
            expl = expl.output_at(shown)
    values = expl.values if expl.is_multi_output else expl.values[:, :, None]
    errors = expl.std_errors if expl.is_multi_output else expl.std_errors[:, :, None]
    if not grouped:
        values = np.abs(values).sum(axis=2, keepdims=True)  # a no-op for one output
        errors = errors.sum(axis=2, keepdims=True)
    magnitudes = np.abs(values)
    order = np.argsort(-magnitudes.mean(axis=0).sum(axis=1), kind="stable")
    top, rest = split_top(order, max_features)
    labels = [str(expl.feature_names[j]) for j in top]
    blocks = [magnitudes[:, top, :]]
    error_blocks = [errors[:, top, :]]
    if rest.size:
        labels.append(other_label(rest.size))
        blocks.append(magnitudes[:, rest, :].sum(axis=1, keepdims=True))
        error_blocks.append(errors[:, rest, :].sum(axis=1, keepdims=True))
    magnitudes = np.concatenate(blocks, axis=1)
    errors = np.concatenate(error_blocks, axis=1)
    m, k = magnitudes.shape[1], magnitudes.shape[2]
    ax = new_axes(ax, 7.5, 0.9 + (0.42 if k == 1 else 0.22 * k + 0.12) * m)
    y = np.arange(m)[::-1].astype(float)
    height = 0.7 / k
    right = 0.0
    for c in range(k):
        mean, _, low, high = abs_interval(magnitudes[:, :, c], errors[:, :, c], level, rows)
        whiskers = np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0)
        position = y + (k - 1) / 2 * height - c * height
        if k == 1:
            colour: Any = [BAR] * (m - 1) + [NEUTRAL if rest.size else BAR]
            label = None
        else:
            colour = OKABE_ITO[c % len(OKABE_ITO)]
            label = str(expl.output_names[c])
        ax.barh(position, mean, height=height * 0.92, color=colour, label=label, zorder=2)
        if np.any(whiskers > 0):
            ax.errorbar(
                mean,
                position,
                xerr=whiskers,
                fmt="none",
                ecolor="#333333",
                elinewidth=1,
                capsize=2.5,
                zorder=3,
            )
        ends = np.where(np.isnan(high), mean, np.maximum(high, mean))
        right = max(right, float(np.nanmax(ends)) if ends.size else 0.0)
        if k == 1:
            for yy, value, end in zip(position, mean, ends, strict=True):
                ax.text(end, yy, f"  {value:.3g}", va="center", ha="left", fontsize=9, **LITERAL)
    ax.set_yticks(y, labels, **LITERAL)
    if rest.size:
        ax.get_yticklabels()[-1].set_color("#555555")
        ax.get_yticklabels()[-1].set_fontstyle("italic")
    ax.set_ylim(-0.6, m - 0.4)
    ax.set_xlim(0, right * (1.15 if k == 1 else 1.05) if right > 0 else 1)
    ax.set_xlabel(f"mean |Shapley value|, whiskers: {level:.0%} interval", **LITERAL)
    ax.grid(axis="x", color="#E5E5E5", zorder=0)
    tidy(ax)
    if k > 1:
        _literal_legend(ax.legend(title="output", loc="lower right", frameon=False))
        if left_out:
            ax.set_title(
                f"the {k} of {k + left_out} outputs with the largest mean |value|; "
                f"max_outputs= or output= for the others",
                fontsize=10,
                **LITERAL,
            )
    elif expl.is_multi_output and aggregate:
        names = expl.output_names
        which = (
            f"outputs {', '.join(map(str, names))}" if len(names) <= 5 else f"{len(names)} outputs"
        )
        ax.set_title(f"summed over {which}", **LITERAL)
    elif explanation.is_multi_output:
        ax.set_title(f"output: {expl.output_names[0]}", **LITERAL)
    return ax


# --- beeswarm ----------------------------------------------------------------------------


def _swarm_offsets(x: np.ndarray, n_bins: int = 60, width: float = 0.38) -> np.ndarray:
    """Vertical offsets that stack points sharing an x-bin symmetrically about 0."""
    offsets = np.zeros(x.shape[0])
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return offsets
    lo, hi = x[ok].min(), x[ok].max()
    bins = np.zeros(x.shape[0], dtype=np.int64)
    if hi > lo:
        bins[ok] = np.minimum(((x[ok] - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(bins[ok], minlength=n_bins)
    step = min(width / max(counts.max() / 2, 1), 0.09)
    for b in np.flatnonzero(counts > 1):
        members = np.flatnonzero(ok & (bins == b))
        members = members[np.argsort(x[members], kind="stable")]
        slots = np.arange(members.size)
        offsets[members] = np.where(slots % 2 == 0, 1, -1) * ((slots + 1) // 2) * step
    return offsets


def beeswarm(
    explanation: Explanation,
    *,
    max_features: int = 10,
    output: Any = None,
    output_position: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Every row's Shapley value per feature, most important feature on top.

    A point's colour is its feature's value (``cividis``, scaled between the 5th and
    95th percentiles; a group of numeric columns uses the mean percentile of its
    columns); grey for missing or non-numeric values. Beyond ``max_features`` the rest
    are summed per row into "N other features". A multi-output explanation draws the
    output labelled ``output``, or at ``output_position`` (default: the last one, the
    positive class of a binary classifier); an unknown label raises KeyError.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), np.eye(2))
    >>> shapkit.plots.beeswarm(expl).get_xlabel()
    'Shapley value (impact)'
    """
    expl, output_name = one_output(explanation, output, output_position)
    values = expl.values
    order = np.argsort(-np.abs(values).mean(axis=0), kind="stable")
    top, rest = split_top(order, max_features)
    columns = [values[:, j] for j in top]
    colours: list[np.ndarray | None] = [_colour_values(expl, expl.feature_names[j]) for j in top]
    labels = [str(expl.feature_names[j]) for j in top]
    if rest.size:
        columns.append(values[:, rest].sum(axis=1))
        colours.append(None)
        labels.append(other_label(rest.size))
    m, n = len(columns), values.shape[0]
    ax = new_axes(ax, 8.0, 1.1 + 0.5 * m)
    import matplotlib as mpl

    cmap = mpl.colormaps[VALUE_CMAP]
    size = float(np.clip(1600 / max(n, 1), 6, 24))
    for position, (x, colour) in enumerate(zip(columns, colours, strict=True)):
        y = m - 1 - position + _swarm_offsets(x)
        if colour is None:
            facecolours: Any = NEUTRAL
        else:
            facecolours = np.array(
                [cmap(c) if np.isfinite(c) else mpl.colors.to_rgba(NEUTRAL) for c in colour]
            )
        ax.scatter(
            x, y, s=size, c=facecolours, linewidths=0, alpha=0.9, zorder=3, rasterized=n > 2000
        )
    ax.axvline(0, color="#999999", linewidth=0.8, zorder=1)
    ax.set_yticks(np.arange(m)[::-1], labels, **LITERAL)
    if rest.size:
        ax.get_yticklabels()[-1].set_color("#555555")
        ax.get_yticklabels()[-1].set_fontstyle("italic")
    ax.set_ylim(-0.6, m - 0.4)
    for position in range(m):
        ax.axhline(position, color="#EEEEEE", linewidth=0.8, zorder=0)
    target = f" on {output_name}" if explanation.is_multi_output else ""
    ax.set_xlabel(f"Shapley value (impact{target})", **LITERAL)
    tidy(ax)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _value_colourbar(ax, "feature value")
    return ax


# --- waterfall ---------------------------------------------------------------------------


def waterfall(
    explanation: Explanation,
    row: int = 0,
    *,
    output: Any = None,
    output_position: int | None = None,
    max_features: int = 10,
    ax: Axes | None = None,
) -> Axes:
    """One row's values as steps from the base value (bottom) to the model's output (top).

    ``row`` is a position in the explanation (an int; a label or a str is a
    ``TypeError`` saying how to find the position). The largest |values| are drawn one by one
    (label ``feature = value``; groups by name), the rest in one step, "N other
    features". Vermillion steps push the output up, blue ones down; whiskers show
    ``+- 1.96`` standard errors for sampling estimators. A multi-output explanation
    draws the output labelled ``output``, or at ``output_position`` (default: the last).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), np.eye(2))
    >>> [t.get_text() for t in shapkit.plots.waterfall(expl, 1).get_yticklabels()]
    ['x0 = 0', 'x1 = 1']
    """
    expl, output_name = one_output(explanation, output, output_position)
    row = check_row(row, len(expl))
    phi = expl.values[row]
    errors = expl.std_errors[row]
    base = float(np.asarray(expl.base_values)[row])
    prediction = float(np.asarray(expl.predictions)[row])
    order = np.argsort(-np.abs(phi), kind="stable")
    top, rest = split_top(order, max_features)
    record = expl.data.iloc[row]
    steps: list[tuple[str, float, float]] = []
    for j in top:
        name = expl.feature_names[j]
        columns = expl.columns_of(name)
        if len(columns) == 1:
            label = f"{name} = {format_value(record[columns[0]])}"
        else:
            label = str(name)
        steps.append((label, float(phi[j]), float(errors[j])))
    if rest.size:
        steps.append((other_label(rest.size), float(phi[rest].sum()), float(errors[rest].sum())))
    # players cut out of this explanation (expl[:, features]) or a non-efficient estimate
    remainder = prediction - base - float(phi.sum())
    if abs(remainder) > 1e-9 * max(1.0, abs(prediction), abs(base)):
        steps.append(("not in this explanation", remainder, 0.0))
    steps.reverse()  # smallest step at the bottom, next to the base value
    m = len(steps)
    ax = new_axes(ax, 8.0, 1.6 + 0.45 * m)
    start = base
    ends = []
    for y, (_, value, error) in enumerate(steps):
        colour = POSITIVE if value >= 0 else NEGATIVE
        ax.barh(y, value, left=start, height=0.62, color=colour, zorder=2)
        if error > 0:
            ax.errorbar(
                start + value,
                y,
                xerr=1.96 * error,
                fmt="none",
                ecolor="#333333",
                elinewidth=1,
                capsize=2.5,
                zorder=3,
            )
        if y + 1 < m:
            ax.plot([start + value] * 2, [y + 0.31, y + 0.69], color="#777777", linewidth=0.8)
        ends.append((start, start + value))
        start += value
    span = [base, prediction] + [e for pair in ends for e in pair]
    lo, hi = min(span), max(span)
    pad = (hi - lo) * 0.18 or 0.1
    ax.set_xlim(lo - pad, hi + pad)
    for y, ((_, value, error), (_left, right)) in enumerate(zip(steps, ends, strict=True)):
        gap = pad * 0.06 + 1.96 * error  # beyond the whisker
        if value >= 0:
            ax.text(right + gap, y, signed(value), va="center", ha="left", fontsize=9, **LITERAL)
        else:
            ax.text(right - gap, y, signed(value), va="center", ha="right", fontsize=9, **LITERAL)
    ax.set_yticks(np.arange(m), [label for label, _, _ in steps], **LITERAL)
    ax.set_ylim(-1.1, m - 0.1 + 0.5)
    ax.axvline(base, color="#777777", linestyle=":", linewidth=1, zorder=1)
    ax.axvline(prediction, color="#333333", linestyle="--", linewidth=1, zorder=1)
    middle = (lo + hi) / 2
    box = {"facecolor": "white", "edgecolor": "none", "pad": 1}
    nudge = pad * 0.04
    ax.text(
        base + (nudge if base <= middle else -nudge),
        -0.75,
        f"base value {base:.4g}",
        ha="left" if base <= middle else "right",
        va="center",
        fontsize=9,
        color="#333333",
        bbox=box,
        **LITERAL,
    )
    ax.text(
        prediction + (nudge if prediction <= middle else -nudge),
        m - 0.1 + 0.15,
        f"prediction {prediction:.4g}",
        ha="left" if prediction <= middle else "right",
        va="center",
        fontsize=9,
        fontweight="bold",
        bbox=box,
        **LITERAL,
    )
    target = f"output {output_name}, " if explanation.is_multi_output else ""
    ax.set_xlabel(f"model output ({target}row {expl.data.index[row]!s})", **LITERAL)
    ax.grid(axis="x", color="#EEEEEE", zorder=0)
    tidy(ax)
    return ax


# --- dependence --------------------------------------------------------------------------


def dependence(
    explanation: Explanation,
    feature: Any,
    *,
    x: Any = None,
    color: Any = "auto",
    output: Any = None,
    output_position: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A feature's value (x-axis) against its Shapley value, one point per row.

    ``x``: the data column on the x-axis; default: the feature's column (for a group,
    its first numeric column). ``color``: a data column to colour by, ``None``, or
    ``"auto"``: the numeric column (outside the feature's own) that best explains the
    spread of the values at a given x (a linear fit on its ranks within bins of x), a
    hint of an interaction. Non-numeric columns are drawn as categories. Vertical
    whiskers: ``+- 1.96`` standard errors. A multi-output explanation draws the output
    labelled ``output``, or at ``output_position`` (default: the last).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np, shapkit
    >>> X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 0.0]])
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), X)
    >>> shapkit.plots.dependence(expl, "x1", color=None).get_ylabel()
    'Shapley value of x1'
    """
    expl, output_name = one_output(explanation, output, output_position)
    matches = label_positions(expl.feature_names, feature)
    if len(matches) != 1:
        raise KeyError(
            f"Unknown feature {feature!r}; the features are {preview(expl.feature_names)}."
        )
    j = matches[0]
    feature = expl.feature_names[j]
    y = expl.values[:, j]
    errors = expl.std_errors[:, j]
    own = expl.columns_of(feature)
    if x is None:
        numeric = [c for c in own if pd.api.types.is_numeric_dtype(expl.data[c].dtype)]
        if not (numeric or own):
            raise ValueError(f"Feature {feature!r} has no data column; pass x=<column>.")
        x = numeric[0] if numeric else own[0]
    if x not in expl.data.columns:
        raise KeyError(f"x={x!r} is not a data column; the columns are {list(expl.data.columns)}.")
    positions, ticks = _axis_positions(expl.data[x])
    missing_at = None
    if ticks is None and np.isnan(positions).any():  # their own strip, left of the axis
        positions, missing_at = _with_missing_strip(positions)
    if color == "auto":
        color = _interaction_column(expl, positions, y, exclude=set(own) | {x})
    elif color is not None and color not in expl.data.columns:
        raise KeyError(f"color={color!r} is not a data column; use a column, None or 'auto'.")
    ax = new_axes(ax, 7.5, 5.0)
    if np.any(errors > 0):
        ax.errorbar(
            positions, y, yerr=1.96 * errors, fmt="none", ecolor="#BBBBBB", elinewidth=0.8, zorder=1
        )
    size = float(np.clip(1500 / max(len(y), 1), 10, 40))
    if color is None:
        ax.scatter(positions, y, s=size, color=BAR, linewidths=0, alpha=0.85, zorder=2)
    else:
        column = expl.data[color]
        if pd.api.types.is_numeric_dtype(column.dtype):
            import matplotlib as mpl

            numbers = column.to_numpy(dtype=float, na_value=np.nan)
            scaled = _scale(numbers)
            if scaled is None:  # every value missing: all grey
                scaled = np.full(len(column), np.nan)
            limits = _colour_limits(numbers)
            rgba = np.array(
                [
                    mpl.colormaps[VALUE_CMAP](c) if np.isfinite(c) else mpl.colors.to_rgba(NEUTRAL)
                    for c in scaled
                ]
            )
            ax.scatter(positions, y, s=size, c=rgba, linewidths=0, alpha=0.9, zorder=2)
            if limits is not None and limits[1] > limits[0]:
                _value_colourbar(ax, str(color), limits)
        else:
            levels = pd.Series(column.astype(object)).fillna("missing").astype(str)
            for c, level_name in enumerate(sorted(levels.unique())):
                chosen = (levels == level_name).to_numpy()
                ax.scatter(
                    positions[chosen],
                    y[chosen],
                    s=size,
                    linewidths=0,
                    alpha=0.9,
                    color=OKABE_ITO[c % len(OKABE_ITO)],
                    label=level_name,
                    zorder=2,
                )
            _literal_legend(ax.legend(title=str(color), frameon=False, loc="best"))
    if ticks is not None:
        _category_ticks(ax, ticks)
    elif missing_at is not None:
        _missing_strip(
            ax, missing_at, int(np.isnan(expl.data[x].to_numpy(float, na_value=np.nan)).sum())
        )
    ax.axhline(0, color="#999999", linewidth=0.8, zorder=0)
    ax.set_xlabel(str(x), **LITERAL)
    target = f" ({output_name})" if explanation.is_multi_output else ""
    ax.set_ylabel(f"Shapley value of {feature}{target}", **LITERAL)
    ax.grid(color="#F0F0F0", zorder=0)
    tidy(ax)
    return ax


def _with_missing_strip(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Positions for a numeric x with missing cells: those drawn in a strip left of the
    smallest value (a tenth of the range away, with a little jitter), and its centre."""
    finite = x[np.isfinite(x)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    width = (hi - lo) or 1.0
    centre = lo - 0.12 * width
    jitter = np.random.default_rng(0).uniform(-0.02, 0.02, size=x.shape[0]) * width
    return np.where(np.isnan(x), centre + jitter, x), centre


def _missing_strip(ax: Axes, centre: float, count: int) -> None:
    """Mark the strip of rows whose x is missing: a shaded band and its label."""
    import matplotlib.transforms as transforms

    low, high = ax.get_xlim()
    width = 0.06 * (high - low)
    ax.axvspan(centre - width / 2, centre + width / 2, color="#F2F2F2", zorder=0)
    # no value ticks over the strip: it is not at a value of x
    ax.set_xticks([t for t in ax.get_xticks() if t > centre + width / 2 and t <= high])
    label_at = transforms.blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(centre, 1.0, f"missing\n({count})", transform=label_at, ha="center", va="bottom",
            fontsize=8, color="#555555", **LITERAL)  # fmt: skip
    ax.set_xlim(low, high)


#: Category labels longer than this are cut (with an ellipsis) on a dependence plot's axis.
MAX_CATEGORY_LABEL = 18


def _category_ticks(ax: Axes, names: list[str]) -> None:
    """Category names under their positions, cut to :data:`MAX_CATEGORY_LABEL`
    characters and turned 45 degrees when they would not fit side by side."""
    shown = [
        n
        if len(n) <= MAX_CATEGORY_LABEL
        else n[: MAX_CATEGORY_LABEL - 1] + "\N{HORIZONTAL ELLIPSIS}"
        for n in names
    ]
    width_inches = ax.figure.bbox.width / ax.figure.dpi * ax.get_position().width
    needed = sum(len(n) for n in shown) * 0.085 + 0.15 * len(shown)  # about 8 pt glyphs
    if needed > width_inches:
        ax.set_xticks(np.arange(len(shown)), shown, rotation=45, ha="right", **LITERAL)
    else:
        ax.set_xticks(np.arange(len(shown)), shown, **LITERAL)


def _axis_positions(column: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """x positions: numbers as they are; categories at 0, 1, ... with a little jitter."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float, na_value=np.nan), None
    levels = pd.Series(column.astype(object)).fillna("missing").astype(str)
    names = sorted(levels.unique())
    codes = levels.map({name: i for i, name in enumerate(names)}).to_numpy(dtype=float)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=codes.shape[0])
    return codes + jitter, names


def _interaction_column(expl: Explanation, x: np.ndarray, y: np.ndarray, exclude: set[Any]) -> Any:
    """The numeric column that best explains y's spread at a given x (see dependence).

    The rows are cut into bins of x (about 8 rows each, at most 10 bins); within each bin
    the values minus their bin mean are fitted linearly on the candidate's ranks. The
    score is the share of that spread the per-bin fits explain, so an interaction whose
    sign changes along x counts as much as one that does not.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 6:
        return None
    n_bins = int(np.clip(n // 8, 1, 10))
    bins = pd.qcut(pd.Series(x[ok]).rank(method="first"), n_bins, labels=False).to_numpy()
    residual = y[ok] - pd.Series(y[ok]).groupby(bins).transform("mean").to_numpy()
    total = float((residual**2).sum())
    if total <= 0:
        return None
    members = [np.flatnonzero(bins == b) for b in range(n_bins)]
    best, best_score = None, 0.0
    for column in expl.data.columns:
        if column in exclude or not pd.api.types.is_numeric_dtype(expl.data[column].dtype):
            continue
        ranks = pd.Series(expl.data[column].to_numpy(dtype=float, na_value=np.nan)[ok]).rank()
        ranks = ranks.fillna(ranks.mean()).to_numpy()
        unexplained = 0.0
        for rows in members:
            c = ranks[rows] - ranks[rows].mean()
            r = residual[rows]
            spread = float((c**2).sum())
            slope = float((c * r).sum()) / spread if spread > 0 else 0.0
            unexplained += float(((r - slope * c) ** 2).sum())
        score = 1.0 - unexplained / total
        if score > best_score:
            best, best_score = column, score
    return best


# --- convergence -------------------------------------------------------------------------


def convergence(
    trace: pd.DataFrame,
    *,
    features: Sequence[Any] | None = None,
    max_features: int = 5,
    output: Any = None,
    output_position: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One row's estimates ``+- 1.96`` standard errors against the evaluations used.

    ``trace`` is a table from :func:`shapkit.diagnostics.convergence_trace` (which
    re-runs the estimator at growing budgets: reports only draw). Draws ``features``
    (default: the ``max_features`` largest |values| at the largest budget) and, where
    the trace has them, the exact values as dotted lines. With several outputs it draws
    the one labelled ``output`` or at ``output_position`` (default: the last).

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> from shapkit.diagnostics import convergence_trace
    >>> trace = convergence_trace(lambda m: m @ np.arange(4.0), n_players=4, budgets=[8, 16])
    >>> ax = shapkit.plots.convergence(trace)
    """
    if not isinstance(trace, pd.DataFrame) or "budget" not in getattr(trace, "columns", []):
        raise TypeError(
            "convergence draws a trace: trace = shapkit.diagnostics.convergence_trace("
            "explainer, X.iloc[[i]]) (or (game, n_players=d)), then plots.convergence(trace)."
        )
    check_count(max_features, "max_features", "draw at least 1 feature", 5)
    outputs: list[Any] = []
    for label in trace["output"]:
        if not label_positions(outputs, label):
            outputs.append(label)
    if output is None and output_position is None:
        output_position = -1
    position = output_index(outputs, output, output_position)
    assert position is not None  # output or output_position is given
    output = outputs[position]
    attrs = trace.attrs
    trace = trace[[same_label(label, output) for label in trace["output"]]]
    trace.attrs = attrs
    last = trace[trace["budget"] == trace["budget"].max()]
    if features is None:
        ranked = last.assign(size=last["value"].abs()).sort_values("size", ascending=False)
        features = list(ranked["feature"][:max_features])
    exact = trace.attrs.get("exact", {})
    ax = new_axes(ax, 8.5, 4.8)
    for c, feature in enumerate(features):
        colour = OKABE_ITO[c % len(OKABE_ITO)]
        part = trace[trace["feature"] == feature].sort_values("n_evals")
        if part.empty:
            raise KeyError(f"Unknown feature {feature!r} in the trace.")
        x = part["n_evals"].to_numpy(dtype=float)
        value = part["value"].to_numpy()
        half = 1.96 * part["std_error"].to_numpy()
        ax.fill_between(x, value - half, value + half, color=colour, alpha=0.15, linewidth=0)
        ax.plot(x, value, marker="o", markersize=4, color=colour, label=str(feature))
        if (feature, output) in exact:
            ax.axhline(exact[(feature, output)], color=colour, linestyle=":", linewidth=1.2)
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("game evaluations used (log scale)", **LITERAL)
    target = f" ({output})" if len(outputs) > 1 else ""
    ax.set_ylabel(f"Shapley value{target}", **LITERAL)
    title = f"{trace.attrs.get('method', '')} estimates, band: \u00b11.96 standard errors"
    if exact:
        title += "; dotted: exact"
    ax.set_title(title.strip(), fontsize=10, **LITERAL)
    ax.grid(color="#EEEEEE")
    _literal_legend(
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="feature")
    )
    tidy(ax)
    return ax
