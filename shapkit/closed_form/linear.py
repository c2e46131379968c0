"""Exact interventional Shapley values of linear models, in closed form.

For ``f(x) = w . t(x) + c`` with a per-column affine map ``t_j(x) = a_j x_j + c_j`` (the
scalers of a Pipeline), the interventional game over background rows ``b`` is additive,
so the Shapley value of column ``j`` is ``w_j a_j (x_j - mean_b b_j)``; a group of columns
gets the sum over its members. The base value is ``mean_b f(b)`` and the values add up
to ``f(x)``. No model calls are needed: cost ``O(n d k)`` instead of ``O(2^d)``.

:func:`linear_coefficients` reads ``(coef, intercept)`` in original column units from a
fitted scikit-learn estimator or Pipeline and raises :class:`LinearNotApplicableError`
(saying why) when the model is not linear in the requested output space;
:func:`linear_shapley` turns them into Shapley values.

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LinearRegression
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
>>> model = LinearRegression().fit(X, X @ [2.0, -1.0] + 0.5)
>>> form = linear_coefficients(model)
>>> values, base, pred = linear_shapley(form, X[1:2], X)  # x = [1, 0], mean = [1.5, 1]
>>> np.round(values[0, :, 0], 6).tolist(), bool(np.allclose(base + values.sum(1), pred))
([-1.0, 1.0], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._labels import plain
from ..models.sklearn import (
    CLASSIFIER_OUTPUTS,
    REGRESSOR_OUTPUTS,
    check_fitted,
    is_classifier_model,
    is_outlier_model,
    is_sklearn_model,
)
from ..models.torch import is_torch_module

__all__ = ["LinearForm", "LinearNotApplicableError", "linear_coefficients", "linear_shapley"]

#: Relative tolerance of the check that the model's own output equals ``coef . x + intercept``.
VERIFY_RTOL = 1e-6

_FALLBACK = "use method='exact' (or a sampling method such as 'kernel') instead"


class LinearNotApplicableError(ValueError):
    """The closed form for linear models does not apply to this model / output / data.

    The message says why, and what to use instead (``output='decision'``, or a general
    estimator such as ``method='exact'``).
    """


@dataclass(frozen=True)
class LinearForm:
    """A model output as an affine function of the ORIGINAL columns: ``X @ coef + intercept``.

    Attributes
    ----------
    coef : ndarray of shape (n_columns, k)
        Coefficients in original column units (Pipeline scalers folded in), float64.
    intercept : ndarray of shape (k,)
        Intercepts, float64.
    output_names : list of str
        Names of the k outputs, as :class:`shapkit.models.SklearnModel` names them.
    feature_names : tuple of str, optional
        The column names the model was fitted with (``feature_names_in_``), if any.
    """

    coef: np.ndarray
    intercept: np.ndarray
    output_names: list[str]
    feature_names: tuple[str, ...] | None = None

    @property
    def n_columns(self) -> int:
        return int(self.coef.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.coef.shape[1])

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef + intercept`` as float64 ``(n, k)``."""
        return _as_float_matrix(X, "X") @ self.coef + self.intercept


# --------------------------------------------------------------------------- model -> form


