"""``Explainer`` and ``explain``: validate once -> :class:`~shapkit.rows.RowJob` ->
execution -> :class:`~shapkit.Explanation`."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ._validation import check_budget, check_positive_int, check_seed, check_tol
from .closed_form import (
    INTERVENTIONAL,
    TREE_PATH_DEPENDENT,
    as_tree_aware_model,
    closed_form_for,
    tree_form_for,
)
from .closed_form.tree_interactions import tree_interactions
from .columns import unflatten
from .cost import CostEstimate, check_feasible, estimate_cost
from .estimators import (
    ALL_METHODS,
    Estimator,
    get_estimator,
    needs_timing,
    resolve_tol,
)
from .estimators.auto import AutoChoice, check_choice, choose_for_game
from .exceptions import BackgroundRequiredError
from .execution.dask import explain_dask, is_dask_frame
from .execution.local import resolve_n_jobs, run, ship_job, take_rows
from .execution.progress import progress_enabled
from .execution.spark import explain_spark, is_spark_frame
from .explanation import Explanation
from .games import CALL_BYTES, DEFAULT_MAX_ROWS, MIN_ROWS_PER_CALL
from .interaction_explanation import (
    DENSE_PAIR_BYTES,
    PAIR_CHUNK_BYTES,
    InteractionExplanation,
    check_dense_pairs,
    explain_interactions,
    strongest_frame,
)
from .interactions.api import choose_method
from .interactions.indices import check_index
from .models.sklearn import describe_model
from .rows import RowJob, RowValues, row_games
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
from .trees import TreeModel, TreeNotSupportedError
from .trees.links import MAX_PLAYERS, additive_trees, read_linked_trees, read_or_none

#: With progress shown, a sampling run projected (from its first row) to take longer than
#: this many seconds says so before it goes on.
ANNOUNCE_SECONDS = 10.0
#: Above this many background rows, the announcement offers a sample of this size and
#: says what it would change on the first row.
REDUCED_BACKGROUND = 200
#: :meth:`Explainer.estimate_cost` times at most this many rows ...
TIMED_ROWS = 5
#: ... or stops once they took this many seconds.
TIMED_SECONDS = 2.0


class Explainer:
    """Explains a model's predictions with interventional Shapley values.

    The value of a coalition S of features for row x is the mean model output over the
    background rows b with the cells of S taken from x and the others from b:
    ``v(S) = mean_b f(x_S, b_notS)``. The model always receives data of the type,
    columns and dtypes of X. A tree ensemble explained without background rows gets the
    path-dependent game instead (the trees' cover-weighted conditional expectation, as
    shap's ``TreeExplainer(model)``); the Explanation's ``value_function`` says which.

    Parameters
    ----------
    model : scikit-learn estimator or Pipeline, torch ``nn.Module`` or callable
        Classifiers are explained in probability space by default.
    background : ndarray, DataFrame or None
        Reference rows that stand in for absent features (100-1000 rows is typical; the
        tree path's cost per row does not grow with them). ``None`` for a supported tree
        model with ``method="auto"`` or ``"tree"``: path-dependent TreeSHAP, read from
        the trees' node covers (docs/trees.md); other models need background rows.
    method : {"auto", "exact", "kernel", "permutation", "proxy", "linear", "tree"} or Estimator
        ``"auto"``: the closed form for a linear model in a linear output space (a
        regressor, or a classifier with ``output="decision"``), exact TreeSHAP for a
        supported tree model in a space where its trees add up (forest classifiers in
        probability space, regressors, boosted classifiers with ``output="decision"``),
        else exact enumeration while ``2^d`` fits the budget, else the proxy estimator
        for an explicit budget of at least ``10 d``, else the kernel estimator.
        ``"linear"`` and ``"tree"`` insist on their closed form and say why when it does
        not apply. :meth:`resolved_method` says what a call would run; the
        Explanation's ``method`` says what ran.
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
        :func:`shapkit.execution.dask.explain_dask` for the columns.

    Examples
    --------
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
        if not isinstance(method, Estimator) and method not in ALL_METHODS:
            get_estimator(method, 1, None)  # raises: an unknown name, with the choices
        # read once, for the closed form and the linked trees
        read = None if background is None else read_or_none(model)
        if background is None:
            self._tree = tree_form_for(model, output, method, TREE_PATH_DEPENDENT)
            if self._tree is None:
                raise BackgroundRequiredError(
                    "Explainer needs background rows (only a supported tree model explained "
                    "with method='auto' or 'tree' can go without: path-dependent TreeSHAP); "
                    "pass e.g. X_train.sample(100), or use shapkit.explain(model, X), which "
                    "samples them from X."
                )
        else:
            self._tree = tree_form_for(model, output, method, tm=read)
        #: The model as given.
        self.model = model
        #: What shapkit calls: the model adapter (``predict(data) -> (rows, k)``), or the
        #: compiled trees where they give the requested output (a Booster's margin).
        self.adapter = (
            self._tree.form if self._tree is not None else as_tree_aware_model(model, output)
        )
        #: The background rows, or None for path-dependent TreeSHAP.
        self.background = None if background is None else check_tabular(background, "background")
        #: A tree model whose output is a link of its trees (a boosted classifier's
        #: probabilities): the games are evaluated on its compiled trees.
        self._linked = (
            read_linked_trees(model, self.adapter, output, self.background, tm=read)
            if self._tree is None and self.background is not None and read is not None
            else None
        )
        self.method = method
        self.output = output
        self.groups = groups
        self.feature_names = feature_names
        self.seed: int | np.random.SeedSequence | None = check_seed(seed, generator=False)
        self.max_rows = check_positive_int(max_rows, "max_rows")
        resolve_n_jobs(n_jobs)  # reject bad values now
        self.n_jobs = n_jobs
        if progress not in (None, True, False):
            raise ValueError(f"progress must be True, False or None (auto); got {progress!r}.")
        self.progress = progress
        if backend not in ("local", "dask"):
            raise ValueError(f"backend={backend!r}: choose 'local' or 'dask'.")
        self.backend = backend

    def __call__(
        self, X: Any, *, budget: int | None = None, tol: float | None = None
    ) -> Explanation:
        """Explain the rows of ``X``; see the class docstring.

        Parameters
        ----------
        X : ndarray, DataFrame or Dask DataFrame
            Rows to explain, with the background's columns.
        budget : int, optional
            Most game evaluations (coalitions) per row for the sampling estimators
            (default: ``max(2048, 100 d)`` with ``tol=0.01``).
        tol : float, optional
            Stop sampling a row once its largest standard error is below ``tol`` times
            the spread of its values.

        Returns
        -------
        Explanation
            Or a lazy Dask DataFrame for a Dask X or ``backend="dask"``, or a lazy Spark
            DataFrame for a Spark X (:func:`shapkit.execution.spark.explain_spark`, whose
            ``key=`` carries id columns through).
        """
        budget, tol = check_budget(budget), check_tol(tol)
        if is_spark_frame(X):
            return explain_spark(self, X, budget=budget, tol=tol)
        if self.backend == "dask" or is_dask_frame(X):
            return explain_dask(self, X, budget=budget, tol=tol)
        return self._explain(check_tabular(X, "X"), budget, tol)

    def explanation_from_frame(
        self,
        X: Any,
        frame: pd.DataFrame,
        *,
        budget: int | None = None,
        tol: float | None = None,
        method: str | None = None,
    ) -> Explanation:
        """The :class:`~shapkit.Explanation` of ``X`` from its flat table of values: what
        a Dask or Spark run returns, ``shapkit explain`` writes, or
        :func:`shapkit.execution.resumable.read_dataset` reads (row ``j`` of ``frame``
        holds row ``j`` of ``X``; a ``row`` or key column is ignored). ``budget`` and
        ``tol`` are those of the run, recorded in ``settings``; ``method`` is the method
        the run recorded (the resumable run's ``"method"``), which an ``"auto"`` explainer
        otherwise chooses again (timing the model). The plots and reports then work as
        after a local run (the table does not say which rows a sampler enumerated).

        Raises ``ValueError`` when ``frame`` has another number of rows than ``X`` or
        lacks the columns of this explainer's players and the model's outputs.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> from shapkit.columns import explanation_frame
        >>> X = np.random.default_rng(0).normal(size=(20, 3))
        >>> explainer = shapkit.Explainer(lambda Z: Z.sum(1), X, seed=0)
        >>> table = explanation_frame(explainer(X[:2]))
        >>> rebuilt = explainer.explanation_from_frame(X[:2], table)
        >>> bool(np.array_equal(rebuilt.values, explainer(X[:2]).values))
        True
        """
        budget, tol = check_budget(budget), check_tol(tol)
        X = check_tabular(X, "X")
        if len(frame) != X.shape[0]:
            raise ValueError(
                f"The table has {len(frame)} rows but X has {X.shape[0]}: pass the rows "
                f"the table was computed for, in its order."
            )
        job = self._job(X, budget, tol, check_choice(method))
        if job.closed_form is not None:
            output_names = list(job.closed_form.output_names)
        else:
            first = (
                job.background[:1]
                if isinstance(job.background, np.ndarray)
                else (job.background.iloc[:1])
            )
            k = job.model.predict(first).shape[1]
            output_names = list(job.model.output_names) or list(range(k))
        arrays = unflatten(frame, job.player_names, output_names)
        rows = RowValues(
            output_names=output_names,
            methods=np.full(X.shape[0], job.method, dtype=object),
            **arrays,
        )
        return self._explanation(job, X, rows)

    def row_job(
        self,
        X: Any,
        *,
        budget: int | None = None,
        tol: float | None = None,
        auto_choice: str | AutoChoice | None = None,
    ) -> RowJob:
        """The picklable recipe that explains any chunk of rows like ``X`` (its columns
        and dtypes; zero rows are fine): what execution backends ship to their workers.
        With ``method="auto"``, the estimator is chosen here, once (the game is timed on
        a few coalitions), unless ``auto_choice`` gives the one an earlier run recorded:
        a method name (its ``settings["method"]``, default rounds) or an
        :class:`~shapkit.estimators.auto.AutoChoice` (with the rounds it sized). The same
        choice gives the same values.

        Raises before any work what the call would raise before its first row: bad
        arguments, a background that does not match X, an infeasible request.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(20, 3))
        >>> job = shapkit.Explainer(lambda Z: Z.sum(1), X, seed=0).row_job(X[:0], budget=8)
        >>> job.method, job.player_names
        ('exact', ['x0', 'x1', 'x2'])
        """
        X = check_tabular(X, "X", min_rows=0)
        return self._job(X, check_budget(budget), check_tol(tol), check_choice(auto_choice))

    def resolved_method(
        self, X: Any, *, budget: int | None = None, tol: float | None = None
    ) -> str:
        """The method ``self(X, budget=budget, tol=tol)`` would run: ``"linear"``,
        ``"tree"``, or the estimator ``method`` (``"auto"`` included) resolves to.
        Nothing is explained; ``"auto"`` may time the model on a few coalitions of X's
        first row (:meth:`row_job`). (A sampling estimator that can enumerate every
        coalition of a row does; the Explanation's ``method`` says what ran.)

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(20, 12))
        >>> explainer = shapkit.Explainer(lambda Z: np.tanh(Z).sum(1), X)
        >>> explainer.resolved_method(X, budget=100), explainer.resolved_method(X, budget=5000)
        ('kernel', 'exact')
        """
        return self.row_job(X, budget=budget, tol=tol).method

    def _explain(
        self, X: np.ndarray | pd.DataFrame, budget: int | None, tol: float | None
    ) -> Explanation:
        """Explain validated rows: one job, run locally, assembled. With progress shown,
        a sampling run of several rows explains its first row alone, and when the rest is
        projected to take more than :data:`ANNOUNCE_SECONDS` it says so (rows, model
        rows, time) before going on; values are the same (rows do not depend on their
        chunking)."""
        job = self._job(X, budget, tol)
        n = X.shape[0]
        if job.estimator is None or n < 2 or not progress_enabled(self.progress):
            rows = run(job, X, n_jobs=self.n_jobs, progress=self.progress)
            return self._explanation(job, X, rows)
        payload = ship_job(job, self.n_jobs)  # an unpicklable model: refused before any row
        start = time.perf_counter()
        first = run(job, take_rows(X, 0, 1), n_jobs=1, progress=False)
        per_row = time.perf_counter() - start
        cost = self._cost(
            job.estimator, X, job.background, len(job.player_names), job.budget, job.tol
        )
        projected = per_row * (n - 1) / cost.n_workers
        if projected > ANNOUNCE_SECONDS:
            timed = replace(cost, seconds_per_row=per_row, seconds=per_row + projected)
            print(f"shapkit: {timed.describe()}.", file=sys.stderr, flush=True)
            if job.background.shape[0] > REDUCED_BACKGROUND:
                print(self._reduced_offer(job, X, first), file=sys.stderr, flush=True)
        rest = run(
            job, take_rows(X, 1, n), n_jobs=self.n_jobs, progress=self.progress, rows_done=1,
            payload=payload,
        )  # fmt: skip
        return self._explanation(job, X, RowValues.concat([first, rest]))

    def interactions(
        self,
        X: Any,
        *,
        index: str = "k-SII",
        max_order: int = 2,
        method: str = "auto",
        budget: int | None = None,
        tol: float | None = None,
    ) -> InteractionExplanation:
        """Interaction values of the rows of X: each row's game (the one whose Shapley
        values :meth:`__call__` explains) given to :func:`shapkit.interaction_values`:
        enumerated (``2^d`` coalitions, at most 20 players) or estimated by the
        interaction proxy from sampled coalitions, with standard errors (feature groups
        are players). A tree model in its additive output (the explainer's tree closed
        form) gets exact values from its leaves, for any number of players and without
        evaluating coalitions (``method="tree"``, which ``"auto"`` and ``"exact"`` pick);
        boosted tree models in probability space are evaluated on their compiled trees,
        other models through calls. A tree model explained without background gets the
        interactions of the path-dependent game (k-SII's ``to_matrix()`` is then shap's
        ``TreeExplainer(model).shap_interaction_values``). The explainer's seed keys each
        row's random stream.

        Parameters
        ----------
        X : ndarray or DataFrame
            Rows to explain, with the background's columns.
        index : {"k-SII", "SII", "STII", "FSII"}
            The interaction index (docs/interactions.md).
        max_order : {1, 2}
            2: order-1 and order-2 terms; 1: the Shapley values.
        method : {"auto", "exact", "proxy", "tree"}
            ``"tree"``: from the trees' leaves (exact; raises
            :class:`~shapkit.trees.TreeNotSupportedError` without a tree closed form or
            for paths of too many players). Otherwise as in
            :func:`shapkit.interaction_values`: ``"auto"`` takes the trees' leaves where
            it can, else enumerates when the ``2^d`` coalitions fit the budget (default
            budget ``max(2048, 100 d)``: ``d <= 11``), else runs the proxy.
        budget : int, optional
            Most game evaluations per row (enumeration needs ``2^d``).
        tol : float, optional
            The proxy stops a row once its largest standard error is below ``tol`` times
            the spread of its terms (default 0.01 when no budget is given).

        Returns
        -------
        InteractionExplanation
            ``main`` ``(n, d[, k])``, ``pairs`` ``(n, d, d[, k])``, standard errors,
            ``base_values``, ``predictions``, ``to_matrix()``, ``to_frame()``.

        Raises
        ------
        ValueError
            An unknown index or method, a bad ``max_order``, budget or tol; more players
            than the method accepts (:class:`~shapkit.TooManyPlayersError`).

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(30, 3))
        >>> f = lambda Z: Z[:, 0] * Z[:, 1] + Z[:, 2]
        >>> inter = shapkit.Explainer(f, X).interactions(X[:2])
        >>> inter.pairs.shape, bool(np.allclose(inter.to_matrix().sum((1, 2)),
        ...                                     inter.predictions - inter.base_values))
        ((2, 3, 3), True)
        """
        budget = check_budget(budget)
        tol = check_tol(tol)
        X = check_tabular(X, "X")
        job = self._job(X, budget, None, time_auto=False)  # the Shapley estimator is unused
        check_index(index, max_order, len(job.player_names))
        check_dense_pairs(X.shape[0], len(job.player_names), _n_outputs(job))
        arrays = self._tree_interactions(job, X, index, max_order, method, tol)
        if arrays is None:
            job = self._interaction_job(job, X)
            method = choose_method(method, len(job.player_names), budget, max_order)
            arrays = explain_interactions(job, X, index, max_order, budget, method, tol)
        else:
            method = "tree"
        main, pairs = arrays["main"], arrays["pairs"]
        main_se, pairs_se = arrays["main_std_errors"], arrays["pair_std_errors"]
        base, full = arrays["base_values"], arrays["predictions"]
        if main.shape[-1] == 1:
            main, pairs, base, full = main[..., 0], pairs[..., 0], base[:, 0], full[:, 0]
            main_se, pairs_se = main_se[..., 0], pairs_se[..., 0]
        data = _as_frame(X, job.column_names, self.feature_names)
        return InteractionExplanation(
            main=main, pairs=pairs, main_std_errors=main_se,
            pair_std_errors=pairs_se, base_values=base, predictions=full, data=data,
            player_columns=_player_columns(job, data),
            feature_names=job.player_names, output_names=arrays["output_names"],
            index=index, max_order=max_order, method=arrays["method"],
            n_evals=arrays["n_evals"], converged=arrays["converged"],
            settings={
                "index": index, "max_order": max_order, "output": self.output,
                "method": method, "budget": budget, "tol": tol,
                "background_size": None if self.background is None else len(job.background),
                "value_function": _value_function(job),
                "evaluated_on": (
                    "the trees' leaves (exact, no coalition enumerated)" if method == "tree"
                    else _evaluated_on(job)
                ),
                "seed": self.seed, "model": describe_model(self.model),
            },
        )  # fmt: skip

    def strongest_pairs(
        self,
        X: Any,
        *,
        top: int = 10,
        index: str = "k-SII",
        method: str = "auto",
        budget: int | None = None,
        tol: float | None = None,
    ) -> pd.DataFrame:
        """The order-1 terms and the ``top`` strongest pairs (largest |order-2 term|) of
        each row and output, in :meth:`InteractionExplanation.to_frame`'s long format:
        the sparse form for wide data, where :meth:`interactions`' dense
        ``(n, d, d)`` pairs would not fit. Rows are explained in chunks of bounded
        memory (:data:`PAIR_CHUNK_BYTES`) by :meth:`interactions` with the same
        arguments, so the values are those it gives (each row's random stream is keyed
        by its content and the seed, whatever the chunk).

        Parameters
        ----------
        X : ndarray or DataFrame
            Rows to explain.
        top : int
            Pairs kept per row and output (all of them where there are fewer).
        index, method, budget, tol
            As in :meth:`interactions` (order 2).

        Returns
        -------
        DataFrame
            Columns ``row`` (position in X), ``order``, ``feature_i``, ``feature_j``,
            ``output``, ``value``, ``std_error`` and ``rank`` (1 for a row's strongest
            pair of an output; order-1 terms have rank 0): the order-1 terms of every
            row, then the pairs, each row's from the strongest (ties by position).

        Raises
        ------
        ValueError
            A bad ``top``, and what :meth:`interactions` raises.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(30, 4))
        >>> f = lambda Z: Z[:, 0] * Z[:, 1] + 0.1 * Z[:, 2] * Z[:, 3]
        >>> pairs = shapkit.Explainer(f, X).strongest_pairs(X[:2], top=1)
        >>> pairs.query("order == 2")[["row", "feature_i", "feature_j", "rank"]].values.tolist()
        [[0, 'x0', 'x1', 1], [1, 'x0', 'x1', 1]]
        """
        top = check_positive_int(top, "top")
        X = check_tabular(X, "X")
        job = self._job(X, budget, None, time_auto=False)  # the Shapley estimator is unused
        d, k = len(job.player_names), _n_outputs(job)
        chunk = max(1, PAIR_CHUNK_BYTES // (DENSE_PAIR_BYTES * d * d * k))
        frames = []
        for start in range(0, X.shape[0], chunk):  # X has rows (check_tabular)
            rows = take_rows(X, start, min(start + chunk, X.shape[0]))
            inter = self.interactions(rows, index=index, max_order=2, method=method,
                                      budget=budget, tol=tol)  # fmt: skip
            frames.append(strongest_frame(inter, top, start))
        frame = pd.concat(frames, ignore_index=True)  # as one chunk would order them
        return frame.sort_values(["order", "row"], kind="stable", ignore_index=True)

    def _tree_interactions(
        self, job: RowJob, X: np.ndarray | pd.DataFrame, index: str, max_order: int,
        method: str, tol: float | None = None,
    ) -> dict[str, Any] | None:  # fmt: skip
        """The arrays of :func:`explain_interactions` from the trees' leaves (exact, any
        number of players, no coalition enumerated) where the explainer has the tree
        closed form and ``method`` is ``"auto"``, ``"exact"`` or ``"tree"``; None where
        the rows' games are to be evaluated instead. ``method="tree"`` raises when the
        trees cannot be read this way."""
        form = None if job.closed_form is None else job.closed_form.form
        if method == "tree" and not isinstance(form, TreeModel):
            raise TreeNotSupportedError(
                "method='tree' computes interactions from a tree ensemble's leaves in its "
                "additive output; this explainer has no tree closed form (a non-tree model, "
                "a link such as probabilities of a boosted model, or method= other than "
                "'auto'/'tree' when it was made). Use method='auto', 'exact' or 'proxy'."
            )
        if method not in ("auto", "exact", "tree") or not isinstance(form, TreeModel):
            return None
        assert job.closed_form is not None
        path = job.closed_form.value_function == TREE_PATH_DEPENDENT
        try:
            main, pairs, base, full = tree_interactions(
                form, X, None if path else job.background, job.column_player,
                len(job.player_names), index, max_order,
            )  # fmt: skip
        except TreeNotSupportedError:
            if method == "tree":
                raise
            return None  # paths of too many players: the games, enumerated or sampled
        n = main.shape[0]
        return {
            "main": main, "pairs": pairs, "main_std_errors": np.zeros_like(main),
            "pair_std_errors": np.zeros_like(pairs), "base_values": base,
            "predictions": full, "n_evals": np.zeros(n, dtype=np.int64),
            "converged": None if tol is None else np.ones(n, dtype=bool),  # exact
            "method": "tree", "output_names": list(job.closed_form.output_names),
        }  # fmt: skip

    def _interaction_job(self, job: RowJob, X: np.ndarray | pd.DataFrame) -> RowJob:
        """``job`` with its games: a closed form has none, so a tree model's own additive
        output is evaluated on its compiled trees (when they reproduce it on X) and a
        linear model's through calls."""
        if job.closed_form is None:
            return job
        form = job.closed_form.form
        if job.closed_form.value_function == TREE_PATH_DEPENDENT:
            assert isinstance(form, TreeModel)
            return replace(job, closed_form=None, path_trees=form)
        trees = None
        if isinstance(form, TreeModel) and len(job.player_names) <= MAX_PLAYERS:
            trees = additive_trees(form)
            if not trees.reproduces(job.model, X):
                trees = None
        return replace(job, closed_form=None, trees=trees)

    def _reduced_offer(self, job: RowJob, X: np.ndarray | pd.DataFrame, first: RowValues) -> str:
        """What a seeded :data:`REDUCED_BACKGROUND`-row sample of the background would
        save and cost: the first row explained with it (its time is a
        ``REDUCED_BACKGROUND / size`` share of the first run's), its values compared with
        the full background's."""
        size = job.background.shape[0]
        reduced = sample_background(job.background, REDUCED_BACKGROUND, 0)
        again = run(replace(job, background=reduced), take_rows(X, 0, 1), n_jobs=1,
                    progress=False)  # fmt: skip
        spread = float(np.abs(first.values).sum()) or 1.0
        change = float(np.abs(again.values - first.values).sum()) / spread
        return (
            f"shapkit: note: the background has {size:,} rows and every game evaluation "
            f"averages the model over all of them. A seeded {REDUCED_BACKGROUND}-row sample "
            f"(background=shapkit.tabular.sample_background(background, "
            f"{REDUCED_BACKGROUND}, seed=0)) would take about {REDUCED_BACKGROUND / size:.0%} "
            f"of the time; on the first row it changed the values by {change:.1%} of their "
            f"total |value|."
        )

    def estimate_cost(
        self, X: Any, *, budget: int | None = None, tol: float | None = None, timed: bool = True
    ) -> CostEstimate:
        """What ``self(X, budget=budget, tol=tol)`` would cost, before running it: the
        method, game evaluations and model rows per row, peak memory per worker and, with
        ``timed``, the wall time projected from explaining the first rows (at most 5, or
        about 2 s of work; the first one also pays for compilation, so later ones are
        used where there are any).

        Returns a :class:`shapkit.cost.CostEstimate`; ``describe()`` is one line.
        Raises what the call would raise before its first row (for example
        :class:`~shapkit.exceptions.InfeasibleRequestError`).

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(50, 12))
        >>> explainer = shapkit.Explainer(lambda Z: np.tanh(Z).sum(1), X, method="kernel")
        >>> cost = explainer.estimate_cost(X, budget=256)
        >>> cost.method, cost.evaluations_per_row, cost.model_rows, cost.seconds > 0
        ('kernel', 256, 640000, True)
        """
        budget, tol = check_budget(budget), check_tol(tol)
        X = check_tabular(X, "X")
        job = self._job(X, budget, tol)
        n_players = len(job.player_names)
        cost = self._cost(
            job.estimator, X, job.background, n_players, job.budget, job.tol, job.method
        )
        if not timed:
            return cost
        times: list[float] = []
        for row in range(min(X.shape[0], TIMED_ROWS)):
            start = time.perf_counter()
            run(job, take_rows(X, row, row + 1), n_jobs=1, progress=False)
            times.append(time.perf_counter() - start)
            if sum(times) > TIMED_SECONDS:
                break
        per_row = float(np.mean(times[1:])) if len(times) > 1 else times[0]
        seconds = per_row * X.shape[0] / cost.n_workers
        return replace(cost, seconds_per_row=per_row, seconds=seconds)

    def _job(
        self,
        X: np.ndarray | pd.DataFrame,
        budget: int | None,
        tol: float | None,
        auto_choice: AutoChoice | None = None,
        *,
        time_auto: bool = True,
    ) -> RowJob:
        """The job for X. With ``method="auto"`` and no recorded ``auto_choice``, where
        the game's cost decides (:func:`~shapkit.estimators.needs_timing`), the game of
        X's first row (or a background row) is timed on a few coalitions and the
        estimator chosen once, here, for every row, worker and chunk (``time_auto=False``:
        the untimed choice, for callers that run no Shapley estimator)."""
        if self.background is None:  # path-dependent: no rows, X's columns and dtypes
            background = X.iloc[:0] if isinstance(X, pd.DataFrame) else X[:0]
        else:
            X = align_text_columns(X, self.background)
            background = align_background(X, self.background)
        column_names = column_names_of(X, self.feature_names)
        player_names, column_player = resolve_players(column_names, self.groups)
        n_players = len(player_names)
        closed_form = closed_form_for(self.model, self.output, self.method, X, tree=self._tree)
        estimator, given_tol = None, tol
        timed = recorded = False
        if closed_form is not None:
            method = closed_form.name
        else:
            asked: str | Estimator = self.method
            recorded = asked == "auto" and auto_choice is not None
            timed = time_auto and asked == "auto" and needs_timing(n_players, budget)
            # until timed, the kernel estimator: the cheapest state, checked before any work
            estimator = get_estimator("kernel" if timed or recorded else asked, n_players, budget)
            tol = resolve_tol(estimator, budget, tol)
            method = estimator.name
            check_feasible(self._cost(estimator, X, background, n_players, budget, tol), estimator)
        trees = self._linked if estimator is not None and n_players <= MAX_PLAYERS else None
        if trees is not None and not trees.reproduces(self.adapter, X):
            trees = None  # values X holds that the trees as read do not reproduce: call the model
        seed = self.seed
        if seed is None:
            entropy = np.random.SeedSequence().entropy
            assert isinstance(entropy, int)  # fresh entropy: a 128-bit int
            seed = entropy
        job = RowJob(
            model=self.adapter, closed_form=closed_form, estimator=estimator,
            background=background, column_names=column_names, player_names=player_names,
            column_player=column_player, budget=budget, tol=tol, seed=seed,
            max_rows=self.max_rows, method=method, trees=trees,
        )  # fmt: skip
        if recorded:
            assert auto_choice is not None
            choice = replace(auto_choice, reason="recorded by an earlier run")
            return self._chosen(job, X, choice, given_tol)
        return self._timed_choice(job, X) if timed else job

    def _timed_choice(self, job: RowJob, X: np.ndarray | pd.DataFrame) -> RowJob:
        """``job`` with the estimator ``auto`` chooses from the game's measured cost per
        evaluation (:func:`~shapkit.estimators.choose_estimator`): the game of X's first
        row (a background row when X has none), timed and, with ``tol``, piloted by
        :func:`~shapkit.estimators.auto.choose_for_game`."""
        n_players = len(job.player_names)
        rows = X if X.shape[0] else job.background
        first = take_rows(rows, 0, 1)
        game = row_games(job, first, RowMasker(first, job.background, job.column_player),
                         n_players)(0)  # fmt: skip
        per_call = job.max_rows // max(job.background.shape[0], 1)  # coalitions per call
        choice = choose_for_game(game, n_players, job.budget, job.tol, per_call)
        return self._chosen(job, X, choice, job.tol)

    def _chosen(
        self,
        job: RowJob,
        X: np.ndarray | pd.DataFrame,
        choice: AutoChoice,
        tol: float | None,
    ) -> RowJob:
        """``job`` running what ``auto`` chose, with ``tol`` as given resolved for it and
        the budget it runs with (:meth:`AutoChoice.budget`; checked for memory before any
        work)."""
        estimator = choice.estimator()
        n_players = len(job.player_names)
        budget = choice.budget(job.budget, n_players)
        estimator.check_budget(n_players, budget)
        tol = resolve_tol(estimator, job.budget, tol)  # as resolved for the budget asked
        cost = self._cost(estimator, X, job.background, n_players, budget, tol)
        check_feasible(cost, estimator)
        return replace(
            job, estimator=estimator, method=choice.method, reason=choice.reason, tol=tol,
            budget=budget,
        )  # fmt: skip

    def _cost(
        self,
        estimator: Estimator | None,
        X: np.ndarray | pd.DataFrame,
        background: np.ndarray | pd.DataFrame,
        n_players: int,
        budget: int | None,
        tol: float | None,
        method: str = "",
    ) -> CostEstimate:
        """The cost of explaining X (:func:`shapkit.cost.estimate_cost`; for a closed
        form, its data only), which :func:`shapkit.cost.check_feasible` checks before
        any work."""
        workers = max(min(resolve_n_jobs(self.n_jobs), X.shape[0]), 1)
        data_bytes = _nbytes(X) + _nbytes(background)
        n_outputs = max(len(getattr(self.adapter, "output_names", [])), 1)
        if estimator is None:
            return CostEstimate(
                method=method, n_players=n_players, budget=None, tol=None,
                evaluations_per_row=0, n_rows=X.shape[0], n_background=background.shape[0],
                n_outputs=n_outputs, model_rows=0, peak_bytes=data_bytes, n_workers=workers,
            )  # fmt: skip
        n_columns = X.shape[1]
        rows_per_call = min(
            self.max_rows, max(MIN_ROWS_PER_CALL, CALL_BYTES // (8 * max(n_columns, 1)))
        )
        return estimate_cost(
            estimator, n_players, budget, tol,
            n_rows=X.shape[0], n_background=background.shape[0], n_columns=n_columns,
            n_outputs=n_outputs, rows_per_call=rows_per_call, data_bytes=data_bytes,
            n_workers=workers,
        )  # fmt: skip

    def _explanation(
        self, job: RowJob, X: np.ndarray | pd.DataFrame, rows: RowValues
    ) -> Explanation:
        """The Explanation of ``X`` from its rows' values."""
        values, errors = rows.values, rows.std_errors
        base, full = rows.base_values, rows.predictions
        if values.shape[2] == 1:
            values, errors, base, full = values[:, :, 0], errors[:, :, 0], base[:, 0], full[:, 0]
        data = _as_frame(X, job.column_names, self.feature_names)
        player_columns = _player_columns(job, data)
        counts = rows.method_counts()
        ran = next(iter(counts)) if len(counts) == 1 else job.method
        return Explanation(
            values=values,
            base_values=base,
            std_errors=errors,
            data=data,
            feature_names=job.player_names,
            output_names=list(rows.output_names),
            method=ran,
            n_evals=rows.n_evals,
            predictions=full,
            player_columns=player_columns,
            settings={
                "method": job.method,
                "requested_method": self.method,
                "method_reason": job.reason,
                "estimator": None if job.estimator is None else repr(job.estimator),
                "methods": counts,
                "output": self.output,
                "budget": job.budget,
                "tol": job.tol,
                "background_size": None if self.background is None else job.background.shape[0],
                "value_function": (
                    INTERVENTIONAL if job.closed_form is None else job.closed_form.value_function
                ),
                "evaluated_on": _evaluated_on(job),
                "n_rows": X.shape[0],
                "max_rows": self.max_rows,
                "seed": self.seed,
                "model": describe_model(self.model),
            },
            background=(
                None
                if self.background is None
                else _as_frame(job.background, job.column_names, self.feature_names)
            ),
        )


def _n_outputs(job: RowJob) -> int:
    """The number of outputs the job's values have: the closed form's, the model's
    (adapters of callables learn theirs on a first call: one background row)."""
    if job.closed_form is not None:
        return max(len(job.closed_form.output_names), 1)
    names = getattr(job.model, "output_names", [])
    if not len(names) and job.background.shape[0]:
        out = np.asarray(job.model.predict(take_rows(job.background, 0, 1)))
        return int(out.shape[1]) if out.ndim == 2 else 1
    return max(len(names), 1)


def _player_columns(job: RowJob, data: pd.DataFrame) -> dict[str, list[Any]]:
    """Each player's data columns (X's own labels, which may not be str)."""
    player_columns: dict[str, list[Any]] = {name: [] for name in job.player_names}
    for j, label in enumerate(data.columns):
        player_columns[job.player_names[job.column_player[j]]].append(label)
    return player_columns


def _value_function(job: RowJob) -> str:
    """The game's value function: interventional, or the trees' path-dependent one."""
    if job.closed_form is not None:
        return job.closed_form.value_function
    return INTERVENTIONAL if job.path_trees is None else TREE_PATH_DEPENDENT


def _evaluated_on(job: RowJob) -> str:
    """What the values were computed from, in words (``settings["evaluated_on"]``)."""
    if job.closed_form is not None:
        return f"the fitted model's {job.closed_form.name} closed form"
    if job.trees is not None:
        return f"compiled trees: {job.trees.describe()}"
    if job.path_trees is not None:
        return "compiled trees: their cover-weighted (path-dependent) game"
    return "model calls"


def _nbytes(data: np.ndarray | pd.DataFrame) -> int:
    """Memory of an array or DataFrame (object cells counted as pointers)."""
    if isinstance(data, pd.DataFrame):
        return int(data.memory_usage(index=True, deep=False).sum())
    return int(data.nbytes)


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


def explain(
    model: Any,
    X: Any,
    background: Any = None,
    *,
    budget: int | None = None,
    tol: float | None = None,
    background_size: int = DEFAULT_BACKGROUND_SIZE,
    method: str | Estimator = "auto",
    output: str = "auto",
    groups: Mapping[str, Sequence[str] | str] | None = None,
    feature_names: Sequence[str] | None = None,
    seed: int | np.random.SeedSequence | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    n_jobs: int | None = 1,
    progress: bool | None = None,
    backend: str = "local",
) -> Explanation:
    """Explain ``model`` on the rows of ``X`` in one call.

    Without ``background``, a supported tree model on the tree path (``method="auto"``
    or ``"tree"``) is explained by path-dependent TreeSHAP (no background; the
    Explanation's ``value_function`` is ``"tree_path_dependent"``, as shap's
    ``TreeExplainer(model)``); any other model gets a seeded sample of at most
    ``background_size`` (100) rows of X as background. Every other argument is
    :class:`Explainer`'s (``budget`` and ``tol``: its call's).

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> expl = shapkit.explain(lambda Z: Z[:, 0] * Z[:, 1], X, background=np.zeros((1, 2)))
    >>> expl.values.round(12).tolist()
    [[1.0, 1.0], [6.0, 6.0]]
    """
    options: dict[str, Any] = dict(
        method=method, output=output, groups=groups, feature_names=feature_names,
        seed=seed, max_rows=max_rows, n_jobs=n_jobs, progress=progress, backend=backend,
    )  # fmt: skip
    explainer = None
    if background is None:
        try:
            explainer = Explainer(model, None, **options)  # a tree model: path-dependent
        except BackgroundRequiredError:
            pass
    if is_dask_frame(X) or is_spark_frame(X):
        if explainer is None and background is None:
            sample = "X.head(100)" if is_dask_frame(X) else "X.limit(100).toPandas()"
            raise BackgroundRequiredError(
                f"explaining a {'Dask' if is_dask_frame(X) else 'Spark'} DataFrame needs "
                f"background rows; pass e.g. background={sample}."
            )
        explainer = explainer or Explainer(model, background, **options)
        return explainer(X, budget=budget, tol=tol)
    X = check_tabular(X, "X")
    if explainer is None and background is None:
        if X.shape[0] == 1:
            raise ValueError(
                "explain(model, X) samples the background from X, but X has one row: it "
                "would be its own background and every value 0. Pass background= (e.g. "
                "a sample of the training data: X_train.sample(100))."
            )
        size = check_positive_int(background_size, "background_size")
        background = sample_background(X, size, check_seed(seed, generator=False))
    explainer = explainer or Explainer(model, background, **options)
    budget, tol = check_budget(budget), check_tol(tol)
    if explainer.backend == "dask":
        return explain_dask(explainer, X, budget=budget, tol=tol)
    return explainer._explain(X, budget, tol)
