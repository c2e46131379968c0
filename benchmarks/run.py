"""Run the benchmarks of issue 3 and write docs/benchmarks.md.

Sections (all by default, or pick with ``--sections``):

* ``accuracy``: every game x budget (10d, 50d, and 2^d when d <= 12) x applicable method,
  over several explicands x seeds; mean relative L2 error with its standard error, and
  shapkit's samplers against the best anchor (paired by explicand and seed);
* ``speed``: ``shapkit.explain`` vs the model alone vs shap.KernelExplainer at budget 2048
  (breast_cancer, d = 30, 20 rows, 100 background rows; see :mod:`benchmarks.speed`);
* ``target``: time to reach 1% mean relative error on the breast_cancer tree game
  (see :mod:`benchmarks.target`);
* ``coldstart``: first explain in a fresh process, empty vs warm Numba cache
  (see :mod:`benchmarks.coldstart`).

Usage (from the repository root)::

    python -m benchmarks.run                 # full run (~10-15 min on 2 cores)
    python -m benchmarks.run --quick         # smoke run (< ~1 minute on 2 cores), prints only
    python -m benchmarks.run --sections speed --out /tmp/speed.md   # one section
    python -m benchmarks.run --verify        # check every method on a d=6 unanimity game
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.games import GAMES, BenchmarkGame, build_games, unanimity_game
from benchmarks.methods import Method, build_methods
from benchmarks.metrics import EvalCounter, mean_and_se, relative_l2_error, score, timed

PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "numba",
    "torch",
    "shap",
    "shapiq",
    "captum",
    "shapkit",
)
METRIC_COLUMNS = ["rel_l2", "max_abs", "spearman", "time_ms", "cpu_ms", "n_evals"]
SECTIONS = ("accuracy", "speed", "target", "coldstart")
SHAPKIT_SAMPLERS = ("shapkit kernel", "shapkit kernel (kernel sizes)", "shapkit permutation")
TARGET_GAME = "breast-cancer-gbc"
TARGET_ERROR = 0.01
TARGET_STEP_SECONDS = 60.0
DEFAULT_OUT = Path("docs/benchmarks.md")

# --------------------------------------------------------------------------------------
# Budgets and single runs
# --------------------------------------------------------------------------------------


def budgets_for(n_players: int, quick: bool) -> list[int]:
    """Budgets for a game: ``10d`` (and ``50d`` unless quick), plus ``2**d`` when ``d <= 12``."""
    budgets = [10 * n_players] if quick else [10 * n_players, 50 * n_players]
    if n_players <= 12:
        budgets.append(2**n_players)
    return sorted(set(budgets))


def run_once(
    method: Method, game: BenchmarkGame, budget: int, seed: int, explicand: int = 0
) -> dict:
    """Run one method once and return its metrics (``note`` holds an error, if any)."""
    counter = EvalCounter(game.game)
    counted = dataclasses.replace(game, game=counter)
    row: dict = {
        "game": game.name,
        "d": game.n_players,
        "budget": budget,
        "method": method.name,
        "explicand": explicand,
        "seed": seed,
        "note": "",
    }
    cpu_start = time.process_time()
    try:
        estimate, seconds = timed(method.fn, counted, budget, seed)
    except Exception as exc:  # noqa: BLE001 - a failing method must not stop the run
        row.update(dict.fromkeys(METRIC_COLUMNS, np.nan))
        row["note"] = f"{type(exc).__name__}: {exc}"[:120]
        return row
    row.update(score(estimate, game.exact_values))
    row["time_ms"] = 1e3 * seconds
    row["cpu_ms"] = 1e3 * (time.process_time() - cpu_start)
    row["n_evals"] = counter.n_evals
    return row


def warm_up(method: Method, game: BenchmarkGame, budget: int) -> None:
    """One untimed call (imports, JIT compilation, caches); errors surface in timed runs."""
    try:
        method.fn(game, budget, 0)
    except Exception:  # noqa: BLE001
        pass


def run_benchmark(
    families: Sequence[Sequence[BenchmarkGame]],
    methods: Sequence[Method],
    seeds: Sequence[int],
    quick: bool,
) -> pd.DataFrame:
    """Every game x budget x applicable method x explicand x seed; one row per run."""
    rows = []
    for family in families:
        first = family[0]
        for method in methods:
            budgets = [b for b in budgets_for(first.n_players, quick) if method.applies(first, b)]
            if budgets:
                warm_up(method, first, budgets[0])
            for budget in budgets:
                for explicand, game in enumerate(family):
                    rows.extend(run_once(method, game, budget, seed, explicand) for seed in seeds)
    return pd.DataFrame(rows)


def aggregate(raw: pd.DataFrame) -> pd.DataFrame:
    """Per (game, d, budget, method): mean of each metric over explicands x seeds, the
    standard error of the mean relative error, and the number of runs."""
    keys = ["game", "d", "budget", "method"]
    grouped = raw.groupby(keys, sort=False)
    table = grouped[METRIC_COLUMNS].mean().reset_index()
    table.insert(
        table.columns.get_loc("rel_l2") + 1,
        "rel_l2_se",
        grouped["rel_l2"].agg(lambda s: mean_and_se(s.to_numpy())[1]).to_numpy(),
    )
    table["runs"] = grouped["rel_l2"].count().to_numpy()
    notes = grouped["note"].agg(lambda s: "; ".join(sorted(set(s) - {""})))
    table["note"] = notes.to_numpy()
    table["n_evals"] = table["n_evals"].round().astype("Int64")  # nullable: failed runs
    return table.sort_values(["d", "game", "budget", "rel_l2"], kind="stable").reset_index(
        drop=True
    )


def paired_difference(raw: pd.DataFrame, a: str, b: str) -> tuple[float, float]:
    """Mean and standard error of ``err_a - err_b`` over runs matched by explicand and seed."""
    keys = ["explicand", "seed"]
    left = raw[raw["method"] == a].set_index(keys)["rel_l2"]
    right = raw[raw["method"] == b].set_index(keys)["rel_l2"]
    diff = (left - right).dropna()
    return mean_and_se(diff.to_numpy())


def verdict(mean_a: float, mean_b: float, diff: float, diff_se: float) -> str:
    """win / tie / loss of a against b: a tie when the paired difference is within 2 SE or
    both are exact to 1e-5; a loss when only b is exact."""
    if max(mean_a, mean_b) < 1e-5:
        return "tie (both exact)"
    if mean_b < 1e-5:
        return "loss (anchor exact)"
    if abs(diff) <= 2 * diff_se:
        return "tie"
    return "win" if diff < 0 else "loss"


#: Anchor families for like-for-like comparisons (by method-name prefix).
KERNEL_ANCHORS = ("shap Kernel", "shapiq KernelSHAP", "captum KernelShap")
PERMUTATION_ANCHORS = ("shap Permutation", "shapiq Permutation", "captum ShapleyValueSampling")


def _against(runs: pd.DataFrame, name: str, mean: float, anchors: pd.DataFrame) -> tuple[str, str]:
    """``("anchor: mean ± se", "ratio, verdict")`` of shapkit sampler ``name`` against the
    best of ``anchors`` (empty strings when there is none)."""
    anchors = anchors[anchors["rel_l2"].notna()]
    if anchors.empty:
        return "", ""
    best = anchors.loc[anchors["rel_l2"].idxmin()]
    diff, diff_se = paired_difference(runs, name, best["method"])
    ratio = "-" if best["rel_l2"] < 1e-5 else f"{mean / best['rel_l2']:.2f}x"
    return (
        f"{best['method']}: {fmt_pm(best['rel_l2'], best['rel_l2_se'])}",
        f"{ratio}, {verdict(mean, best['rel_l2'], diff, diff_se)}",
    )


def compare(raw: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Each shapkit sampler against the best anchor of each (game, budget), overall and
    within its family (kernel-type anchors for shapkit's kernel estimators,
    permutation-type anchors for its permutation estimator).

    The best anchor is the one with the lowest mean relative error; ``ratio`` is shapkit's
    mean error over the anchor's, and the verdict comes from the paired difference of
    errors over runs matched by explicand and seed (``tie`` within 2 standard errors).
    """
    rows = []
    for (game, _, budget), sub in table.groupby(["game", "d", "budget"], sort=False):
        runs = raw[(raw["game"] == game) & (raw["budget"] == budget)]
        anchors = sub[~sub["method"].str.startswith("shapkit")]
        for name in SHAPKIT_SAMPLERS:
            mine = sub[sub["method"] == name]
            if mine.empty or np.isnan(mine["rel_l2"].iloc[0]):
                continue
            mean, se = mine["rel_l2"].iloc[0], mine["rel_l2_se"].iloc[0]
            family = PERMUTATION_ANCHORS if "permutation" in name else KERNEL_ANCHORS
            same = anchors[anchors["method"].str.startswith(family)]
            best_any, vs_any = _against(runs, name, mean, anchors)
            best_same, vs_same = _against(runs, name, mean, same)
            rows.append(
                {
                    "game": game,
                    "budget": budget,
                    "shapkit": name.removeprefix("shapkit "),
                    "rel_l2 (mean ± se)": fmt_pm(mean, se),
                    "best anchor": best_any,
                    "vs best": vs_any,
                    "best same-family anchor": best_same,
                    "vs same-family": vs_same,
                }
            )
    return pd.DataFrame(rows)


