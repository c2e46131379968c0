"""``Explainer`` and ``explain``: data -> games -> estimator -> ``Explanation``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_budget, check_positive_int, check_seed, check_tol
from .cost import check_feasible, estimate_cost
from .estimators import Estimator, get_estimator, resolve_tol
from .estimators.base import check_finite
from .estimators.linear import (
    LinearForm,
    LinearNotApplicableError,
    linear_coefficients,
    linear_shapley,
)
from .estimators.tree import as_tree_aware_model, tree_model_for, tree_shapley
from .explanation import Explanation
from .games import CALL_BYTES, DEFAULT_MAX_ROWS, MIN_ROWS_PER_CALL, MarginalGame
from .tabular import (
    DEFAULT_BACKGROUND_SIZE,
    RowMasker,
    align_background,
    align_text_columns,
    check_tabular,
    column_names_of,
    resolve_players,
    sample_background,
)


class Explainer:
    """Explains a model's predictions with interventional Shapley values.

    The value of a coalition S of features for row x is the mean model output over the
    background rows b with the cells of S taken from x and the others from b:
    ``v(S) = mean_b f(x_S, b_notS)``. The model always receives data of the type,
    columns and dtypes of X.

    Parameters
    ----------
    model : scikit-learn estimator or Pipeline, torch ``nn.Module`` or callable
        Classifiers are explained in probability space by default.
    background : ndarray or DataFrame
        Reference rows that stand in for absent features (100-1000 rows is typical).
    method : {"auto", "exact", "kernel", "permutation", "linear", "tree"} or Estimator
        ``"auto"``: the closed form for a linear model in a linear output space (a
        regressor, or a classifier with ``output="decision"``), exact TreeSHAP for a
        supported tree model in a space where its trees add up (forest classifiers in
        probability space, regressors, boosted classifiers with ``output="decision"``),
        else exact enumeration while ``2^d`` fits the budget, else the kernel estimator.
        ``"linear"`` and ``"tree"`` insist on their closed form and say why when it does
        not apply.
    output : {"auto", "probability", "log_odds", "decision", "raw", "margin"}
        Output space; the log-odds and decision options apply to classifiers;
        ``"margin"`` (boosted tree models: the raw margin) is an alias of ``"decision"``
        for boosted classifiers and also applies to Boosters and log-link regressors;
        ``"decision"`` explains outlier detectors' ``decision_function`` (``"auto"``:
        their +1/-1 ``predict``).
    groups : dict, optional
        ``{"group name": [column, ...]}``: each group is one player; other columns are
        players of their own.
    feature_names : list of str, optional
        Names for the columns of an ndarray X (default x0, x1, ...).
    seed : int or numpy SeedSequence, optional
        Seed; each row gets its own stream spawned from it (keyed by the row's content,
        so a row's values do not depend on the other rows, their order, the chunking or
        ``n_jobs``). ``None``: fresh entropy, different values on every call. A
        ``numpy.random.Generator`` cannot key per-row streams and is refused.
    max_rows : int
        Most rows handed to the model in one call (bounds memory); calls also stay
        near 8 MB of cells (at least 4,096 rows), see ``shapkit.games.CALL_BYTES``.
    n_jobs : int or None
        Worker processes (joblib/loky) that explain chunks of rows in parallel; ``1``
        (default, or None) explains in this process, ``-1`` uses every core. The values
        are bit-identical for any ``n_jobs`` under the same seed.
    progress : bool or None
        Show a progress bar (tqdm, on stderr) with a remaining-time estimate. ``None``
        (default): on when stderr is a terminal (and not under pytest), drawn once the
        run has taken 2 seconds.
    backend : {"local", "dask"}
        ``"dask"`` explains the rows on the Dask scheduler in use (a
        ``distributed.Client`` when one exists) and returns a lazy Dask DataFrame; a
        ``dask.dataframe.DataFrame`` X selects it by itself. See
        :func:`shapkit.distributed.explain_dask` for the columns.

    Example
    -------
    >>> import shapkit
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> model = LinearRegression().fit(X, y)
    >>> explainer = shapkit.Explainer(model, X.iloc[:50], groups={"bp_bmi": ["bp", "bmi"]})
    >>> expl = explainer(X.iloc[:3])
    >>> expl.values.shape
    (3, 9)
    """

    def __init__(
        self,
        model: Any,
        background: Any,
        *,
        method: str | Estimator = "auto",
        output: str = "auto",
        groups: Mapping[str, Sequence[str] | str] | None = None,
        feature_names: Sequence[str] | None = None,
        seed: int | np.random.SeedSequence | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
        n_jobs: int | None = 1,
        progress: bool | None = None,
        backend: str = "local",
    ) -> None:
        if background is None:
            raise ValueError(
                "Explainer needs background rows; pass e.g. X_train.sample(100), or use "
                "shapkit.explain(model, X), which samples them from X."
            )
        self._tree = tree_model_for(model, output, method)
        self.model = self._tree if self._tree is not None else as_tree_aware_model(model, output)
        self._estimator = model
        self.background = check_tabular(background, "background")
        self.method = method
        self.output = output
        self.groups = groups
        self.feature_names = feature_names
        self.seed = check_seed(seed, generator=False)
        self.max_rows = check_positive_int(max_rows, "max_rows")
        from .parallel import resolve_n_jobs

        resolve_n_jobs(n_jobs)  # reject bad values now
        self.n_jobs = n_jobs
        if progress not in (None, True, False):
            raise ValueError(f"progress must be True, False or None (auto); got {progress!r}.")
        self.progress = progress
        if backend not in ("local", "dask"):
            raise ValueError(f"backend={backend!r}: choose 'local' or 'dask'.")
        self.backend = backend
        if method not in ("linear", "tree"):
            get_estimator(method, 1, None)  # reject unknown names now, not after the first row

    def _linear_form(self, X: np.ndarray | pd.DataFrame) -> LinearForm | None:
        """The model's linear form when the closed form applies (``method="linear"``,
        or ``"auto"`` on a linear model in a linear output space), else None."""
        if self.method not in ("linear", "auto"):
            return None
        numeric = all(
            isinstance(t, np.dtype) and t.kind in "biuf"
            for t in (X.dtypes if isinstance(X, pd.DataFrame) else [X.dtype])
        )
        try:
            if not numeric:
                raise LinearNotApplicableError(
                    "method='linear' needs all-numeric columns; use method='exact' or "
                    "'kernel' for data with strings or categories."
                )
            return linear_coefficients(self._estimator, self.output)
        except LinearNotApplicableError:
            if self.method == "linear":
                raise
            return None

    def __call__(self, X: Any, budget: int | None = None, tol: float | None = None) -> Explanation:
        """Explain the rows of ``X``; see the class docstring.

        Returns an :class:`Explanation`, or a lazy Dask DataFrame for a Dask X or
        ``backend="dask"``."""
        from .distributed import is_dask_frame

        if self.backend == "dask" or is_dask_frame(X):
            from .distributed import explain_dask

            return explain_dask(self, X, budget=budget, tol=tol)
        X = check_tabular(X, "X")
        budget = check_budget(budget)
        tol = check_tol(tol)
        plan = self._plan(X, budget, tol)
        from .parallel import explain_chunks

        values_arr, errors_arr, base_arr, full_arr, n_evals_arr, output_names = explain_chunks(
            plan, X, n_jobs=self.n_jobs, progress=self.progress
        )
        return self._explanation(plan, X, values_arr, errors_arr, base_arr, full_arr,
                                 n_evals_arr, output_names)  # fmt: skip

    def resolved_method(
        self, X: Any, *, budget: int | None = None, tol: float | None = None
    ) -> str:
        """The method ``self(X, budget=budget, tol=tol)`` would run: ``"linear"``,
        ``"tree"``, or the estimator ``method`` (``"auto"`` included) resolves to. Nothing
        is evaluated.

        Example
        -------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(20, 12))
        >>> explainer = shapkit.Explainer(lambda Z: np.tanh(Z).sum(1), X)
        >>> explainer.resolved_method(X, budget=100), explainer.resolved_method(X, budget=5000)
        ('kernel', 'exact')
        """
        X = check_tabular(X, "X")
        return self._plan(X, check_budget(budget), check_tol(tol)).method_name

    def _plan(self, X: Any, budget: int | None, tol: float | None) -> _Plan:
        """Everything a worker needs to explain any chunk of the rows of ``X``."""
        X = align_text_columns(X, self.background)
        background = align_background(X, self.background)
        column_names = column_names_of(X, self.feature_names)
        player_names, column_player = resolve_players(column_names, self.groups)
        n_players = len(player_names)
        form = self._linear_form(X) if self._tree is None else None
        estimator = None
        if form is not None:
            method_name = "linear"
        elif self._tree is not None:
            method_name = "tree"
        else:
            estimator = get_estimator(self.method, n_players, budget)
            tol = resolve_tol(estimator, budget, tol)
            method_name = estimator.name
            self._check_cost(estimator, X, background, n_players, budget, tol)
        seed = self.seed if self.seed is not None else np.random.SeedSequence().entropy
        return _Plan(
            model=self.model, tree=self._tree, form=form, estimator=estimator,
            background=background, column_names=column_names, player_names=player_names,
            column_player=column_player, budget=budget, tol=tol, entropy=seed,
            max_rows=self.max_rows, method_name=method_name,
        )  # fmt: skip

    def _check_cost(
        self,
        estimator: Estimator,
        X: np.ndarray | pd.DataFrame,
        background: np.ndarray | pd.DataFrame,
        n_players: int,
        budget: int | None,
        tol: float | None,
    ) -> None:
        """Refuse, before any work, a request that cannot fit in memory or would run for
        days (:func:`shapkit.cost.check_feasible`)."""
        from .parallel import resolve_n_jobs

        n_columns = X.shape[1]
        rows_per_call = min(
            self.max_rows, max(MIN_ROWS_PER_CALL, CALL_BYTES // (8 * max(n_columns, 1)))
        )
        cost = estimate_cost(
            estimator, n_players, budget, tol,
            n_rows=X.shape[0], n_background=background.shape[0], n_columns=n_columns,
            n_outputs=max(len(getattr(self.model, "output_names", [])), 1),
            rows_per_call=rows_per_call, data_bytes=_nbytes(X) + _nbytes(background),
            n_workers=min(resolve_n_jobs(self.n_jobs), X.shape[0]),
        )  # fmt: skip
        check_feasible(cost, estimator)

    def _explanation(
        self, plan: _Plan, X: Any, values_arr: np.ndarray, errors_arr: np.ndarray,
        base_arr: np.ndarray, full_arr: np.ndarray, n_evals_arr: np.ndarray,
        output_names: list[Any],
    ) -> Explanation:  # fmt: skip
        """The Explanation of ``X`` from the stacked ``(n, d, k)`` arrays of its rows."""
        background, budget, tol = plan.background, plan.budget, plan.tol
        column_names, player_names = plan.column_names, plan.player_names
        column_player, method_name = plan.column_player, plan.method_name
        if values_arr.shape[2] == 1:
            values_arr, errors_arr = values_arr[:, :, 0], errors_arr[:, :, 0]
            base_arr, full_arr = base_arr[:, 0], full_arr[:, 0]
        data = _as_frame(X, column_names, self.feature_names)
        player_columns: dict[str, list[Any]] = {name: [] for name in player_names}
        for j, label in enumerate(data.columns):  # X's own labels, which may not be str
            player_columns[player_names[column_player[j]]].append(label)
        return Explanation(
            values=values_arr,
            base_values=base_arr,
            std_errors=errors_arr,
            data=data,
            feature_names=player_names,
            output_names=list(output_names),
            method=method_name,
            n_evals=n_evals_arr,
            predictions=full_arr,
            player_columns=player_columns,
            settings={
                "method": method_name,
                "requested_method": self.method,
                "output": self.output,
                "budget": budget,
                "tol": tol,
                "background_size": background.shape[0],
                "n_rows": X.shape[0],
                "max_rows": self.max_rows,
                "seed": self.seed,
                "model": _model_name(self.model),
            },
            background=_as_frame(background, column_names, self.feature_names),
        )


@dataclass
class _Plan:
    """A picklable recipe for the values of any chunk of rows (see ``explain_rows``)."""

    model: Any
    tree: Any
    form: LinearForm | None
    estimator: Estimator | None
    background: np.ndarray | pd.DataFrame
    column_names: list[str]
    player_names: list[str]
    column_player: np.ndarray
    budget: int | None
    tol: float | None
    entropy: int | np.random.SeedSequence
    max_rows: int
    method_name: str


def explain_rows(
    plan: _Plan, X: np.ndarray | pd.DataFrame, on_rows: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Values, errors, base values, predictions ``(n, d, k)``/``(n, k)``, evaluations
    and output names of the rows of ``X`` (a chunk). Each row's values depend only on
    the row, so any chunking gives the same, bit-identical, values. ``on_rows(1)`` is
    called after each row of the model-agnostic estimators (the closed forms do all
    rows at once and do not call it)."""
    n_players = len(plan.player_names)
    X = align_text_columns(X, plan.background)  # e.g. Dask partitions' string columns
    if plan.form is not None:
        values, base, full = linear_shapley(
            plan.form, X, plan.background, plan.column_player, n_players
        )
        zeros = np.zeros(X.shape[0], dtype=np.int64)
        return values, np.zeros_like(values), base, full, zeros, list(plan.form.output_names)
    if plan.tree is not None:
        values, base, full = tree_shapley(
            plan.tree, X, plan.background, plan.column_player, n_players
        )
        zeros = np.zeros(X.shape[0], dtype=np.int64)
        return values, np.zeros_like(values), base, full, zeros, list(plan.model.output_names)
    result = _row_values(
        X, plan.background, plan.model, plan.column_player, n_players, plan.estimator,
        plan.budget, plan.tol, plan.entropy, plan.max_rows, on_rows,
    )  # fmt: skip
    return (*result, list(plan.model.output_names))


