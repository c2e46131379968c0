"""``report``: one self-contained HTML file about an explanation.

The file has inline CSS and inline base64 PNG images, no script and no link to
anything outside itself, so it opens offline and can be mailed as it is.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._validation import check_level
from .contribution_plots import force as force_plot
from .summary import mirrored_outputs, summary

if TYPE_CHECKING:
    from ..explanation import Explanation
    from ..global_importance import GlobalExplanation
    from ..interaction_explanation import InteractionExplanation

#: The ``id`` of every section, in order.
SECTIONS = ("settings", "summary", "importance", "beeswarm", "waterfalls", "diagnostics")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1d1d1d; margin: 0 auto; max-width: 980px; padding: 1.5em 1.5em 4em;
       line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; }
h2 { font-size: 1.3em; margin-top: 2.2em; border-bottom: 2px solid #0072B2;
     padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.6em; }
.subtitle { color: #555; margin-top: 0; }
nav ol { columns: 2; padding-left: 1.2em; }
nav a { color: #0072B2; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { padding: 0.28em 0.7em; border-bottom: 1px solid #e3e3e3; text-align: right;
         white-space: nowrap; }
th { background: #f3f6f9; font-weight: 600; }
td.text, th.text { text-align: left; }
td.wrap, table.kv td { white-space: normal; }
tbody tr:nth-child(even) { background: #fafafa; }
table.kv td:first-child { text-align: left; color: #444; font-weight: 600; }
table.kv td { text-align: left; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
.note { color: #444; font-size: 0.92em; background: #f6f8fa; padding: 0.6em 0.9em;
        border-left: 3px solid #0072B2; }
.warn { border-left-color: #D55E00; }
code { font-size: 0.95em; }
details { margin: 0.5em 0; }
"""


def report(
    explanation: Explanation,
    path: str | Path,
    *,
    title: str | None = None,
    outputs: list[Any] | None = None,
    all_outputs: bool = False,
    max_outputs: int = 10,
    max_features: int = 12,
    level: float = 0.95,
    sage: GlobalExplanation | None = None,
    interactions: InteractionExplanation | None = None,
) -> Path:
    """Write an HTML report on ``explanation`` to ``path`` and return the path.

    Sections: model, data and estimator settings; the summary table
    (:func:`shapkit.summary`); the mean |value| bar plot and the beeswarm; a waterfall
    and a force plot of the rows with the highest and the lowest prediction; estimator
    diagnostics
    (evaluations used, largest standard error, efficiency gap
    ``max |base + sum - prediction|``). Needs matplotlib. Names are drawn and written
    as they are: no mathtext in the figures, HTML-escaped in the page.

    Parameters
    ----------
    explanation : Explanation
    path : str or Path
        The HTML file to write.
    title : str, optional
        Default: "Shapley values: <model>".
    outputs : list of labels, optional
        The outputs of a multi-output explanation to report, by label (an int is a
        label, never a position). To choose by position, report
        ``explanation.output_at([0, 2])``.
    all_outputs : bool
        A binary classifier's two probability outputs mirror each other, and by default
        the report shows the positive class only (the second output,
        :func:`shapkit.reports.summary.mirrored_outputs`); True shows both.
    max_outputs : int
        Without ``outputs=``, a multi-output explanation with more outputs than this is
        reported on the ``max_outputs`` outputs with the largest mean |value| (summed
        over players), and the report lists the others and says how to see them.
        Each output costs three figures (beeswarm, two waterfalls).
    max_features : int
        Players drawn on their own in each plot; the rest are summed.
    level : float
        Coverage of the summary intervals.
    sage : GlobalExplanation, optional
        SAGE values (:func:`shapkit.sage`) to report in a section of their own: how
        much each feature lowers the model's loss, with intervals, beside the mean
        |Shapley value| (how much it moves the predictions).
    interactions : InteractionExplanation, optional
        Interaction values (:meth:`shapkit.Explainer.interactions`) to report in a
        section of their own: the strongest pairs with intervals, the pair heatmap and
        the dependence plots of the strongest pairs, coloured by the partner. A
        multi-output result is reported on its first shown output (a binary
        classifier: the positive class).

    Raises
    ------
    ValueError
        No rows; ``outputs`` on a single-output explanation; ``max_outputs`` below 1.
    KeyError
        A label in ``outputs`` is not an output.

    Examples
    --------
    >>> import numpy as np, shapkit, tempfile, pathlib
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 2.0, 0.0]), X)
    >>> path = shapkit.report(expl, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> path.read_text().count("data:image/png;base64,")
    6
    """
    from . import plots

    if sage is not None:
        from ..global_importance import GlobalExplanation

        if not isinstance(sage, GlobalExplanation):
            raise TypeError(
                f"sage must be a GlobalExplanation (from shapkit.sage); got "
                f"{type(sage).__name__}."
            )
    if interactions is not None:
        from ..interaction_explanation import InteractionExplanation

        if not isinstance(interactions, InteractionExplanation):
            raise TypeError(
                f"interactions must be an InteractionExplanation (from "
                f"Explainer.interactions); got {type(interactions).__name__}."
            )
    plots.check_max_outputs(max_outputs)
    plots.check_count(max_features, "max_features", "draw at least 1 feature", 12)
    level = check_level(level)
    with plots.detached_figures():
        document = _document(
            explanation, title, outputs, all_outputs, max_outputs, max_features, level, plots,
            sage, interactions,
        )
    path = Path(path)
    path.write_text(document, encoding="utf-8")
    return path