def fmt_pm(mean: float, se: float) -> str:
    """``mean ± se`` with 3 significant digits for the mean and 2 for the SE."""
    if np.isnan(mean):
        return ""
    return f"{mean:.3g} ± {se:.2g}"


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    """Total memory from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def package_version(name: str) -> str:
    """Installed version of a distribution, else the module's ``__version__`` (source tree)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        module = importlib.import_module(name.replace("-", "_"))
    except Exception:  # noqa: BLE001
        return "not installed"
    return f"{getattr(module, '__version__', 'unknown')} (not installed, imported from source)"


def git_revision() -> str:
    """``git describe --always --dirty`` of the working tree (``"uncommitted"`` if no commit)."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"
    return out.stdout.strip()


def thread_pools() -> str:
    """BLAS/OpenMP thread pools as threadpoolctl sees them (empty when unavailable)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    pools = {f"{p['internal_api']} x{p['num_threads']}" for p in threadpool_info()}
    return ", ".join(sorted(pools)) or "none loaded"


def machine_description() -> dict[str, str]:
    """CPU, core count, memory, OS, Python and package versions."""
    info = {
        "CPU": cpu_model(),
        "cores (usable)": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "memory": memory_gib(),
        "OS": platform.platform(),
        "python": platform.python_version(),
        "git": git_revision(),
        "thread pools": thread_pools(),
    }
    info.update({name: package_version(name) for name in PACKAGES})
    return info


