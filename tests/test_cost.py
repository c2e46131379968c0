"""The cost estimate: evaluations and memory before any work, and the requests it refuses."""

from __future__ import annotations

import numpy as np
import pytest

import shapkit
from shapkit import InfeasibleRequestError
from shapkit.cost import MAX_EVALUATIONS_WITHOUT_TOL, check_feasible, estimate_cost
from shapkit.estimators import (
    ExactEstimator,
    KernelEstimator,
    PermutationEstimator,
    ProxyEstimator,
)


def never_called(masks):
    raise AssertionError("the game must not be evaluated for a refused request")


def test_evaluations_match_what_the_estimators_spend():
    game = lambda m: m[:, 0] * m[:, 1] * m[:, 2] + m.sum(axis=1)  # noqa: E731
    for estimator, d, budget in [
        (KernelEstimator(), 12, 300),
        (PermutationEstimator(), 12, 300),
        (ExactEstimator(), 8, None),
        (KernelEstimator(), 6, 1000),  # all 2^6 coalitions: exact
    ]:
        cost = estimate_cost(estimator, d, budget, None)
        result = shapkit.shapley_values(game, d, method=estimator, budget=budget, seed=0)
        assert result.n_evals == cost.evaluations_per_row


def test_memory_grows_with_budget_and_players():
    small = estimate_cost(KernelEstimator(), 30, 3000, None).peak_bytes
    assert estimate_cost(KernelEstimator(), 30, 300_000, None).peak_bytes > 50 * small
    assert estimate_cost(KernelEstimator(), 300, 3000, None).peak_bytes > 5 * small
    # the Gaussian process's dense matrices dominate the proxy at its unit limit
    proxy = estimate_cost(ProxyEstimator(), 30, 8000, None).peak_bytes
    assert proxy > 1e9 and proxy > 100 * estimate_cost(KernelEstimator(), 30, 8000, None).peak_bytes
    # the permutation estimator streams its pairs: flat in the budget
    flat = [estimate_cost(PermutationEstimator(), 30, b, None).peak_bytes for b in (10**3, 10**8)]
    assert flat[0] == flat[1]


def test_a_budget_that_cannot_fit_is_refused_with_the_largest_that_does():
    with pytest.raises(InfeasibleRequestError) as info:
        shapkit.shapley_values(never_called, 30, method="kernel", budget=10**12)
    message = str(info.value)
    assert "budget=1e+12" in message and "the largest budget that fits is about" in message
    largest = int(message.split("fits is about ")[1].split(".")[0].replace(",", ""))
    cost = estimate_cost(KernelEstimator(), 30, largest, None)
    assert check_feasible(cost, KernelEstimator()) is cost  # the advice works
    assert 10**5 < largest < 10**12


def test_memory_check_against_a_given_limit():
    cost = estimate_cost(KernelEstimator(), 50, 200_000, None)
    assert check_feasible(cost, KernelEstimator(), available=10**12) is cost
    with pytest.raises(InfeasibleRequestError, match=r"of memory, but 10.0 MB is available"):
        check_feasible(cost, KernelEstimator(), available=10**7)
    workers = estimate_cost(KernelEstimator(), 50, 200_000, None, n_workers=8)
    with pytest.raises(InfeasibleRequestError, match=r"in each of 8 workers.*n_jobs"):
        check_feasible(workers, KernelEstimator(), available=int(workers.peak_bytes * 4))


def test_huge_player_counts_are_refused():
    with pytest.raises(InfeasibleRequestError, match="reduce the number of players"):
        shapkit.shapley_values(never_called, 10**6, method="kernel")


def test_days_of_work_without_tol_are_refused_but_tol_makes_the_budget_a_cap():
    budget = 2 * MAX_EVALUATIONS_WITHOUT_TOL
    with pytest.raises(InfeasibleRequestError, match=r"days of work.*tol="):
        shapkit.shapley_values(never_called, 30, method="permutation", budget=budget)
    result = shapkit.shapley_values(
        lambda m: m.sum(axis=1), 30, method="permutation", budget=budget, tol=0.1, seed=0
    )
    np.testing.assert_allclose(result.values, 1.0)
    assert result.n_evals <= 2 * 10**5  # the first round is capped, and it converged


def test_explainer_refuses_before_calling_the_model():
    X = np.random.default_rng(0).normal(size=(20, 30))
    with pytest.raises(InfeasibleRequestError, match="per row"):
        shapkit.explain(never_called, X[:2], background=X, method="permutation", budget=10**10)
    with pytest.raises(InfeasibleRequestError, match="of memory"):
        shapkit.explain(never_called, X[:2], background=X, method="kernel", budget=10**12)


