"""``ShapSelector``: feature selection on held-out Shapley values (scikit-learn selector)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .._labels import plain as _plain
from .._labels import preview
from .._validation import check_seed
from ..models.sklearn import is_classifier_model
from ..tabular import is_text_column, refuse_dask
from ._importance import (
    adapt_columns,
    column_labels,
    heldout_importance,
    heldout_sage,
    take_columns,
    take_rows,
)
from ._stats import (
    F1_LAMBDA,
    F1_MIN_FEATURES,
    F1_REJECTED_PI0,
    bh_adjust,
    f1_cut,
    loss_tests,
    one_standard_error,
    paired_tests,
    probe_tail_tests,
    storey_pi0,
    t_interval,
)

#: The report's columns (``mean_abs_shap`` reads ``mean_sage`` with ``importance="sage"``).
REPORT_COLUMNS = [
    "rank",
    "mean_abs_shap",
    "ci_low",
    "ci_high",
    "share",
    "direction",
    "probe_threshold",
    "hit_rate",
    "effect_size",
    "p_value_probe",
    "loss_gain",
    "p_value_loss",
    "p_value",
    "q_value",
    "q_value_reject",
    "n_fits",
    "decision",
    "selected",
]
_STRATEGIES = ("probe", "rfe", "rank")
_IMPORTANCES = ("shap", "sage")
_SELECT = ("f1", "fdr")
PROBE_PREFIX = "__probe_"


class ShapSelector(SelectorMixin, BaseEstimator):
    """Select features by their held-out Shapley importance.

    Every importance is the mean |Shapley value| of a feature on validation-fold rows
    (at most ``max_rows`` of them) of a model fitted on the training fold, with a
    background of ``background_size`` training rows; shapkit's ``method="auto"`` picks
    exact TreeSHAP for supported tree models, the linear closed form for linear models,
    exact enumeration for few features, else the kernel sampler with ``budget``. With
    ``importance="sage"`` it is the feature's SAGE value on those rows instead
    (:func:`shapkit.sage`: how much knowing it lowers the model's held-out loss).

    Parameters
    ----------
    estimator : scikit-learn estimator or Pipeline
        Cloned and refitted on every fold. A Pipeline that encodes categorical or string
        columns works: the selector selects the original columns. When its first step is
        a ColumnTransformer with lists of column names, the lists are kept in step with
        the probe and dropped columns.
    strategy : {"probe", "rfe", "rank"}
        ``"probe"``: repeated K-fold; each repeat adds ``n_probes`` probe columns (row
        permutations of copies of randomly chosen real columns, so dtype and cardinality
        are kept, named ``__probe_0``, ...) to all its fits; a feature's mean importance
        is tested against the pooled probe importances of all fits (exponential tail
        beyond their top 10 %), and its held-out first-order loss gain (the loss added on validation
        rows by removing its Shapley values from the model output, to first order) is
        tested > 0 over rows; the two p-values of *feature > noise* are combined by
        Bonferroni, with Benjamini-Hochberg control
        of the false discovery rate at ``alpha``: ``accept`` (beats the noise), ``reject``
        (loses to the strongest probe of each fit, one-sided Wilcoxon signed-rank test
        across fits, or never used) or ``tentative`` (neither yet).
        Stops early after a repeat that leaves nothing tentative. ``select`` decides
        which features are kept.
        ``"rfe"``: recursive elimination of the least important features (``step`` at a
        time), each set scored by cross-validation; the size is chosen by the
        one-standard-error rule. ``"rank"``: a ranking by cross-validated importance, cut
        at ``max_features`` or at the cumulative share ``share``.
    importance : {"shap", "sage"}
        What ranks and tests the features: ``"shap"`` the mean |Shapley value| (how much
        a feature moves the predictions), ``"sage"`` the SAGE value (how much it lowers
        the loss: a feature the model uses without predicting better gets little; the
        value can be negative). With SAGE the probe strategy tests against the probes
        only (SAGE is the loss gain itself, so there is no separate loss test), the
        report's importance column is ``mean_sage``, and each fit costs a SAGE
        estimate (``budget="auto"``: SAGE's default, ``tol=0.01``).
    cv : int or cross-validation splitter
        Folds per repeat (stratified for classifiers) or a splitter.
    n_repeats : int
        Most repeats of the K-fold for ``"probe"`` (``"rfe"`` and ``"rank"`` use one).
    alpha : float
        False discovery rate of each of the two probe tests.
    select : {"f1", "fdr"}
        ``"probe"``: which features are kept. ``"fdr"``: the ones whose q-value is at
        most ``alpha`` (false discovery rate ``alpha``). ``"f1"`` (default): with at
        least 50 features and at least one of them accepted so (so nothing is kept on
        data without signal, with probability about ``1 - alpha``), those plus the
        further features, in order of evidence, that raise the estimated F1 score of the
        selection (:func:`~shapkit.selection.f1_cut`, with Storey's estimate of the
        share of null features bounded by what the test found; features the reverse
        test rejected are added only when that share is below 0.8); with fewer
        features the same as ``"fdr"``. With many weak relevant
        features it keeps far more of them, at the price of some false positives.
        Kept features are ``decision == "accept"``.
    max_features : int, optional
        Keep at most this many features (the most important of those selected).
    share : float, optional
        ``"rank"``: keep the smallest top set whose share of the total importance is at
        least ``share`` (default 0.9 when ``max_features`` is not given either).
    step : int or float
        ``"rfe"``: features removed per round (a float in (0, 1): that fraction of the
        remaining features, at least one).
    n_probes : int, optional
        Probe columns per repeat (default ``min(d, 20)``, at least 5).
    min_repeats : int
        Repeats before the probe strategy may stop early.
    background_size, max_rows : int
        Training rows used as background; validation rows explained per fit.
    budget : int, "auto" or None
        Game evaluations per explained row when values are sampled (``"auto"``:
        ``min(1024, max(256, 8 (d + 1)))``; None: shapkit's default).
    output : str, optional
        Output space to explain; by default chosen per model (see ``choose_output``).
    scoring : str or callable, optional
        ``"rfe"``: the scorer of each feature set (default: the estimator's ``score``).
    seed : int, optional
        Seeds folds, probes, row samples, and the ``random_state`` parameters of the
        estimator that are None, so that a seeded run is reproducible.
    n_jobs : int
        Fits of one repeat run in parallel (joblib).

    Attributes
    ----------
    report_ : DataFrame
        One row per feature (see :func:`select_features`); settings in ``attrs``.
    support_ : ndarray of bool
    ranking_ : ndarray of int
    rfe_scores_ : DataFrame or None
        ``"rfe"``: ``n_features``, ``mean_score``, ``std_error``, ``features`` per size.
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        strategy: str = "probe",
        importance: str = "shap",
        cv: Any = 5,
        n_repeats: int = 5,
        alpha: float = 0.05,
        select: str = "f1",
        max_features: int | None = None,
        share: float | None = None,
        step: int | float = 0.2,
        n_probes: int | None = None,
        min_repeats: int = 2,
        background_size: int = 50,
        max_rows: int = 100,
        budget: Any = "auto",
        output: str | None = None,
        scoring: Any = None,
        seed: int | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.estimator = estimator
        self.strategy = strategy
        self.importance = importance
        self.cv = cv
        self.n_repeats = n_repeats
        self.alpha = alpha
        self.select = select
        self.max_features = max_features
        self.share = share
        self.step = step
        self.n_probes = n_probes
        self.min_repeats = min_repeats
        self.background_size = background_size
        self.max_rows = max_rows
        self.budget = budget
        self.output = output
        self.scoring = scoring
        self.seed = seed
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ sklearn API
    def __sklearn_tags__(self):  # noqa: ANN204
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        try:
            inner = get_tags(self.estimator)
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.input_tags.string = inner.input_tags.string
            tags.input_tags.categorical = inner.input_tags.categorical
        except Exception:  # noqa: BLE001 - a non-sklearn estimator: keep the defaults
            pass
        tags.target_tags.required = True
        return tags

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X: Any) -> Any:
        """The selected columns; a DataFrame stays a DataFrame with its dtypes."""
        check_is_fitted(self, "support_")
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=False)
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but ShapSelector is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if not self.support_.any():
                import warnings

                warnings.warn(
                    "No features were selected: either the data is too noisy or the "
                    "selection test too strict.",
                    UserWarning,
                    stacklevel=2,
                )
            return X.iloc[:, np.flatnonzero(self.support_)]
        return super().transform(X)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> ShapSelector:
        """Select features of ``X`` for target ``y``; see the class docstring.

        Raises ``TypeError`` when the estimator is not a scikit-learn estimator (it is
        cloned and refitted on every fold) or X is a Dask DataFrame, and ``ValueError``
        when X has string columns the estimator cannot take (pass a Pipeline that encodes
        them) or a regressor is given non-numeric targets."""
        _check_estimator(self.estimator)
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            refuse_dask(X, "X")
        if y is None:
            raise ValueError(
                "ShapSelector requires y to be passed, but the target y is None; pass the "
                "target of each row."
            )
        allow_nan = self.__sklearn_tags__().input_tags.allow_nan
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=True)
            if X.columns.has_duplicates:
                raise ValueError("X has duplicated column names; make them unique.")
            if X.shape[1] == 0:
                raise ValueError("X has 0 feature(s) (shape=(n, 0)); at least 1 is required.")
            X = X.reset_index(drop=True)
            y = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y)
            check_consistent_length(X, y)
            _check_text_columns(self.estimator, [c for c in X.columns if is_text_column(X[c])])
        else:
            X, y = validate_data(
                self,
                X,
                y,
                dtype=None,
                ensure_all_finite=False if allow_nan else True,
                ensure_min_samples=2,
                y_numeric=False,
                multi_output=True,
            )
            if X.dtype == object:
                try:  # numbers stored as objects: the tree and linear paths want floats
                    X = X.astype(float)
                except (TypeError, ValueError):  # strings: for a Pipeline that encodes them
                    text = [j for j in range(X.shape[1]) if is_text_column(pd.Series(X[:, j]))]
                    _check_text_columns(self.estimator, text)
        y = self._check_target(y, X.shape[0])
        self._classifier = is_classifier_model(self.estimator)
        self._labels = column_labels(X)
        self._rng = np.random.default_rng(check_seed(self.seed))
        self._shap_methods: set[str] = set()
        self._outputs: set[str] = set()
        self.rfe_scores_ = None
        self._pi0: float | None = None
        if self.strategy == "probe":
            report = self._fit_probe(X, y)
        elif self.strategy == "rfe":
            report = self._fit_rfe(X, y)
        else:
            report = self._fit_rank(X, y)
        self.support_ = report.loc[self._report_index(), "selected"].to_numpy(dtype=bool)
        rank = report.loc[self._report_index(), "rank"].to_numpy(dtype=np.int64)
        self.ranking_ = rank
        columns = [c if c != "mean_abs_shap" else report.columns[1] for c in REPORT_COLUMNS]
        report = report[columns].sort_values("rank", kind="stable")
        report.attrs = self._settings(report)
        self.report_ = report
        del self._rng
        return self

    def _report_index(self) -> pd.Index:
        return pd.Index([str(c) if not isinstance(c, str) else c for c in self._names()])

    def _names(self) -> list[Any]:
        if hasattr(self, "feature_names_in_"):
            return list(self.feature_names_in_)
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _check_params(self) -> None:
        if self.strategy not in _STRATEGIES:
            raise ValueError(
                f"strategy={self.strategy!r}: choose one of {list(_STRATEGIES)}."
            )
        if self.importance not in _IMPORTANCES:
            raise ValueError(
                f"importance={self.importance!r}: choose one of {list(_IMPORTANCES)}."
            )
        for name in ("n_repeats", "background_size", "max_rows", "min_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        if self.select not in _SELECT:
            raise ValueError(f"select={self.select!r}: choose one of {list(_SELECT)}.")
        if not 0.0 < float(self.alpha) < 1.0:
            raise ValueError(f"alpha={self.alpha!r}: choose a rate between 0 and 1, e.g. 0.05.")
        if self.max_features is not None and (
            isinstance(self.max_features, bool)
            or not isinstance(self.max_features, numbers.Integral)
            or self.max_features < 1
        ):
            raise ValueError(f"max_features must be a positive integer or None; got "
                             f"{self.max_features!r}.")  # fmt: skip
        if self.share is not None and not 0.0 < float(self.share) <= 1.0:
            raise ValueError(f"share={self.share!r}: choose a share in (0, 1].")
        if self.n_probes is not None and (
            not isinstance(self.n_probes, numbers.Integral) or self.n_probes < 1
        ):
            raise ValueError(f"n_probes must be a positive integer; got {self.n_probes!r}.")
        step = self.step
        if isinstance(step, bool) or not (
            (isinstance(step, numbers.Integral) and step >= 1)
            or (isinstance(step, numbers.Real) and 0.0 < step < 1.0)
        ):
            raise ValueError(f"step must be an integer >= 1 or a fraction in (0, 1); got {step!r}.")

    def _check_target(self, y: Any, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"y must be 1-D (one target per row); got shape {y.shape}. Multi-output "
                "targets are not supported."
            )
        y = column_or_1d(y)
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}; pass one target per row.")
        if is_classifier_model(self.estimator):
            kind = type_of_target(y, input_name="y")
            if kind not in ("binary", "multiclass"):
                raise ValueError(
                    f"Unknown label type: y is {kind!r}; a classifier needs class labels."
                )
            n_classes = np.unique(y).size
            if n_classes < 2:
                raise ValueError(
                    f"y has only 1 class ({np.unique(y)[0]!r}); feature selection for a "
                    "classifier needs at least 2 classes."
                )
        else:
            try:
                values = np.asarray(y, dtype=float)
            except (TypeError, ValueError) as exc:
                example = next((v for v in y if not _is_number(v)), y[0])
                raise ValueError(
                    f"{type(self.estimator).__name__} is a regressor, but y holds values that "
                    f"are not numbers, e.g. {_plain(example)!r}; pass numeric targets, or a "
                    f"classifier to select features for class labels."
                ) from exc
            if not np.all(np.isfinite(values)):
                raise ValueError("y contains NaN or infinity; drop or impute those rows.")
            if np.ptp(values) == 0:
                raise ValueError(
                    "y is constant; no feature can explain a constant target (nothing to select)."
                )
        return y

    # ------------------------------------------------------------------ helpers
    def _seed_estimator(self, estimator: Any, seed: int) -> Any:
        """A clone whose ``random_state`` parameters that are None get ``seed`` (only when
        the selector itself is seeded)."""
        est = clone(estimator)
        if self.seed is None:
            return est
        try:
            params = est.get_params(deep=True)
        except Exception:  # noqa: BLE001
            return est
        updates = {k: seed for k, v in params.items() if k.endswith("random_state") and v is None}
        if updates:
            est.set_params(**updates)
        return est

    def _splits(self, X: Any, y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import KFold, StratifiedKFold

        if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool):
            if self.cv < 2:
                raise ValueError(f"cv must be at least 2 folds; got {self.cv}.")
            if self._classifier:
                counts = np.unique(y, return_counts=True)[1]
                k = int(min(self.cv, max(2, counts.min())))
                splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
            else:
                splitter = KFold(min(self.cv, X.shape[0]), shuffle=True, random_state=seed)
        else:
            splitter = self.cv
        return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]

    def _importance(self, model: Any, X_train: Any, X_val: Any, seed: int, y_val=None):
        if self.importance == "sage":
            return heldout_sage(
                model, X_train, X_val, y_val, background_size=self.background_size,
                max_rows=self.max_rows, budget=self.budget, seed=seed,
            )  # fmt: skip
        return heldout_importance(
            model,
            X_train,
            X_val,
            classifier=self._classifier,
            output=self.output,
            background_size=self.background_size,
            max_rows=self.max_rows,
            budget=self.budget,
            seed=seed,
            y_val=y_val,
        )

    def _parallel(self, jobs: list) -> list:
        if self.n_jobs in (None, 1) or len(jobs) < 2:
            return [fn(*args) for fn, args in jobs]
        from joblib import Parallel, delayed

        return Parallel(n_jobs=self.n_jobs)(delayed(fn)(*args) for fn, args in jobs)

    # ------------------------------------------------------------------ probe
    def _probe_fit(
        self,
        X: Any,
        sources: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        seed: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str, Any, Any]:
        """One fit on ``X``: the data with this repeat's probe columns appended (copies of
        the columns ``sources``)."""
        rng = np.random.default_rng(seed)
        d = X.shape[1] - sources.size
        X_tr, X_va = take_rows(X, train), take_rows(X, val)
        labels = self._labels
        extra = {f"{PROBE_PREFIX}{i}": labels[j] for i, j in enumerate(sources)}
        est = self._seed_estimator(self.estimator, seed % 2**31)
        est = adapt_columns(est, labels, extra, self._labels)
        est.fit(X_tr, y[train])
        imp = self._importance(est, X_tr, X_va, int(rng.integers(2**31)), y[val])
        gains = None if imp.loss_gain is None else imp.loss_gain[:, :d]
        rows = val[imp.rows] if imp.rows is not None else None
        return (imp.mean_abs[:d], imp.mean_abs[d:], imp.direction[:d], imp.method, imp.output,
                gains, rows)  # fmt: skip

    def _fit_probe(self, X: Any, y: np.ndarray) -> pd.DataFrame:
        folds = int(self.cv) if isinstance(self.cv, numbers.Integral) else self.cv.get_n_splits()
        if 0.5 ** (self.n_repeats * folds) > float(self.alpha):
            import warnings

            warnings.warn(
                f"n_repeats x cv = {self.n_repeats * folds} fits are too few fits for the "
                f"Wilcoxon test against the strongest probe to reach alpha={self.alpha}: no "
                "feature can be rejected (the pooled probe and loss tests can still accept "
                "one). Use at least 5 fits, 10 or more for many features.",
                UserWarning,
                stacklevel=3,
            )
        real: list[np.ndarray] = []
        probe_max, probe_all, directions = [], [], []
        repeat_bounds: list[tuple[int, int]] = []
        n, d = X.shape
        n_probes = self.n_probes if self.n_probes is not None else max(5, min(d, 20))
        gain_sum, gain_count = np.zeros((n, d)), np.zeros(n)
        with_loss = True
        stopped_early = False
        alpha = float(self.alpha)
        for repeat in range(self.n_repeats):
            split_seed = int(self._rng.integers(2**31))
            splits = self._splits(X, y, split_seed)
            # a repeat's probes are permuted once over all rows and kept in its folds:
            # like a real noise column, each keeps one chance association with y in all
            # of the repeat's fits, so its mean over them is a draw of a noise column's
            sources = self._rng.choice(d, n_probes, replace=n_probes > d)
            X_probed = _with_probes(X, sources, self._rng)
            jobs = [
                (self._probe_fit,
                 (X_probed, sources, y, tr, va, int(self._rng.integers(2**31))))
                for tr, va in splits
            ]  # fmt: skip
            start = len(real)
            for r, p, direction, method, output, gains, rows in self._parallel(jobs):
                real.append(r)
                probe_max.append(p.max() if p.size else 0.0)
                probe_all.append(p)
                directions.append(direction)
                self._shap_methods.add(method)
                self._outputs.add(output)
                if gains is None:
                    with_loss = False
                else:
                    np.add.at(gain_sum, rows, gains)
                    np.add.at(gain_count, rows, 1)
            repeat_bounds.append((start, len(real)))
            R, T = np.asarray(real), np.asarray(probe_max)
            # accept against the pooled probe draws (valid although the fits reuse the
            # rows); the paired test against the strongest probe only rejects
            _, p_lt, hit, effect = paired_tests(R, T)
            p_probe = probe_tail_tests(R, np.asarray(probe_all))
            if with_loss:
                gain, p_loss = loss_tests(gain_sum, gain_count)
                # two tests of one null (the feature carries nothing): Bonferroni
                p_gt = np.minimum(1.0, 2.0 * np.minimum(p_probe, p_loss))
            else:
                gain, p_loss = np.full(d, np.nan), np.full(d, np.nan)
                p_gt = p_probe
            q_gt, q_lt = bh_adjust(p_gt), bh_adjust(p_lt)
            accept = q_gt <= alpha
            # a feature no fitted model ever used cannot beat the probes: reject it
            reject = ~accept & ((q_lt <= alpha) | (R == 0).all(axis=0))
            if repeat + 1 >= min(self.min_repeats, self.n_repeats) and np.all(accept | reject):
                stopped_early = repeat + 1 < self.n_repeats
                break
        self._n_repeats_run = repeat + 1
        self._stopped_early = stopped_early
        mean = R.mean(axis=0)
        keep = accept
        if self.select == "f1" and accept.any() and d >= F1_MIN_FEATURES:
            # the global null is rejected: extend the accepted set as far as the
            # estimated F1 score rises, on p-values of the median over repeats of a
            # feature's mean importance against the probes' means over the fits of a
            # repeat (valid at every level up to 0.5, and not conservative in the middle
            # as the test against single draws is). Features the reverse test rejected
            # (below the strongest probe) stay out unless many features look relevant:
            # on sparse data most of them are noise, on dense data weak relevant ones
            # (selection.md)
            per_repeat = np.array([R[a:b].mean(axis=0) for a, b in repeat_bounds])
            probe_per_repeat = [np.mean(probe_all[a:b], axis=0) for a, b in repeat_bounds]
            p_rank = probe_tail_tests(np.median(per_repeat, axis=0)[None, :],
                                      np.asarray(probe_per_repeat))  # fmt: skip
            # the test's discoveries bound the number of relevant features from below
            found = (1.0 - alpha) * float(accept.sum())
            self._pi0 = storey_pi0(p_rank, F1_LAMBDA, min_relevant=found)
            cut = f1_cut(p_rank, F1_LAMBDA, min_relevant=found)
            keep = accept | (cut if self._pi0 < F1_REJECTED_PI0 else cut & ~reject)
        decision = np.where(keep, "accept", np.where(reject, "reject", "tentative"))
        selected = self._cap(keep, mean)
        frame = self._base_report(R, np.asarray(directions), selected, decision)
        frame["probe_threshold"] = float(T.mean())
        frame["hit_rate"] = hit
        frame["effect_size"] = effect
        frame["p_value_probe"] = p_probe
        frame["loss_gain"] = gain
        frame["p_value_loss"] = p_loss
        frame["p_value"] = p_gt
        frame["q_value"] = q_gt
        frame["q_value_reject"] = q_lt
        return frame

    def _cap(self, keep: np.ndarray, importance: np.ndarray) -> np.ndarray:
        """``keep`` limited to the ``max_features`` most important of its features."""
        keep = np.asarray(keep, dtype=bool).copy()
        if self.max_features is not None and keep.sum() > self.max_features:
            order = np.argsort(-np.where(keep, importance, -np.inf), kind="stable")
            keep[:] = False
            keep[order[: self.max_features]] = True
        return keep

    def _base_report(
        self,
        per_fit: np.ndarray,
        directions: np.ndarray,
        selected: np.ndarray,
        decision: np.ndarray,
        rank: np.ndarray | None = None,
    ) -> pd.DataFrame:
        mean = per_fit.mean(axis=0)
        low, high = t_interval(per_fit)
        total = mean.sum()
        share = mean / total if total > 0 else np.full(mean.shape, np.nan)
        with np.errstate(invalid="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                direction = np.nanmean(directions, axis=0) if directions.size else mean * np.nan
        if rank is None:
            # selected features first, then by importance
            order = np.lexsort((-mean, ~selected))
            rank = np.empty(mean.size, dtype=np.int64)
            rank[order] = np.arange(1, mean.size + 1)
        frame = pd.DataFrame(
            {
                "rank": rank,
                "mean_abs_shap" if self.importance == "shap" else "mean_sage": mean,
                "ci_low": low,
                "ci_high": high,
                "share": share,
                "direction": direction,
            },
            index=pd.Index(self._report_index(), name="feature"),
        )
        for col in ("probe_threshold", "hit_rate", "effect_size", "p_value_probe", "loss_gain",
                    "p_value_loss", "p_value", "q_value", "q_value_reject"):  # fmt: skip
            frame[col] = np.nan
        frame["n_fits"] = per_fit.shape[0]
        frame["decision"] = decision
        frame["selected"] = selected
        return frame

    # ------------------------------------------------------------------ rank
    def _cv_importance(
        self, X: Any, y: np.ndarray, columns: list[int], with_score: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-fold importance (folds, len(columns)), directions, and scores (folds,)."""
        splits = self._splits(X, y, int(self._rng.integers(2**31)))
        jobs = [
            (self._plain_fit, (X, y, columns, tr, va, int(self._rng.integers(2**31)), with_score))
            for tr, va in splits
        ]
        out = self._parallel(jobs)
        imp = np.asarray([o[0] for o in out])
        direction = np.asarray([o[1] for o in out])
        score = np.asarray([o[2] for o in out], dtype=float)
        for o in out:
            self._shap_methods.add(o[3])
            self._outputs.add(o[4])
        return imp, direction, score

    def _plain_fit(
        self, X: Any, y: np.ndarray, columns: list[int], train: np.ndarray, val: np.ndarray,
        seed: int, with_score: bool,
    ) -> tuple[np.ndarray, np.ndarray, float, str, str]:  # fmt: skip
        rng = np.random.default_rng(seed)
        Xs = take_columns(X, columns)
        X_tr, X_va = take_rows(Xs, train), take_rows(Xs, val)
        keep = [self._labels[j] for j in columns]
        est = self._seed_estimator(self.estimator, seed % 2**31)
        est = adapt_columns(est, keep, {}, self._labels)
        est.fit(X_tr, y[train])
        score = np.nan
        if with_score:
            from sklearn.metrics import check_scoring

            score = float(check_scoring(est, scoring=self.scoring)(est, X_va, y[val]))
        imp = self._importance(est, X_tr, X_va, int(rng.integers(2**31)), y[val])
        return imp.mean_abs, imp.direction, score, imp.method, imp.output

    def _fit_rank(self, X: Any, y: np.ndarray) -> pd.DataFrame:
        d = X.shape[1]
        imp, directions, _ = self._cv_importance(X, y, list(range(d)), with_score=False)
        mean = imp.mean(axis=0)
        keep = rank_cut(mean, self.max_features, self.share)
        decision = np.where(keep, "accept", "reject")
        return self._base_report(imp, directions, keep, decision)

    # ------------------------------------------------------------------ rfe
    def _fit_rfe(self, X: Any, y: np.ndarray) -> pd.DataFrame:
        d = X.shape[1]
        current = list(range(d))
        rows = []
        eliminated: list[list[int]] = []  # features removed per round, least important first
        first_imp = first_dir = None
        while True:
            imp, directions, scores = self._cv_importance(X, y, current, with_score=True)
            if first_imp is None:
                first_imp, first_dir = imp, directions
            n_ok = int(np.isfinite(scores).sum())
            se = float(np.nanstd(scores, ddof=1) / np.sqrt(n_ok)) if n_ok > 1 else np.nan
            rows.append(
                {
                    "n_features": len(current),
                    "mean_score": float(np.nanmean(scores)) if n_ok else np.nan,
                    "std_error": se,
                    "features": [self._names()[j] for j in current],
                }
            )
            if len(current) == 1:
                eliminated.append(list(current))
                break
            step = self.step
            n_remove = max(1, int(step * len(current))) if isinstance(step, float) else int(step)
            n_remove = min(n_remove, len(current) - 1)
            order = np.argsort(imp.mean(axis=0), kind="stable")
            removed = [current[i] for i in order[:n_remove]]
            eliminated.append(removed)
            current = [c for c in current if c not in set(removed)]
        curve = pd.DataFrame(rows)
        chosen, best = one_standard_error(
            curve["n_features"].to_numpy(), curve["mean_score"].to_numpy(),
            curve["std_error"].to_numpy(),
        )  # fmt: skip
        if self.max_features is not None:
            allowed = np.flatnonzero(curve["n_features"].to_numpy() <= self.max_features)
            if chosen not in allowed:
                chosen = int(allowed[np.nanargmax(curve["mean_score"].to_numpy()[allowed])])
        curve["chosen"] = np.arange(len(curve)) == chosen
        curve["best"] = np.arange(len(curve)) == best
        self.rfe_scores_ = curve
        self._rfe_chosen = int(curve["n_features"].iloc[chosen])
        names = self._names()
        keep_names = set(curve["features"].iloc[chosen])
        selected = np.array([n in keep_names for n in names])
        rank = np.empty(d, dtype=np.int64)
        position = 1
        for removed in reversed(eliminated):
            for j in reversed(removed):  # most important of the round first
                rank[j] = position
                position += 1
        decision = np.where(selected, "accept", "reject")
        assert first_imp is not None and first_dir is not None  # set by the first round
        return self._base_report(first_imp, first_dir, selected, decision, rank=rank)

    def plot_rfe(self, ax: Any = None) -> Any:
        """The cross-validated score of each feature-set size with one-standard-error bars,
        the chosen size marked; returns the matplotlib Axes."""
        check_is_fitted(self, "support_")
        if self.rfe_scores_ is None:
            raise ValueError("plot_rfe needs a selector fitted with strategy='rfe'.")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        curve = self.rfe_scores_
        ax.errorbar(curve["n_features"], curve["mean_score"], yerr=curve["std_error"],
                    marker="o", capsize=3, label="CV score ± 1 SE")  # fmt: skip
        ax.axvline(self._rfe_chosen, color="C3", linestyle="--",
                   label=f"chosen: {self._rfe_chosen} (one-SE rule)")  # fmt: skip
        ax.set_xlabel("number of features")
        ax.set_ylabel("cross-validated score")
        ax.set_title("Recursive elimination by held-out Shapley importance")
        ax.legend()
        return ax

    # ------------------------------------------------------------------ report attrs
    def _settings(self, report: pd.DataFrame) -> dict[str, Any]:
        est = self.estimator
        return {
            "strategy": self.strategy,
            "importance": self.importance,
            "estimator": type(est).__name__,
            "cv": self.cv if isinstance(self.cv, int) else repr(self.cv),
            "n_repeats": int(self.n_repeats),
            "n_repeats_run": int(getattr(self, "_n_repeats_run", 1)),
            "stopped_early": bool(getattr(self, "_stopped_early", False)),
            "n_fits": int(report["n_fits"].iloc[0]) if len(report) else 0,
            "alpha": float(self.alpha),
            "select": self.select if self.strategy == "probe" else None,
            "pi0": self._pi0,
            "n_probes": (
                (self.n_probes or max(5, min(self.n_features_in_, 20)))
                if self.strategy == "probe"
                else None
            ),
            "max_features": self.max_features,
            "share": self.share,
            "step": self.step,
            "background_size": int(self.background_size),
            "max_rows": int(self.max_rows),
            "budget": self.budget,
            "shap_method": sorted(self._shap_methods),
            "output_space": sorted(self._outputs),
            "seed": self.seed,
            "n_selected": int(report["selected"].sum()),
        }


def _with_probes(X: Any, sources: np.ndarray, rng: np.random.Generator) -> Any:
    """``X`` with one probe column per source column: that column's cells in a random
    row order (own permutation per probe, over all rows), same dtype."""
    n = X.shape[0]
    if isinstance(X, pd.DataFrame):
        probes = {}
        for i, j in enumerate(sources):
            col = X.iloc[:, int(j)]
            probes[f"{PROBE_PREFIX}{i}"] = col.iloc[rng.permutation(n)].reset_index(drop=True)
        extra = pd.DataFrame(probes)
        extra.index = X.index
        return pd.concat([X, extra], axis=1)
    cols = [X[rng.permutation(n), int(j)] for j in sources]
    return np.column_stack([X] + cols) if cols else X


def rank_cut(importance: np.ndarray, max_features: int | None, share: float | None) -> np.ndarray:
    """The top features by importance: at most ``max_features``, and the smallest top
    set whose cumulative share of the total importance reaches ``share`` (0.9 when
    neither is given). Features of zero importance are never kept.

    Examples
    --------
    >>> rank_cut(np.array([0.1, 0.6, 0.3, 0.0]), None, 0.85).tolist()
    [False, True, True, False]
    """
    importance = np.asarray(importance, dtype=float)
    d = importance.size
    if max_features is None and share is None:
        share = 0.9
    order = np.argsort(-importance, kind="stable")
    n_keep = d
    if share is not None:
        total = importance.sum()
        if total <= 0:
            n_keep = 0
        else:
            cumulative = np.cumsum(importance[order]) / total
            n_keep = int(np.searchsorted(cumulative, float(share) - 1e-12) + 1)
    if max_features is not None:
        n_keep = min(n_keep, int(max_features))
    keep = np.zeros(d, dtype=bool)
    keep[order[:n_keep]] = True
    return keep & (importance > 0)


def _check_estimator(estimator: Any) -> None:
    """A TypeError unless ``estimator`` is a scikit-learn estimator the selector can clone
    and refit on every fold (``fit``, ``predict`` or ``predict_proba``, ``get_params``)."""
    predicts = any(hasattr(estimator, m) for m in ("predict", "predict_proba"))
    if hasattr(estimator, "fit") and predicts and hasattr(estimator, "get_params"):
        return
    if estimator is None:
        got = "None"
    elif callable(estimator) and not hasattr(estimator, "fit"):
        got = f"a {type(estimator).__name__} (a fitted function cannot be refitted per fold)"
    else:
        got = f"a {type(estimator).__name__} without " + ", ".join(
            m for m in ("fit", "predict", "get_params") if not hasattr(estimator, m)
        )
    raise TypeError(
        f"Feature selection needs a scikit-learn estimator (fit/predict) to clone and refit "
        f"on every fold; got {got}. Pass an unfitted estimator or Pipeline, e.g. "
        f"LinearRegression(), or subclass sklearn.base.BaseEstimator; to explain a fitted "
        f"model or a function, use shapkit.explain."
    )


def _encodes_text(estimator: Any) -> bool:
    """Whether ``estimator`` may take string columns: a Pipeline or ColumnTransformer, a
    meta-estimator holding one, or an object outside scikit-learn (which cannot tell)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    encoders = (Pipeline, ColumnTransformer)
    if not isinstance(estimator, BaseEstimator) or isinstance(estimator, encoders):
        return True
    try:
        params = estimator.get_params(deep=True).values()
    except Exception:  # noqa: BLE001 - cannot tell
        return True
    return any(isinstance(value, encoders) for value in params)


def _check_text_columns(estimator: Any, text: list[Any]) -> None:
    """A ValueError naming the string columns when the estimator cannot take them."""
    if not text or _encodes_text(estimator):
        return
    name = type(estimator).__name__
    columns = preview(text, 5)
    raise ValueError(
        f"X has string columns {columns}, which {name} cannot take (it is not a Pipeline "
        f"that encodes them). Pass a Pipeline that encodes them, e.g. make_pipeline("
        f"make_column_transformer((OneHotEncoder(handle_unknown='ignore'), <the string "
        f"columns>), remainder='passthrough'), {name}(...)), or encode X first."
    )


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def select_features(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    strategy: str = "probe",
    importance: str = "shap",
    cv: Any = 5,
    n_repeats: int = 5,
    alpha: float = 0.05,
    select: str = "f1",
    max_features: int | None = None,
    share: float | None = None,
    step: int | float = 0.2,
    n_probes: int | None = None,
    min_repeats: int = 2,
    background_size: int = 50,
    max_rows: int = 100,
    budget: Any = "auto",
    output: str | None = None,
    scoring: Any = None,
    seed: int | None = None,
    n_jobs: int | None = 1,
) -> pd.DataFrame:
    """Fit a :class:`ShapSelector` (same arguments) and return its report.

    One row per feature, sorted by ``rank``: ``rank``; ``mean_abs_shap`` (mean over fits
    of the held-out mean |Shapley value|; ``mean_sage`` with ``importance="sage"``: of
    the held-out SAGE value), ``ci_low``/``ci_high`` (Student-t interval
    over fits, which overlap, so read it as indicative), ``share`` of the total,
    ``direction`` (mean Spearman correlation of a numeric feature with its values);
    probe strategy only: ``probe_threshold`` (mean over fits of the strongest probe),
    ``hit_rate`` (share of fits beating it), ``effect_size`` (rank-biserial),
    ``p_value_probe`` (mean importance > the pooled probes, ``probe_tail_tests``),
    ``loss_gain`` (mean over validation rows of the first-order loss added by removing
    the feature's values) and
    ``p_value_loss`` (t-test over rows of gain > 0; NaN where the labels cannot be
    matched to the model's outputs), ``p_value`` (the two combined by Bonferroni, or the
    probe test alone) and ``q_value`` (its BH adjustment), ``q_value_reject`` (the
    reverse probe test, BH-adjusted); ``n_fits``; ``decision`` (accept / reject /
    tentative); ``selected``. Settings are in ``attrs``.

    Examples
    --------
    >>> import numpy as np, shapkit
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)); y = X[:, 0] + 0.1 * rng.normal(size=300)
    >>> table = shapkit.select_features(DecisionTreeRegressor(max_depth=3), X, y, seed=0)
    >>> table.index[table["selected"]].tolist()
    ['x0']
    """
    selector = ShapSelector(
        estimator, strategy=strategy, importance=importance, cv=cv, n_repeats=n_repeats,
        alpha=alpha,
        select=select, max_features=max_features, share=share, step=step,
        n_probes=n_probes, min_repeats=min_repeats, background_size=background_size,
        max_rows=max_rows, budget=budget, output=output, scoring=scoring, seed=seed,
        n_jobs=n_jobs,
    )  # fmt: skip
    return selector.fit(X, y).report_