def format_cell(value: object) -> str:
    """Render one table cell for markdown."""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """Minimal markdown table (pandas' ``to_markdown`` would need ``tabulate``)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(format_cell(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def accuracy_tables(table: pd.DataFrame) -> pd.DataFrame:
    """The aggregated table with ``rel_l2`` shown as ``mean ± se``."""
    shown = table.copy()
    shown["rel_l2 (mean ± se)"] = [
        fmt_pm(m, s) for m, s in zip(shown["rel_l2"], shown["rel_l2_se"], strict=True)
    ]
    columns = ["budget", "method", "rel_l2 (mean ± se)", "max_abs", "spearman", "time_ms", "cpu_ms"]
    return shown[["game", "d", *columns, "n_evals", "runs", "note"]]


def game_sections(table: pd.DataFrame, families: Sequence[Sequence[BenchmarkGame]]) -> list[str]:
    """One markdown section per game with its aggregated table."""
    shown = accuracy_tables(table)
    sections = []
    for family in families:
        game = family[0]
        sub = shown[shown["game"] == game.name].drop(columns=["game", "d"])
        if sub.empty:
            continue
        if not sub["note"].astype(bool).any():
            sub = sub.drop(columns=["note"])
        sections.append(
            f"#### {game.name} (d = {game.n_players})\n\n{game.description}; "
            f"{len(family)} explicands.\n\n{to_markdown(sub)}\n"
        )
    return sections


def skipped_section(skipped: dict[str, str]) -> str:
    """Markdown list of skipped games and methods."""
    if not skipped:
        return ""
    lines = [f"- **{name}** skipped: {reason}" for name, reason in skipped.items()]
    return "## Skipped\n\n" + "\n".join(lines) + "\n"


METHODOLOGY = """\
### Methodology

