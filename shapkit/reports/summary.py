"""``summary``: global importance of each player, with intervals that know the noise.

The interval of ``mean_abs`` (see ``docs/reports.md`` for the derivation)
-------------------------------------------------------------------------
Row ``i`` has an estimate ``phi_hat_i = phi_i + e_i`` with estimation noise ``e_i`` of
mean 0 and standard error ``se_i``; the summary averages ``a_i = |phi_hat_i|``.

* Noise makes ``|phi_hat|`` biased upwards, never downwards:
  ``|phi| <= E|phi + e| <= |phi| + E|e| <= |phi| + se`` (Jensen, then Cauchy-Schwarz).
  So the mean of the true ``|phi|`` lies between ``E[m] - mean(se)`` and ``E[m]``.
* ``rows="sample"`` (default: the rows are a sample of the rows the model sees): the
  ``a_i`` are independent draws (each row has its own random stream), so their sample
  variance ``s^2`` estimates the total variance of ``a``, row-to-row variation *and*
  noise variance alike (law of total variance); ``Var(m) ~ s^2 / n``. Adding
  ``mean(se^2) / n`` on top would count the noise twice.
* ``rows="fixed"`` (the explained rows are all that matter): only the noise varies,
  ``Var(m) = sum Var|phi_hat_i| / n^2 <= sum se_i^2 / n^2`` (``|.|`` is 1-Lipschitz).

The interval is ``[m - q * sd(m) - mean(se), m + q * sd(m)]``, lower end clipped at 0,
with ``q`` the Student-t quantile on ``n - 1`` degrees of freedom (``"sample"``) or the
normal quantile (``"fixed"``).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._labels import output_index
from .._validation import check_level
from ..cohorts import Cohorts

if TYPE_CHECKING:
    from ..explanation import Explanation
    from ..interaction_explanation import InteractionExplanation

COLUMNS = ["mean_abs", "std_abs", "ci_low", "ci_high", "share", "mean", "direction", "rank"]
_ROWS = ("sample", "fixed")


def summary(
    explanation: Explanation | Cohorts | InteractionExplanation,
    *,
    output: Any = None,
    output_position: int | None = None,
    aggregate: bool = False,
    all_outputs: bool = False,
    level: float = 0.95,
    rows: str = "sample",
) -> pd.DataFrame:
    """Global importance of each player: mean |value| with its interval, share, sign.

    A binary classifier's two probability outputs mirror each other (``p1 = 1 - p0``, so
    every value of one is minus the other's): by default only the positive class (the
    second output, ``classes_[1]``) is summarised, as in every plot and the report
    (:func:`mirrored_outputs`); ``all_outputs=True`` keeps both.

    Parameters
    ----------
    explanation : Explanation, Cohorts or InteractionExplanation
        Cohorts (:meth:`shapkit.Explanation.cohorts`) give one block per cohort under a
        ``cohort`` index level, with each cohort's size in a column ``rows`` (cohorts of
        one row have NaN intervals with ``rows="sample"``). Interaction values
        (:meth:`shapkit.Explainer.interactions`) give their strongest pairs:
        :func:`shapkit.reports.interactions.interaction_summary`.
    output : label, optional
        Summarise this output only, chosen by its label in ``output_names`` (an int is a
        label, never a position: with classes ``[1, 2, 3]``, ``output=1`` is class 1 and
        ``output=0`` a KeyError; a bool matches only a bool).
    output_position : int, optional
        Summarise the output at this position instead (0 first, -1 last).
    all_outputs : bool
        Keep both outputs of a binary classifier (see above); other explanations keep
        every output anyway.
    aggregate : bool
        For a multi-output explanation: per row, sum ``|value|`` over the outputs, then
        summarise that (standard errors are summed too, which bounds the noise of the
        sum whatever the correlation between outputs). ``mean`` and ``direction`` have
        no meaning for a sum of magnitudes and are NaN.
    level : float
        Coverage of the interval ``[ci_low, ci_high]`` (default 0.95).
    rows : {"sample", "fixed"}
        ``"sample"``: the rows are a sample, the interval covers the population's mean
        |value|, from row-to-row variation and estimation noise (needs 2 rows).
        ``"fixed"``: the interval covers these rows' mean |value|, from estimation noise
        only (zero width for exact methods).

    Returns
    -------
    DataFrame
        Indexed by ``feature`` (and ``output`` first, one block per output, for
        multi-output explanations), sorted by ``rank`` in each block. Columns:

        ``mean_abs``: mean |value| over rows; ``std_abs``: its standard deviation over
        rows (ddof 1); ``ci_low``, ``ci_high``: the interval of ``mean_abs`` (see the
        module docstring); ``share``: ``mean_abs`` over the block's total; ``mean``: the
        mean signed value; ``direction``: Spearman correlation of a numeric feature's
        value with its Shapley value (NaN for groups, non-numeric or constant columns);
        ``rank``: 1 for the largest ``mean_abs``.

        ``df.attrs`` holds the settings: method, model, output space, budget, tol,
        background size, n rows, seed, level, rows, aggregate, outputs.

    Raises
    ------
    KeyError
        ``output`` is not one of the labels (the message says how to select by position).
    ValueError
        Both ``output`` and ``output_position``, or one of them with ``aggregate``; a bad
        ``level`` or ``rows``; no rows.
    TypeError
        ``level`` is not a number (e.g. the string ``"high"``).

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 0.0]])
    >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), X)
    >>> table = shapkit.summary(expl)
    >>> table["mean_abs"].round(3).to_dict(), table["share"].round(3).to_dict()
    ({'x1': 2.0, 'x0': 0.667}, {'x1': 0.75, 'x0': 0.25})
    """
    if not isinstance(rows, str) or rows not in _ROWS:
        raise ValueError(f"rows={rows!r}: choose 'sample' or 'fixed'.")
    level = check_level(level)
    # imported here, not with the module: it brings the estimator layer, which the plots
    # do not need
    from ..interaction_explanation import InteractionExplanation
    if isinstance(explanation, InteractionExplanation):
        if output_position is not None or aggregate or all_outputs:
            raise ValueError(
                "For interaction values, summary() takes output=, level= and rows= only."
            )
        from .interactions import interaction_summary  # it builds on this module

        return interaction_summary(explanation, output=output, level=level, rows=rows)
    if isinstance(explanation, Cohorts):
        return _cohort_summary(
            explanation, output=output, output_position=output_position,
            aggregate=aggregate, all_outputs=all_outputs, level=level, rows=rows,
        )  # fmt: skip
    expl = explanation
    if output is not None or output_position is not None:
        if aggregate:
            raise ValueError("Pass either output= (one output) or aggregate=True, not both.")
        expl = select_output(expl, output, output_position)
    elif not (aggregate or all_outputs):
        expl = default_outputs(expl)
    n = len(expl)
    if n == 0:
        raise ValueError("The explanation has no rows to summarise.")
    if expl.is_multi_output and aggregate:
        magnitudes = np.abs(expl.values).sum(axis=2)
        errors = expl.std_errors.sum(axis=2)
        frame = _block(expl, magnitudes, errors, None, level, rows)
        outputs = list(expl.output_names)
    elif expl.is_multi_output:
        blocks = []
        for k in range(expl.values.shape[2]):
            values = expl.values[:, :, k]
            blocks.append(
                _block(expl, np.abs(values), expl.std_errors[:, :, k], values, level, rows)
            )
        frame = pd.concat(blocks, keys=list(expl.output_names), names=["output", "feature"])
        outputs = list(expl.output_names)
    else:
        values = expl.values
        frame = _block(expl, np.abs(values), expl.std_errors, values, level, rows)
        outputs = list(expl.output_names)
    frame.attrs = settings_attrs(expl)
    frame.attrs.update(
        {
            "level": float(level),
            "rows": rows,
            "aggregate": bool(aggregate and expl.is_multi_output),
            "outputs": [_plain(o) for o in outputs],
        }
    )
    return frame


def settings_attrs(expl: Explanation) -> dict[str, Any]:
    """The settings worth printing next to a table, as plain Python values."""
    settings = dict(expl.settings)
    background = expl.background
    background_size = settings.get("background_size")
    if background_size is None and background is not None:
        background_size = len(background)
    return {
        "method": expl.method,
        "value_function": expl.value_function,
        "model": _plain(settings.get("model")),
        "output_space": _plain(settings.get("output")),
        "budget": _plain(settings.get("budget")),
        "tol": _plain(settings.get("tol")),
        "background_size": _plain(background_size),
        "n_rows": len(expl),
        "seed": _plain(settings.get("seed")),
    }


def _cohort_summary(cohorts: Cohorts, **options: Any) -> pd.DataFrame:
    """:func:`summary` of every cohort, one block per cohort under a ``cohort`` index
    level, with each cohort's size in a column ``rows``."""
    blocks = [
        summary(cohorts[label], **options).assign(rows=size)
        for label, size in cohorts.sizes().items()
    ]
    frame = pd.concat(blocks, keys=list(cohorts), names=["cohort"])
    frame.attrs = dict(blocks[0].attrs)
    return frame


