"""Run the benchmark: every game x budget x applicable method x seed.

Usage (from the repository root)::

    python -m benchmarks.run                 # full run, writes docs/benchmarks.md
    python -m benchmarks.run --quick         # smoke run (< ~1 minute on 2 cores)
    python -m benchmarks.run --verify        # check every anchor on a d=6 unanimity game
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.games import BenchmarkGame, build_games, unanimity_game
from benchmarks.methods import Method, build_methods
from benchmarks.metrics import EvalCounter, relative_l2_error, score, timed

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "shap", "shapiq", "captum", "shapkit")
METRIC_COLUMNS = ["rel_l2", "max_abs", "spearman", "time_ms", "n_evals"]

# --------------------------------------------------------------------------------------
# Budgets and single runs
# --------------------------------------------------------------------------------------


def budgets_for(n_players: int, quick: bool) -> list[int]:
    """Budgets for a game: ``10d`` (and ``50d`` unless quick), plus ``2**d`` when ``d <= 12``."""
    budgets = [10 * n_players] if quick else [10 * n_players, 50 * n_players]
    if n_players <= 12:
        budgets.append(2**n_players)
    return sorted(set(budgets))


def run_once(method: Method, game: BenchmarkGame, budget: int, seed: int) -> dict:
    """Run one method once and return its metrics (``note`` holds an error, if any)."""
    counter = EvalCounter(game.game)
    counted = dataclasses.replace(game, game=counter)
    row: dict = {
        "game": game.name,
        "d": game.n_players,
        "budget": budget,
        "method": method.name,
        "seed": seed,
        "note": "",
    }
    try:
        estimate, seconds = timed(method.fn, counted, budget, seed)
    except Exception as exc:  # noqa: BLE001 - a failing method must not stop the run
        row.update(dict.fromkeys(METRIC_COLUMNS, np.nan))
        row["note"] = f"{type(exc).__name__}: {exc}"[:120]
        return row
    row.update(score(estimate, game.exact_values))
    row["time_ms"] = 1e3 * seconds
    row["n_evals"] = counter.n_evals
    return row


def warm_up(method: Method, game: BenchmarkGame, budget: int) -> None:
    """One untimed call (imports, JIT compilation, caches); errors surface in timed runs."""
    try:
        method.fn(game, budget, 0)
    except Exception:  # noqa: BLE001
        pass


def run_benchmark(
    games: Sequence[BenchmarkGame], methods: Sequence[Method], seeds: Sequence[int], quick: bool
) -> pd.DataFrame:
    """Run every game x budget x applicable method x seed; one row per run."""
    rows = []
    for game in games:
        for method in methods:
            budgets = [b for b in budgets_for(game.n_players, quick) if method.applies(game, b)]
            if budgets:
                warm_up(method, game, budgets[0])
            for budget in budgets:
                rows.extend(run_once(method, game, budget, seed) for seed in seeds)
    return pd.DataFrame(rows)


def aggregate(raw: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric over seeds per (game, d, budget, method)."""
    keys = ["game", "d", "budget", "method"]
    table = raw.groupby(keys, sort=False)[METRIC_COLUMNS].mean().reset_index()
    notes = raw.groupby(keys, sort=False)["note"].agg(lambda s: "; ".join(sorted(set(s) - {""})))
    table["note"] = notes.to_numpy()
    table["n_evals"] = table["n_evals"].round().astype("Int64")  # nullable: failed runs
    return table.sort_values(["d", "game", "budget", "method"], kind="stable").reset_index(
        drop=True
    )


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