def _document(
    explanation: Explanation,
    title: str | None,
    outputs: list[Any] | None,
    all_outputs: bool,
    max_outputs: int,
    max_features: int,
    level: float,
    plots: Any,
    sage: GlobalExplanation | None = None,
    interactions: InteractionExplanation | None = None,
) -> str:
    expl = explanation
    if len(expl) == 0:
        raise ValueError("The explanation has no rows to report on.")
    left_out: list[Any] = []
    if outputs is not None:
        if not expl.is_multi_output:
            raise ValueError("outputs= applies to multi-output explanations only.")
        if isinstance(outputs, (str, tuple)) or not hasattr(outputs, "__iter__"):
            outputs = [outputs]  # one label
        expl = expl[:, :, list(outputs)]
    elif not all_outputs and mirrored_outputs(expl):
        expl = expl.output_at(1)
    elif expl.is_multi_output:
        shown = plots.top_outputs(expl, max_outputs)
        if shown.size < expl.values.shape[2]:
            kept = set(shown.tolist())
            left_out = [n for c, n in enumerate(expl.output_names) if c not in kept]
            expl = expl.output_at(shown)
    title = title or f"Shapley values: {expl.settings.get('model') or 'model'}"
    output_names = list(expl.output_names)
    multi = expl.is_multi_output
    parts: list[str] = []
    parts.append(f"<h1>{_e(title)}</h1>")
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts.append(
        f'<p class="subtitle">{len(expl)} rows, {len(expl.feature_names)} players, '
        f"method <code>{_e(expl.method)}</code>; written by shapkit {_version()} on "
        f"{_e(stamp)}.</p>"
    )
    parts.append(_nav(with_sage=sage is not None, with_interactions=interactions is not None))
    if left_out:
        parts.append(_left_out_note(expl, left_out, max_outputs))

    parts.append('<section id="settings"><h2>Model, data and estimator</h2>')
    parts.append(_settings_table(expl, n_outputs=len(explanation.output_names)))
    parts.append(_groups_block(expl))
    parts.append("</section>")

    parts.append('<section id="summary"><h2>Global importance</h2>')
    parts.append(
        '<p class="note">Mean |Shapley value| per player over the explained rows, with a '
        f"{level:.0%} interval that counts row-to-row variation (the rows are a sample) "
        "and the estimators' standard errors (|estimate| is biased upwards by at most "
        "the standard error); <code>share</code> of the total; the mean signed value; "
        "<code>direction</code>: Spearman correlation between a numeric feature's value "
        "and its Shapley value (+1: higher values push the output up).</p>"
    )
    if multi:
        for c, name in enumerate(output_names):
            parts.append(f"<h3>Output {_e(name)}</h3>")
            parts.append(_summary_html(summary(expl, output_position=c, level=level)))
    else:
        parts.append(_summary_html(summary(expl, level=level)))
    parts.append("</section>")

    parts.append('<section id="importance"><h2>Mean |Shapley value|</h2>')
    ax = plots.bar(
        expl, max_features=max_features, max_outputs=max(len(output_names), 1), level=level,
        all_outputs=True,  # the outputs chosen above
    )  # fmt: skip
    parts.append(
        figure_html(
            ax,
            "Mean |Shapley value| per player; whiskers: the interval of the table above."
            + (
                " The least important players are summed into one bar."
                if len(expl.feature_names) > max_features
                else ""
            ),
        )
    )
    parts.append("</section>")

    if sage is not None:
        parts.append(_sage_section(sage, level, max_features))
    if interactions is not None:
        parts.append(_interactions_section(interactions, level))

    parts.append('<section id="beeswarm"><h2>Shapley values of every row</h2>')
    for c, name in enumerate(output_names):
        if multi:
            parts.append(f"<h3>Output {_e(name)}</h3>")
        ax = plots.beeswarm(expl, max_features=max_features, output_position=c if multi else None)
        parts.append(
            figure_html(
                ax,
                "One point per row and player; colour: the player's value "
                "(cividis, low to high; grey: non-numeric or missing).",
            )
        )
    parts.append("</section>")

    parts.append('<section id="waterfalls"><h2>Rows with the highest and lowest predictions</h2>')
    for c, name in enumerate(output_names):
        predictions = np.asarray(expl.predictions, dtype=float)
        predictions = predictions[:, c] if multi else predictions
        chosen = [("highest", int(np.argmax(predictions))), ("lowest", int(np.argmin(predictions)))]
        if chosen[0][1] == chosen[1][1]:
            chosen = chosen[:1]
        for which, row in chosen:
            label = expl.data.index[row]
            heading = f"{which.capitalize()} prediction: row {label}"
            parts.append(f"<h3>{_e(heading)}{_e(f' (output {name})') if multi else ''}</h3>")
            ax = plots.waterfall(
                expl, row, output_position=c if multi else None, max_features=max_features
            )
            parts.append(
                figure_html(
                    ax,
                    f"From the base value (mean prediction over the background) "
                    f"to this row's prediction {predictions[row]:.4g}, one step per "
                    f"player.",
                )
            )
            ax = force_plot(expl, row, output_position=c if multi else None)
            parts.append(
                figure_html(
                    ax,
                    "The same row on one line: vermillion players push the output up, "
                    "blue ones down; they meet at the prediction.",
                )
            )
    parts.append("</section>")

    parts.append('<section id="diagnostics"><h2>Estimator diagnostics</h2>')
    parts.append(_diagnostics(expl))
    parts.append("</section>")

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(p for p in parts if p)
        + "\n</body>\n</html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _version() -> str:
    from .. import __version__

    return __version__