- Every game maps a boolean coalition matrix `(m, d)` to worths `(m,)`; exact values are
  closed-form (unanimity games), enumerate all `2**d` coalitions with
  `shapkit.shapley_values(method="exact")` (model games with `d <= 12`,
  `v(S) = mean_b f(x_S, b_notS)`), or come from shapkit's own exact interventional
  TreeSHAP on the margin of the breast_cancer GradientBoostingClassifier (`d = 30`,
  `shapkit.explain(model, x, background, method="tree", output="decision")`, the log-odds
  of malignant, `decision_function`; no shap needed for ground truth). For every explicand
  the harness checks that TreeSHAP's values sum to `v(N) - v(empty)` of the very game the
  samplers get (`v(empty)` = mean margin over the background), and
  `tests/test_benchmark_harness.py` compares TreeSHAP with exact enumeration on a 10-player
  restriction of the same model (the other 20 features set to x in the background): they
  agree to rounding, far below any sampling error reported here.
- Explicands: model games explain different rows against one fixed background of 50 rows;
  unanimity "explicand" `e` is the game drawn with seed `d + e`. Every (explicand, seed)
  is one run; tables show the mean over runs and the standard error of that mean
  (`± se`, sample std / sqrt(runs)).
- Anchors explain the model `f(z) = v({i: z_i = 1})` over 0/1 inputs with the all-zeros row
  as background/baseline and the all-ones row as explicand, so their interventional values are
  the game's Shapley values.
- `budget` is the number of coalition evaluations allowed; `n_evals` is the number the
  method actually requested (counted by wrapping the game). shap Kernel and shapiq KernelSHAP
  stop at `2**d` distinct coalitions; permutation samplers use whole permutations only.
- Budget mapping: shapkit `budget = budget` (empty and full coalitions included, no `tol`,
  so the whole budget is spent); shap Kernel `nsamples = budget - 2` (it evaluates the
  empty and grand coalitions separately); shap Permutation `max_evals = budget` (whole
  antithetic permutations of `2d + 1` evals); shapiq `approximate(min(budget, 2**d))`;
  captum KernelShap `n_samples = budget` (drawn with replacement); captum
  ShapleyValueSampling `n_samples = (budget - 1) // d` permutations.