class CountingModel:
    """A fitted-looking callable that counts the rows it is given."""

    def __init__(self):
        self.rows = 0

    def __call__(self, Z):
        self.rows += len(Z)
        return np.tanh(np.asarray(Z, float)).sum(axis=1)


def test_explainer_estimate_cost_counts_model_rows_and_projects_time():
    X = np.random.default_rng(0).normal(size=(40, 12))
    model = CountingModel()
    explainer = shapkit.Explainer(model, X[:20], method="kernel", seed=0)
    cost = explainer.estimate_cost(X, budget=256, timed=False)
    assert (cost.method, cost.n_rows, cost.evaluations_per_row) == ("kernel", 40, 256)
    assert cost.model_rows == 40 * 256 * 20 and cost.seconds is None
    assert model.rows == 0  # untimed: nothing evaluated
    timed = explainer.estimate_cost(X, budget=256)
    assert 0 < model.rows <= 5 * 256 * 20  # at most 5 rows explained
    assert timed.seconds == pytest.approx(timed.seconds_per_row * 40)
    text = timed.describe()
    assert text.startswith("40 rows, method kernel: at most 256 evaluations x 20 background")
    assert "per row, measured" in text


def test_closed_forms_cost_no_evaluations():
    from sklearn.linear_model import LinearRegression

    X = np.random.default_rng(1).normal(size=(30, 4))
    model = LinearRegression().fit(X, X @ np.arange(4.0))
    cost = shapkit.Explainer(model, X).estimate_cost(X)
    assert cost.method == "linear" and cost.evaluations_per_row == 0 and cost.model_rows == 0
    assert "a closed form" in cost.describe() and cost.seconds >= 0


def test_long_runs_say_what_they_cost_before_going_on(monkeypatch, capsys):
    """With progress shown, a run projected beyond ANNOUNCE_SECONDS prints one line
    (rows, evaluations, model rows, time) before the rest; the values are those of a
    run without it."""
    from shapkit import explainer as explainer_module

    X = np.random.default_rng(2).normal(size=(6, 8))
    quiet = shapkit.Explainer(CountingModel(), X, method="kernel", seed=3, progress=False)
    expected = quiet(X, budget=64)
    monkeypatch.setattr(explainer_module, "ANNOUNCE_SECONDS", 0.0)
    loud = shapkit.Explainer(CountingModel(), X, method="kernel", seed=3, progress=True)
    got = loud(X, budget=64)
    np.testing.assert_array_equal(got.values, expected.values)
    np.testing.assert_array_equal(got.std_errors, expected.std_errors)
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.startswith("shapkit: ") and " rows, method " in line]
    assert len(lines) == 1
    assert lines[0].startswith("shapkit: 6 rows, method kernel: at most 64 evaluations x 6")
    assert "measured" in lines[0]
    monkeypatch.setattr(explainer_module, "ANNOUNCE_SECONDS", 1e9)
    loud(X, budget=64)
    assert "shapkit: 6 rows" not in capsys.readouterr().err


def test_a_large_background_gets_an_offer_with_its_measured_cost(monkeypatch, capsys):
    """Above REDUCED_BACKGROUND background rows the announcement offers a seeded sample
    and says how much it changed the first row's values, measured."""
    from shapkit import explainer as explainer_module
    from shapkit.tabular import sample_background

    rng = np.random.default_rng(4)
    background, X = rng.normal(size=(300, 6)), rng.normal(size=(3, 6))
    monkeypatch.setattr(explainer_module, "ANNOUNCE_SECONDS", 0.0)
    full = shapkit.Explainer(CountingModel(), background, method="kernel", seed=5, progress=True)
    got = full(X, budget=40)
    notes = [line for line in capsys.readouterr().err.splitlines() if "shapkit: note:" in line]
    assert len(notes) == 1
    reduced = shapkit.Explainer(
        CountingModel(), sample_background(background, 200, 0), method="kernel", seed=5
    )(X[:1], budget=40)
    change = np.abs(reduced.values - got.values[:1]).sum() / np.abs(got.values[:1]).sum()
    assert "the background has 300 rows" in notes[0] and "about 67% of the time" in notes[0]
    assert f"changed the values by {change:.1%} of their total |value|" in notes[0]
    assert change > 0


def test_an_unpicklable_model_is_refused_before_the_first_timed_row():
    """With progress shown, the first row is explained alone to time it: an unpicklable
    model with n_jobs=2 is still refused before any model call."""
    import threading

    from shapkit.execution.local import UnpicklableModelError

    model = CountingModel()
    model.lock = threading.Lock()
    X = np.random.default_rng(6).normal(size=(4, 5))
    explainer = shapkit.Explainer(model, X, method="kernel", seed=0, n_jobs=2, progress=True)
    with pytest.raises(UnpicklableModelError, match="n_jobs=2"):
        explainer(X, budget=40)
    assert model.rows == 0