def _nav(with_sage: bool = False, with_interactions: bool = False) -> str:
    names = {
        "sage": "Loss reduction (SAGE)",
        "interactions": "Interactions",
        "settings": "Model, data and estimator",
        "summary": "Global importance",
        "importance": "Mean |Shapley value|",
        "beeswarm": "Shapley values of every row",
        "waterfalls": "Highest and lowest predictions",
        "diagnostics": "Estimator diagnostics",
    }
    keys = list(SECTIONS)
    if with_sage:
        keys.insert(keys.index("importance") + 1, "sage")
    if with_interactions:
        keys.insert(keys.index("beeswarm"), "interactions")
    items = "".join(f'<li><a href="#{key}">{_e(names[key])}</a></li>' for key in keys)
    return f"<nav><ol>{items}</ol></nav>"


def _sage_section(sage: GlobalExplanation, level: float, max_features: int) -> str:
    """The SAGE section: what the values mean, their table and bar plot."""
    from .importance_plots import global_bar

    frame = sage.to_frame(level)
    how = (
        "exact: every coalition on every row"
        if sage.method == "exact"
        else f"estimated ({_e(sage.method)}, {sage.n_rows} row visits)"
        + ("" if sage.converged else "; the budget ran out before the tolerance was met")
    )
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_number(r.value, 4)}</td><td>{_number(r.std_error, 2)}"
        f"</td><td>{_number(r.ci_low, 4)} to {_number(r.ci_high, 4)}</td>"
        f"<td>{_number(r.share, 3)}</td></tr>"
        for name, r in frame.iterrows()
    )
    table = (
        "<table><thead><tr><th>player</th><th>SAGE value</th><th>std. error</th>"
        f"<th>{level:.0%} interval</th><th>share</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    ax = global_bar(sage, level=level, max_features=max_features)
    return (
        '<section id="sage"><h2>Loss reduction (SAGE)</h2>'
        f'<p class="note">How much knowing each player lowers the model\'s mean '
        f"{_e(sage.loss)}: from {_number(sage.loss_empty, 4)} with none known to "
        f"{_number(sage.loss_full, 4)} with all, shared fairly (Shapley values of the "
        f"loss; {how}, {sage.n_evals:,} masked rows evaluated by "
        f"{_e(sage.evaluated_on)}). Unlike the mean |Shapley value|, a "
        f"player that moves predictions without improving them gets little.</p>"
        + table
        + figure_html(ax, f"SAGE values with {level:.0%} intervals.")
        + "</section>"
    )


#: Pairs in the report's interaction table, and dependence plots drawn (the strongest).
REPORTED_PAIRS, DEPENDENCE_PAIRS = 10, 2


def _interactions_section(inter: InteractionExplanation, level: float) -> str:
    """The interactions section: the strongest pairs' table, the heatmap and the
    dependence plots of the strongest pairs, of one output."""
    from .interactions import (
        _outputs,
        interaction_dependence,
        interaction_heatmap,
        interaction_summary,
    )

    shown = _outputs(inter, None)
    output = inter.output_names[shown[0]] if shown else None
    rows = "sample" if inter.main.shape[0] >= 2 else "fixed"
    frame = interaction_summary(inter, output=output, level=level, rows=rows,
                                top=REPORTED_PAIRS)  # fmt: skip
    body = "".join(
        f"<tr><td>{_e(i)}</td><td>{_e(j)}</td><td>{_number(r.mean_abs, 4)}</td>"
        f"<td>{_number(r.ci_low, 4)} to {_number(r.ci_high, 4)}</td>"
        f"<td>{_number(r.share, 3)}</td><td>{_number(r['mean'], 4)}</td></tr>"
        for (i, j), r in frame.iterrows()
    )
    table = (
        "<table><thead><tr><th>player</th><th>partner</th><th>mean |pair term|</th>"
        f"<th>{level:.0%} interval</th><th>share</th><th>mean</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    how = {
        "tree": "exact, from the trees' leaves",
        "exact": "exact, every coalition enumerated",
    }.get(inter.method, f"estimated ({_e(inter.method)}), with standard errors")
    which = f" Output {_e(output)}." if output is not None else ""
    figures = [
        figure_html(interaction_heatmap(inter, output=output),
                    f"Mean |{_e(inter.index)} pair term| of every pair over the rows."),
    ]  # fmt: skip
    for i, j in list(frame.index)[:DEPENDENCE_PAIRS]:
        ax = interaction_dependence(inter, i, partner=j, output=output)
        figures.append(figure_html(
            ax, f"The pair term of {_e(i)} and {_e(j)} against {_e(i)}'s value, coloured "
            f"by {_e(j)}'s."))  # fmt: skip
    return (
        '<section id="interactions"><h2>Interactions</h2>'
        f'<p class="note">{_e(inter.index)} interaction values ({how}) of '
        f"{inter.main.shape[0]} rows: each pair's joint effect beyond the two players' "
        f"own (docs/interactions.md). The {min(REPORTED_PAIRS, len(frame))} strongest "
        f"pairs by mean |pair term| over the rows, with {level:.0%} intervals, their "
        f"share of all pairs' and the mean signed term.{which}</p>"
        + table + "".join(figures) + "</section>"
    )


def figure_html(ax: Any, caption: str) -> str:
    """The Axes' figure as an inline PNG."""
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=110)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _left_out_note(expl: Explanation, left_out: list[Any], max_outputs: int) -> str:
    """Which outputs the report leaves out, and how to see them."""
    shown = ", ".join(str(name) for name in expl.output_names)
    total = len(left_out) + len(expl.output_names)
    listed = ", ".join(str(name) for name in left_out)
    return (
        f'<p class="note warn" id="outputs-left-out">This explanation has {total} outputs; '
        f"this report shows the {len(expl.output_names)} with the largest mean |Shapley "
        f"value| (summed over players): {_e(shown)}. The other {len(left_out)} are left "
        f"out (listed below). To see them, pass <code>outputs=[...]</code> (their "
        f"labels) or a larger <code>max_outputs=</code> (now {max_outputs}) to "
        f"<code>shapkit.report</code>, or use "
        f"<code>shapkit.summary(expl, output=label)</code> and the plots' "
        f"<code>output=</code>.</p>"
        f"<details><summary>{len(left_out)} outputs left out</summary>"
        f'<p class="wrap">{_e(listed)}</p></details>'
    )


