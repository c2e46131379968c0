"""Readers: fitted tree models of scikit-learn, XGBoost and LightGBM -> :class:`TreeModel`.

:func:`read_tree_model` returns the model's :class:`~shapkit.trees.ensemble.TreeEnsemble`
together with how to feed it (``to_features``: user rows -> the numeric columns the trees
read) and the model's own output in the space where the trees add up (``native``):

==========================================  ============  =================================
model                                        space         native output
==========================================  ============  =================================
DecisionTree/ExtraTree/RandomForest/         probability   ``predict_proba`` (classes_)
ExtraTrees classifiers
the same regressors (multi-output too)       raw           ``predict``
GradientBoosting/HistGradientBoosting        margin        ``decision_function``
classifiers                                                (binary: one output, classes_[1])
their regressors                             raw           ``predict`` (identity link only;
                                                           HGB poisson/gamma: margin)
XGBClassifier/XGBRegressor/Booster (gbtree)  margin / raw  ``output_margin`` predictions
LGBMClassifier/LGBMRegressor/Booster         margin / raw  ``raw_score`` predictions
Pipeline(per-column steps..., one of these)  as the final  the Pipeline's own
==========================================  ============  =================================

A regressor is in space "raw" when its ``predict`` equals its margin (identity link), else
in "margin". The base offset (boosting's initial prediction) is derived as
``native(Z) - tree_sum(Z)`` on probe rows and must be the same on every row.
Unsupported models and options raise :class:`TreeNotSupportedError` naming them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.sklearn import check_fitted
from .ensemble import (
    DEC_CAT_HGB,
    DEC_CAT_LIGHTGBM,
    DEC_CAT_XGBOOST,
    DEC_LE,
    DEC_LE_NAN_AS_ZERO,
    DEC_LE_ZERO_MISSING,
    DEC_LT,
    Tree,
    TreeEnsemble,
    TreeNotSupportedError,
    concat_trees,
)
from .ubjson import decode_ubjson

__all__ = ["TreeModel", "margin_names", "read_tree_model"]

#: Tolerance of the check that ``native - tree_sum`` is one constant on the probe rows.
OFFSET_RTOL = 1e-6


@dataclass
class TreeModel:
    """A tree model as the exact tree path sees it.

    Attributes
    ----------
    ensemble : TreeEnsemble
        The trees, base offset included: ``ensemble.predict(to_features(X)) == native(X)``.
    estimator : object
        The fitted model (or Pipeline) that was read.
    space : {"probability", "raw", "margin"}
        Where the trees add up: forest classifiers' probabilities, regressors' predictions
        (identity link), boosting margins.
    family : {"forest", "boosting"}
    is_classifier : bool
    output_names : list
        The classes (with their type) for classifiers, else "prediction", "margin", ...
    to_features : callable
        User rows (the type of X) -> numeric ``(n, n_features)`` in the trees' columns,
        one column per input column (Pipeline steps / the HGB category encoder applied).
    native : callable
        User rows -> the model's own output in ``space``, float64 ``(n, k)``.
    feature_column : ndarray of int or None
        The input column each of the trees' columns is made from (a Pipeline whose
        ColumnTransformer one-hot encodes: several tree columns per input column); None
        when they are the input columns, one to one.
    """

    ensemble: TreeEnsemble
    estimator: Any
    space: str
    family: str
    is_classifier: bool
    output_names: list[Any]
    to_features: Callable[[Any], np.ndarray]
    native: Callable[[Any], np.ndarray]
    feature_column: np.ndarray | None = None

    @property
    def n_columns(self) -> int:
        """Input columns (the user's X), which the players are made of."""
        if self.feature_column is None:
            return self.ensemble.n_features
        return int(self.estimator.n_features_in_)  # a Pipeline: its first step's input

    def features(self, X: Any) -> np.ndarray:
        """User rows -> the float64 matrix the kernels read."""
        return self.ensemble.prepare(self.to_features(X))

    def predict(self, X: Any) -> np.ndarray:
        """The model's own output in ``space`` (the :class:`shapkit.models.Model` protocol)."""
        return self.native(X)


def _as_2d(out: Any, n: int) -> np.ndarray:
    arr = np.asarray(out, dtype=np.float64)
    return arr.reshape(n, -1)


def _identity(X: Any) -> np.ndarray:
    return X


# --------------------------------------------------------------------------- dispatch


def read_tree_model(model: Any) -> TreeModel:
    """Read a fitted tree model (or a Pipeline ending in one) into a :class:`TreeModel`.

    Raises
    ------
    TreeNotSupportedError
        For any model, option or Pipeline step the exact tree path does not support.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0)
    >>> tm = read_tree_model(rf.fit(X, X[:, 0]))
    >>> bool(np.allclose(tm.ensemble.predict(X)[:, 0], rf.predict(X))), tm.space
    (True, 'raw')
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return _read_pipeline(model)
    module = type(model).__module__
    if module.startswith("sklearn."):
        return _read_sklearn(model)
    if module.startswith("xgboost"):
        return _read_xgboost(model)
    if module.startswith("lightgbm"):
        return _read_lightgbm(model)
    raise TreeNotSupportedError(
        f"{type(model).__name__} is not a tree model the exact tree path can read (supported: "
        f"scikit-learn DecisionTree/ExtraTree/RandomForest/ExtraTrees/GradientBoosting/"
        f"HistGradientBoosting, XGBoost and LightGBM models and Boosters, and Pipelines "
        f"ending in one); use method='exact' or 'kernel'."
    )


def _class_names(model: Any) -> list[Any]:
    """``classes_`` as they are (numpy scalars as Python ones), like SklearnModel."""
    return [c.item() if isinstance(c, np.generic) else c for c in getattr(model, "classes_", [])]


def _regression_names(k: int) -> list[str]:
    return ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]


def margin_names(model: Any, k: int) -> list[Any]:
    """Output names of a model's k margins: a binary classifier's positive class, a
    multi-class classifier's classes, else ``margin`` / ``margin_c``."""
    classes = _class_names(model)
    if len(classes) == 2 and k == 1:
        return [classes[1]]
    if len(classes) == k:
        return classes
    return ["margin"] if k == 1 else [f"margin_{c}" for c in range(k)]


# --------------------------------------------------------------------------- base offset


def _probe_rows(ens: TreeEnsemble, categorical: np.ndarray | None = None) -> np.ndarray:
    """Rows that reach many leaves: each cell is near a random threshold of its column."""
    rng = np.random.default_rng(7)
    d = ens.n_features
    n_rows = 24
    rows = np.zeros((n_rows, d))
    split = (ens.feature >= 0) & (ens.decision < DEC_CAT_LIGHTGBM) & np.isfinite(ens.threshold)
    order = np.argsort(ens.feature[split], kind="stable")  # node order within a feature
    thresholds = ens.threshold[split][order]
    bounds = np.searchsorted(ens.feature[split][order], np.arange(d + 1))
    for j in range(d):
        if categorical is not None and categorical[j]:
            rows[:, j] = rng.integers(0, 4, n_rows)
            continue
        thr = thresholds[bounds[j] : bounds[j + 1]]
        if thr.size == 0:
            rows[:, j] = rng.normal(size=n_rows)
            continue
        pick = rng.choice(thr, n_rows)
        step = np.maximum(np.abs(pick) * 1e-3, 1e-3)
        rows[:, j] = pick + np.where(rng.random(n_rows) < 0.5, -step, step)
    if ens.float32_inputs:
        rows = rows.astype(np.float32).astype(np.float64)
    return rows


def _fit_offset(
    ens: TreeEnsemble, native: Callable[[np.ndarray], np.ndarray], probes: np.ndarray, name: str
) -> None:
    """Set ``ens.base_offset = native - tree_sum`` after checking it is one constant."""
    own = _as_2d(native(probes), probes.shape[0])
    trees = ens.tree_sum(probes)
    if own.shape != trees.shape:
        raise TreeNotSupportedError(
            f"{name} gives {own.shape[1]} outputs but its trees give {trees.shape[1]}; this "
            f"configuration is not supported by the exact tree path."
        )
    diff = own - trees
    spread = np.abs(diff - diff[:1]).max()
    if not np.isfinite(spread) or spread > OFFSET_RTOL * (1.0 + np.abs(own).max()):
        raise TreeNotSupportedError(
            f"{name}'s output is not its trees' sum plus a constant (off by up to {spread:.3g} "
            f"on probe rows); an unsupported option (e.g. a custom init estimator, DART, "
            f"linear trees) is in use. Use method='exact' or 'kernel'."
        )
    offset = diff.mean(axis=0)
    offset[np.abs(offset) < 1e-12] = 0.0
    ens.base_offset = offset


# --------------------------------------------------------------------------- scikit-learn


def _sk_tree(est: Any, *, classifier: bool, scale: float, output: int) -> Tree:
    t = est.tree_
    feature = np.where(t.children_left < 0, -1, t.feature).astype(np.int64)
    value = np.asarray(t.value, dtype=np.float64)  # (n_nodes, n_outputs, n_classes)
    if classifier:
        if value.shape[1] != 1:
            raise TreeNotSupportedError(
                f"Multi-output classification ({type(est).__name__} with {value.shape[1]} "
                f"outputs) is not supported by the exact tree path."
            )
        counts = value[:, 0, :]
        totals = counts.sum(axis=1, keepdims=True)
        totals[totals == 0] = 1.0
        leaf = counts / totals
    else:
        leaf = value[:, :, 0]
    missing = getattr(t, "missing_go_to_left", None)
    default_left = (
        np.zeros(feature.shape[0], dtype=bool) if missing is None else np.asarray(missing) != 0
    )
    return Tree(
        feature=feature,
        threshold=np.asarray(t.threshold, dtype=np.float64),
        left=np.asarray(t.children_left, dtype=np.int64),
        right=np.asarray(t.children_right, dtype=np.int64),
        default_left=default_left,
        decision=np.full(feature.shape[0], DEC_LE, dtype=np.int8),
        values=leaf * scale,
        cover=np.asarray(t.weighted_n_node_samples, dtype=np.float64),
        output=output,
    )


def _read_sklearn(model: Any) -> TreeModel:
    from sklearn import ensemble as sk_ensemble
    from sklearn import tree as sk_tree

    name = type(model).__name__
    check_fitted(model)
    single = (
        sk_tree.DecisionTreeClassifier,
        sk_tree.DecisionTreeRegressor,
        sk_tree.ExtraTreeClassifier,
        sk_tree.ExtraTreeRegressor,
    )
    forests = (
        sk_ensemble.RandomForestClassifier,
        sk_ensemble.RandomForestRegressor,
        sk_ensemble.ExtraTreesClassifier,
        sk_ensemble.ExtraTreesRegressor,
    )
    if isinstance(model, single) or isinstance(model, forests):
        return _read_sklearn_forest(model, isinstance(model, single))
    if isinstance(model, (sk_ensemble.GradientBoostingClassifier,
                          sk_ensemble.GradientBoostingRegressor)):  # fmt: skip
        return _read_sklearn_gb(model)
    if isinstance(model, (sk_ensemble.HistGradientBoostingClassifier,
                          sk_ensemble.HistGradientBoostingRegressor)):  # fmt: skip
        return _read_hgb(model)
    raise TreeNotSupportedError(
        f"{name} is not supported by the exact tree path (supported scikit-learn models: "
        f"DecisionTree/ExtraTree, RandomForest/ExtraTrees, GradientBoosting and "
        f"HistGradientBoosting classifiers and regressors); use method='exact' or 'kernel'."
    )


def _read_sklearn_forest(model: Any, single: bool) -> TreeModel:
    from sklearn.base import is_classifier

    classifier = bool(is_classifier(model))
    estimators = [model] if single else list(model.estimators_)
    scale = 1.0 / len(estimators)
    trees = [_sk_tree(e, classifier=classifier, scale=scale, output=-1) for e in estimators]
    k = trees[0].values.shape[1]
    n_features = int(model.n_features_in_)
    ens = concat_trees(
        trees, k, n_features, combine="sum" if single else "average", float32_inputs=True
    )
    if classifier:

        def numeric(Z: Any) -> np.ndarray:
            return _as_2d(model.predict_proba(Z), Z.shape[0])

        names = _class_names(model)
        space = "probability"
    else:

        def numeric(Z: Any) -> np.ndarray:
            return _as_2d(model.predict(Z), Z.shape[0])

        names = _regression_names(k)
        space = "raw"
    _fit_offset(ens, _numpy_caller(model, numeric), _probe_rows(ens), type(model).__name__)
    return TreeModel(ens, model, space, "forest", classifier, names, _identity, numeric)


def _numpy_caller(model: Any, fn: Callable[[Any], np.ndarray]) -> Callable[[Any], np.ndarray]:
    """``fn`` on probe rows, as a DataFrame with the model's column names if it has them."""
    columns = getattr(model, "feature_names_in_", None)
    if columns is None:
        return fn

    def call(Z: np.ndarray) -> np.ndarray:
        import pandas as pd

        return fn(pd.DataFrame(Z, columns=list(columns)))

    return call


def _read_sklearn_gb(model: Any) -> TreeModel:
    from sklearn.base import is_classifier

    name = type(model).__name__
    if model.init not in (None, "zero"):
        raise TreeNotSupportedError(
            f"{name} was fitted with init={type(model.init).__name__}; the exact tree path "
            f"supports only the default init (None) or 'zero'. Use method='exact' or 'kernel'."
        )
    classifier = bool(is_classifier(model))
    stages = model.estimators_  # (n_iter, K)
    k = stages.shape[1]
    lr = float(model.learning_rate)
    trees = [
        _sk_tree(stages[i, c], classifier=False, scale=lr, output=c if k > 1 else 0)
        for i in range(stages.shape[0])
        for c in range(k)
    ]
    ens = concat_trees(trees, k, int(model.n_features_in_), combine="sum", float32_inputs=True)
    if classifier:

        def numeric(Z: Any) -> np.ndarray:
            return _as_2d(model.decision_function(Z), Z.shape[0])

        names = margin_names(model, k)
        space = "margin"
    else:

        def numeric(Z: Any) -> np.ndarray:
            return _as_2d(model.predict(Z), Z.shape[0])

        names = _regression_names(k)
        space = "raw"
    _fit_offset(ens, _numpy_caller(model, numeric), _probe_rows(ens), name)
    return TreeModel(ens, model, space, "boosting", classifier, names, _identity, numeric)


def _read_hgb(model: Any) -> TreeModel:
    from sklearn.base import is_classifier

    name = type(model).__name__
    classifier = bool(is_classifier(model))
    n_features = int(model.n_features_in_)
    pre = getattr(model, "_preprocessor", None)
    if pre is None:
        perm = np.arange(n_features)
    else:
        is_cat = np.asarray(model.is_categorical_, dtype=bool)
        perm = np.concatenate([np.flatnonzero(is_cat), np.flatnonzero(~is_cat)])
    known_bitsets, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    trees = []
    k = int(model.n_trees_per_iteration_)
    for iteration in model._predictors:
        for c, predictor in enumerate(iteration):
            nodes = predictor.nodes
            is_leaf = nodes["is_leaf"].astype(bool)
            is_cat = nodes["is_categorical"].astype(bool)
            size = nodes.shape[0]
            feature = np.where(is_leaf, -1, perm[nodes["feature_idx"]]).astype(np.int64)
            cat_left: list[np.ndarray | None] = [None] * size
            cat_known: list[np.ndarray | None] = [None] * size
            for node in np.flatnonzero(is_cat & ~is_leaf):
                cat_left[node] = np.asarray(
                    predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]], dtype=np.uint32
                )
                cat_known[node] = np.asarray(
                    known_bitsets[f_idx_map[nodes["feature_idx"][node]]], dtype=np.uint32
                )
            trees.append(
                Tree(
                    feature=feature,
                    threshold=nodes["num_threshold"].astype(np.float64),
                    left=nodes["left"].astype(np.int64),
                    right=nodes["right"].astype(np.int64),
                    default_left=nodes["missing_go_to_left"].astype(bool),
                    decision=np.where(is_cat, DEC_CAT_HGB, DEC_LE).astype(np.int8),
                    values=nodes["value"].astype(np.float64)[:, None],
                    cover=nodes["count"].astype(np.float64),
                    output=c,
                    cat_left=cat_left,
                    cat_known=cat_known,
                )
            )
    ens = concat_trees(trees, k, n_features, combine="sum", float32_inputs=False)

    def margin_of_features(Z: np.ndarray) -> np.ndarray:
        """The model's margin on rows already encoded, in original column order."""
        Zt = np.ascontiguousarray(Z[:, perm], dtype=np.float64)
        raw = np.zeros((Z.shape[0], k), order="F") + model._baseline_prediction
        model._predict_iterations(Zt, model._predictors, raw, False, 1)
        return raw

    if pre is None:
        to_features: Callable[[Any], np.ndarray] = _identity
    else:

        def to_features(X: Any) -> np.ndarray:
            Xt = np.asarray(pre.transform(X), dtype=np.float64)
            out = np.empty_like(Xt)
            out[:, perm] = Xt
            return out

    identity = True
    if not classifier:
        identity = getattr(model, "loss", "squared_error") in (
            "squared_error", "absolute_error", "quantile"
        )  # fmt: skip
    if classifier or not identity:

        def native(X: Any) -> np.ndarray:
            return _as_2d(model._raw_predict(X), X.shape[0])

        names = margin_names(model, k) if classifier else ["margin"]
        space = "margin"
    else:

        def native(X: Any) -> np.ndarray:
            return _as_2d(model.predict(X), X.shape[0])

        names = _regression_names(k)
        space = "raw"
    categorical = None if pre is None else np.isin(np.arange(n_features), perm[: int(
        np.asarray(model.is_categorical_).sum())])  # fmt: skip
    _fit_offset(ens, margin_of_features, _probe_rows(ens, categorical), name)
    return TreeModel(ens, model, space, "boosting", classifier, names, to_features, native)


