"""Diagnostics that run estimators: how one row's estimates settle as the budget grows.

The one report-like module that evaluates games; :mod:`shapkit.reports` only reads an
Explanation or a table made here (``shapkit.plots.convergence(trace)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .estimators import ESTIMATORS, Estimator, default_budget, get_estimator
from .explainer import Explainer
from .shapley import shapley_values
from .tabular import column_names_of, resolve_players

__all__ = ["convergence_trace"]


def convergence_trace(
    source: Any,
    X_row: Any = None,
    *,
    n_players: int | None = None,
    budgets: Sequence[int] | None = None,
    method: Any = None,
    seed: int | None = None,
    feature_names: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Re-estimate one row's values at a geometric series of budgets, same seed.

    Parameters
    ----------
    source : Explainer or callable
        An :class:`~shapkit.Explainer` (then ``X_row`` is the row: a one-row DataFrame
        or 2-D array) or a game ``game(masks)`` (then give ``n_players``).
    budgets : list of int, optional
        Default: about 8 budgets doubling from the estimator's smallest to
        ``min(2^d, max(2048, 100 d))``.
    method : str or Estimator, optional
        A sampling estimator; default: the explainer's when it samples, else
        ``"kernel"``.
    seed : int, optional
        Default: the explainer's seed, else 0. Every budget reuses it, so the trace
        shows one sampler given more evaluations.

    Returns
    -------
    DataFrame
        One row per (budget, feature, output): ``budget``, ``n_evals`` (used),
        ``feature``, ``output``, ``value``, ``std_error``. ``attrs`` holds ``method``,
        ``seed`` and, when ``2^d <= 4096``, ``exact``: the exact values as a
        ``{(feature, output): value}`` dict.

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda m: m @ np.arange(4.0) + m[:, 0] * m[:, 1] * m[:, 2]
    >>> trace = convergence_trace(game, n_players=4, budgets=[8, 14])
    >>> sorted(trace["budget"].unique().tolist()), trace.attrs["method"]
    ([8, 14], 'kernel')
    """
    if isinstance(source, Explainer):
        if X_row is None:
            raise ValueError("Pass the row to trace: convergence_trace(explainer, X.iloc[[i]]).")
        row = _one_row(X_row)
        names, _ = resolve_players(column_names_of(row, source.feature_names), source.groups)
        d = len(names)
        if method is None:
            method = _sampling_method(source.method)
        # the explainer's seed may be a SeedSequence
        trace_seed: int | np.random.SeedSequence = (
            seed if seed is not None else (source.seed if source.seed is not None else 0)
        )
        run = _explainer_runner(source, row, method, trace_seed)
        exact_run = _explainer_runner(source, row, "exact", trace_seed)
    elif callable(source):
        if n_players is None:
            raise ValueError("Pass n_players= with a game: convergence_trace(game, n_players=d).")
        d = int(n_players)
        names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
        method = "kernel" if method is None else method
        trace_seed = 0 if seed is None else seed
        run = _game_runner(source, d, method, trace_seed)
        exact_run = _game_runner(source, d, "exact", trace_seed)
    else:
        raise TypeError("source must be an Explainer or a game callable.")
    estimator = get_estimator(method, d, None)
    if estimator.exact:
        raise ValueError(f"method={method!r} is exact; a convergence trace needs a sampler.")
    if budgets is None:
        budgets = _default_budgets(estimator, d, default_budget(d))
    rows = []
    output_names: list[Any] = []
    for budget in sorted({int(b) for b in budgets}):
        estimator.check_budget(d, budget)
        values, errors, n_evals, output_names = run(budget)
        for j, feature in enumerate(names):
            for c, output_name in enumerate(output_names):
                rows.append((budget, n_evals, feature, output_name, values[j, c], errors[j, c]))
    trace = pd.DataFrame(
        rows, columns=["budget", "n_evals", "feature", "output", "value", "std_error"]
    )
    trace.attrs = {"method": getattr(estimator, "name", str(method)), "seed": trace_seed}
    if d <= 12:
        values, _, _, exact_outputs = exact_run(None)
        trace.attrs["exact"] = {
            (feature, output_name): float(values[j, c])
            for j, feature in enumerate(names)
            for c, output_name in enumerate(exact_outputs)
        }
    return trace


def _one_row(X_row: Any) -> Any:
    if isinstance(X_row, pd.Series):
        raise TypeError("Pass the row as a one-row DataFrame, X.iloc[[i]], not X.iloc[i].")
    if isinstance(X_row, pd.DataFrame):
        row = X_row
    else:
        row = np.asarray(X_row)
        row = row.reshape(1, -1) if row.ndim == 1 else row
    if row.shape[0] != 1:
        raise ValueError(f"Pass one row to trace; got {row.shape[0]} rows.")
    return row


def _sampling_method(method: Any) -> Any:
    """The explainer's method when it samples, else ``"kernel"``."""
    if isinstance(method, Estimator):
        return "kernel" if method.exact else method
    if isinstance(method, str) and method in ESTIMATORS and not ESTIMATORS[method].exact:
        return method
    return "kernel"


def _explainer_runner(
    explainer: Any, row: Any, method: Any, seed: int | np.random.SeedSequence
) -> Callable:
    """Runs a new Explainer with the same model, background and players, and ``method``."""
    clone = Explainer(
        explainer.model,
        explainer.background,
        method=method,
        output=explainer.output,
        groups=explainer.groups,
        feature_names=explainer.feature_names,
        seed=seed,
        max_rows=explainer.max_rows,
    )

    def run(budget: int | None) -> tuple[np.ndarray, np.ndarray, int, list[Any]]:
        expl = clone(row, budget=budget)
        values = expl.values[0] if expl.is_multi_output else expl.values[0][:, None]
        errors = expl.std_errors[0] if expl.is_multi_output else expl.std_errors[0][:, None]
        return values, errors, int(expl.n_evals[0]), list(expl.output_names)

    return run


def _game_runner(game: Callable, d: int, method: Any, seed: int) -> Callable:
    def run(budget: int | None) -> tuple[np.ndarray, np.ndarray, int, list[Any]]:
        result = shapley_values(game, d, method=method, budget=budget, seed=seed)
        values = result.values if result.values.ndim == 2 else result.values[:, None]
        errors = result.std_errors if result.std_errors.ndim == 2 else result.std_errors[:, None]
        outputs: list[Any] = list(range(values.shape[1])) if values.shape[1] > 1 else ["value"]
        return values, errors, int(result.n_evals), outputs

    return run


def _default_budgets(estimator: Any, d: int, cap: int) -> list[int]:
    low = estimator.min_budget(d)
    high = max(min(cap, 2**d if d <= 30 else cap), low)
    count = max(2, min(8, int(np.log2(high / low)) + 2))
    return sorted({int(round(b)) for b in np.geomspace(low, high, count)})