def linear_coefficients(model: Any, output: str = "auto") -> LinearForm:
    """The affine form ``X @ coef + intercept`` of ``model`` in the ``output`` space.

    Supported: fitted scikit-learn linear regressors (anything with ``coef_`` and
    ``intercept_`` whose ``predict`` is ``X @ coef_.T + intercept_``: LinearRegression,
    Ridge(CV), Lasso(CV), ElasticNet(CV), Lars, SGDRegressor, HuberRegressor,
    QuantileRegressor, BayesianRidge, ARDRegression, TheilSenRegressor, LinearSVR,
    SVR(kernel='linear'), TweedieRegressor(power=0), ...; single or multi-output) with
    ``output`` "auto"/"raw"; linear classifiers (LogisticRegression, RidgeClassifier,
    SGDClassifier, LinearSVC, Perceptron, LinearDiscriminantAnalysis, binary
    SVC(kernel='linear'), ...) with ``output="decision"``; and binary classifiers whose
    ``predict_proba`` is the logistic sigmoid of the decision function (LogisticRegression,
    SGDClassifier(loss='log_loss'), ...) with ``output="log_odds"``, giving outputs
    ``[classes_[0], classes_[1]] = [-margin, +margin]``. A Pipeline may put per-column
    affine steps before the estimator (StandardScaler, MinMaxScaler(clip=False),
    MaxAbsScaler, RobustScaler, FunctionTransformer(func=None), 'passthrough'/None, and
    nested Pipelines of these); they are folded into ``coef`` and ``intercept``.

    The form is checked against the model's own output on a few probe rows, so a model
    with ``coef_`` whose output is not affine in X (PoissonRegressor's log link,
    PLSRegression's centring, one-vs-one multi-class SVC, ...) is rejected.

    Note: the log-odds here are exact, ``+-margin``; shapkit's ``SklearnModel`` computes
    them from clipped probabilities, so the two differ once ``|margin|`` exceeds ~34.5
    (and by ~1e-16 * exp(|margin|) before that).

    Raises
    ------
    LinearNotApplicableError
        When the closed form does not apply (output space not linear, a step that is not
        a per-column affine map, a non-linear or non-sklearn model), saying why.
    ValueError
        When the model is not fitted or ``output`` is not a valid name for it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X = np.array([[0.0, 10.0], [1.0, 30.0], [2.0, 20.0], [3.0, 40.0]])
    >>> clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, [0, 0, 1, 1])
    >>> form = linear_coefficients(clf, output="decision")
    >>> form.coef.shape, form.output_names
    ((2, 1), [1])
    >>> bool(np.allclose(X @ form.coef[:, 0] + form.intercept[0], clf.decision_function(X)))
    True
    """
    name = type(model).__name__
    if not is_sklearn_model(model):
        kind = "a torch module" if is_torch_module(model) else f"a {name}"
        raise LinearNotApplicableError(
            f"The exact linear path needs a fitted scikit-learn linear estimator or Pipeline; "
            f"got {kind}, whose coefficients shapkit cannot read. {_FALLBACK.capitalize()}."
        )
    check_fitted(model)
    is_classifier = is_classifier_model(model)
    if not is_classifier and is_outlier_model(model):
        raise LinearNotApplicableError(
            f"{name} is an outlier detector; the exact linear path covers linear regressors "
            f"and classifiers. {_FALLBACK.capitalize()}."
        )
    allowed = CLASSIFIER_OUTPUTS if is_classifier else REGRESSOR_OUTPUTS
    if output not in allowed:
        kind = "classifier" if is_classifier else "regressor"
        raise ValueError(
            f"Unknown output={output!r} for the {kind} {name}; choose one of {list(allowed)}."
        )
    if is_classifier and output in ("auto", "probability"):
        raise LinearNotApplicableError(
            f"{name} is explained in probability space (output={output!r}), where a classifier "
            f"is not linear; use output='decision' for the exact linear path, or "
            f"{_FALLBACK} for probabilities."
        )

    pre_steps, final_name, final = _split_pipeline(model)
    scale, shift, n_in = _fold_affine_steps(pre_steps)
    weights, bias, names = _final_coefficients(final, final_name, is_classifier, output)
    n_coef = weights.shape[0]
    if n_in is not None and n_in != n_coef:
        raise LinearNotApplicableError(
            f"The steps before {final_name} output {n_in} columns but it has {n_coef} "
            f"coefficients; the Pipeline is inconsistent. {_FALLBACK.capitalize()}."
        )
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and int(n_features) != n_coef:
        raise LinearNotApplicableError(
            f"{name} takes {int(n_features)} columns but its linear estimator has {n_coef} "
            f"coefficients, so they cannot be matched to columns. {_FALLBACK.capitalize()}."
        )
    if scale is None:
        coef, intercept = weights, bias
    else:
        coef = scale[:, None] * weights
        intercept = bias + shift @ weights
    feature_names = getattr(model, "feature_names_in_", None)
    form = LinearForm(
        coef=np.ascontiguousarray(coef, dtype=np.float64),
        intercept=np.ascontiguousarray(intercept, dtype=np.float64),
        output_names=names,
        feature_names=None if feature_names is None else tuple(str(c) for c in feature_names),
    )
    _verify(model, form, is_classifier, output, scale, shift)
    return form