def _kv_table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><td>{_e(key)}</td><td>{_e(value)}</td></tr>" for key, value in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _settings_table(expl: Explanation, n_outputs: int | None = None) -> str:
    settings = expl.settings
    data = expl.data
    numeric = sum(pd.api.types.is_numeric_dtype(t) for t in data.dtypes)
    groups = [n for n in expl.feature_names if len(expl.player_columns.get(n, [n])) > 1]
    background = settings.get("background_size")
    if background is None and expl.background is not None:
        background = len(expl.background)
    requested = settings.get("requested_method", expl.method)
    method = str(expl.method)
    if str(requested) != method:
        method = f"{method} (requested: {requested})"
    budget = settings.get("budget")
    rows = [
        ("Model", settings.get("model", "not recorded")),
        ("Output space", _output_space(settings.get("output"))),
        ("Outputs", _outputs_cell(expl.output_names, n_outputs)),
        ("Rows explained", len(expl)),
        ("Data columns", f"{data.shape[1]} ({numeric} numeric)"),
        ("Players", f"{len(expl.feature_names)} ({len(groups) or 'no'} groups of columns)"),
        ("Value function", _value_function(expl.value_function)),
        ("Background rows", _background_cell(expl, background)),
        ("Method", method),
        ("Budget (evaluations per row)", "default" if budget is None else budget),
        ("Tolerance", "none" if settings.get("tol") is None else settings.get("tol")),
        ("Seed", "none" if settings.get("seed") is None else settings.get("seed")),
    ]
    return _kv_table(rows)


