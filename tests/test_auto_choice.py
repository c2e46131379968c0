"""``method="auto"`` chooses by wall time: the rule (a pure function of the measured cost),
the timing probe (on a fake clock), and the drivers' record and reuse of the choice.
No test reads the real clock: the timing is replaced where a choice is asserted."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

import shapkit
from shapkit.estimators import auto
from shapkit.estimators.auto import (
    KERNEL_FIRST_SHARE,
    KERNEL_SECONDS_PER_EVAL,
    choose_estimator,
    kernel_evaluations_to_tol,
    needs_timing,
    probe_size,
    proxy_own_seconds,
    seconds_per_evaluation,
)
from shapkit.execution.resumable import MANIFEST, explain_to_dataset, read_dataset
from shapkit.rows import explain_rows


def _game(masks: np.ndarray) -> np.ndarray:
    z = masks.astype(float)
    return z @ np.linspace(1.0, 2.0, z.shape[1]) + 3.0 * z[:, 0] * z[:, 1] * z[:, 2]


def _pair(masks: np.ndarray) -> np.ndarray:  # the kernel estimator's errors vanish
    z = masks.astype(float)
    return z @ np.linspace(1.0, 2.0, z.shape[1]) + 3.0 * z[:, 0] * z[:, 1]


def _model(X: np.ndarray) -> np.ndarray:
    return np.tanh(X[:, :6]).sum(1) + X[:, 0] * X[:, 1] * X[:, 2]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, 24)), rng.normal(size=(8, 24))


def _fixed_cost(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[int]:
    """Replace the drivers' timing by a constant; returns the list of timed calls."""
    calls: list[int] = []

    def timed(game, n_players, coalitions=auto.PROBE_COALITIONS):  # noqa: ANN001, ARG001
        calls.append(n_players)
        return seconds

    monkeypatch.setattr(auto, "seconds_per_evaluation", timed)
    return calls


# --------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------


def test_the_rule_picks_kernel_for_cheap_games_and_the_proxy_for_expensive_ones():
    assert choose_estimator(30, 3000, None, 1e-6).method == "kernel"
    assert choose_estimator(30, 3000, None, 1e-2).method == "proxy"
    assert choose_estimator(30, None, 0.01, 1e-6).method == "kernel"
    assert choose_estimator(30, None, 0.01, 1e-2).method == "proxy"
    # at most one switch, from kernel to proxy, as the game gets dearer
    for budget, tol in ((3000, None), (None, 0.01), (20000, None)):
        picks = [choose_estimator(30, budget, tol, 10.0**e).method for e in range(-9, 1)]
        switch = picks.index("proxy")
        assert set(picks[:switch]) <= {"kernel"} and set(picks[switch:]) == {"proxy"}
    # beyond its process's range (8,002 evaluations) the proxy is taken to gain nothing
    assert choose_estimator(30, 8002, None, 3e-5).method == "proxy"
    assert choose_estimator(30, 20000, None, 1e-9).method == "kernel"


def test_the_rule_compares_the_predicted_times_it_states():
    d, budget, seconds = 30, 3000, 1e-4
    choice = choose_estimator(d, budget, None, seconds)
    proxy = budget * seconds + proxy_own_seconds(d, budget)
    kernel = budget**2 // (10 * d) * (seconds + KERNEL_SECONDS_PER_EVAL)
    assert choice.method == ("proxy" if proxy < kernel else "kernel")
    assert f"{budget**2 // (10 * d):,} evaluations" in choice.reason
    assert choice.seconds_per_eval == seconds
    # the proxy's own work is linear in its units, cheaper past the process's limit
    assert proxy_own_seconds(d, 4002) == pytest.approx(2 * proxy_own_seconds(d, 2002))
    assert proxy_own_seconds(d, 20000) < proxy_own_seconds(d, 8000)


