"""Tests of the benchmark harness: the TreeSHAP reference, the shapkit methods registry,
paired comparisons, the time-to-target walk, the speed recorder and the cold-start child."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import shapkit
from benchmarks.comparison import compare, paired_difference, verdict
from benchmarks.games import (
    BenchmarkGame,
    _split_explicand_background,
    breast_cancer_gbc,
    breast_cancer_gbc_game,
    build_games,
    check_tree_game,
    interventional_game,
    unanimity_game,
)
from benchmarks.methods import SHAPKIT_METHODS, Method, build_methods
from benchmarks.metrics import mean_and_se, relative_l2_error
from benchmarks.run import main
from benchmarks.target import geometric_grid, time_to_target


def test_tree_reference_is_exact_for_the_margin_game() -> None:
    """The tree reference (interventional TreeSHAP on the margin) equals enumeration on a
    10-player restriction of the breast_cancer model: the other 20 features are set to x in
    the background, so they are dummies and the game on the 10 players is enumerable."""
    from benchmarks.games import tree_interventional_values

    X, model = breast_cancer_gbc()
    x, background = _split_explicand_background(X, 0, 20)
    players = np.argsort(model.feature_importances_)[::-1][:10]
    others = np.setdiff1d(np.arange(X.shape[1]), players)
    restricted = background.copy()
    restricted[:, others] = x[others]
    tree = tree_interventional_values(model, x, restricted)
    np.testing.assert_allclose(tree[others], 0.0, atol=1e-10)

    full_game = interventional_game(model.decision_function, x, restricted)

    def game(masks: np.ndarray) -> np.ndarray:
        full = np.ones((masks.shape[0], X.shape[1]), dtype=bool)
        full[:, players] = masks
        return full_game(full)

    exact = shapkit.shapley_values(game, len(players), method="exact").values
    assert np.abs(exact).max() > 1e-3  # a non-trivial game
    # float32 tree thresholds may round differently: allow 1e-6, far below sampling errors
    np.testing.assert_allclose(tree[players], exact, rtol=1e-6, atol=1e-9)


def test_breast_cancer_game_efficiency_check() -> None:
    game = breast_cancer_gbc_game(explicand=2)
    check_tree_game(game)  # passes
    wrong = dataclasses.replace(game, exact_values=game.exact_values * 1.01)
    with pytest.raises(AssertionError, match="TreeSHAP"):
        check_tree_game(wrong)


def test_build_games_gives_distinct_explicands() -> None:
    families, skipped = build_games(n_explicands=3, names=["unanimity-d10", "diabetes-mlp"])
    assert not skipped
    assert [len(f) for f in families] == [3, 3]
    for family in families:
        values = [g.exact_values for g in family]
        assert not np.allclose(values[0], values[1])


def test_shapkit_methods_registered() -> None:
    assert {"kernel", "kernel (kernel sizes)", "permutation", "exact"} <= set(SHAPKIT_METHODS)
    methods, skipped = build_methods(include_anchors=False)
    assert not skipped
    by_name = {m.name: m for m in methods}
    game = unanimity_game(8, seed=1)
    for name in ("shapkit kernel", "shapkit kernel (kernel sizes)", "shapkit exact"):
        estimate = by_name[name].fn(game, 2**8, 0)
        assert relative_l2_error(estimate, game.exact_values) < 1e-10
    estimate = by_name["shapkit permutation"].fn(game, 4000, 0)
    assert relative_l2_error(estimate, game.exact_values) < 0.1
    assert not by_name["shapkit permutation"].applies(game, 2 + 4 * 7 - 1)
    assert by_name["shapkit permutation"].applies(game, 2 + 4 * 7)


def test_mean_and_se() -> None:
    assert mean_and_se(np.array([1.0, 3.0])) == pytest.approx((2.0, 1.0))
    assert mean_and_se(np.array([2.0])) == (2.0, 0.0)


def _raw(errors: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for method, values in errors.items():
        for i, value in enumerate(values):
            rows.append(
                {
                    "game": "g",
                    "d": 5,
                    "budget": 50,
                    "method": method,
                    "explicand": i // 2,
                    "seed": i % 2,
                    "rel_l2": value,
                }
            )
    return pd.DataFrame(rows)


def test_paired_difference_and_verdicts() -> None:
    raw = _raw({"shapkit kernel": [0.1, 0.2, 0.3, 0.4], "anchor": [0.2, 0.3, 0.4, 0.5]})
    assert paired_difference(raw, "shapkit kernel", "anchor") == pytest.approx((-0.1, 0.0))
    assert verdict(0.25, 0.35, -0.1, 0.0) == "win"
    assert verdict(0.35, 0.25, 0.1, 0.01) == "loss"
    assert verdict(0.25, 0.26, -0.01, 0.01) == "tie"
    assert verdict(1e-9, 1e-7, -1e-7, 0.0) == "tie (both exact)"
    assert verdict(0.01, 1e-9, 0.01, 0.0) == "loss (anchor exact)"


def test_compare_picks_best_anchor() -> None:
    raw = _raw(
        {
            "shapkit kernel": [0.1, 0.2, 0.3, 0.4],
            "shap Kernel": [0.2, 0.3, 0.4, 0.5],
            "shap Permutation": [0.1, 0.2, 0.3, 0.4],
            "shapiq Permutation": [0.9, 0.9, 0.9, 0.9],
        }
    )
    table = raw.groupby(["game", "d", "budget", "method"], sort=False)["rel_l2"].mean()
    table = table.reset_index()
    table["rel_l2_se"] = 0.01
    out = compare(raw, table)
    row = out.iloc[0]
    assert row["shapkit"] == "kernel"
    assert row["best anchor"].startswith("shap Permutation: 0.25")
    assert row["vs best"] == "1.00x, tie"
    assert row["best same-family anchor"].startswith("shap Kernel: 0.35")
    assert row["vs same-family"] == "0.71x, win"


def test_geometric_grid() -> None:
    assert geometric_grid(128, 1024) == [128, 256, 512, 1024]
    assert geometric_grid(100, 1000, ratio=3) == [100, 300, 900]


def test_time_to_target_stops_at_first_budget_reached() -> None:
    game = unanimity_game(6, seed=0)
    calls: list[int] = []

    def fn(g: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        calls.append(budget)
        noise = 0.0 if budget >= 512 else 0.5
        return g.exact_values * (1 + noise)

    method = Method("fake", fn, lambda g, b: True)
    summary, curve = time_to_target([game], [method], [0, 1], [128, 256, 512, 1024])
    assert summary.loc[0, "reached"]
    assert summary.loc[0, "budget"] == 512
    assert list(curve["budget"]) == [128, 256, 512]
    assert 1024 not in calls


def test_record_model_inputs_replays_what_shapkit_sends() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from benchmarks.speed import SpeedCase, breast_cancer_rows, record_model_inputs

    X, y, X_explain, background = breast_cancer_rows(2, 10)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    case = SpeedCase("lr", model, X_explain, background, budget=64)
    recorded = record_model_inputs(case)
    assert sum(len(d) for d in recorded) == 2 * 64 * 10
    assert all(isinstance(d, np.ndarray) and d.dtype == np.float64 for d in recorded)
    assert "predict_proba" not in vars(model)  # the recorder is removed again


def test_coldstart_child_runs_in_process() -> None:
    from benchmarks.coldstart import child

    result = child("kernel", n_rows=1, budget=64)
    assert set(result) == {"import_s", "first_s", "second_s", "first_cpu_s", "second_cpu_s"}
    assert result["second_s"] > 0


def test_main_writes_a_report(tmp_path) -> None:
    out = tmp_path / "bench.md"
    code = main(
        [
            "--quick",
            "--sections",
            "accuracy",
            "--games",
            "unanimity-d50",
            "--explicands",
            "2",
            "--no-anchors",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text()
    assert "## 1. Accuracy at equal budget" in text
    assert "shapkit kernel (kernel sizes)" in text
    assert "±" in text


def test_time_to_target_time_cap() -> None:
    game = unanimity_game(6, seed=0)

    def fn(g: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        return g.exact_values * 2.0  # never reaches the target

    method = Method("slow", fn, lambda g, b: True)
    summary, curve = time_to_target([game], [method], [0], [128, 256, 512], max_step_seconds=0.0)
    assert list(curve["budget"]) == [128]
    assert summary.loc[0, "capped"] and not summary.loc[0, "reached"]


def test_foreign_sections_are_kept() -> None:
    from benchmarks.report import foreign_sections

    text = (
        "# Benchmarks\n\nintro\n\n## Machine\n\n- cpu\n\n## 2. Speed at equal budget\n\nx\n\n"
        "## Trees\n\ntree table\n\n### sub\n\nmore\n\n## Results\n\nold\n\n## Proxy\n\np\n"
    )
    kept = foreign_sections(text)
    assert kept == "## Trees\n\ntree table\n\n### sub\n\nmore\n\n## Proxy\n\np\n"


def test_interventional_game_chunking_is_invisible() -> None:
    rng = np.random.default_rng(0)
    x, background = rng.normal(size=5), rng.normal(size=(7, 5))
    weights = rng.normal(size=5)

    def predict(inputs: np.ndarray) -> np.ndarray:
        assert len(inputs) <= 21  # max_rows=21 -> 3 coalitions x 7 rows per call
        return np.tanh(inputs @ weights)

    masks = rng.random((10, 5)) > 0.5
    chunked = interventional_game(predict, x, background, max_rows=21)(masks)
    whole = interventional_game(lambda z: np.tanh(z @ weights), x, background)(masks)
    np.testing.assert_allclose(chunked, whole, rtol=1e-14)


@pytest.mark.slow  # a 4 s tree game; the fast tier keeps the small ones
def test_large_tree_game_has_exact_values_from_the_tree_path() -> None:
    """The d=120 tree game: exact values add up to v(N) - v(empty) of the game handed to the
    samplers (check_tree_game), and match a high-budget kernel estimate."""
    from benchmarks.games import friedman_gbr_game

    game = friedman_gbr_game(explicand=1)
    assert game.n_players == 120
    estimate = shapkit.shapley_values(game.game, 120, method="kernel", budget=20_000, seed=0)
    error = np.linalg.norm(estimate.values - game.exact_values) / np.linalg.norm(game.exact_values)
    assert error < 0.05, error


def test_selection_runs_over_other_seeds_join_the_default_run(tmp_path) -> None:
    from benchmarks import selection

    first = selection.problems(False, seeds=1, null_seeds=0)
    later = selection.problems(False, seeds=1, null_seeds=0, first_seed=3)
    assert {p.data_seed for p in first} == {0} and {p.data_seed for p in later} == {3}
    assert [p.name for p in first] == [p.name for p in later]  # the same grid

    # a data set's split seed depends on its name and data seed, not on the run it is in
    def seeds(problems):
        return {(p.family, p.name, p.data_seed): p.run_seed() for p in problems}

    one_run = seeds(selection.problems(False, seeds=4, null_seeds=0))
    assert one_run == {**one_run, **seeds(first), **seeds(later)}
    assert set(seeds(first).values()).isdisjoint(seeds(later).values())
    # --from-csv joins the rows of several runs
    row = dict(family="classif", problem="n=1000 p=20 inf=5 red=0", method="shapkit probe",
               tpr=1.0, fpr=0.0, f1=1.0, n_selected=5, none_selected=False, score=0.9,
               seconds=1.0)  # fmt: skip
    pd.DataFrame([dict(row, seed=0)]).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame([dict(row, seed=3, f1=0.5)]).to_csv(tmp_path / "b.csv", index=False)
    out = tmp_path / "t.md"
    selection.main(["--from-csv", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                    "--out", str(out)])  # fmt: skip
    assert "| classif | shapkit probe | 2 |" in out.read_text()
    assert "| 0.750 |" in out.read_text()


def test_write_marked_block_replaces_only_the_block(tmp_path):
    from benchmarks.report import write_marked_block

    page = tmp_path / "page.md"
    page.write_text("head\n<!-- b -->\n\nold\n<!-- e -->\ntail\n")
    write_marked_block(page, "<!-- b -->", "<!-- e -->", "new table\n")
    assert page.read_text() == "head\n<!-- b -->\n\nnew table\n\n<!-- e -->\ntail\n"
    page.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="lacks the <!-- b --> ... <!-- e --> markers"):
        write_marked_block(page, "<!-- b -->", "<!-- e -->", "x")