def _value_function(name: str) -> str:
    if name == "tree_path_dependent":
        return ("tree_path_dependent: the trees' cover-weighted conditional expectation "
                "(no background rows)")  # fmt: skip
    return f"{name}: the mean model output over the background rows"


def _background_cell(expl: Explanation, background: Any) -> Any:
    if expl.value_function == "tree_path_dependent":
        return "none (read from the trees' node covers)"
    return background if background is not None else "not recorded"


def _outputs_cell(names: list[Any], n_outputs: int | None) -> str:
    """The reported outputs, and how many the explanation has when some are left out."""
    text = ", ".join(map(str, names))
    if n_outputs is not None and n_outputs > len(names):
        text += f" (the {len(names)} shown of {n_outputs} outputs)"
    return text


def _output_space(output: Any) -> str:
    if output is None:
        return "not recorded"
    if output == "auto":
        return "auto (probabilities for classifiers, the raw output otherwise)"
    return str(output)


def _groups_block(expl: Explanation) -> str:
    groups = [
        (name, columns)
        for name, columns in expl.player_columns.items()
        if name in expl.feature_names and len(columns) > 1
    ]
    if not groups:
        return ""
    body = "".join(
        f'<tr><td class="text">{_e(name)}</td><td class="text wrap">'
        f"{_e(', '.join(map(str, columns)))}</td></tr>"
        for name, columns in groups
    )
    return (
        f"<details><summary>{len(groups)} players are groups of columns</summary>"
        f'<table><thead><tr><th class="text">player</th><th class="text">columns</th></tr>'
        f"</thead><tbody>{body}</tbody></table></details>"
    )


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "\N{EN DASH}"
    return f"{value:.{digits}g}"