def test_the_rule_enumerates_and_respects_the_proxys_smallest_budget_without_timing():
    assert choose_estimator(10, None, 0.01, None).method == "exact"
    assert choose_estimator(12, 4096, None, 1.0).method == "exact"
    below = choose_estimator(30, 299, None, 1.0)
    assert below.method == "kernel" and "below the proxy's smallest (300" in below.reason
    # untimed: by accuracy per evaluation, as get_estimator("auto") resolves
    assert choose_estimator(30, 300, None, None).method == "proxy"
    assert choose_estimator(30, None, 0.01, None).method == "kernel"
    assert shapkit.estimators.get_estimator("auto", 30, 300).name == "proxy"
    assert not needs_timing(10, None) and not needs_timing(30, 299)
    assert needs_timing(30, 300) and needs_timing(30, None)


def test_with_tol_the_rule_follows_the_pilots_prediction_and_the_rounds():
    d, seconds = 30, 3e-4
    few = choose_estimator(d, None, 0.01, seconds, kernel_evals=300)
    many = choose_estimator(d, None, 0.01, seconds, kernel_evals=3000)
    # sized rounds: the kernel estimator starts at half the prediction, then grows to
    # 1.2 times it (round_growth), at most doubling
    assert few.method == "kernel" and "kernel estimator 300 evaluations" in few.reason
    assert "kernel estimator 3,000 evaluations" in many.reason
    # with a dear game the proxy's fewer evaluations win: sqrt(10 d 1000) = 547
    dear = choose_estimator(d, None, 0.01, 1e-2, kernel_evals=1000)
    assert dear.method == "proxy" and "proxy is predicted to need 547 evaluations" in dear.reason
    # no pilot: the budget, in the estimators' default rounds (the proxy's from 750 to
    # 1.2 sqrt(10 d 3000) = 1,138)
    unknown = choose_estimator(d, None, 0.01, 1e-2)
    assert "kernel estimator 3,000" in unknown.reason and "need 1,138" in unknown.reason


def _triples(masks: np.ndarray) -> np.ndarray:
    """Additive plus six three-player unanimity games: the kernel estimator's error
    shrinks as one over the root of its evaluations."""
    z = masks.astype(float)
    triples = np.random.default_rng(1).integers(0, z.shape[1], size=(6, 3))
    return z @ np.linspace(0.5, 1.5, z.shape[1]) + 4.0 * np.prod(z[:, triples], axis=2).sum(1)


def test_the_pilot_predicts_the_kernel_estimators_evaluations_to_tol():
    d, tol = 16, 0.02
    predicted, pilot = kernel_evaluations_to_tol(_triples, d, 10**5, tol)
    assert pilot == 4 * (d + 15) and pilot < predicted < 2**d
    at = shapkit.shapley_values(_triples, d, method="kernel", budget=predicted, seed=5)
    assert tol / 2 <= at.achieved_tol <= 2 * tol
    # a pilot whose errors are undetermined (a quarter of a tiny budget) predicts the budget
    assert kernel_evaluations_to_tol(_triples, d, 40, tol) == (40, 18)


# --------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------


class _Clock:
    """A fake perf_counter that a game advances by ``cost`` per coalition (plus
    ``first_call`` seconds once: a warm-up)."""

    def __init__(self, cost: float, first_call: float = 0.0) -> None:
        self.now, self.cost, self.first_call = 0.0, cost, first_call
        self.sizes: list[int] = []
        self.masks: list[np.ndarray] = []

    def __call__(self) -> float:
        return self.now

    def game(self, masks: np.ndarray) -> np.ndarray:
        self.sizes.append(masks.shape[0])
        self.masks.append(masks.copy())
        self.now += self.cost * masks.shape[0] + (self.first_call if len(self.sizes) == 1 else 0)
        return masks.sum(1).astype(float)


