"""Time to reach a target accuracy: the smallest budget of a geometric grid at which a
method's mean relative L2 error (over explicands x seeds) is at most the target, and the
mean wall time of one explanation at that budget."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.games import BenchmarkGame
from benchmarks.methods import Method
from benchmarks.metrics import mean_and_se
from benchmarks.runs import run_once, warm_up


def geometric_grid(start: int, stop: int, ratio: float = 2.0) -> list[int]:
    """``start, start * ratio, ...`` up to ``stop`` (inclusive), rounded to integers."""
    grid, budget = [], float(start)
    while round(budget) <= stop:
        grid.append(round(budget))
        budget *= ratio
    return grid


def time_to_target(
    family: Sequence[BenchmarkGame],
    methods: Sequence[Method],
    seeds: Sequence[int],
    grid: Sequence[int],
    target: float = 0.01,
    max_step_seconds: float = float("inf"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Walk each method up ``grid`` until its mean error over ``family x seeds`` <= target.

    A method also stops when the next budget's runs would take more than
    ``max_step_seconds`` (extrapolated linearly in the budget from the last step).

    Returns ``(summary, curve)``: one summary row per method (budget reached or not, error
    and time there) and every (method, budget) tried with its mean error and time.
    """
    curve_rows, summary_rows = [], []
    for method in methods:
        budgets = [b for b in grid if method.applies(family[0], b)]
        if not budgets:
            continue
        warm_up(method, family[0], budgets[0])
        reached, capped, last_row = None, False, None
        for budget in budgets:
            if last_row is not None:
                n_runs = len(family) * len(seeds)
                step_ms = min(last_row["time_ms"], last_row["cpu_ms"])
                predicted = step_ms / 1e3 * budget / last_row["budget"] * n_runs
                if predicted > max_step_seconds:
                    capped = True
                    break
            runs = pd.DataFrame(
                [run_once(method, game, budget, seed) for game in family for seed in seeds]
            )
            error, error_se = mean_and_se(runs["rel_l2"].to_numpy())
            row = {
                "method": method.name,
                "budget": budget,
                "rel_l2": error,
                "rel_l2_se": error_se,
                "time_ms": float(np.nanmean(runs["time_ms"])),
                "cpu_ms": float(np.nanmean(runs["cpu_ms"])),
                "n_evals": float(np.nanmean(runs["n_evals"])),
                "note": "; ".join(sorted(set(runs["note"]) - {""})),
            }
            curve_rows.append(row)
            last_row = row
            if error <= target:
                reached = row
                break
        last = reached if reached is not None else curve_rows[-1]
        summary_rows.append(
            {
                "method": method.name,
                "reached": reached is not None,
                "capped": capped,
                "budget": last["budget"],
                "rel_l2": last["rel_l2"],
                "rel_l2_se": last["rel_l2_se"],
                "time_ms": last["time_ms"],
                "cpu_ms": last["cpu_ms"],
                "n_evals": last["n_evals"],
            }
        )
    return pd.DataFrame(summary_rows), pd.DataFrame(curve_rows)