def mirrored_outputs(expl: Explanation) -> bool:
    """True for two outputs that mirror each other: their predictions sum to the same
    number on every row and each value of one is minus the other's (a binary
    classifier's probabilities, ``p1 = 1 - p0``; to rounding). One of them says
    everything; the default views show the second (the positive class).

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(40, 2)); y = X[:, 0] > 0
    >>> expl = shapkit.explain(LogisticRegression().fit(X, y), X[:3], background=X)
    >>> mirrored_outputs(expl)
    True
    """
    if not expl.is_multi_output or expl.values.shape[2] != 2 or len(expl) == 0:
        return False
    values = expl.values
    scale = float(np.abs(values).max()) + float(np.abs(expl.predictions).max())
    tolerance = 1e-9 * max(scale, 1e-300)
    totals = np.asarray(expl.predictions, dtype=float).sum(axis=1)
    return bool(
        np.all(np.isfinite(values))
        and np.ptp(totals) <= tolerance
        and np.abs(values[:, :, 0] + values[:, :, 1]).max() <= tolerance
    )


def default_outputs(expl: Explanation) -> Explanation:
    """The outputs the default views show: the positive class of mirrored outputs
    (:func:`mirrored_outputs`), else every output."""
    return expl.output_at(1) if mirrored_outputs(expl) else expl