def test_the_probe_grows_its_calls_until_one_takes_long_enough(monkeypatch):
    clock = _Clock(cost=1e-6)  # 256 coalitions take 0.26 ms: the probe's cap ends it
    monkeypatch.setattr(auto.time, "perf_counter", clock)
    assert seconds_per_evaluation(clock.game, 8) == pytest.approx(1e-6)
    assert clock.sizes == [8, 64, 256]
    clock = _Clock(cost=1e-4)  # 8 coalitions take 0.8 ms, 64 take 6.4 ms >= 5 ms
    monkeypatch.setattr(auto.time, "perf_counter", clock)
    assert seconds_per_evaluation(clock.game, 8) == pytest.approx(1e-4)
    assert clock.sizes == [8, 64]
    # the same seeded coalitions on every probe
    again = _Clock(cost=1e-4)
    monkeypatch.setattr(auto.time, "perf_counter", again)
    seconds_per_evaluation(again.game, 8)
    for a, b in zip(clock.masks, again.masks, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_slow_first_call_is_repeated_so_a_warm_up_does_not_count(monkeypatch):
    clock = _Clock(cost=1e-3, first_call=5.0)
    monkeypatch.setattr(auto.time, "perf_counter", clock)
    assert seconds_per_evaluation(clock.game, 8) == pytest.approx(1e-3)
    assert clock.sizes == [8, 8]
    slow = _Clock(cost=2.0)  # two calls of 8 coalitions, no more
    monkeypatch.setattr(auto.time, "perf_counter", slow)
    assert seconds_per_evaluation(slow.game, 8) == pytest.approx(2.0)
    assert slow.sizes == [8, 8]
    assert probe_size(3000, 30) == 60 and probe_size(None, 10) == 40
    assert probe_size(10**6, 30) == 256 and probe_size(10**6, 30, most=20) == 20
    assert probe_size(100, 10) == 8


# --------------------------------------------------------------------------------------
# The drivers
# --------------------------------------------------------------------------------------


def test_shapley_values_runs_what_auto_chose_and_says_why(monkeypatch):
    d, budget = 16, 600
    _fixed_cost(monkeypatch, 1.0)
    dear = shapkit.shapley_values(_game, d, budget=budget, seed=3)
    named = shapkit.shapley_values(_game, d, method="proxy", budget=budget, seed=3)
    assert dear.method == "proxy" and dear.reason.startswith("auto chose proxy: the game")
    np.testing.assert_array_equal(dear.values, named.values)
    _fixed_cost(monkeypatch, 1e-9)
    cheap = shapkit.shapley_values(_pair, d, seed=3)  # the default path: tol=0.01
    assert cheap.method == "kernel" and "tol=0.01 within the budget of 2,048" in cheap.reason
    assert "from a pilot kernel estimate of 124 evaluations" in cheap.reason
    assert cheap.converged  # in rounds sized to the pilot: the test below
    # the kernel estimator would need about 6,800 evaluations here (it converges at
    # 8,194 with a larger budget): only the proxy is predicted to make 2,048 do, which
    # pays where evaluations are dear, not where the proxy's own work is the larger cost
    hard = shapkit.shapley_values(_game, d, seed=3)
    assert hard.method == "kernel" and "more than the budget of 2,048" in hard.reason
    assert "more than 3 times what the kernel estimator would take even to tol" in hard.reason
    assert hard.n_evals == 2048
    _fixed_cost(monkeypatch, 1e-3)
    hard = shapkit.shapley_values(_game, d, seed=3)
    assert hard.method == "proxy" and "more than the budget of 2,048" in hard.reason


def test_shapley_values_times_only_when_the_cost_decides(monkeypatch):
    calls = _fixed_cost(monkeypatch, 1.0)
    assert shapkit.shapley_values(_game, 8, seed=0).method == "exact"
    assert shapkit.shapley_values(_game, 30, budget=200, seed=0).method == "kernel"
    assert shapkit.shapley_values(_game, 30, method="proxy", budget=600, seed=0).reason == ""
    assert calls == []


def test_the_explainer_chooses_once_records_why_and_reuses_it(monkeypatch, data):
    X, background = data
    calls = _fixed_cost(monkeypatch, 1.0)
    explainer = shapkit.Explainer(_model, background, seed=0)
    one = explainer(X, budget=480)
    assert calls == [24]  # once per call, not per row
    assert one.method == "proxy" and one.settings["method"] == "proxy"
    assert "the proxy is predicted" in one.settings["method_reason"]
    # what workers get: the pickled job, with the chosen estimator in it
    shipped = pickle.loads(pickle.dumps(explainer.row_job(X, budget=480)))
    assert shipped.method == "proxy" and len(calls) == 2
    np.testing.assert_array_equal(explain_rows(shipped, X[1:]).values[:, :, 0], one.values[1:])
    # the recorded choice, reused without timing, gives the same values
    calls.clear()
    job = explainer.row_job(X, budget=480, auto_choice=one.settings["method"])
    assert calls == [] and job.method == "proxy" and job.reason == "recorded by an earlier run"
    table = shapkit.columns.explanation_frame(one)
    rebuilt = explainer.explanation_from_frame(X, table, budget=480, method="proxy")
    assert calls == [] and rebuilt.settings["method"] == "proxy"
    np.testing.assert_array_equal(rebuilt.values, one.values)
    named = shapkit.Explainer(_model, background, method="proxy", seed=0)(X, budget=480)
    np.testing.assert_array_equal(one.values, named.values)
    assert named.settings["method_reason"] == ""
    with pytest.raises(ValueError, match="auto_choice='fast'"):
        explainer.row_job(X, auto_choice="fast")


def test_a_cheap_model_gets_the_kernel_estimator(monkeypatch, data):
    X, background = data
    _fixed_cost(monkeypatch, 1e-7)
    expl = shapkit.Explainer(_model, background, seed=0)(X, budget=480)
    assert expl.method == "kernel" and "kernel estimator" in expl.settings["method_reason"]


def test_the_explainer_times_the_real_game_of_the_first_row(data):
    """Unpatched, the probe times the row's game and the choice is one of the two."""
    X, background = data
    job = shapkit.Explainer(_model, background, seed=0).row_job(X[:0], budget=480)
    assert job.method in ("kernel", "proxy") and "per evaluation" in job.reason


def test_a_resumed_run_reuses_the_recorded_choice(monkeypatch, data, tmp_path):
    X, background = data
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(24)])
    bg = pd.DataFrame(background, columns=frame.columns)
    explainer = shapkit.Explainer(lambda Z: _model(np.asarray(Z)), bg, seed=0)
    _fixed_cost(monkeypatch, 1.0)
    first = explain_to_dataset(explainer, frame, tmp_path, budget=480, chunk_size=1)
    assert first["method"] == "proxy"
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["description"]["method"] == "proxy"
    (tmp_path / "part-000001.parquet").unlink()  # a lost chunk
    calls = _fixed_cost(monkeypatch, 1e-9)  # would choose kernel now
    second = explain_to_dataset(explainer, frame, tmp_path, budget=480, chunk_size=1)
    assert calls == [] and second["method"] == "proxy"
    assert second["reused"] == 1 and second["written"] == 1
    values = read_dataset(tmp_path, key=second["key"])
    whole = shapkit.Explainer(lambda Z: _model(np.asarray(Z)), bg, method="proxy", seed=0)(
        frame, budget=480
    )
    columns = [f"shap_value:{name}" for name in frame.columns]
    np.testing.assert_array_equal(values[columns].to_numpy(), whole.values)