def _split_pipeline(model: Any) -> tuple[list[tuple[str, Any]], str, Any]:
    """``(steps before the final estimator, final step name, final estimator)``."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return [], type(model).__name__, model

    def flatten(pipe: Any, prefix: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for step_name, step in pipe.steps:
            label = f"{prefix}{step_name}"
            if isinstance(step, Pipeline):
                out.extend(flatten(step, f"{label}__"))
            else:
                out.append((label, step))
        return out

    steps = flatten(model, "")
    final_name, final = steps[-1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise LinearNotApplicableError(
            f"The Pipeline's final step {final_name!r} is 'passthrough', not a linear "
            f"estimator. {_FALLBACK.capitalize()}."
        )
    return steps[:-1], f"step {final_name!r} ({type(final).__name__})", final


def _fold_affine_steps(
    steps: Sequence[tuple[str, Any]],
) -> tuple[np.ndarray | None, np.ndarray | None, int | None]:
    """Compose per-column affine steps ``t(x) = a * x + c`` into one ``(a, c, n_columns)``."""
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None
    for step_name, step in steps:
        affine = _affine_step(step_name, step)
        if affine is None:  # identity
            continue
        a, c = affine
        if scale is not None and scale.shape != a.shape:
            raise LinearNotApplicableError(
                f"Pipeline step {step_name!r} ({type(step).__name__}) works on {a.shape[0]} "
                f"columns but the step before it gives {scale.shape[0]}; the Pipeline is "
                f"inconsistent. {_FALLBACK.capitalize()}."
            )
        # t_new(x) = a * (scale * x + shift) + c
        scale, shift = (a, c) if scale is None else (a * scale, a * shift + c)
    return scale, shift, None if scale is None else int(scale.shape[0])


def _affine_step(step_name: str, step: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(a, c)`` with ``step.transform(x) == a * x + c`` column-wise; None for identity."""
    from sklearn.preprocessing import (
        FunctionTransformer,
        MaxAbsScaler,
        MinMaxScaler,
        RobustScaler,
        StandardScaler,
    )

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return None
    kind = type(step).__name__
    if isinstance(step, StandardScaler):
        n = int(step.n_features_in_)
        mean = np.asarray(step.mean_, dtype=np.float64) if step.with_mean else np.zeros(n)
        sd = np.asarray(step.scale_, dtype=np.float64) if step.with_std else np.ones(n)
        return 1.0 / sd, -mean / sd
    if isinstance(step, MinMaxScaler):
        if step.clip:
            raise LinearNotApplicableError(
                f"Pipeline step {step_name!r} is MinMaxScaler(clip=True), which clips values "
                f"outside the training range, so the model is not linear in its input; refit "
                f"with clip=False for the exact linear path, or {_FALLBACK}."
            )
        return (
            np.asarray(step.scale_, dtype=np.float64),
            np.asarray(step.min_, dtype=np.float64),
        )
    if isinstance(step, MaxAbsScaler):
        a = 1.0 / np.asarray(step.scale_, dtype=np.float64)
        return a, np.zeros_like(a)
    if isinstance(step, RobustScaler):
        n = int(step.n_features_in_)
        center = np.asarray(step.center_, dtype=np.float64) if step.with_centering else np.zeros(n)
        sd = np.asarray(step.scale_, dtype=np.float64) if step.with_scaling else np.ones(n)
        return 1.0 / sd, -center / sd
    if isinstance(step, FunctionTransformer):
        if step.func is None:
            return None
        raise LinearNotApplicableError(
            f"Pipeline step {step_name!r} is a FunctionTransformer with func="
            f"{getattr(step.func, '__name__', step.func)!r}, which shapkit cannot prove to be "
            f"a per-column affine map, so the exact linear path does not apply; {_FALLBACK}."
        )
    raise LinearNotApplicableError(
        f"Pipeline step {step_name!r} ({kind}) is not a per-column affine map (supported: "
        f"StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, 'passthrough', "
        f"FunctionTransformer(func=None)), so the model is not linear in the original "
        f"columns; {_FALLBACK}."
    )


