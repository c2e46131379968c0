"""The Fourier (Walsh) spectrum of a tree ensemble read on 0/1 inputs.

On the cube ``z in {0, 1}^d`` write ``x_j = 2 z_j - 1`` (so ``x_j = +1`` when player j is
in the coalition). Every function of z is a sum ``f(z) = sum_U a_U chi_U(x)`` of the
characters ``chi_U(x) = prod_{j in U} x_j``. A tree leaf reached through the conditions
``z_j = b_j`` for the features ``j`` on its path (``k`` of them) is the product
``prod_j (1 + s_j x_j) / 2`` with ``s_j = +1`` for ``b_j = 1`` and ``-1`` for ``b_j = 0``,
so it adds ``value * 2^-k * prod_{j in U} s_j`` to ``a_U`` for every subset U of its
path. Summing over leaves and trees gives the ensemble's spectrum exactly.

:func:`odd_interactions` ranks the odd subsets of three or more players by ``|a_U|``:
the Shapley value only depends on a game's odd part (Fumagalli et al. 2026, "An odd
estimator for Shapley values"), and the single players are always in the regression
that uses these terms (:mod:`shapkit.estimators.odd_regression`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .ensemble import DEC_LE, DEC_LE_NAN_AS_ZERO, DEC_LE_ZERO_MISSING, DEC_LT, TreeEnsemble

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


def leaf_paths(ensemble: TreeEnsemble, output: int = 0):
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
        stack = [(int(root), {})]
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


def odd_spectrum(
    ensemble: TreeEnsemble, output: int = 0, min_order: int = 3, max_order: int | None = None
) -> dict[tuple[int, ...], float]:
    """Fourier coefficients ``a_U`` of the ensemble's odd subsets U with
    ``min_order <= |U| <= max_order`` (sorted player tuples; exact zeros dropped).

    Example
    -------
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from shapkit.trees import read_tree_model
    >>> from shapkit.trees.fourier import odd_spectrum
    >>> z = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float)
    >>> y = z.prod(axis=1)  # 1 only when all three are in: (1+x0)(1+x1)(1+x2)/8
    >>> tree = DecisionTreeRegressor().fit(z, y)
    >>> odd_spectrum(read_tree_model(tree).ensemble)
    {(0, 1, 2): 0.125}
    """
    if min_order < 1:
        raise ValueError(f"min_order must be at least 1; got {min_order}.")
    spectrum: dict[tuple[int, ...], float] = {}
    start = min_order + (1 - min_order % 2)  # the smallest odd order >= min_order
    for features, signs, value in leaf_paths(ensemble, output):
        k = len(features)
        top = k if max_order is None else min(k, max_order)
        if top < start or value == 0.0:
            continue
        scale = value / 2.0**k
        order = np.argsort(features)
        feats = [features[i] for i in order]
        sgn = [signs[i] for i in order]
        for size in range(start, top + 1, 2):
            for pick in combinations(range(k), size):
                key = tuple(feats[i] for i in pick)
                sign = 1
                for i in pick:
                    sign *= sgn[i]
                spectrum[key] = spectrum.get(key, 0.0) + sign * scale
    return {key: c for key, c in spectrum.items() if c != 0.0}


def odd_interactions(
    ensemble: TreeEnsemble, max_terms: int, output: int = 0, min_order: int = 3
) -> list[tuple[int, ...]]:
    """The ``max_terms`` odd subsets of at least ``min_order`` players with the largest
    ``|a_U|`` in the ensemble's spectrum (ties by the subsets' order), largest first."""
    if max_terms <= 0:
        return []
    spectrum = odd_spectrum(ensemble, output, min_order)
    ranked = sorted(spectrum.items(), key=lambda item: (-abs(item[1]), item[0]))
    return [key for key, _ in ranked[:max_terms]]