def test_interactions_do_not_time_the_model(monkeypatch, data):
    """The interaction paths run no Shapley estimator, so auto's probe is not spent."""
    X, background = data

    def refuse(*args):  # noqa: ANN002, ARG001
        raise AssertionError("timed")

    monkeypatch.setattr(auto, "seconds_per_evaluation", refuse)
    explainer = shapkit.Explainer(lambda Z: _model(Z)[:, None], background[:, :12], seed=0)
    inter = explainer.interactions(X[:1, :12], method="exact")
    assert inter.pairs.shape == (1, 12, 12)
    pairs = explainer.strongest_pairs(X[:1, :12], top=2, method="exact")
    assert (pairs["order"] == 2).sum() == 2


def test_with_a_pilot_the_first_round_is_sized_to_the_prediction(monkeypatch):
    d = 30
    choice = choose_estimator(d, 30000, 0.01, 1e-6, kernel_evals=2000)
    assert choice.method == "kernel" and choice.first_round == pytest.approx(1000 / 30000)
    estimator = choice.estimator()
    assert isinstance(estimator, shapkit.estimators.KernelEstimator)
    assert estimator.first_round == choice.first_round
    assert repr(estimator).startswith("KernelEstimator(size_distribution='leverage', first")
    dear = choose_estimator(d, 30000, 0.01, 1.0, kernel_evals=2000)
    assert dear.method == "proxy" and dear.first_round == pytest.approx(774 / 8002)  # capped
    assert choose_estimator(d, 30000, 0.01, 1e-6).first_round is None  # no pilot
    assert choose_estimator(d, 3000, None, 1e-6).first_round is None  # no tol
    # the driver runs the sized estimator: the same values as asking for it by name
    _fixed_cost(monkeypatch, 1e-7)
    budget = 100_000
    auto_run = shapkit.shapley_values(_triples, 24, budget=budget, tol=0.02, seed=2)
    predicted, _ = kernel_evaluations_to_tol(_triples, 24, budget, 0.02)
    share = 0.5 * predicted / budget
    named = shapkit.shapley_values(
        _triples, 24, method=shapkit.estimators.KernelEstimator(first_round=share),
        budget=budget, tol=0.02, seed=2,
    )  # fmt: skip
    np.testing.assert_array_equal(auto_run.values, named.values)
    assert auto_run.method == "kernel" and auto_run.n_evals == named.n_evals
    # the default first round (12.5% of the budget) spends four times as many
    default = shapkit.shapley_values(_triples, 24, method="kernel", budget=budget, tol=0.02)
    assert auto_run.converged and default.n_evals > 3 * auto_run.n_evals


