"""Section 1, accuracy at equal budget: every game x budget (10d, 50d, and 2^d when
d <= 12) x applicable method, over several explicands x seeds; mean relative L2 error with
its standard error, and shapkit's samplers against the best anchor (paired by explicand
and seed)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from benchmarks.comparison import compare
from benchmarks.games import BenchmarkGame, build_games
from benchmarks.methods import Method
from benchmarks.metrics import mean_and_se
from benchmarks.report import fmt_pm, print_frame, to_markdown
from benchmarks.runs import METRIC_COLUMNS, run_once, single_threaded, warm_up
from benchmarks.settings import Context


def budgets_for(n_players: int, quick: bool) -> list[int]:
    """Budgets for a game: ``10d`` (and ``50d`` unless quick), plus ``2**d`` when ``d <= 12``."""
    budgets = [10 * n_players] if quick else [10 * n_players, 50 * n_players]
    if n_players <= 12:
        budgets.append(2**n_players)
    return sorted(set(budgets))


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


def run(context: Context) -> list[str]:
    """Run the accuracy section: every game of ``context.games`` (all by default)."""
    settings = context.settings
    families, skipped_games = build_games(
        quick=context.quick, n_explicands=settings.explicands, names=context.games
    )
    context.skipped.update(skipped_games)
    seeds = list(range(settings.seeds))
    with single_threaded():
        raw = run_benchmark(families, context.methods, seeds, quick=context.quick)
    table = aggregate(raw)
    print_frame(table.drop(columns=["note"]))
    print_frame(compare(raw, table))
    return accuracy_report(raw, table, families, seeds)