def _final_coefficients(
    final: Any, final_name: str, is_classifier: bool, output: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(W (n_coef, k), b (k,), output names)`` of the final estimator in ``output`` space."""
    import scipy.sparse as sp

    if not (hasattr(final, "coef_") and hasattr(final, "intercept_")):
        raise LinearNotApplicableError(
            f"The final estimator {final_name} is not a linear model (it has no coef_ and "
            f"intercept_), so the exact linear path does not apply; {_FALLBACK}."
        )
    coef = final.coef_
    coef = np.asarray(coef.toarray() if sp.issparse(coef) else coef, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64))
    if coef.ndim not in (1, 2) or intercept.ndim != 1:
        raise LinearNotApplicableError(
            f"{final_name} has coef_ of shape {coef.shape} and intercept_ of shape "
            f"{intercept.shape}, not those of a linear model; {_FALLBACK}."
        )
    weights = coef[:, None] if coef.ndim == 1 else coef.T  # (n_coef, k)
    k = weights.shape[1]
    if intercept.shape[0] not in (1, k):
        raise LinearNotApplicableError(
            f"{final_name} has {k} coefficient rows but {intercept.shape[0]} intercepts; "
            f"{_FALLBACK}."
        )
    bias = np.broadcast_to(intercept, (k,)).astype(np.float64)

    if not is_classifier:
        names = ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]
        return weights, bias, names

    classes = [plain(c) for c in getattr(final, "classes_", [])]
    n_classes = len(classes)
    expected = 1 if n_classes == 2 else n_classes
    if n_classes < 2 or k != expected:
        raise LinearNotApplicableError(
            f"{final_name} has {k} coefficient rows for {n_classes} classes, so its decision "
            f"function is not one linear score per class (e.g. a one-vs-one SVC); {_FALLBACK}."
        )
    if output == "decision":
        return weights, bias, [classes[1]] if n_classes == 2 else classes
    # output == "log_odds"
    if n_classes > 2:
        raise LinearNotApplicableError(
            f"The log-odds of the multi-class {final_name} ({n_classes} classes) are not "
            f"linear: each class's probability is a softmax (or normalisation) over all "
            f"classes' scores. Use output='decision' for the exact linear path (per-class "
            f"scores), or {_FALLBACK} for log-odds."
        )
    if not hasattr(final, "predict_proba"):
        raise LinearNotApplicableError(
            f"{final_name} has no predict_proba, so it has no log-odds; use output='decision'."
        )
    return np.hstack([-weights, weights]), np.concatenate([-bias, bias]), classes


def _probe_rows(n: int, scale: np.ndarray | None, shift: np.ndarray | None) -> np.ndarray:
    """A few fixed rows in original units: zeros, and standard-normal rows of the scaled space."""
    z = np.random.default_rng(20240601).standard_normal((4, n))
    rows = np.vstack([np.zeros((1, n)), z])
    if scale is not None and shift is not None:
        ok = scale != 0
        rows[1:, ok] = (z[:, ok] - shift[ok]) / scale[ok]
    return rows


def _verify(
    model: Any,
    form: LinearForm,
    is_classifier: bool,
    output: str,
    scale: np.ndarray | None,
    shift: np.ndarray | None,
) -> None:
    """Check the form against the model's own output on a few probe rows."""
    name = type(model).__name__
    probes = _probe_rows(form.n_columns, scale, shift)
    margin_coef = form.coef[:, -1]  # the +margin column (log-odds) or any decision column
    if output == "log_odds":
        # rows along w with moderate margins, where probabilities are informative
        norm2 = float(margin_coef @ margin_coef)
        if norm2 > 0:
            base = probes[0] @ margin_coef + form.intercept[-1]
            targets = np.array([-4.0, -1.5, 0.0, 0.7, 3.0])
            along = probes[0] + np.outer((targets - base) / norm2, margin_coef)
            probes = np.vstack([probes, along])
    expected = probes @ form.coef + form.intercept
    try:
        data: Any = probes
        columns = getattr(model, "feature_names_in_", None)
        if columns is not None:
            import pandas as pd

            data = pd.DataFrame(probes, columns=list(columns))
        method = "predict" if not is_classifier else "decision_function"
        raw = getattr(model, method)(data)
        got = np.asarray(raw, dtype=np.float64).reshape(probes.shape[0], -1)
        proba = (
            np.asarray(model.predict_proba(data), dtype=np.float64)
            if output == "log_odds"
            else None
        )
    except Exception as exc:  # the model refused plain numeric rows
        raise LinearNotApplicableError(
            f"Could not check {name} on numeric probe rows ({type(exc).__name__}: {exc}); "
            f"{_FALLBACK}."
        ) from exc
    margin_expected = expected[:, -1:] if output == "log_odds" else expected
    if got.shape != margin_expected.shape or not _close(got, margin_expected, probes, form):
        what = "decision_function" if is_classifier else "predict"
        raise LinearNotApplicableError(
            f"{name}.{what} is not X @ coef_.T + intercept_ in the original columns (e.g. a "
            f"GLM with a log link such as PoissonRegressor, PLSRegression, whose coef_ "
            f"applies to centred data, or a one-vs-one multi-class SVC), so the exact linear "
            f"path does not apply; {_FALLBACK}."
        )
    if proba is not None:
        margin = expected[:, 1]
        sigmoid = np.column_stack([_expit(-margin), _expit(margin)])
        if proba.shape != sigmoid.shape or not np.allclose(proba, sigmoid, rtol=0, atol=1e-9):
            raise LinearNotApplicableError(
                f"{name}.predict_proba is not the logistic sigmoid of its decision function "
                f"(e.g. modified-Huber or calibrated probabilities), so its log-odds are not "
                f"linear; use output='decision' for the exact linear path, or {_FALLBACK}."
            )


def _close(got: np.ndarray, expected: np.ndarray, probes: np.ndarray, form: LinearForm) -> bool:
    if not np.isfinite(got).all():
        return False
    magnitude = np.abs(probes) @ np.abs(form.coef) + np.abs(form.intercept) + np.abs(got)
    return bool(np.all(np.abs(got - expected) <= VERIFY_RTOL * magnitude + 1e-12))


def _expit(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


# --------------------------------------------------------------------------- form -> values


def _as_float_matrix(data: Any, name: str) -> np.ndarray:
    """All-numeric ndarray / DataFrame -> float64 ndarray; non-numeric -> error; NaN -> error."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        bad = [
            c
            for c in data.columns
            if not pd.api.types.is_numeric_dtype(data[c].dtype)
            or isinstance(data[c].dtype, pd.CategoricalDtype)
        ]
        if bad:
            raise LinearNotApplicableError(
                f"{name} has non-numeric columns {bad} (dtypes "
                f"{[str(data[c].dtype) for c in bad]}); the linear closed form needs numeric "
                f"columns only. Encode them inside a Pipeline and {_FALLBACK}."
            )
        out = data.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows, columns); got shape {arr.shape}.")
        if arr.dtype.kind not in "biuf":
            raise LinearNotApplicableError(
                f"{name} has dtype {arr.dtype}, not numeric; the linear closed form needs "
                f"numeric columns only. Encode them inside a Pipeline and {_FALLBACK}."
            )
        out = arr.astype(np.float64, copy=False)
    if out.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows); pass at least one row.")
    if not np.isfinite(out).all():
        rows, cols = np.nonzero(~np.isfinite(out))
        raise ValueError(
            f"{name} has {rows.size} missing or infinite cell(s) (first at row {rows[0]}, "
            f"column {cols[0]}); a linear model cannot take NaN or inf. Impute them first."
        )
    return out


def linear_shapley(
    form: LinearForm,
    X: Any,
    background: Any,
    column_player: Sequence[int] | np.ndarray | None = None,
    n_players: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact interventional Shapley values of the affine model ``form`` on the rows of X.

    ``phi_p = sum_{j in p} coef_j (x_j - mean_b b_j)``, base ``mean_b f(b)``, prediction
    ``f(x)``; ``base + values.sum(1) == predictions`` up to rounding.

    Parameters
    ----------
    form : LinearForm
        From :func:`linear_coefficients`.
    X, background : ndarray or DataFrame
        All-numeric rows to explain and background rows (NaN/inf raise ``ValueError``,
        non-numeric columns raise :class:`LinearNotApplicableError`).
    column_player : sequence of int, optional
        Player of each column (default: one player per column).
    n_players : int, optional
        Number of players (default ``max(column_player) + 1``).

    Returns
    -------
    values : ndarray of shape (n, n_players, k)
    base_values : ndarray of shape (n, k)
    predictions : ndarray of shape (n, k)

    Examples
    --------
    >>> import numpy as np
    >>> form = LinearForm(np.array([[1.0], [2.0], [3.0]]), np.array([0.5]), ["prediction"])
    >>> X, bg = np.array([[1.0, 1.0, 1.0]]), np.zeros((2, 3))
    >>> values, base, pred = linear_shapley(form, X, bg, column_player=[0, 1, 1])
    >>> values[0, :, 0].tolist(), base.tolist(), pred.tolist()
    ([1.0, 5.0], [[0.5]], [[6.5]])
    """
    import pandas as pd

    if isinstance(X, pd.DataFrame) and form.feature_names is not None:
        columns = [str(c) for c in X.columns]
        if columns != list(form.feature_names):
            raise ValueError(
                f"X's columns {columns} differ from those the model was fitted with "
                f"{list(form.feature_names)}; pass X with the model's columns, in order."
            )
    x = _as_float_matrix(X, "X")
    b = _as_float_matrix(background, "background")
    d = form.n_columns
    for arr, name in ((x, "X"), (b, "background")):
        if arr.shape[1] != d:
            raise ValueError(
                f"{name} has {arr.shape[1]} columns but the linear model has {d} coefficients."
            )
    if column_player is None:
        players = np.arange(d, dtype=np.int64)
    else:
        players = np.asarray(column_player, dtype=np.int64).reshape(-1)
        if players.shape[0] != d:
            raise ValueError(f"column_player has {players.shape[0]} entries but X has {d} columns.")
    if n_players is None:
        n_players = int(players.max()) + 1
    if players.min() < 0 or players.max() >= n_players:
        raise ValueError(f"column_player must hold player indices in [0, {n_players}).")

    mean_b = b.mean(axis=0)
    constant = (b == b[0]).all(axis=0)
    mean_b[constant] = b[0, constant]  # exact mean, so a column equal to all of them gets 0
    contributions = (x - mean_b)[:, :, None] * form.coef[None, :, :]  # (n, d, k)
    n, k = x.shape[0], form.n_outputs
    if n_players == d and np.array_equal(players, np.arange(d)):
        values = contributions
    else:
        by_player = np.zeros((n_players, n, k))
        np.add.at(by_player, players, contributions.transpose(1, 0, 2))
        values = by_player.transpose(1, 0, 2)
    base = mean_b @ form.coef + form.intercept
    base_values = np.broadcast_to(base, (n, k)).copy()
    # einsum's loops (not BLAS, whose blocking depends on the number of rows) give each
    # row the same bits whatever the other rows: chunked and parallel runs agree exactly
    predictions = np.einsum("nd,dk->nk", x, form.coef) + form.intercept
    return np.ascontiguousarray(values), base_values, predictions