def machine_description() -> dict[str, str]:
    """CPU, core count, OS, Python and package versions."""
    info = {
        "CPU": cpu_model(),
        "cores (usable)": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "OS": platform.platform(),
        "python": platform.python_version(),
        "git": git_revision(),
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


def game_sections(table: pd.DataFrame, games: Sequence[BenchmarkGame]) -> list[str]:
    """One markdown section per game with its aggregated table."""
    sections = []
    for game in games:
        sub = table[table["game"] == game.name].drop(columns=["game", "d"])
        if sub.empty:
            continue
        if not sub["note"].astype(bool).any():
            sub = sub.drop(columns=["note"])
        sections.append(
            f"### {game.name} (d = {game.n_players})\n\n{game.description}.\n\n{to_markdown(sub)}\n"
        )
    return sections


def skipped_section(skipped: dict[str, str]) -> str:
    """Markdown list of skipped games and methods."""
    if not skipped:
        return ""
    lines = [f"- **{name}** skipped: {reason}" for name, reason in skipped.items()]
    return "## Skipped\n\n" + "\n".join(lines) + "\n"


METHODOLOGY = """\
## Methodology

- Every game maps a boolean coalition matrix `(m, d)` to worths `(m,)`; exact values are
  closed-form (unanimity games) or enumerate all `2**d` coalitions with
  `shapkit.shapley_values(method="exact")` (model games, `v(S) = mean_b f(x_S, b_notS)`).
- Anchors explain the model `f(z) = v({i: z_i = 1})` over 0/1 inputs with the all-zeros row
  as background/baseline and the all-ones row as explicand, so their interventional values are
  the game's Shapley values.
- `budget` is the number of coalition evaluations allowed; `n_evals` is the number the
  method actually requested (counted by wrapping the game). shap Kernel and shapiq KernelSHAP
  stop at `2**d` distinct coalitions; permutation samplers use whole permutations only.
- Budget mapping: shap Kernel `nsamples = budget - 2` (it evaluates the empty and grand
  coalitions separately); shap Permutation `max_evals = budget` (whole antithetic
  permutations of `2d + 1` evals); shapiq `approximate(min(budget, 2**d))`; captum KernelShap
  `n_samples = budget` (drawn with replacement); captum ShapleyValueSampling
  `n_samples = (budget - 1) // d` permutations.
- shapiq KernelSHAP enforces efficiency with a large finite weight (1e8) rather than a
  constraint, so even at `budget = 2**d` it is only accurate to ~1e-6; captum KernelShap
  uses weight 1e6 for the empty/grand coalitions and fits an intercept, so efficiency holds
  only approximately and degrades as `n_samples` grows.
- `rel_l2 = ||est - exact|| / ||exact||`, `max_abs = max |est - exact|`, `spearman` = rank
  correlation with the exact values, `time_ms` = wall time of one call after one untimed
  warm-up call per (method, game). All metrics are means over seeds.
"""


def render_report(
    command: str,
    machine: dict[str, str],
    table: pd.DataFrame,
    games: Sequence[BenchmarkGame],
    skipped: dict[str, str],
    seeds: Sequence[int],
) -> str:
    """Full markdown report."""
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    parts = [
        "# Benchmarks\n",
        f"Produced by:\n\n```\n{command}\n```\n",
        f"Seeds: {list(seeds)}.\n",
        f"## Machine\n\n{machine_lines}\n",
        METHODOLOGY,
        "## Results\n",
        *game_sections(table, games),
        skipped_section(skipped),
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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="number of seeds 0..N-1 (default: 2 with --quick, else 5)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/benchmarks.md"),
        help="markdown report path (default: docs/benchmarks.md)",
    )
    parser.add_argument("--games", nargs="*", default=None, help="only these game names")
    parser.add_argument("--no-anchors", action="store_true", help="only shapkit methods")
    parser.add_argument(
        "--verify", action="store_true", help="only check the methods on a d=6 unanimity game"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # anchors warn a lot (budget capping, convergence)
    methods, skipped = build_methods(include_anchors=not args.no_anchors)
    if args.verify:
        result = verify_methods(methods)
        print(result.to_string(index=False))
        return 0 if result["ok"].all() else 1

    games, skipped_games = build_games(quick=args.quick)
    if args.games is not None:
        games = [g for g in games if g.name in args.games]
    skipped = {**skipped_games, **skipped}
    seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 5)))

    table = aggregate(run_benchmark(games, methods, seeds, quick=args.quick))
    with pd.option_context(
        "display.width", 200, "display.max_rows", None, "display.float_format", "{:.3g}".format
    ):
        print(table.to_string(index=False))
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    report = render_report(command, machine_description(), table, games, skipped, seeds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