def test_a_resumed_run_repeats_the_sized_rounds(monkeypatch, data, tmp_path):
    X, background = data
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(24)])
    bg = pd.DataFrame(background, columns=frame.columns)
    explainer = shapkit.Explainer(lambda Z: _model(np.asarray(Z)), bg, seed=0)
    _fixed_cost(monkeypatch, 1e-7)
    first = explain_to_dataset(explainer, frame, tmp_path, budget=20000, tol=0.01, chunk_size=1)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    share = manifest["description"]["first_round"]
    assert first["method"] == "kernel" and 0 < share < 0.125
    (tmp_path / "part-000000.parquet").unlink()
    calls = _fixed_cost(monkeypatch, 1.0)  # would choose the proxy now
    second = explain_to_dataset(explainer, frame, tmp_path, budget=20000, tol=0.01, chunk_size=1)
    assert calls == [] and second["method"] == "kernel" and second["written"] == 1
    values = read_dataset(tmp_path, key=second["key"])
    sized = shapkit.estimators.KernelEstimator(first_round=share)
    whole = shapkit.Explainer(lambda Z: _model(np.asarray(Z)), bg, method=sized, seed=0)(
        frame, budget=20000, tol=0.01
    )
    columns = [f"shap_value:{name}" for name in frame.columns]
    np.testing.assert_array_equal(values[columns].to_numpy(), whole.values)


