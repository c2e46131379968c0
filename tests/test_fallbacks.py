"""A fallback is visible: result.method says what ran and result.reason why; an
Explanation counts the rows per method that ran."""

from __future__ import annotations

import numpy as np

import shapkit


def _game(masks):
    z = masks.astype(float)
    return z @ np.arange(1.0, z.shape[1] + 1) + 2.0 * z[:, 0] * z[:, 1] * z[:, 2]


def test_a_budget_that_covers_every_coalition_enumerates_and_says_so():
    for method in ("kernel", "permutation", "proxy"):
        result = shapkit.shapley_values(_game, 5, method=method, budget=40, seed=0)
        if method == "permutation":  # enumerates only d <= 2; here it samples
            assert result.method == "permutation" and result.reason == ""
            continue
        assert result.method == "exact", method
        assert "all 2^5 = 32 coalitions fit the budget" in result.reason


def test_the_proxy_below_ten_evaluations_per_player_says_it_kept_the_kernel():
    for game in (_game, lambda m: _game(m)[:, None]):  # (m,) and (m, 1) games alike
        result = shapkit.shapley_values(game, 12, method="proxy", budget=50, seed=0)
        assert result.method == "kernel"
        assert "needs at least 10 d = 120 evaluations" in result.reason
    ran = shapkit.shapley_values(_game, 12, method="proxy", budget=200, seed=0)
    assert ran.method == "proxy" and ran.reason == ""


def test_an_explanation_counts_what_ran():
    X = np.random.default_rng(0).normal(size=(6, 4))
    X[0] = X[1:].mean(axis=0)  # not constant: still explained
    expl = shapkit.explain(
        lambda Z: np.sin(Z).sum(axis=1) + Z[:, 0] * Z[:, 1] * Z[:, 2], X,
        background=X[:1], method="kernel", budget=40, seed=0,
    )  # fmt: skip
    # one background row: row 0 equals it (every player a dummy: exact), the others
    # have 2^4 = 16 <= 40 coalitions: enumerated
    assert expl.settings["method"] == "kernel"
    assert expl.settings["methods"] == {"exact": 6}
    assert expl.method == "exact"
    assert shapkit.Explainer(lambda Z: Z.sum(1), X, method="kernel").resolved_method(
        X, budget=40
    ) == "kernel"