def _row_values(
    X: np.ndarray | pd.DataFrame,
    background: np.ndarray | pd.DataFrame,
    model: Any,
    column_player: np.ndarray,
    n_players: int,
    estimator: Estimator,
    budget: int | None,
    tol: float | None,
    seed: int | None,
    max_rows: int,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Values, errors, base values, predictions ``(n, d, k)``/``(n, k)`` and evaluations
    of every row, one marginal game per row (dummy players left out); ``on_rows(1)``
    after each row."""
    masker = RowMasker(X, background, column_player)
    streams = row_streams(X, seed)
    n_rows = X.shape[0]
    n_evals = np.zeros(n_rows, dtype=np.int64)
    values = errors = base = full = None  # allocated once the output count is known
    for row in range(n_rows):
        active = np.flatnonzero(~masker.constant_players(row, n_players))
        game = MarginalGame(model, masker, row, column_player, max_rows)
        if active.size == 0:  # the row equals every background row where it matters
            empty = game(np.zeros((1, n_players), dtype=bool))[0]
            row_values, row_errors = np.zeros((0, empty.shape[0])), np.zeros((0, empty.shape[0]))
            empty_value = full_value = empty
            row_evals = 1
        else:
            rng = np.random.default_rng(streams[row])
            reduced = _ReducedGame(game, active, n_players)
            result = check_finite(estimator.estimate(reduced, active.size, budget, tol, rng))
            row_values, row_errors = result.values, result.std_errors
            empty_value, full_value = result.empty_value, result.full_value
            row_evals = result.n_evals
        if values is None:
            values = np.zeros((n_rows, n_players, empty_value.shape[0]))
            errors = np.zeros_like(values)
            base = np.zeros((n_rows, empty_value.shape[0]))
            full = np.zeros_like(base)
        values[row, active] = row_values
        errors[row, active] = row_errors
        base[row] = empty_value
        full[row] = full_value
        n_evals[row] = row_evals
        if on_rows is not None:
            on_rows(1)
    if values is None:  # no rows
        values, errors = np.zeros((0, n_players, 0)), np.zeros((0, n_players, 0))
        base, full = np.zeros((0, 0)), np.zeros((0, 0))
    return values, errors, base, full, n_evals


def row_streams(
    X: np.ndarray | pd.DataFrame, seed: int | np.random.SeedSequence | None
) -> _RowStreams:
    """One random stream per row, keyed by the row's content and the seed.

    A row gets the same stream whatever its position, the other rows or the chunking of
    X, so its values are bit-identical across such runs. Equal rows share a stream.
    ``row_streams(X, seed)[i]`` is row i's ``SeedSequence``, made when asked for (the
    sequence holds one 64-bit hash per row, not one object per row).
    """
    if isinstance(seed, np.random.SeedSequence):
        return _RowStreams(seed.entropy, row_hashes(X), tuple(seed.spawn_key))
    entropy = seed if seed is not None else np.random.SeedSequence().entropy
    return _RowStreams(entropy, row_hashes(X))


def row_hashes(X: np.ndarray | pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's cells (uint64 ``(n,)``).

    Numeric matrices (an ndarray, or a DataFrame whose columns share one numeric dtype)
    are hashed from their values as float64, so an array and a DataFrame of the same
    numbers hash alike, ``-0.0`` like ``0.0`` and every NaN alike; other data by pandas'
    per-column hashing.
    """
    matrix = None
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        matrix = X
    elif isinstance(X, pd.DataFrame) and X.shape[1] > 0:
        dtypes = set(X.dtypes)
        single = next(iter(dtypes)) if len(dtypes) == 1 else None
        if isinstance(single, np.dtype) and single.kind in "biuf":
            matrix = X.to_numpy()
    if matrix is None:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    values = np.asarray(matrix, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    values[np.isnan(values)] = np.nan  # one NaN bit pattern
    words = np.ascontiguousarray(values).view(np.uint64).reshape(values.shape)
    # each cell mixed with its column's key, summed (mod 2^64) over the row, mixed again
    keys = np.arange(words.shape[1], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return _mix64(_mix64(words ^ keys).sum(axis=1, dtype=np.uint64))


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective, well-mixing map of 64-bit words."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class _RowStreams:
    """Row i's ``SeedSequence(entropy, spawn_key=(*key, hash_i))`` on indexing."""

    def __init__(self, entropy: Any, hashes: np.ndarray, key: tuple[int, ...] = ()) -> None:
        self.entropy = entropy
        self.hashes = hashes
        self.key = key

    def __len__(self) -> int:
        return self.hashes.shape[0]

    def __getitem__(self, row: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=(*self.key, int(self.hashes[row])))


def _nbytes(data: np.ndarray | pd.DataFrame) -> int:
    """Memory of an array or DataFrame (object cells counted as pointers)."""
    if isinstance(data, pd.DataFrame):
        return int(data.memory_usage(index=True, deep=False).sum())
    return int(data.nbytes)


def _model_name(model: Any) -> str:
    """The class name of the object the adapter wraps."""
    for attribute in ("estimator", "module", "fn"):
        if hasattr(model, attribute):
            return type(getattr(model, attribute)).__name__
    return type(model).__name__


def _as_frame(
    data: np.ndarray | pd.DataFrame, column_names: list[str], feature_names: Any
) -> pd.DataFrame:
    """A copy of ``data`` as a DataFrame, columns renamed when ``feature_names`` was given."""
    if not isinstance(data, pd.DataFrame):
        return pd.DataFrame(data, columns=column_names)
    frame = data.copy()
    if feature_names is not None:
        frame.columns = column_names
    return frame


class _ReducedGame:
    """The game on the ``active`` players only; every other player is always present.

    Players whose cells equal every background row's are dummies of the marginal game,
    so dropping them leaves the other values unchanged and halves the work per dummy.
    """

    def __init__(self, game: MarginalGame, active: np.ndarray, n_players: int) -> None:
        self.game = game
        self.active = active
        self.n_players = n_players

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        full = np.ones((masks.shape[0], self.n_players), dtype=bool)
        full[:, self.active] = masks
        return self.game(full)


def explain(
    model: Any,
    X: Any,
    background: Any = None,
    *,
    budget: int | None = None,
    tol: float | None = None,
    background_size: int = DEFAULT_BACKGROUND_SIZE,
    **kwargs: Any,
) -> Explanation:
    """Explain ``model`` on the rows of ``X`` in one call.

    ``background`` defaults to a seeded sample of at most ``background_size`` (100)
    rows of X. Other keyword arguments go to :class:`Explainer`.

    Example
    -------
    >>> import numpy as np, shapkit
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> expl = shapkit.explain(lambda Z: Z[:, 0] * Z[:, 1], X, background=np.zeros((1, 2)))
    >>> expl.values.round(12).tolist()
    [[1.0, 1.0], [6.0, 6.0]]
    """
    from .distributed import is_dask_frame

    if is_dask_frame(X):
        if background is None:
            raise ValueError(
                "explaining a Dask DataFrame needs background rows; pass e.g. "
                "background=X.head(100)."
            )
        return Explainer(model, background, **kwargs)(X, budget=budget, tol=tol)
    X = check_tabular(X, "X")
    if background is None:
        if X.shape[0] == 1:
            raise ValueError(
                "explain(model, X) samples the background from X, but X has one row: it "
                "would be its own background and every value 0. Pass background= (e.g. "
                "a sample of the training data: X_train.sample(100))."
            )
        size = check_positive_int(background_size, "background_size")
        background = sample_background(X, size, check_seed(kwargs.get("seed"), generator=False))
    return Explainer(model, background, **kwargs)(X, budget=budget, tol=tol)