- shapkit methods: `kernel` = `method="kernel"` (leverage sizes, i.e. uniform over
  coalition sizes, each size's sample balanced over players); `kernel (kernel sizes)` =
  `method=KernelEstimator(size_distribution="kernel")`; `kernel (unbalanced)` =
  `method=KernelEstimator(balanced=False)` (each size sampled uniformly, the design before
  balancing); `permutation` = `method="permutation"` (antithetic); `exact` only at
  `budget = 2**d`.
- shapiq KernelSHAP enforces efficiency with a large finite weight (1e8) rather than a
  constraint, so even at `budget = 2**d` it is only accurate to ~1e-6; captum KernelShap
  uses weight 1e6 for the empty/grand coalitions and fits an intercept, so efficiency holds
  only approximately and degrades as `n_samples` grows.
- `rel_l2 = ||est - exact|| / ||exact||`, `max_abs = max |est - exact|`, `spearman` = rank
  correlation with the exact values, `time_ms` = wall time of one call after one untimed
  warm-up call per (method, game), dominated by the game's own evaluations for model games;
  `cpu_ms` = CPU time of this process during the call (not inflated by other processes).
  Sections 1 and 3 run with BLAS/OpenMP pools limited to one thread (threadpoolctl) for
  every method: on this small shared machine, multi-threaded BLAS in tiny solves stalls
  for hundreds of milliseconds whenever another process holds a core.
- Comparison table: for each (game, budget) and shapkit sampler, the best anchor (lowest
  mean error) overall and within the sampler's family (kernel-type anchors: shap Kernel,
  shapiq KernelSHAP both variants, captum KernelShap; permutation-type: shap Permutation,
  shapiq Permutation, captum ShapleyValueSampling), with the ratio of mean errors (shapkit
  / anchor; below 1 is better) and a verdict from the paired difference of errors over runs
  matched by explicand and seed: `tie` when it is within 2 standard errors, else
  `win`/`loss`.