# --------------------------------------------------------------------------- XGBoost


def _read_xgboost(model: Any) -> TreeModel:
    import xgboost as xgb

    name = type(model).__name__
    if isinstance(model, xgb.Booster):
        booster, wrapper = model, None
    elif isinstance(model, xgb.XGBModel):
        check_fitted(model)
        booster, wrapper = model.get_booster(), model
    else:
        raise TreeNotSupportedError(f"{name} is not an XGBoost model or Booster.")
    learner = decode_ubjson(bytes(booster.save_raw(raw_format="ubj")))["learner"]
    gb = learner["gradient_booster"]
    if _xgboost_dart(gb, wrapper):
        raise TreeNotSupportedError(
            f"{name} is an XGBoost DART model (booster='dart' or dropout with rate_drop > 0); "
            f"its dropout weights scale the trees, which the exact tree path does not read. "
            f"Use method='exact' or 'kernel'."
        )
    if gb.get("name") != "gbtree":
        raise TreeNotSupportedError(
            f"XGBoost booster={gb.get('name')!r} is not supported by the exact tree path (only "
            f"'gbtree'; gblinear has no trees). Use method='exact'."
        )
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) > 1:
        raise TreeNotSupportedError(
            "Multi-target XGBoost models are not supported by the exact tree path."
        )
    k = max(1, int(params.get("num_class", "0")))
    tree_docs = gb["model"]["trees"]
    tree_info = gb["model"]["tree_info"]
    indptr = gb["model"].get("iteration_indptr")
    n_iter = None
    if wrapper is not None:
        try:
            best = wrapper.best_iteration
        except AttributeError:
            best = None
        if best is not None:
            n_iter = int(best) + 1
    n_trees = len(tree_docs) if n_iter is None or indptr is None else int(indptr[n_iter])
    trees = _xgboost_trees([tree_docs[t] for t in range(n_trees)], tree_info, k)
    n_features = int(params.get("num_feature", booster.num_features()))
    if not trees:
        raise TreeNotSupportedError(f"{name} has no trees.")
    ens = concat_trees(trees, k, n_features, combine="sum", float32_inputs=True)
    missing = float(getattr(wrapper, "missing", np.nan)) if wrapper is not None else np.nan
    if not np.isnan(missing):
        raise TreeNotSupportedError(
            f"{name} was given missing={missing}; the exact tree path supports only missing=nan."
        )
    iteration_range = (0, n_iter) if n_iter is not None else (0, 0)
    types = list(booster.feature_types or [])
    categorical = np.array([t == "c" for t in types], dtype=bool) if types else None

    def predict(X: Any, predict_type: str) -> np.ndarray:
        if categorical is None or not categorical.any():
            out = booster.inplace_predict(
                X, predict_type=predict_type, iteration_range=iteration_range, missing=np.nan
            )
        else:  # category codes in an array need the booster's feature types
            frame = hasattr(X, "dtypes")
            matrix = xgb.DMatrix(X, missing=np.nan, enable_categorical=True,
                                 feature_names=None if frame else booster.feature_names,
                                 feature_types=None if frame else types)  # fmt: skip
            out = booster.predict(matrix, output_margin=predict_type == "margin",
                                  iteration_range=iteration_range)  # fmt: skip
        return _as_2d(out, X.shape[0])

    def margin(X: Any) -> np.ndarray:
        return predict(X, "margin")

    def transformed(X: Any) -> np.ndarray:
        return predict(X, "value")

    probes = _probe_rows(ens, categorical)
    _fit_offset(ens, margin, probes, name)
    classifier = wrapper is not None and hasattr(wrapper, "classes_")
    to_features = _identity if categorical is None else _pandas_codes(categorical)
    return _boosting_model(ens, model, classifier, k, margin, transformed, to_features, probes)


