"""The proxy's interactions: boosted trees fitted to the sampled coalitions, read as a
Fourier (Walsh) spectrum on 0/1 inputs, whose largest odd terms of three or more players
the Gaussian process and the regression take as extra features.

On the cube ``z in {0, 1}^d`` write ``x_j = 2 z_j - 1`` (so ``x_j = +1`` when player j is
in the coalition). Every function of z is a sum ``f(z) = sum_U a_U chi_U(x)`` of the
characters ``chi_U(x) = prod_{j in U} x_j``. A tree leaf reached through the conditions
``z_j = b_j`` for the features ``j`` on its path (``k`` of them) is the product
``prod_j (1 + s_j x_j) / 2`` with ``s_j = +1`` for ``b_j = 1`` and ``-1`` for ``b_j = 0``,
so it adds ``value * 2^-k * prod_{j in U} s_j`` to ``a_U`` for every subset U of its
path. Summing over leaves and trees gives the ensemble's spectrum exactly.
:func:`odd_interactions` ranks the odd subsets of three or more players by ``|a_U|``:
the Shapley value only depends on a game's odd part (Fumagalli et al. 2026, "An odd
estimator for Shapley values").

A component of :class:`~shapkit.estimators.proxy.ProxyEstimator`; tree shapes and
shares are in :mod:`~shapkit.estimators.proxy.tuning`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import combinations
from typing import Any

import numpy as np

from ...trees import read_tree_model
from ...trees.ensemble import (
    DEC_LE,
    DEC_LE_NAN_AS_ZERO,
    DEC_LE_ZERO_MISSING,
    DEC_LT,
    TreeEnsemble,
)
from ..paired import PairedSample
from .tuning import LINEAR_SHARE, MAX_DEPTH, N_TREES, PROXY_LEAVES, PROXY_MIN_LEAF

BOOSTERS = ("auto", "lightgbm", "xgboost", "sklearn")


def boosted_trees(
    booster: str,
    preference: str,
    n_trees: int,
    max_depth: int,
    learning_rate: float,
    seed: int,
    leaves: int = 31,
    min_leaf: int = 20,
) -> Any:
    """An unfitted regressor. ``booster="auto"`` takes ``preference`` ("lightgbm" or
    "xgboost") when it imports, else scikit-learn; a named library must import.
    ``leaves`` and ``min_leaf`` (LightGBM's and scikit-learn's defaults) bound the
    leaf-wise growers; XGBoost grows depth-wise and has no such bounds here."""
    library = preference if booster == "auto" else booster
    if library == "lightgbm":
        try:
            import lightgbm
        except ImportError:
            if booster == "lightgbm":
                raise
        else:
            return lightgbm.LGBMRegressor(
                n_estimators=n_trees,
                max_depth=max_depth,
                num_leaves=leaves,
                min_child_samples=min_leaf,
                learning_rate=learning_rate,
                n_jobs=1,
                verbose=-1,
                random_state=seed,
            )
    if library == "xgboost":
        try:
            import xgboost
        except ImportError:
            if booster == "xgboost":
                raise
        else:
            return xgboost.XGBRegressor(
                n_estimators=n_trees,
                max_depth=max_depth,
                learning_rate=learning_rate,
                tree_method="hist",
                base_score=0.0,
                n_jobs=1,
                random_state=seed,
            )
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=n_trees,
        max_depth=max_depth,
        max_leaf_nodes=leaves,
        min_samples_leaf=min_leaf,
        learning_rate=learning_rate,
        early_stopping=False,
        random_state=seed,
    )


_LESS_EQUAL = (DEC_LE, DEC_LE_NAN_AS_ZERO, DEC_LE_ZERO_MISSING)


def _branch_on(kind: int, threshold: float, value: float) -> bool:
    """True when an input equal to ``value`` goes to the left child."""
    if kind == DEC_LT:
        return value < threshold
    if kind in _LESS_EQUAL:
        return value <= threshold
    raise ValueError(
        "The Fourier spectrum is defined for numeric splits on 0/1 inputs; this ensemble "
        "has categorical splits."
    )


def leaf_paths(
    ensemble: TreeEnsemble, output: int = 0
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...], float]]:
    """Yield ``(features, signs, value)`` for every reachable leaf on 0/1 inputs.

    ``features`` are the distinct features tested on the way, ``signs`` +1 where the
    path needs the feature at 1 and -1 where at 0; a split both values send the same way
    adds nothing, and a feature tested twice follows the branch its first test fixed.
    Trees writing another output than ``output`` are skipped.
    """
    feature, threshold = ensemble.feature, ensemble.threshold
    left, right, decision = ensemble.left, ensemble.right, ensemble.decision
    values = ensemble.values[:, output]
    for root, tree_output in zip(ensemble.roots, ensemble.tree_output, strict=True):
        if tree_output >= 0 and tree_output != output:
            continue
        stack: list[tuple[int, dict[int, int]]] = [(int(root), {})]
        while stack:
            node, fixed = stack.pop()
            j = int(feature[node])
            if j < 0:
                yield tuple(fixed), tuple(fixed.values()), float(values[node])
                continue
            kind, t = int(decision[node]), float(threshold[node])
            zero = int(left[node] if _branch_on(kind, t, 0.0) else right[node])
            one = int(left[node] if _branch_on(kind, t, 1.0) else right[node])
            if zero == one:
                stack.append((zero, fixed))
            elif j in fixed:
                stack.append((one if fixed[j] > 0 else zero, fixed))
            else:
                stack.append((zero, {**fixed, j: -1}))
                stack.append((one, {**fixed, j: 1}))


def odd_coefficients(
    ensemble: TreeEnsemble, output: int = 0, min_order: int = 3, max_order: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The spectrum's odd orders ``r`` from ``min_order`` to ``max_order`` as arrays: per
    order, the distinct subsets ``(m, r)`` (sorted players, rows in lexicographic order)
    and their coefficients ``(m,)``. Leaves are grouped by path length and every subset
    of a length is taken at once, so the cost is numpy's, not Python's."""
    if min_order < 1:
        raise ValueError(f"min_order must be at least 1; got {min_order}.")
    start = min_order + (1 - min_order % 2)  # the smallest odd order >= min_order
    by_length: dict[int, list[tuple[tuple[int, ...], tuple[int, ...], float]]] = {}
    for features, path_signs, value in leaf_paths(ensemble, output):
        if value != 0.0 and len(features) >= start:
            by_length.setdefault(len(features), []).append((features, path_signs, value))
    keys: dict[int, list[np.ndarray]] = {}
    coefs: dict[int, list[np.ndarray]] = {}
    for k, leaves in by_length.items():
        feats = np.array([f for f, _, _ in leaves], dtype=np.int64)
        signs = np.array([g for _, g, _ in leaves], dtype=np.float64)
        scale = np.array([v for _, _, v in leaves]) / 2.0**k
        order = np.argsort(feats, axis=1)
        feats = np.take_along_axis(feats, order, axis=1)
        signs = np.take_along_axis(signs, order, axis=1)
        top = k if max_order is None else min(k, max_order)
        for r in range(start, top + 1, 2):
            pick = np.array(list(combinations(range(k), r)), dtype=np.int64)  # (c, r)
            keys.setdefault(r, []).append(feats[:, pick].reshape(-1, r))
            coefs.setdefault(r, []).append((scale[:, None] * signs[:, pick].prod(axis=2)).ravel())
    out = []
    base = max(int(ensemble.n_features), 2)
    for r in sorted(keys):
        rows = np.concatenate(keys[r])
        if r * math.log2(base) < 62:  # one int64 per subset: a 1-d sort, much faster
            powers = base ** np.arange(r - 1, -1, -1, dtype=np.int64)
            codes, inverse = np.unique(rows @ powers, return_inverse=True)
            subsets = (codes[:, None] // powers[None, :]) % base
        else:
            subsets, inverse = np.unique(rows, axis=0, return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=np.concatenate(coefs[r]))
        nonzero = total != 0.0
        out.append((subsets[nonzero], total[nonzero]))
    return out


def odd_spectrum(
    ensemble: TreeEnsemble, output: int = 0, min_order: int = 3, max_order: int | None = None
) -> dict[tuple[int, ...], float]:
    """Fourier coefficients ``a_U`` of the ensemble's odd subsets U with
    ``min_order <= |U| <= max_order`` (sorted player tuples; exact zeros dropped).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from shapkit.trees import read_tree_model
    >>> from shapkit.estimators.proxy.interactions import odd_spectrum
    >>> z = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float)
    >>> y = z.prod(axis=1)  # 1 only when all three are in: (1+x0)(1+x1)(1+x2)/8
    >>> tree = DecisionTreeRegressor().fit(z, y)
    >>> odd_spectrum(read_tree_model(tree).ensemble)
    {(0, 1, 2): 0.125}
    """
    return {
        tuple(int(j) for j in row): float(c)
        for subsets, values in odd_coefficients(ensemble, output, min_order, max_order)
        for row, c in zip(subsets, values, strict=True)
    }


def odd_interactions(
    ensemble: TreeEnsemble, max_terms: int, output: int = 0, min_order: int = 3
) -> list[tuple[int, ...]]:
    """The ``max_terms`` odd subsets of at least ``min_order`` players with the largest
    ``|a_U|`` in the ensemble's spectrum, largest first (ties: smaller subsets first,
    then lexicographically)."""
    if max_terms <= 0:
        return []
    orders = odd_coefficients(ensemble, output, min_order)
    if not orders:
        return []
    magnitude = np.concatenate([np.abs(values) for _, values in orders])
    owner = np.concatenate([np.full(len(values), i) for i, (_, values) in enumerate(orders)])
    row = np.concatenate([np.arange(len(values)) for _, values in orders])
    best = np.argsort(-magnitude, kind="stable")[:max_terms]
    return [tuple(int(j) for j in orders[owner[b]][0][row[b]]) for b in best]


def fit_interaction_trees(
    z: np.ndarray,
    y: np.ndarray,
    booster: str,
    n_trees: int,
    max_depth: int,
    rng: np.random.Generator,
) -> Any:
    """Gradient-boosted trees fitted to ``y`` (standardised) on 0/1 rows ``z``; returns
    shapkit's flat :class:`~shapkit.trees.TreeEnsemble`, or None for a constant ``y``.

    ``booster``: ``"auto"`` (LightGBM when importable, else scikit-learn's
    HistGradientBoostingRegressor, which grows the same trees here, measured: identical
    errors, 1.5-3x slower), ``"lightgbm"``, ``"sklearn"`` or ``"xgboost"``.
    """
    spread = float(y.std())
    if not np.isfinite(spread) or spread <= 1e-12 * (1.0 + float(np.abs(y).mean())):
        return None
    target = (y - y.mean()) / spread
    seed = int(rng.integers(0, 2**31 - 1))
    model = boosted_trees(
        booster, "lightgbm", n_trees, max_depth, 0.1, seed, PROXY_LEAVES, PROXY_MIN_LEAF
    )
    model.fit(z, target)
    return read_tree_model(model).ensemble


def interactions(
    rows: np.ndarray,
    target: np.ndarray,
    n_terms: int,
    booster: str,
    rng: np.random.Generator,
) -> list[tuple[int, ...]]:
    """The ``n_terms`` odd interactions (of three or more players) with the largest
    Fourier coefficients of trees fitted to ``target`` on the 0/1 ``rows``, less
    :data:`~shapkit.estimators.proxy.tuning.LINEAR_SHARE` of its least-squares additive
    fit (trees that must also learn a strong additive part spend their splits on it;
    docs/proxy.md). Empty for a constant target."""
    design = np.column_stack([np.ones(len(rows)), rows])
    coefs, *_ = np.linalg.lstsq(design, target, rcond=None)
    target = target - LINEAR_SHARE * (design @ coefs)
    trees = fit_interaction_trees(rows, target, booster, N_TREES, MAX_DEPTH, rng)
    return [] if trees is None else odd_interactions(trees, n_terms)


def proxy_rows(
    state: PairedSample, masks: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The trees' rows (every sampled coalition plus the empty and full ones, as floats)
    and their values."""
    d = state.d
    rows = np.concatenate([masks, [np.zeros(d, bool), np.ones(d, bool)]]).astype(np.float64)
    return rows, np.concatenate([values, state.empty[None, :], state.full[None, :]])