"""


def accuracy_report(
    raw: pd.DataFrame,
    table: pd.DataFrame,
    families: Sequence[Sequence[BenchmarkGame]],
    seeds: Sequence[int],
) -> list[str]:
    """Markdown of the accuracy section."""
    n_explicands = len(families[0]) if families else 0
    return [
        "## 1. Accuracy at equal budget\n",
        f"{n_explicands} explicands x seeds {list(seeds)} per game and budget.\n",
        METHODOLOGY,
        "### shapkit vs the best anchor\n",
        to_markdown(compare(raw, table)) + "\n",
        "### Per game\n",
        *game_sections(table, families),
    ]


def _met(values: Sequence[float], ok: Any) -> str:
    """``met`` / ``not met`` when every measure agrees, else which ones meet it."""
    flags = [bool(ok(v)) for v in values]
    if all(flags):
        return "met"
    if not any(flags):
        return "not met"
    return "mixed: " + "/".join("y" if f else "n" for f in flags)


def speed_report(results: list[dict[str, Any]], repeats: int) -> list[str]:
    """Markdown of the speed section."""
    from benchmarks.speed import MAX_OVERHEAD, MIN_SPEEDUP_VS_SHAP

    rows, details = [], []
    for r in results:
        cpu = r["cpu_s"]
        overhead = (r["shapkit/model"], r["cpu shapkit/model"], r["one call shapkit/model"])
        speedup = (r["shap/shapkit"], r["cpu shap/shapkit"], r["one call shap/shapkit"])
        rows.append(
            {
                "threads": r["threads"],
                "model": r["model"],
                "shapkit (s)": f"{r['shapkit_s']:.3g} / {cpu['shapkit']:.3g} / "
                f"{r['shapkit_all_rows_s']:.3g}",
                "model only (s)": f"{r['model_only_s']:.3g} / {cpu['model']:.3g}",
                "shap Kernel (s)": f"{r['shap_s']:.3g} / {cpu['shap']:.3g} / "
                f"{r['shap_all_rows_s']:.3g}",
                "shapkit / model only": " / ".join(f"{v:.2f}" for v in overhead),
                f"<= {MAX_OVERHEAD}?": _met(overhead, lambda v: v <= MAX_OVERHEAD),
                "shap / shapkit": " / ".join(f"{v:.2f}" for v in speedup),
                f">= {MIN_SPEEDUP_VS_SHAP:g}?": _met(speedup, lambda v: v >= MIN_SPEEDUP_VS_SHAP),
                "others' cores": r["others_cores"],
            }
        )
        median = r["median_s"]
        details.append(
            {
                "threads": r["threads"],
                "model": r["model"],
                "one-call times shapkit / shap (s)": " / ".join(
                    str(r["all_rows_all_s"][k]) for k in ("shapkit", "shap")
                ),
                "per-row medians shapkit / model / shap (s)": " / ".join(
                    f"{median[k]:.3g}" for k in ("shapkit", "model", "shap")
                ),
                "model only in shapkit's chunks (s)": f"{r['model_shapkit_chunks_s']:.3g}",
                "shapkit with a no-op model, one call (s)": f"{r['no_model_all_rows_s']:.3g}",
                "model input (from shapkit)": r["input"],
                "rows to model: shapkit / shap": (
                    f"{r['model_rows_shapkit']} / {r['model_rows_shap']}"
                ),
                "shapkit coalitions": r["shapkit_coalitions"],
            }
        )
    n_rows = results[0]["rows"] if results else 0
    return [
        "## 2. Speed at equal budget\n",
        f"breast_cancer (d = 30, float64 ndarray), {n_rows} explained rows, background = 100 "
        "rows, budget 2048 coalitions per row, probability output (both classes) for all "
        'three. `shapkit` = `shapkit.explain(model, x, background=bg, method="kernel", '
        "budget=2048, seed=0)`; `model only` = `model.predict_proba` on exactly the rows "
        "shapkit handed the model (recorded in an untimed run: same rows, same ndarray type), "
        "timed in shapkit's chunks and in 100,000-row chunks, the faster of the two kept per "
        "row, so `shapkit / model only` is shapkit's whole overhead against the model's best "
        "way of running the same rows; `shap Kernel` = "
        "`shap.KernelExplainer(model.predict_proba, bg).shap_values(x, nsamples=2048, "
        "l1_reg=False)`, construction included. All were warmed up on one row (Numba JIT, "
        f"imports, first calls), then timed row by row, interleaved (shapkit, model, shap for "
        f"row 1, then row 2, ...), {repeats} times; each total is the sum over rows of the "
        "fastest repetition of that row, which filters bursts of other processes' load. "
        "Cells read `per-row wall / per-row CPU / one call`: CPU = seconds of CPU this "
        "process used (all threads), summed the same way (with one thread per library it "
        "is what the wall time would be on a quiet machine, so with `threads = 1` the CPU "
        "figures are the reliable ones when `others' cores` is high; with default threads "
        "CPU counts every thread and exceeds wall); `one call` = the best wall time of "
        "explaining all rows in a single `shapkit.explain` / `shap_values` call (2 "
        "repetitions), the literal measure of the issue, reliable on a quiet machine. "
        "`threads = 1`: BLAS and OpenMP limited to one thread for all three (threadpoolctl); "
        "`default`: the libraries' own thread counts. `others' cores`: CPU seconds other "
        "processes used per wall second during the timing (0 = quiet machine). "
        "`shapkit with a no-op model`: the same one-call explanation with a function that "
        "returns zeros in place of the model, i.e. shapkit's own work (sampling, writing "
        "the masked rows, summing per coalition, solving). It is not a floor of "
        "`shapkit - model only`: inside shapkit the model reads rows just written, from "
        "cache, while `model only` replays the recorded rows from memory.\n",
        to_markdown(pd.DataFrame(rows)) + "\n",
        to_markdown(pd.DataFrame(details)) + "\n",
    ]


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


def coldstart_report(rows: list[dict[str, Any]], n_rows: int, budget: int) -> list[str]:
    """Markdown of the cold-start section."""
    return [
        "## 4. Cold start\n",
        "A fresh `python -m benchmarks.coldstart --child` process with `NUMBA_CACHE_DIR` set "
        "to a new empty temporary directory (`empty`), then a second fresh process with the "
        "same directory (`warm`). Each imports shapkit, fits the StandardScaler + "
        "LogisticRegression pipeline on breast_cancer, calls the model once (sklearn's "
        f"first-call costs excluded), then times two identical `shapkit.explain` calls "
        f"({n_rows} row, 100 background rows, budget {budget}); "
        "`overhead = first - second`, in wall seconds and in CPU seconds of the child "
        "(the latter is not inflated by other processes' load).\n",
        to_markdown(pd.DataFrame(rows)) + "\n",
    ]


#: Headings this harness writes (or wrote before); other "## " sections of the report file,
#: such as those other benchmark scripts append, are kept when the report is rewritten.
OWN_HEADINGS = ("## Machine", "## Methodology", "## Results", "## Skipped", "## 1. ", "## 2. ")
OWN_HEADINGS += ("## 3. ", "## 4. ")


def foreign_sections(text: str) -> str:
    """The "## " sections of ``text`` whose headings this harness does not own."""
    kept, keep = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            keep = not line.startswith(OWN_HEADINGS)
        elif line.startswith("# "):
            keep = False
        if keep:
            kept.append(line)
    return "".join(kept)


def render_report(
    command: str, machine: dict[str, str], sections: list[str], wall_s: float, notes: list[str]
) -> str:
    """Full markdown report."""
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    note_lines = "".join(f"- {note}\n" for note in notes)
    parts = [
        "# Benchmarks\n",
        f"Produced by (from the repository root, wall time {wall_s / 60:.1f} min):\n\n"
        f"```\n{command}\n```\n",
        note_lines,
        f"## Machine\n\n{machine_lines}\n",
        *sections,
    ]
    return "\n".join(part for part in parts if part)


# --------------------------------------------------------------------------------------
# Anchor verification
# --------------------------------------------------------------------------------------


def verify_methods(methods: Sequence[Method]) -> pd.DataFrame:
    """Check every method on a d=6 unanimity game with closed-form values.

    A method passes when it is exact (rel. error < 1e-6) at budget ``2**6`` or close
    (rel. error < 0.1) at budget 20000.
    """
    game = unanimity_game(6, seed=3, n_terms=12, max_size=5)
    rows = []
    for method in methods:
        errors = {}
        for budget in (2**6, 20_000):
            if not method.applies(game, budget):
                errors[budget] = np.nan
                continue
            estimate = method.fn(game, budget, 0)
            errors[budget] = relative_l2_error(estimate, game.exact_values)
        ok = errors[2**6] < 1e-6 or errors[20_000] < 0.1
        rows.append(
            {
                "method": method.name,
                "rel_l2 @64": errors[2**6],
                "rel_l2 @20000": errors[20_000],
                "ok": bool(ok),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of every section; ``--quick`` shrinks them."""

    explicands: int
    seeds: int
    speed_rows: int
    speed_repeats: int
    target_explicands: int
    target_seeds: int
    target_grid: tuple[int, ...]
    coldstart_methods: tuple[str, ...]
    quiet_wait: float


