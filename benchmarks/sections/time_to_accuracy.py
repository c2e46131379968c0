"""Section 3, time to accuracy: the smallest budget at which each method reaches 1% mean
relative error on the breast_cancer tree game, and the time one explanation takes there;
the walk up the budget grid is in :mod:`benchmarks.target`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from benchmarks.games import build_games
from benchmarks.report import fmt_pm, print_frame, to_markdown
from benchmarks.runs import single_threaded
from benchmarks.settings import Context
from benchmarks.target import time_to_target

TARGET_GAME = "breast-cancer-gbc"
TARGET_ERROR = 0.01
TARGET_STEP_SECONDS = 60.0


def target_report(
    summary: pd.DataFrame, curve: pd.DataFrame, n_explicands: int, seeds: Sequence[int]
) -> list[str]:
    """Markdown of the time-to-target section."""
    shown = summary.copy()
    shown["budget reached"] = [
        str(b) if ok else f"not by {b}" + (" (time cap)" if cap else "")
        for b, ok, cap in zip(shown["budget"], shown["reached"], shown["capped"], strict=True)
    ]
    shown["rel_l2 there (mean ± se)"] = [
        fmt_pm(m, s) for m, s in zip(shown["rel_l2"], shown["rel_l2_se"], strict=True)
    ]
    shown["wall ms per explanation"] = shown["time_ms"]
    shown["CPU ms per explanation"] = shown["cpu_ms"]
    shown = shown.sort_values(["reached", "budget", "cpu_ms"], ascending=[False, True, True])
    shown = shown[
        [
            "method",
            "budget reached",
            "rel_l2 there (mean ± se)",
            "wall ms per explanation",
            "CPU ms per explanation",
        ]
    ]
    wide = curve.pivot_table(index="method", columns="budget", values="rel_l2", sort=False)
    wide = wide.reindex(summary["method"]).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    return [
        f"## 3. Time to reach {TARGET_ERROR:.0%} relative error ({TARGET_GAME})\n",
        f"For each method, the smallest budget of the grid "
        f"{sorted(int(b) for b in curve['budget'].unique())} "
        f"whose mean relative L2 error over {n_explicands} explicands x seeds {list(seeds)} "
        f"is <= {TARGET_ERROR}, and the mean wall time of one explanation (one explicand, "
        "game evaluations included, one BLAS/OpenMP thread) at that budget. Methods walk up "
        "the grid and stop at the first budget that reaches the target, or when the next "
        f"budget's runs would take over {TARGET_STEP_SECONDS:.0f} s (`time cap`, extrapolated "
        "from the last step).\n",
        to_markdown(shown) + "\n",
        "Mean relative error along the grid (blank: not run, the target was reached below):\n",
        to_markdown(wide) + "\n",
    ]


def run(context: Context) -> list[str]:
    """Run the time-to-accuracy section on ``TARGET_GAME`` with every method but exact
    enumeration."""
    settings = context.settings
    family, skipped_games = build_games(
        n_explicands=settings.target_explicands, names=[TARGET_GAME]
    )
    context.skipped.update(skipped_games)
    if not family:
        return []
    target_methods = [m for m in context.methods if m.name != "shapkit exact"]
    seeds = list(range(settings.target_seeds))
    with single_threaded():
        summary, curve = time_to_target(
            family[0],
            target_methods,
            seeds,
            settings.target_grid,
            TARGET_ERROR,
            TARGET_STEP_SECONDS,
        )
    print_frame(summary)
    return target_report(summary, curve, settings.target_explicands, seeds)