def test_where_only_the_proxy_reaches_tol_within_the_budget_it_runs():
    reach = choose_estimator(30, 30000, 0.001, 1e-4, kernel_evals=150_000)
    assert reach.method == "proxy" and reach.first_round == pytest.approx(6708 / 8002)
    assert "more than the budget of 30,000; the proxy about 6,708" in reach.reason
    # unless its own work makes it more than TOL_PREMIUM (3) times slower than the kernel
    # estimator to tol, budget aside: 150,000 x 2.1 us = 0.32 s against 6,708
    # evaluations of the proxy (3.7 s of its own)
    cheap = choose_estimator(30, 30000, 0.001, 1e-7, kernel_evals=150_000)
    assert cheap.method == "kernel" and cheap.first_round == KERNEL_FIRST_SHARE
    assert "proxy is predicted to take 3.7 s, more than 3 times what the kernel" in cheap.reason
    assert "(315 ms): the kernel estimator runs within the budget" in cheap.reason
    # within the premium the proxy runs: 150,000 x 12 us = 1.8 s against 3.8 s
    within = choose_estimator(30, 30000, 0.001, 1e-5, kernel_evals=150_000)
    assert within.method == "proxy" and "the proxy about 6,708" in within.reason
    beyond = choose_estimator(30, 30000, 0.001, 1e-7, kernel_evals=360_000)  # 10,392
    assert "neither is predicted to reach tol=0.001" in beyond.reason
    neither = choose_estimator(30, 3000, 0.001, 1e-7, kernel_evals=360_000)
    assert "neither is predicted to reach tol=0.001" in neither.reason
    assert neither.method == choose_estimator(30, 3000, None, 1e-7).method == "kernel"
    assert neither.first_round is None


def test_the_command_line_says_what_auto_ran_and_why(monkeypatch, tmp_path, capsys):
    joblib = pytest.importorskip("joblib")
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from shapkit.cli import main

    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(30, 14)), columns=[f"c{j}" for j in range(14)])
    y = np.tanh(data.to_numpy()).sum(1) * data["c0"]
    model = make_pipeline(FunctionTransformer(np.tanh), LinearRegression()).fit(data, y)
    joblib.dump(model, tmp_path / "model.joblib")
    data.iloc[:2].to_csv(tmp_path / "data.csv", index=False)  # two rows, their own background
    _fixed_cost(monkeypatch, 1.0)
    args = ["explain", "--model", str(tmp_path / "model.joblib"), "--data",
            str(tmp_path / "data.csv"), "--out", str(tmp_path / "v.csv"), "--budget", "600"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "shapkit explain: auto ran proxy: the game takes 1.0 s per evaluation" in err


def test_auto_caps_the_proxy_at_its_processs_range(monkeypatch):
    """Past 8,002 evaluations the proxy's regression measured 30-40x less accurate than
    its process at 8,002 (docs/proxy.md): auto runs the proxy with at most that many,
    where the range gives 100 evaluations per player or more."""
    choice = choose_estimator(30, 20000, None, 1.0)
    assert choice.method == "proxy" and choice.budget(20000, 30) == 8002
    assert "the proxy at most 8,002: its Gaussian process's range" in choice.reason
    assert choice.budget(5000, 30) == 5000 and choice.budget(None, 30) is None
    assert choose_estimator(100, 20000, None, 1.0).budget(20000, 100) == 20000  # 80 per player
    assert choose_estimator(30, 20000, None, 1e-9).budget(20000, 30) == 20000  # the kernel
    # the drivers run the proxy with the capped budget (a smaller range here, to be quick)
    monkeypatch.setattr(auto, "PROXY_PROCESS_EVALS", 1202)
    _fixed_cost(monkeypatch, 1.0)
    result = shapkit.shapley_values(_triples, 12, budget=3000, seed=0)
    named = shapkit.shapley_values(_triples, 12, method="proxy", budget=1202, seed=0)
    assert result.method == named.method and result.n_evals == named.n_evals <= 1202
    np.testing.assert_array_equal(result.values, named.values)
    assert "the proxy at most 1,202: its Gaussian process's range" in result.reason