def settings_for(args: argparse.Namespace) -> Settings:
    """Section sizes from the command line."""
    from benchmarks.target import geometric_grid

    if args.quick:
        base = Settings(2, 1, 2, 1, 1, 1, tuple(geometric_grid(256, 1024)), ("kernel",), 3.0)
    else:
        base = Settings(
            5, 3, 20, 3, 5, 2, tuple(geometric_grid(128, 16384)), ("kernel", "permutation"), 10.0
        )
    return dataclasses.replace(
        base,
        explicands=args.explicands or base.explicands,
        seeds=args.seeds or base.seeds,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (< ~1 min)")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="sections to run (default: all)",
    )
    parser.add_argument(
        "--explicands",
        type=int,
        default=None,
        help="explicands per game in the accuracy section (default: 2 with --quick, else 5)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds 0..N-1 per explicand in the accuracy section (default: 1 quick, else 3)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown report path (default: docs/benchmarks.md; with --quick, none: the "
        "smoke run only prints unless --out is given)",
    )
    parser.add_argument(
        "--games", nargs="*", default=None, help=f"only these games of {list(GAMES)}"
    )
    parser.add_argument(
        "--speed-threads",
        nargs="+",
        default=None,
        help="thread settings of the speed section: integers and/or 'default' (default: 1; "
        "'default' keeps the libraries' thread counts, meaningful on a quiet machine only: "
        "OpenMP models slow down many-fold while another process holds a core)",
    )
    parser.add_argument("--no-anchors", action="store_true", help="only shapkit methods")
    parser.add_argument(
        "--verify", action="store_true", help="only check the methods on a d=6 unanimity game"
    )
    return parser.parse_args(argv)