def select_output(
    expl: Explanation, output: Any = None, output_position: int | None = None
) -> Explanation:
    """The single-output explanation of the output labelled ``output`` or at
    ``output_position`` (see :func:`shapkit._labels.output_index`); ``expl`` itself when
    neither is given or it has one output (which must then match)."""
    k = output_index(
        expl.output_names,
        output,
        output_position,
        n_outputs=expl.values.shape[2] if expl.is_multi_output else 1,
    )
    if k is None or not expl.is_multi_output:
        return expl
    return expl.output_at(k)


def abs_interval(
    magnitudes: np.ndarray, errors: np.ndarray, level: float, rows: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sd over rows, and interval of the mean of ``magnitudes`` (n, d).

    ``errors`` (n, d) bounds the noise of each magnitude (its standard error). See the
    module docstring for the formula.
    """
    n = magnitudes.shape[0]
    mean = magnitudes.mean(axis=0)
    if n > 1:
        std = magnitudes.std(axis=0, ddof=1)
    else:
        std = np.full(mean.shape, np.nan)
    bias = errors.mean(axis=0)
    if rows == "sample":
        if n > 1:
            from scipy.stats import t as student_t

            q = float(student_t.ppf(0.5 + level / 2, df=n - 1))
            half = q * std / math.sqrt(n)
        else:
            half = np.full(mean.shape, np.nan)
    else:
        q = NormalDist().inv_cdf(0.5 + level / 2)
        half = q * np.sqrt((errors**2).sum(axis=0)) / n
    low = np.maximum(mean - half - bias, 0.0)
    high = mean + half
    return mean, std, low, high


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of x and y over the pairs with no NaN (ties: mean
    ranks); NaN with fewer than 2 pairs or a constant side."""
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 2:
        return float("nan")
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float((rx**2).sum() * (ry**2).sum()))
    if denominator == 0.0:
        return float("nan")
    return float((rx * ry).sum() / denominator)



def spearman_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`spearman` of each column of ``x`` with the same column of ``y`` (both
    ``(n, m)``), equal to it bit for bit.

    Columns without NaN are ranked together: their centred ranks are halves of integers,
    so every sum below is exact in any order. Columns with NaN go one at a time.

    Examples
    --------
    >>> x = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    >>> spearman_columns(x, x[:, [0, 0]]).tolist()
    [1.0, -1.0]
    """
    from scipy.stats import rankdata

    out = np.full(x.shape[1], np.nan)
    missing = np.isnan(x).any(axis=0) | np.isnan(y).any(axis=0)
    for j in np.flatnonzero(missing):
        out[j] = spearman(x[:, j], y[:, j])
    full = np.flatnonzero(~missing)
    if full.size == 0 or x.shape[0] < 2:
        return out
    rx = rankdata(x[:, full], axis=0) - (x.shape[0] + 1) / 2.0
    ry = rankdata(y[:, full], axis=0) - (x.shape[0] + 1) / 2.0
    denominator = np.sqrt((rx**2).sum(axis=0) * (ry**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[full] = np.where(denominator == 0.0, np.nan, (rx * ry).sum(axis=0) / denominator)
    return out

def _block(
    expl: Explanation,
    magnitudes: np.ndarray,
    errors: np.ndarray,
    values: np.ndarray | None,
    level: float,
    rows: str,
) -> pd.DataFrame:
    """One block of the summary: a row per player, sorted by rank."""
    mean_abs, std_abs, low, high = abs_interval(magnitudes, errors, level, rows)
    total = mean_abs.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = mean_abs / total if total > 0 else np.full(mean_abs.shape, np.nan)
    d = magnitudes.shape[1]
    if values is None:
        mean = np.full(d, np.nan)
        direction = np.full(d, np.nan)
    else:
        mean = values.mean(axis=0)
        direction = np.full(d, np.nan)
        for j, name in enumerate(expl.feature_names):
            x = expl.numeric_values(name)
            if x is not None:
                direction[j] = spearman(x, values[:, j])
    index = pd.Index(list(expl.feature_names), name="feature")
    frame = pd.DataFrame(
        {
            "mean_abs": mean_abs,
            "std_abs": std_abs,
            "ci_low": low,
            "ci_high": high,
            "share": share,
            "mean": mean,
            "direction": direction,
        },
        index=index,
    )
    order = np.argsort(-mean_abs, kind="stable")
    rank = np.empty(d, dtype=np.int64)
    rank[order] = np.arange(1, d + 1)
    frame["rank"] = rank
    return frame.iloc[order]


def _plain(value: Any) -> Any:
    """A value fit for ``attrs`` and JSON: numbers, str, bool, None; others as repr."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)