def _summary_html(block: pd.DataFrame) -> str:
    header = (
        '<tr><th class="text">feature</th><th>rank</th><th>mean |value|</th>'
        "<th>interval</th><th>std |value|</th><th>share</th><th>mean</th>"
        "<th>direction</th></tr>"
    )
    body = []
    for feature, row in block.iterrows():
        interval = f"{_number(row['ci_low'])} \N{EN DASH} {_number(row['ci_high'])}"
        if np.isnan(row["ci_low"]):
            interval = "\N{EN DASH}"
        share = "\N{EN DASH}" if np.isnan(row["share"]) else f"{row['share']:.1%}"
        direction = "\N{EN DASH}" if np.isnan(row["direction"]) else f"{row['direction']:+.2f}"
        body.append(
            f'<tr><td class="text">{_e(feature)}</td><td>{int(row["rank"])}</td>'
            f"<td>{_number(row['mean_abs'])}</td><td>{_e(interval)}</td>"
            f"<td>{_number(row['std_abs'])}</td><td>{share}</td>"
            f"<td>{_number(row['mean'])}</td><td>{_e(direction)}</td></tr>"
        )
    return f"<table><thead>{header}</thead><tbody>{''.join(body)}</tbody></table>"


def _diagnostics(expl: Explanation) -> str:
    n_evals = np.asarray(expl.n_evals)
    values = expl.values if expl.is_multi_output else expl.values[:, :, None]
    errors = expl.std_errors if expl.is_multi_output else expl.std_errors[:, :, None]
    base = np.asarray(expl.base_values, dtype=float).reshape(len(expl), -1)
    predictions = np.asarray(expl.predictions, dtype=float).reshape(len(expl), -1)
    gap = np.abs(base + values.sum(axis=1) - predictions)
    i, j, c = np.unravel_index(int(np.argmax(errors)), errors.shape)
    largest = float(errors[i, j, c])
    where = f"row {expl.data.index[i]}, player {expl.feature_names[j]}"
    if expl.is_multi_output:
        where += f", output {expl.output_names[c]}"
    spread = float(np.max(values) - np.min(values))
    rows = [
        (
            "Evaluations per row (min / median / max)",
            f"{n_evals.min():,} / {np.median(n_evals):,.0f} / {n_evals.max():,}",
        ),
        ("Evaluations in total", f"{n_evals.sum():,}"),
        ("Largest standard error", f"{largest:.3g}" + (f" ({where})" if largest > 0 else "")),
        ("Mean standard error", f"{float(errors.mean()):.3g}"),
        ("Spread of the values (max \N{MINUS SIGN} min)", f"{spread:.4g}"),
        ("Efficiency gap max |base + sum \N{MINUS SIGN} prediction|", f"{float(gap.max()):.2e}"),
    ]
    notes = []
    if largest == 0:
        how = (
            f"computed in closed form from the model (method {expl.method}), without game "
            "evaluations"
            if n_evals.max() == 0
            else "every coalition of the players that vary was evaluated"
        )
        notes.append(f"The values are exact (standard errors are 0): {how}.")
    else:
        notes.append(
            "Sampling estimators: each value is within about 2 standard errors of the "
            "exact value 95% of the time. Raise the budget or lower tol for smaller errors."
        )
    scale = max(1.0, float(np.abs(predictions).max()))
    css = "note"
    if gap.max() > 1e-6 * scale:
        css = "note warn"
        notes.append(
            "The values do not add up to the predictions: some players were left out of "
            "this explanation, or the estimator does not enforce efficiency."
        )
    else:
        notes.append("The values add up to prediction \N{MINUS SIGN} base value for every row.")
    return _kv_table(rows) + f'<p class="{css}">{_e(" ".join(notes))}</p>'