def _xgboost_trees(tree_docs: list[dict[str, Any]], tree_info: Any, k: int) -> list[Tree]:
    """The saved trees as :class:`Tree` s."""
    trees = []
    for t, td in enumerate(tree_docs):
        if int(td["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise TreeNotSupportedError(
                "XGBoost vector-leaf trees (multi_strategy='multi_output_tree') are not "
                "supported by the exact tree path."
            )
        left = np.asarray(td["left_children"], dtype=np.int64)
        cond = np.asarray(td["split_conditions"], dtype=np.float32).astype(np.float64)
        is_leaf = left < 0
        decision, cat_sets = _xgboost_categorical_splits(td, left.shape[0])
        trees.append(
            Tree(
                feature=np.where(is_leaf, -1, np.asarray(td["split_indices"], dtype=np.int64)),
                threshold=np.where(is_leaf, 0.0, cond),
                left=left,
                right=np.asarray(td["right_children"], dtype=np.int64),
                default_left=np.asarray(td["default_left"], dtype=bool),
                decision=decision,
                values=np.where(is_leaf, cond, 0.0)[:, None],
                cover=np.asarray(td["sum_hessian"], dtype=np.float64),
                output=int(tree_info[t]) if k > 1 else 0,
                cat_left=cat_sets,
            )
        )
    return trees


def _xgboost_categorical_splits(
    td: dict[str, Any], n_nodes: int
) -> tuple[np.ndarray, list[np.ndarray | None] | None]:
    """Per node, the decision kind (``DEC_LT``, or ``DEC_CAT_XGBOOST`` for a categorical
    split) and the bitset of the categories that go right (None for other nodes)."""
    split_type = np.asarray(td.get("split_type", ()), dtype=np.int64)
    if not (split_type == 1).any():
        return np.full(n_nodes, DEC_LT, dtype=np.int8), None
    decision = np.where(split_type == 1, DEC_CAT_XGBOOST, DEC_LT).astype(np.int8)
    sets: list[np.ndarray | None] = [None] * n_nodes
    categories = np.asarray(td["categories"], dtype=np.int64)
    for node, start, size in zip(td["categories_nodes"], td["categories_segments"],
                                 td["categories_sizes"], strict=True):  # fmt: skip
        sets[int(node)] = _bitset(categories[int(start) : int(start) + int(size)].tolist())
    return decision, sets


def _pandas_codes(categorical: np.ndarray) -> Callable[[Any], np.ndarray]:
    """User rows -> XGBoost's numbers for a model with categorical features: a DataFrame's
    category columns as their codes (NaN for missing), as XGBoost reads them; arrays
    (codes already) pass unchanged."""

    def to_features(X: Any) -> Any:
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            return X
        out = X.copy()
        for j in np.flatnonzero(categorical):
            column = X.columns[j]
            if not isinstance(X.dtypes.iloc[j], pd.CategoricalDtype):
                continue
            codes = X[column].cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            out[column] = codes
        return out.to_numpy(dtype=np.float64)

    return to_features


def _xgboost_dart(gb: dict[str, Any], wrapper: Any) -> bool:
    """Whether an XGBoost model was trained as DART, in any XGBoost version.

    Up to 3.2 a DART model is saved as ``gradient_booster.name == "dart"`` with its tree
    weights in ``gradient_booster.weight_drop``. From 3.3 ``booster="dart"`` is deprecated
    and trained as "gbtree": with ``rate_drop > 0`` the weights move to
    ``gradient_booster.model.weight_drop``; with no dropout nothing in the saved model
    tells DART apart, so the wrapper's own ``booster`` parameter is read as well, and
    ``booster="dart"`` is refused in every version alike.
    """
    if gb.get("name") == "dart" or "weight_drop" in gb:
        return True
    model = gb.get("model")
    if isinstance(model, dict) and "weight_drop" in model:
        return True
    return getattr(wrapper, "booster", None) == "dart"


def _boosting_model(
    ens: TreeEnsemble,
    model: Any,
    classifier: bool,
    k: int,
    margin: Callable[[Any], np.ndarray],
    transformed: Callable[[Any], np.ndarray],
    to_features: Callable[[Any], np.ndarray] = _identity,
    probes: np.ndarray | None = None,
) -> TreeModel:
    """Space "raw" for a regressor with identity link, else "margin" (judged on
    ``probes``, by default :func:`_probe_rows`)."""
    if classifier:
        names = margin_names(model, k)
        return TreeModel(ens, model, "margin", "boosting", True, names, to_features, margin)
    if probes is None:
        probes = _probe_rows(ens)
    own, raw = transformed(probes), margin(probes)
    if own.shape == raw.shape and np.allclose(own, raw, rtol=1e-9, atol=1e-9):
        names = _regression_names(k)
        return TreeModel(ens, model, "raw", "boosting", False, names, to_features, transformed)
    names = ["margin"] if k == 1 else [f"margin_{c}" for c in range(k)]
    return TreeModel(ens, model, "margin", "boosting", False, names, to_features, margin)


# --------------------------------------------------------------------------- LightGBM


def _bitset(categories: list[int]) -> np.ndarray:
    cats = [c for c in categories if c >= 0]
    n_words = (max(cats) // 32 + 1) if cats else 1
    words = np.zeros(n_words, dtype=np.uint32)
    for c in cats:
        words[c >> 5] |= np.uint32(1 << (c & 31))
    return words


def _read_lightgbm(model: Any) -> TreeModel:
    import lightgbm as lgb

    name = type(model).__name__
    if isinstance(model, lgb.Booster):
        booster, wrapper = model, None
    elif isinstance(model, lgb.LGBMModel):
        check_fitted(model)
        booster, wrapper = model.booster_, model
    else:
        raise TreeNotSupportedError(f"{name} is not a LightGBM model or Booster.")
    dump = booster.dump_model()
    categories = dump.get("pandas_categorical") or None
    k = int(dump["num_tree_per_iteration"])
    infos = dump["tree_info"]
    if not infos:
        raise TreeNotSupportedError(f"{name} has no trees.")
    scale = 1.0
    if dump.get("average_output"):
        scale = 1.0 / (len(infos) // k)
    trees = []
    for t, info in enumerate(infos):
        if info.get("is_linear"):
            raise TreeNotSupportedError(
                f"{name} uses linear trees (linear_tree=True), which the exact tree path does "
                f"not support; use method='exact'."
            )
        trees.append(_lgb_tree(info["tree_structure"], t % k if k > 1 else 0, scale))
    n_features = int(dump["max_feature_idx"]) + 1
    ens = concat_trees(trees, k, n_features, combine="sum", float32_inputs=False)

    def margin(X: Any) -> np.ndarray:
        # LightGBM's raw_score of a random forest (average_output) is the sum over trees;
        # its predictions (and the margin explained here) are the average.
        return _as_2d(booster.predict(X, raw_score=True), X.shape[0]) * scale

    def transformed(X: Any) -> np.ndarray:
        return _as_2d(booster.predict(X), X.shape[0])

    _fit_offset(ens, margin, _probe_rows(ens), name)
    classifier = wrapper is not None and hasattr(wrapper, "classes_")
    to_features = _identity if categories is None else _category_codes(categories, name)
    return _boosting_model(ens, model, classifier, k, margin, transformed, to_features)


def _category_codes(categories: list[list[Any]], name: str) -> Callable[[Any], np.ndarray]:
    """User rows -> LightGBM's numbers for a model fitted on pandas 'category' columns:
    each category column (in order) coded by its position among the categories seen in
    training, NaN for a missing or unseen one, as LightGBM does; arrays pass unchanged
    (LightGBM reads them as the codes)."""

    def to_features(X: Any) -> Any:
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            return X
        dtypes = zip(X.columns, X.dtypes, strict=True)
        columns = [c for c, t in dtypes if isinstance(t, pd.CategoricalDtype)]
        if len(columns) != len(categories):
            raise TreeNotSupportedError(
                f"{name} was fitted on {len(categories)} pandas 'category' columns, but X "
                f"has {len(columns)} ({columns}); give X the training data's column dtypes."
            )
        out = X.copy()
        for column, known in zip(columns, categories, strict=True):
            values = X[column].to_numpy(dtype=object)
            codes = pd.Index(known).get_indexer(values).astype(np.float64)
            codes[codes < 0] = np.nan
            out[column] = codes
        return out.to_numpy(dtype=np.float64)

    return to_features


def _lgb_tree(root: dict[str, Any], output: int, scale: float) -> Tree:
    nodes: list[dict[str, Any]] = []
    left: list[int] = []
    right: list[int] = []
    feature, threshold, dl, dec, vals, cover = [], [], [], [], [], []
    cats: list[np.ndarray | None] = []
    stack = [(root, -1, False)]
    while stack:
        node, parent, is_left = stack.pop()
        idx = len(nodes)
        nodes.append(node)
        if parent >= 0:
            (left if is_left else right)[parent] = idx
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        dl.append(False)
        dec.append(DEC_LE)
        vals.append(0.0)
        cats.append(None)
        if "leaf_value" in node:
            vals[idx] = float(node["leaf_value"]) * scale
            cover.append(float(node.get("leaf_count", node.get("leaf_weight", 0.0))))
            continue
        cover.append(float(node.get("internal_count", node.get("internal_weight", 0.0))))
        feature[idx] = int(node["split_feature"])
        dl[idx] = bool(node.get("default_left", False))
        if node["decision_type"] == "==":
            dec[idx] = DEC_CAT_LIGHTGBM
            cats[idx] = _bitset([int(c) for c in str(node["threshold"]).split("||")])
            dl[idx] = False
        elif node["decision_type"] == "<=":
            missing = node.get("missing_type", "None")
            dec[idx] = {"NaN": DEC_LE, "Zero": DEC_LE_ZERO_MISSING}.get(missing, DEC_LE_NAN_AS_ZERO)
            threshold[idx] = float(node["threshold"])
        else:
            raise TreeNotSupportedError(
                f"LightGBM decision_type {node['decision_type']!r} is not supported."
            )
        stack.append((node["right_child"], idx, False))
        stack.append((node["left_child"], idx, True))
    return Tree(
        feature=np.asarray(feature, dtype=np.int64),
        threshold=np.asarray(threshold),
        left=np.asarray(left, dtype=np.int64),
        right=np.asarray(right, dtype=np.int64),
        default_left=np.asarray(dl, dtype=bool),
        decision=np.asarray(dec, dtype=np.int8),
        values=np.asarray(vals)[:, None],
        cover=np.asarray(cover),
        output=output,
        cat_left=cats,
    )


# --------------------------------------------------------------------------- Pipeline

_ONE_TO_ONE = (
    "StandardScaler",
    "MinMaxScaler",
    "MaxAbsScaler",
    "RobustScaler",
    "SimpleImputer",
    "OrdinalEncoder",
    "QuantileTransformer",
    "PowerTransformer",
)


def _read_pipeline(pipe: Any) -> TreeModel:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    check_fitted(pipe)
    final = pipe.steps[-1][1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise TreeNotSupportedError("The Pipeline's final step is 'passthrough', not a model.")
    inner = read_tree_model(final)
    steps = [
        (name, step)
        for name, step in pipe.steps[:-1]
        if not (step is None or (isinstance(step, str) and step == "passthrough"))
    ]
    mixers = [name for name, step in steps if isinstance(step, (ColumnTransformer, OneHotEncoder))]
    if len(mixers) > 1:
        raise TreeNotSupportedError(
            f"The Pipeline has {len(mixers)} steps that change the columns "
            f"({', '.join(mixers)}); the exact tree path maps one ColumnTransformer or "
            f"OneHotEncoder back to the input columns. Use method='exact' or 'kernel'."
        )
    feature_column = None
    width = inner.ensemble.n_features  # columns after the ColumnTransformer, if any
    for step_name, step in reversed(steps):
        if isinstance(step, (ColumnTransformer, OneHotEncoder)):
            feature_column = _column_sources(step_name, step)
            if feature_column.shape[0] != width:
                raise TreeNotSupportedError(
                    f"Pipeline step {step_name!r} ({type(step).__name__}) makes "
                    f"{feature_column.shape[0]} columns but the model reads {width}."
                )
            width = int(step.n_features_in_)
            continue
        _check_one_to_one(step_name, step, width)
    head = pipe[:-1]
    # XGBoost reads the entries a sparse matrix does not store as missing, not as 0
    absent = np.nan if type(final).__module__.startswith("xgboost") else 0.0

    def to_features(X: Any) -> np.ndarray:
        return inner.to_features(_dense(head.transform(X), absent))

    def native(X: Any) -> np.ndarray:
        return inner.native(head.transform(X))

    return TreeModel(
        inner.ensemble, pipe, inner.space, inner.family, inner.is_classifier,
        inner.output_names, to_features, native, feature_column,
    )  # fmt: skip


def _dense(data: Any, absent: float) -> Any:
    """A scipy sparse matrix (a sparse ColumnTransformer output) as a dense array whose
    entries the matrix does not store are ``absent``; anything else unchanged."""
    if not (hasattr(data, "tocoo") and hasattr(data, "nnz")):
        return data
    coo = data.tocoo()
    out = np.full(coo.shape, absent)
    out[coo.row, coo.col] = coo.data
    return out


def _check_one_to_one(step_name: str, step: Any, width: int) -> None:
    """Raise unless ``step`` maps each of its ``width`` columns to one column."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    kind = type(step).__name__
    if isinstance(step, Pipeline):
        raise TreeNotSupportedError(
            f"Pipeline step {step_name!r} is a nested Pipeline; flatten it for the exact "
            f"tree path."
        )
    if isinstance(step, FunctionTransformer) and step.func is None:
        return
    if kind not in _ONE_TO_ONE or type(step).__module__.split(".")[0] != "sklearn":
        raise TreeNotSupportedError(
            f"Pipeline step {step_name!r} ({kind}) is not a known column map (supported: "
            f"{', '.join(_ONE_TO_ONE)}, 'passthrough', and one ColumnTransformer of those "
            f"and OneHotEncoder), so tree values cannot be mapped back to the input "
            f"columns; use method='exact' or 'kernel'."
        )
    if kind == "SimpleImputer":
        if step.add_indicator:
            raise TreeNotSupportedError(
                f"Pipeline step {step_name!r} is SimpleImputer(add_indicator=True), which "
                f"adds columns; the exact tree path needs one output column per input."
            )
        stats = np.asarray(step.statistics_)
        if stats.dtype.kind == "f" and np.isnan(stats).any() and not step.keep_empty_features:
            raise TreeNotSupportedError(
                f"Pipeline step {step_name!r} (SimpleImputer) drops all-missing columns; "
                f"the exact tree path needs one output column per input."
            )
    n_in = getattr(step, "n_features_in_", None)
    if n_in is not None and int(n_in) != width:
        raise TreeNotSupportedError(
            f"Pipeline step {step_name!r} ({kind}) takes {int(n_in)} columns but the "
            f"next step reads {width}; not a one-to-one column map."
        )


def _column_sources(step_name: str, step: Any) -> np.ndarray:
    """For each output column of the fitted ColumnTransformer or OneHotEncoder ``step``,
    the input column it is made from: one-to-one maps and 'passthrough' keep a column,
    OneHotEncoder makes one column per kept category of each input column, 'drop' makes
    none."""
    from sklearn.preprocessing import OneHotEncoder

    n_in = int(step.n_features_in_)
    names = list(getattr(step, "feature_names_in_", []))
    parts = getattr(step, "transformers_", [(step_name, step, list(range(n_in)))])
    sources: list[np.ndarray] = []
    for name, trans, columns in parts:
        picked = _selected_columns(columns, n_in, names)
        if picked.size == 0 or (isinstance(trans, str) and trans == "drop"):
            continue
        if isinstance(trans, str) and trans == "passthrough":
            sources.append(picked)
        elif isinstance(trans, OneHotEncoder):
            sources.append(np.repeat(picked, _one_hot_widths(step_name, name, trans)))
        else:
            _check_one_to_one(f"{step_name}/{name}", trans, int(picked.size))
            sources.append(picked)
    return np.concatenate(sources).astype(np.int64) if sources else np.zeros(0, np.int64)


def _one_hot_widths(step_name: str, name: str, encoder: Any) -> list[int]:
    """Output columns of a fitted OneHotEncoder per input column: its categories, with
    the infrequent ones merged into one column and the dropped one left out."""
    infrequent = getattr(encoder, "infrequent_categories_", None)
    dropped = getattr(encoder, "drop_idx_", None)
    widths = []
    for i, categories in enumerate(encoder.categories_):
        width = len(categories)
        if infrequent is not None and infrequent[i] is not None:
            width -= len(infrequent[i]) - 1
        if dropped is not None and dropped[i] is not None:
            width -= 1
        widths.append(width)
    if sum(widths) != len(encoder.get_feature_names_out()) or not _blocks_hold(
        encoder, widths
    ):
        raise TreeNotSupportedError(
            f"The OneHotEncoder {name!r} of {step_name!r} makes "
            f"{len(encoder.get_feature_names_out())} columns, which shapkit cannot map back "
            f"to its input columns; use method='exact' or 'kernel'."
        )
    return widths


def _blocks_hold(encoder: Any, widths: list[int]) -> bool:
    """Whether changing one input column's category changes only the output columns of
    its block (``widths`` consecutive columns per input column): rows of the encoder's
    own categories, one column changed at a time."""
    import pandas as pd

    first = [categories[0] for categories in encoder.categories_]
    rows = [first]
    for j, categories in enumerate(encoder.categories_):
        for category in categories[1:]:
            rows.append([*first[:j], category, *first[j + 1 :]])
    names = getattr(encoder, "feature_names_in_", None)
    frame = pd.DataFrame(rows, columns=None if names is None else list(names), dtype=object)
    for j, categories in enumerate(encoder.categories_):
        frame[frame.columns[j]] = frame[frame.columns[j]].astype(np.asarray(categories).dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _dense(encoder.transform(frame if names is not None else frame.to_numpy()), 0.0)
    ends = np.cumsum(widths)
    row = 1
    for j, categories in enumerate(encoder.categories_):
        lo, hi = int(ends[j] - widths[j]), int(ends[j])
        for _ in categories[1:]:
            changed = np.flatnonzero(out[row] != out[0])
            if changed.size and (changed.min() < lo or changed.max() >= hi):
                return False
            row += 1
    return True


def _selected_columns(columns: Any, n_in: int, names: list[Any]) -> np.ndarray:
    """The input column indices a fitted ColumnTransformer's transformer reads (names,
    positions, a slice or a boolean mask; callables are resolved when it is fitted)."""
    positions = np.arange(n_in)
    if isinstance(columns, slice):
        return positions[columns]
    if isinstance(columns, (str, int, np.integer)):
        columns = [columns]
    columns = list(columns)
    if columns and all(isinstance(c, (bool, np.bool_)) for c in columns):
        return positions[np.asarray(columns, dtype=bool)]
    if columns and all(isinstance(c, str) for c in columns):
        return np.array([names.index(c) for c in columns], dtype=np.int64)
    return np.asarray(columns, dtype=np.int64).reshape(-1)

