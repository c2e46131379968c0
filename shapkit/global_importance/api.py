"""``shapkit.sage``: validate once, then exact enumeration or batches of sampled rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_seed, check_tol
from ..estimators.exact import MAX_EXACT_PLAYERS
from ..execution.local import resolve_n_jobs
from ..execution.progress import progress_bar
from ..games import DEFAULT_MAX_ROWS
from ..models import as_model
from ..tabular import (
    RowMasker,
    align_background,
    align_text_columns,
    check_tabular,
    child_sequence,
    column_names_of,
    resolve_players,
    sample_background,
)
from .estimate import (
    BATCH_ROWS,
    FIRST_BATCHES,
    BatchValues,
    batch_budget,
    batch_estimator,
    exact_sage,
    sampled_sage,
    take_all_rows,
)
from .game import RowLossGame, TreeRows, end_values, read_sage_trees, unrelabel
from .losses import Loss, resolve_loss
from .result import GlobalExplanation

#: ``method="auto"`` enumerates every coalition on every row up to this many model rows.
EXACT_MAX_MODEL_ROWS = 4_000_000
#: The same on compiled trees, where a masked row costs 50-100 times less than a
#: boosting model's call (docs/sage.md, "Tree models").
EXACT_MAX_TREE_ROWS = 64_000_000
#: Model rows a sampled run may use when ``budget=None`` (``tol`` usually stops it first).
DEFAULT_MAX_MODEL_ROWS = 50_000_000
#: Background rows drawn from X when none is given.
DEFAULT_SAGE_BACKGROUND = 64
METHODS = ("auto", "exact", "permutation")


def sage(
    model: Any,
    X: Any,
    y: Any,
    *,
    loss: str | Callable[..., Any] = "auto",
    background: Any = None,
    groups: Mapping[str, Sequence[str] | str] | None = None,
    method: str = "auto",
    budget: int | None = None,
    tol: float | None = 0.01,
    seed: int | np.random.SeedSequence | None = None,
    n_jobs: int | None = 1,
    progress: bool | None = None,
) -> GlobalExplanation:
    """SAGE values of ``model`` on the rows ``X`` with targets ``y``.

    The value of a set S of features is ``v(S) = -mean_i loss(f_S(x_i), y_i)``, where
    ``f_S(x)`` is the mean prediction over the background rows with the features outside
    S taken from the background (marginal imputation, exact over the background). Each
    feature's SAGE value is its Shapley value in that game: the loss reduction it brings,
    shared fairly with the features it works with. The values add up to
    ``loss_empty - loss_full``.

    Parameters
    ----------
    model : scikit-learn estimator or Pipeline, torch module, or callable
        Fitted. Classifiers are read as probabilities.
    X : ndarray or DataFrame
        The rows over which the loss is averaged (held-out rows, usually).
    y : array-like
        One target per row of X: numbers for ``"mse"``, class labels (of the model's
        ``classes_``) for ``"cross_entropy"`` and ``"zero_one"``.
    loss : {"auto", "mse", "cross_entropy", "zero_one"} or callable
        ``"auto"``: cross-entropy of ``predict_proba`` for classifiers, else the squared
        error. A callable ``loss(y_true, prediction)`` returns one loss per row
        (``prediction`` is ``(n,)`` for one output, ``(n, k)`` for more, in the order of
        the classifier's ``classes_``; ``y_true`` holds y's own values).
    background : ndarray or DataFrame, optional
        Rows that stand in for unknown features; default: 64 rows of X drawn with
        ``seed``. Every value averages over all of them, so their number multiplies the
        cost.
    groups : mapping, optional
        Players made of several columns, as in :class:`shapkit.Explainer`.
    method : {"auto", "exact", "permutation"}
        ``"exact"``: every coalition on every row (no error). ``"permutation"``: the rows
        are visited in random order, pass after pass, in batches of 8 rows (one model
        call); each row's game is estimated twice, independently, from one antithetic
        pair of permutations each (``2 d`` evaluations per row and estimate; unbiased,
        so any number of passes can be averaged; each row's players are relabelled at
        random, so the rows of a batch are sampled independently). The standard error
        counts the rows not visited and each row's own noise (docs/sage.md).
        ``"auto"``: exact when it costs at most 4 million model rows (64 million on
        compiled trees, below), else permutation. (The kernel estimator is not offered:
        at the small per-row budgets that pay here its slight bias survives the
        averaging over many rows, docs/sage.md.)

        Tree ensembles (scikit-learn, XGBoost, LightGBM, CatBoost, as
        :class:`shapkit.Explainer` reads them) whose output the loss reads (the
        probabilities, a regressor's prediction) is reproduced by their compiled trees
        are not called: every masked row is evaluated on the trees, with the same
        values to rounding at a small fraction of the cost
        (``GlobalExplanation.evaluated_on`` says which). Pass the model's method as a
        callable (``model.predict_proba``) to call the model instead.
    budget : int, optional
        Most model rows to evaluate with ``method="permutation"`` (default: 50 million,
        as a cap), every row without and with all features (``2 n`` x background rows)
        included (masked rows evaluated on compiled trees count the same); ``"auto"``
        enumerates only when that fits in it too. An explicit ``method="exact"`` costs
        ``(2^d + 2) n`` x background rows whatever the budget.
    tol : float, optional
        Stop once the largest standard error is below ``tol`` times the spread of the
        values (``max - min``); None: spend the budget.
    seed : int, optional
        Seeds the background sample, the rows drawn and the coalitions: same seed, same
        values, for any ``n_jobs``.
    n_jobs : int
        Processes over which the batches of each round are spread.
    progress : bool, optional
        A bar over the batches of each round (None: when a terminal watches).

    Returns
    -------
    GlobalExplanation

    Raises
    ------
    ValueError
        y of the wrong length or type for the loss, NaN in y, a loss that does not match
        the model's outputs, a classifier without ``predict_proba`` for cross-entropy,
        an unknown method, or a budget below one round of batches.

    Examples
    --------
    >>> import shapkit
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> model = LinearRegression().fit(X, y)
    >>> g = shapkit.sage(model, X.iloc[:100], y.iloc[:100], background=X.iloc[:20],
    ...                  groups={"blood": ["s1", "s2", "s3", "s4", "s5", "s6"]}, seed=0)
    >>> g.method, len(g.values)
    ('exact', 5)
    >>> bool(abs(g.values.sum() - (g.loss_empty - g.loss_full)) < 1e-9)
    True
    """
    X = check_tabular(X, "X")
    if method not in METHODS:
        raise ValueError(f"Unknown method={method!r}; choose one of {list(METHODS)}.")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, np.integer))
                               or budget <= 0):  # fmt: skip
        raise ValueError(f"budget must be a positive number of model rows; got {budget!r}.")
    tol = check_tol(tol)
    seed = check_seed(seed, generator=False)
    workers = resolve_n_jobs(n_jobs)
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None (auto); got {progress!r}.")
    if (isinstance(X, pd.DataFrame) and isinstance(y, pd.Series) and len(y) == len(X)
            and not y.index.equals(X.index)):  # fmt: skip
        raise ValueError(
            "y's index differs from X's, so its rows would be matched to X's by position; "
            "align them first (y = y.loc[X.index]) or pass y.to_numpy() if the order is "
            "right."
        )
    target = resolve_loss(loss, model, y, X.shape[0])
    if background is None:
        background = sample_background(X, DEFAULT_SAGE_BACKGROUND, seed)
    background = check_tabular(background, "background")
    X = align_text_columns(X, background)
    background = align_background(X, background)
    names = column_names_of(X, None)
    player_names, column_player = resolve_players(names, groups)
    d = len(player_names)
    adapter = as_model(model, target.output)
    n, n_background = X.shape[0], background.shape[0]
    masker = RowMasker(X, background, column_player)
    linked = read_sage_trees(model, adapter, target.output, X, background, d)
    trees = None if linked is None else TreeRows(linked, X, background, column_player, d)
    if method == "auto":
        exact_cost = (2**d + 2) * n * n_background
        limit = EXACT_MAX_MODEL_ROWS if trees is None else EXACT_MAX_TREE_ROWS
        limit = limit if budget is None else min(limit, budget)
        exact = d <= MAX_EXACT_PLAYERS and exact_cost <= limit
        method = "exact" if exact else "permutation"
    evaluated_on = "model calls" if trees is None else trees.describe()
    # every row at the empty and the full coalition: the exact losses without and with
    # every feature, and the per-row totals of the control variate
    if trees is None:
        ends = RowLossGame(adapter, masker, np.arange(n), target, column_player,
                           DEFAULT_MAX_ROWS)  # fmt: skip
        both = ends(np.array([np.zeros(d, bool), np.ones(d, bool)]))
        end_rows = ends.n_model_rows
    else:
        both, end_rows = end_values(target, trees), 2 * n * n_background
    loss_empty, loss_full = float(-both[0].mean()), float(-both[1].mean())
    if method == "exact":
        game = RowLossGame(adapter, masker, np.arange(n), target, column_player,
                           DEFAULT_MAX_ROWS, mean=True, trees=trees)  # fmt: skip
        values = exact_sage(game, d)
        return GlobalExplanation(values, np.zeros(d), list(player_names), loss_empty, loss_full,
                                 target.name, end_rows + game.n_model_rows, "exact", n,
                                 evaluated_on=evaluated_on)  # fmt: skip
    per_batch = batch_budget(method, d)
    # two estimates of each visited row; their empty and full coalitions are known
    row_cost = 2 * (per_batch - 2) * n_background
    first = min(n, FIRST_BATCHES * BATCH_ROWS) * row_cost
    if budget is not None and budget - end_rows < first:
        raise ValueError(
            f"budget={budget} model rows is below one round: method={method!r} needs "
            f"{end_rows + first} ({end_rows} for every row without and "
            f"with all features, then {min(n, FIRST_BATCHES * BATCH_ROWS)} rows x 2 "
            f"estimates x {per_batch - 2} coalitions x {n_background} background rows). "
            f"Raise the budget, or use fewer background rows."
        )
    cap = (budget if budget is not None else DEFAULT_MAX_MODEL_ROWS) - end_rows
    base = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    spec = _BatchSpec(adapter, X, background, target, column_player, method, d, per_batch,
                      base, both, trees)  # fmt: skip

    totals = both[1] - both[0]
    take_all = take_all_rows(totals, min(n, FIRST_BATCHES * BATCH_ROWS))

    def order(p: int) -> np.ndarray:
        shuffled = np.random.default_rng(child_sequence(base, 2, p)).permutation(n)
        if p > 0 or take_all.size == 0:
            return shuffled
        return np.concatenate([take_all, shuffled[~np.isin(shuffled, take_all)]])

    # the bar counts row visits up to the cap; convergence usually ends it early
    with progress_bar(max(cap // row_cost, 1), progress, desc="shapkit sage") as bar:

        def run_batches(jobs: list[tuple[int, np.ndarray]]) -> list[BatchValues]:
            out = _run(spec, jobs, workers, masker)
            bar.update(sum(rows.size for _, rows in jobs))
            return out

        est = sampled_sage(run_batches, totals, order, row_cost, max(cap, first), tol,
                           take_all)
    return GlobalExplanation(est.values, est.std_errors, list(player_names), loss_empty,
                             loss_full, target.name, end_rows + est.n_model_rows,
                             method, est.n_row_visits, est.converged,
                             evaluated_on)  # fmt: skip


@dataclass(frozen=True)
class _BatchSpec:
    """What a worker needs to evaluate batches (pickled once per worker)."""

    model: Any
    X: Any
    background: Any
    loss: Loss
    column_player: np.ndarray
    method: str
    n_players: int
    per_batch: int
    seed: np.random.SeedSequence
    ends: np.ndarray
    trees: TreeRows | None


def _run(
    spec: _BatchSpec, jobs: list[tuple[int, np.ndarray]], workers: int, masker: RowMasker
) -> list[BatchValues]:
    if workers <= 1 or len(jobs) < 2:
        return [_one_batch(spec, masker, i, rows) for i, rows in jobs]
    from joblib import Parallel, delayed

    parts = [jobs[k::workers] for k in range(min(workers, len(jobs)))]
    done = Parallel(n_jobs=len(parts))(delayed(_run_part)(spec, part) for part in parts)
    by_index = {i: batch for part, out in zip(parts, done, strict=True)
                for (i, _), batch in zip(part, out, strict=True)}  # fmt: skip
    return [by_index[i] for i, _ in jobs]


def _run_part(spec: _BatchSpec, jobs: list[tuple[int, np.ndarray]]) -> list[BatchValues]:
    masker = RowMasker(spec.X, spec.background, spec.column_player)
    return [_one_batch(spec, masker, i, rows) for i, rows in jobs]


def _one_batch(spec: _BatchSpec, masker: RowMasker, index: int, rows: np.ndarray) -> BatchValues:
    """Batch ``index``: two independent estimates of its rows' values, each from its own
    child of the seed, so any split over workers gives the same. Each row's players are
    relabelled at random (:class:`RowLossGame`), so the permutations the rows share
    sample each row's game independently of the others'."""
    relabel_rng = np.random.default_rng(child_sequence(spec.seed, 1, index, 2))
    relabel = np.array([relabel_rng.permutation(spec.n_players) for _ in rows]).reshape(
        len(rows), spec.n_players)
    game = RowLossGame(spec.model, masker, rows, spec.loss, spec.column_player,
                       DEFAULT_MAX_ROWS, relabel=relabel, ends=spec.ends,
                       trees=spec.trees)  # fmt: skip
    estimator = batch_estimator(spec.method)
    first, second = (
        unrelabel(estimator.estimate(game, spec.n_players, spec.per_batch, None,
                                     np.random.default_rng(child_sequence(spec.seed, 1, index, k))
                                     ).values, relabel)
        for k in (0, 1)
    )  # fmt: skip
    return BatchValues(np.asarray(rows), first, second, game.n_model_rows)


__all__ = ["sage"]