def single_threaded() -> contextlib.AbstractContextManager:
    """Limit the BLAS and OpenMP pools already loaded to one thread (no-op without
    threadpoolctl). On a small shared machine, multi-threaded BLAS in tiny solves stalls
    for hundreds of milliseconds whenever another process holds a core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _print(frame: pd.DataFrame) -> None:
    with pd.option_context(
        "display.width", 250, "display.max_rows", None, "display.float_format", "{:.3g}".format
    ):
        print(frame.to_string(index=False), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # anchors warn a lot (budget capping, convergence)
    start = time.perf_counter()
    methods, skipped = build_methods(include_anchors=not args.no_anchors)
    if args.verify:
        result = verify_methods(methods)
        print(result.to_string(index=False))
        return 0 if result["ok"].all() else 1

    settings = settings_for(args)
    sections: list[str] = []
    notes: list[str] = []
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        section_times[name] = now - clock
        clock = now

    section_times: dict[str, float] = {}
    if "accuracy" in args.sections:
        print("== accuracy", flush=True)
        families, skipped_games = build_games(
            quick=args.quick, n_explicands=settings.explicands, names=args.games
        )
        skipped.update(skipped_games)
        seeds = list(range(settings.seeds))
        with single_threaded():
            raw = run_benchmark(families, methods, seeds, quick=args.quick)
        table = aggregate(raw)
        _print(table.drop(columns=["note"]))
        _print(compare(raw, table))
        sections += accuracy_report(raw, table, families, seeds)
        lap("accuracy")
    if "speed" in args.sections:
        print("== speed", flush=True)
        from benchmarks.speed import run_speed

        speed_threads = args.speed_threads or ["1"]

        try:
            results = run_speed(
                n_rows=settings.speed_rows,
                repeats=settings.speed_repeats,
                quiet_wait=settings.quiet_wait,
                threads=[None if t == "default" else int(t) for t in speed_threads],
            )
        except ImportError as exc:
            skipped["speed"] = f"{type(exc).__name__}: {exc}"
        else:
            sections += speed_report(results, settings.speed_repeats)
        lap("speed")
    if "target" in args.sections:
        print("== target", flush=True)
        from benchmarks.target import time_to_target

        family, skipped_games = build_games(
            n_explicands=settings.target_explicands, names=[TARGET_GAME]
        )
        skipped.update(skipped_games)
        if family:
            target_methods = [m for m in methods if m.name != "shapkit exact"]
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
            _print(summary)
            sections += target_report(summary, curve, settings.target_explicands, seeds)
        lap("target")
    if "coldstart" in args.sections:
        print("== coldstart", flush=True)
        from benchmarks.coldstart import cold_start

        cold = cold_start(settings.coldstart_methods, n_rows=1, budget=2048)
        _print(pd.DataFrame(cold))
        sections += coldstart_report(cold, 1, 2048)
        lap("coldstart")
    notes.append(
        "Section wall times: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in section_times.items())
        + "."
    )
    if args.quick:
        notes.append("`--quick`: reduced sizes, a smoke run; numbers are not for quoting.")
    sections.append(skipped_section(skipped))
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    wall = time.perf_counter() - start
    notes.append(
        f"CPU time of the run (this process, children excluded): "
        f"{time.process_time() / 60:.1f} min; the wall time exceeds it by what other "
        "processes on the machine took."
    )
    out = args.out if args.out is not None else (None if args.quick else DEFAULT_OUT)
    if out is None:
        print(f"done ({wall:.0f} s); --quick writes no report without --out")
        return 0
    report = render_report(command, machine_description(), sections, wall, notes)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # keep sections other scripts wrote (e.g. "## Trees")
        foreign = foreign_sections(out.read_text())
        if foreign:
            report = report.rstrip("\n") + "\n\n" + foreign.rstrip("\n") + "\n"
    out.write_text(report)
    print(f"wrote {out} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
