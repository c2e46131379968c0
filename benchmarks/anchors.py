"""Time to accuracy and accuracy per evaluation against the 2026 anchors (issue #21).

Every estimator explains the same games, with exact values known, at a grid of budgets
(10, 20, 50, 100, 200, 500 and 1000 evaluations per player, and ``2^d`` where that is
smaller): shapkit (``auto``, ``kernel``, ``permutation``, ``proxy``), shapiq 1.8
(KernelSHAP paired, LeverageSHAP, PolySHAP, OddSHAP, RegressionMSR, ProxySHAP,
PermutationSamplingSV; ShaplEIG with ``--shapleig``) and shap 0.54 (Kernel, Permutation,
Exact). Each method walks up the grid until its mean relative L2 error over the
explicands and seeds is at most 0.1% (always through 50 d, for the per-evaluation
table), or until the next step would take more than ``--step-cap`` seconds.

Games (marginal games ``v(S) = mean_b f(x_S, b_notS)`` over fixed background rows):

* cheap models (microseconds per row): XGBoost's margin on breast_cancer (d = 30, exact by
  shapkit's tree path), scikit-learn's GradientBoostingClassifier margin on breast_cancer
  (d = 30, the published benchmark's game), a LogisticRegression's P(class 1) on wine
  (d = 12, enumeration);
* expensive models: an MLPRegressor(512, 512) on diabetes (d = 10, 100 background rows)
  and a torch MLP(256, 256) on wine (d = 13, 100 background rows), both by enumeration.

Times are wall seconds per explanation with the game's evaluations, after one untimed
warm-up per (method, game), BLAS/OpenMP and torch limited to one thread for every method.
Needs Python >= 3.12 with shap 0.54 and shapiq 1.8 (``benchmarks/env312.sh`` builds that
environment); without them it measures shapkit alone. The tables go between the ANCHORS
markers of docs/benchmarks.md.

``shapkit auto (tol)`` is ``method="auto"`` as a user asking for an accuracy runs it:
``tol`` down a grid (0.05 to 0.0002) with a budget of 1000 d as the cap.

Usage: ``python -m benchmarks.anchors [--games a,b] [--seeds N] [--explicands N]
[--step-cap S] [--shapleig] [--no-write] [--methods "shapkit auto,shapkit kernel"]``
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .games import (
    BenchmarkGame,
    _split_explicand_background,
    _standardised,
    exact_shapley_values,
    interventional_game,
    wine_logreg_game,
)
from .machine import machine_description, package_version
from .methods import Method, at_least, build_methods, shapiq_approximator
from .metrics import mean_and_se
from .proxy import _tree_exact, breast_cancer_tree_game, diabetes_mlp512_game
from .report import publish
from .runs import run_once, single_threaded, warm_up

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- ANCHORS:BEGIN -->", "<!-- ANCHORS:END -->"
MULTIPLES = (10, 20, 50, 100, 200, 500, 1000)
#: The per-evaluation table's budgets (evaluations per player).
PER_EVAL = (10, 20, 50)
TARGETS = (0.01, 0.001)
#: ``shapkit auto`` with a tolerance: the tolerances walked, the budget (a cap) per player.
#: Steps of 1.4-1.6x in tol are 2-2.5x in evaluations (errors shrink as one over their
#: root), the resolution of the budget grid the other methods walk (:data:`MULTIPLES`).
TOLS = (0.05, 0.035, 0.02, 0.014, 0.01, 0.007, 0.005, 0.0035, 0.002, 0.0014, 0.001, 0.0007,
        0.0005, 0.00035, 0.0002)  # fmt: skip
TOL_CAP_PER_PLAYER = 1000
AUTO_TOL = "shapkit auto (tol)"
#: shapkit's methods; the anchors come from benchmarks.methods.
SHAPKIT = ("auto", "kernel", "permutation", "proxy")
ANCHOR_NAMES = (
    "shap Kernel", "shap Permutation", "shap Exact", "shapiq KernelSHAP",
    "shapiq LeverageSHAP", "shapiq PolySHAP", "shapiq Permutation", "shapiq OddSHAP",
    "shapiq RegressionMSR", "shapiq ProxySHAP",
)  # fmt: skip
#: The anchors the proxy is held to (issue #21); the kernel estimator to all the others.
PROXY_CLASS = ("shapiq OddSHAP", "shapiq RegressionMSR", "shapiq ProxySHAP")


# --------------------------------------------------------------------------------------
# Games
# --------------------------------------------------------------------------------------


@functools.cache
def _breast_cancer_xgboost():
    import xgboost
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    model = xgboost.XGBClassifier(n_estimators=100, max_depth=4, random_state=0, n_jobs=1)
    return X, model.fit(X, y)


def xgboost_game(explicand: int, n_background: int = 50) -> BenchmarkGame:
    """XGBClassifier(100 trees, depth 4) margin on breast_cancer; exact by shapkit's
    interventional TreeSHAP (float32 model: exact to ~1e-7 relative)."""
    X, model = _breast_cancer_xgboost()
    x, background = _split_explicand_background(X, explicand, n_background)

    def margin(rows: np.ndarray) -> np.ndarray:
        return model.predict(rows, output_margin=True).astype(np.float64)

    return BenchmarkGame(
        "xgboost-breast-cancer", 30, interventional_game(margin, x, background),
        _tree_exact(model, x, background), "XGBClassifier(100, depth 4) margin",
    )  # fmt: skip


@functools.cache
def _wine_torch():
    import torch
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = _standardised(X).astype(np.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(13, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
        torch.nn.ReLU(), torch.nn.Linear(256, 3),
    )  # fmt: skip
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(200):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), targets).backward()
        optimiser.step()
    return X.astype(np.float64), net.eval()


def torch_game(explicand: int, n_background: int = 100) -> BenchmarkGame:
    """A torch MLP(256, 256) on standardised wine (d = 13), P(class 0), float32; exact
    values by enumerating the 2^13 coalitions."""
    import torch

    X, net = _wine_torch()
    x, background = _split_explicand_background(X, explicand, n_background)

    def predict(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = net(torch.from_numpy(rows.astype(np.float32)))
            return torch.softmax(logits, dim=1)[:, 0].double().numpy()

    game = interventional_game(predict, x, background)
    return BenchmarkGame(
        "torch-mlp-wine", 13, game, exact_shapley_values(game, 13).ravel(),
        "torch MLP(256, 256) on wine, P(class 0)",
    )  # fmt: skip


@dataclass(frozen=True)
class Family:
    """A model's game at several explained rows."""

    key: str
    label: str
    cost: str
    make: Callable[[int], BenchmarkGame]


FAMILIES = (
    Family("xgboost", "XGBoost margin, breast_cancer", "cheap", xgboost_game),
    Family("gbc", "sklearn GBC margin, breast_cancer", "cheap", breast_cancer_tree_game),
    Family("logreg", "LogisticRegression P(class 1), wine", "cheap", wine_logreg_game),
    Family("mlp", "MLP(512, 512), diabetes", "expensive", diabetes_mlp512_game),
    Family("torch", "torch MLP(256, 256), wine", "expensive", torch_game),
)


# --------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------


def shapkit_method(method: str) -> Method:
    """``shapkit.shapley_values(game, d, method=method, budget=budget, seed=seed)``."""

    def fn(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        import shapkit

        result = shapkit.shapley_values(
            game.game, game.n_players, method=method, budget=budget, seed=seed
        )
        return np.asarray(result.values, dtype=np.float64).ravel()

    return Method(f"shapkit {method}", fn, at_least(lambda d: 2 * d + 2))


def at_most_per_player(evals: int) -> Callable[[BenchmarkGame, int], bool]:
    """Applicability rule ``budget <= evals * d`` (a method too slow beyond)."""
    return lambda game, budget: budget <= evals * game.n_players


def methods(shapleig: bool) -> tuple[list[Method], dict[str, str]]:
    """shapkit's methods and the anchors that import here, with the reasons of the rest."""
    anchors, skipped = build_methods(include_anchors=True)
    by_name = {m.name: m for m in anchors}
    chosen = [shapkit_method(name) for name in SHAPKIT]
    chosen += [by_name[name] for name in ANCHOR_NAMES if name in by_name]
    skipped = {name: why for name, why in skipped.items() if name in ANCHOR_NAMES}
    if shapleig:
        fn = shapiq_approximator("ShaplEIG", show_progress=False)
        chosen.append(Method("shapiq ShaplEIG", fn, at_most_per_player(20)))
    return chosen, skipped


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


def budgets_for(d: int) -> list[int]:
    """``MULTIPLES * d`` below ``2^d``, then ``2^d`` (where every sampler can be exact)."""
    grid = [m * d for m in MULTIPLES if m * d < 2**d]
    return grid + [2**d] if 2**d <= MULTIPLES[-1] * d else grid


def walk(
    method: Method, games: list[BenchmarkGame], seeds: list[int], step_cap: float
) -> list[dict]:
    """The method's cells up the budget grid: mean error (and its standard error) and mean
    seconds per explanation, until the last target is reached beyond the per-evaluation
    budgets, the grid ends, or the next step would exceed ``step_cap`` seconds."""
    d = games[0].n_players
    grid = [b for b in budgets_for(d) if method.applies(games[0], b)]
    if not grid:
        return []
    warm_up(method, games[0], grid[0])
    cells: list[dict] = []
    for budget in grid:
        if cells:
            last = cells[-1]
            predicted = last["seconds"] * budget / last["budget"] * len(games) * len(seeds)
            if predicted > step_cap:
                cells[-1]["capped"] = True
                break
        runs = [run_once(method, game, budget, seed) for game in games for seed in seeds]
        notes = sorted({r["note"] for r in runs} - {""})
        errors = np.array([r["rel_l2"] for r in runs], dtype=float)
        error, error_se = mean_and_se(errors)
        cell = {
            "method": method.name, "budget": budget, "error": error, "error_se": error_se,
            "seconds": float(np.nanmean([r["time_ms"] for r in runs])) / 1e3,
            "failed": "; ".join(notes) if np.isnan(errors).all() else "", "capped": False,
        }  # fmt: skip
        cells.append(cell)
        print(f"  {method.name:28s} {budget:6d} err {error:.5f} {cell['seconds']:.3f} s "
              f"{cell['failed']}", flush=True)  # fmt: skip
        if cell["failed"] or (error <= TARGETS[-1] and budget >= PER_EVAL[-1] * d):
            break
    return cells


def auto_with_tol(tol: float) -> Method:
    """``shapkit.shapley_values(game, d, tol=tol, budget=1000 d, seed=seed)``: auto as a
    user asks for an accuracy (the budget argument of the harness is ignored)."""

    def fn(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        import shapkit

        cap = TOL_CAP_PER_PLAYER * game.n_players
        result = shapkit.shapley_values(game.game, game.n_players, tol=tol, budget=cap, seed=seed)
        return np.asarray(result.values, dtype=np.float64).ravel()

    return Method(AUTO_TOL, fn, at_least(lambda d: 0))


def walk_tol(games: list[BenchmarkGame], seeds: list[int], step_cap: float) -> list[dict]:
    """``shapkit auto`` down the tolerance grid (:data:`TOLS`): mean error, seconds and
    evaluations (probe and pilot included) per tolerance, until the error is below the
    last target or the next step would exceed ``step_cap`` seconds (twice the last)."""
    warm_up(auto_with_tol(TOLS[0]), games[0], 0)
    cells: list[dict] = []
    for tol in TOLS:
        if cells and 2 * cells[-1]["seconds"] * len(games) * len(seeds) > step_cap:
            cells[-1]["capped"] = True
            break
        runs = [run_once(auto_with_tol(tol), game, 0, seed) for game in games for seed in seeds]
        errors = np.array([r["rel_l2"] for r in runs], dtype=float)
        error, error_se = mean_and_se(errors)
        cell = {
            "method": AUTO_TOL, "budget": int(np.mean([r["n_evals"] for r in runs])),
            "tol": tol, "error": error, "error_se": error_se,
            "seconds": float(np.nanmean([r["time_ms"] for r in runs])) / 1e3,
            "failed": "", "capped": False,
        }  # fmt: skip
        cells.append(cell)
        print(f"  {AUTO_TOL:28s} tol {tol:<7g} err {error:.5f} {cell['seconds']:.3f} s "
              f"({cell['budget']} evaluations)", flush=True)  # fmt: skip
        if error <= TARGETS[-1]:
            break
    return cells


def run_family(
    family: Family, all_methods: list[Method], explicands: int, seeds: list[int],
    step_cap: float, with_tol: bool = True,
) -> dict:  # fmt: skip
    games = [family.make(e) for e in range(explicands)]
    print(f"{family.label} (d = {games[0].n_players})", flush=True)
    cells = []
    with single_threaded(), _one_torch_thread():
        for method in all_methods:
            cells += walk(method, games, seeds, step_cap)
        if with_tol:
            cells += walk_tol(games, seeds, step_cap)
    return {"family": family, "d": games[0].n_players, "cells": cells}


class _one_torch_thread:
    """torch's intra-op pool at one thread inside (threadpoolctl does not reach it)."""

    def __enter__(self) -> None:
        try:
            import torch
        except ImportError:
            self.before = None
            return
        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def reached(cells: list[dict], method: str, target: float) -> dict | None:
    """The method's first cell with mean error at most ``target``."""
    for cell in cells:
        if cell["method"] == method and cell["error"] <= target:
            return cell
    return None


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def time_table(results: list[dict], names: list[str], target: float) -> str:
    """Seconds per explanation (and budget) at which each method first reaches ``target``,
    per game; the fastest in bold, and shapkit auto's ratio to the fastest."""
    head = "| method | " + " | ".join(
        f"{r['family'].label} (d = {r['d']}, {r['family'].cost})" for r in results
    ) + " |"  # fmt: skip
    lines = [head, "|---|" + "---|" * len(results)]
    fastest = []
    for r in results:
        hits = {n: reached(r["cells"], n, target) for n in names}
        hits = {n: c for n, c in hits.items() if c is not None}
        fastest.append(min(hits, key=lambda n: hits[n]["seconds"]) if hits else None)
    for name in names:
        row = f"| {name} |"
        for r, best in zip(results, fastest, strict=True):
            cell = reached(r["cells"], name, target)
            mine = [c for c in r["cells"] if c["method"] == name]
            if cell is not None and "tol" in cell:
                text = f"{_time(cell['seconds'])} (tol {cell['tol']:g}: {cell['budget']})"
                row += f" **{text}** |" if name == best else f" {text} |"
            elif cell is not None:
                text = f"{_time(cell['seconds'])} ({cell['budget']})"
                row += f" **{text}** |" if name == best else f" {text} |"
            elif not mine:
                row += " - |"
            elif mine[-1]["failed"]:
                row += f" failed ({mine[-1]['failed'][:40]}) |"
            elif "tol" in mine[-1]:
                row += f" not by tol {mine[-1]['tol']:g} ({mine[-1]['error']:.2g}) |"
            else:
                row += f" not by {mine[-1]['budget']} ({mine[-1]['error']:.2g}) |"
        lines.append(row)
    for auto_name in ("shapkit auto", AUTO_TOL):
        if auto_name not in names:
            continue
        ratio = f"| {auto_name} / fastest |"
        for r, best in zip(results, fastest, strict=True):
            auto = reached(r["cells"], auto_name, target)
            if best is None or auto is None:
                ratio += " - |"
            else:
                fastest_seconds = reached(r["cells"], best, target)["seconds"]
                ratio += f" {auto['seconds'] / fastest_seconds:.2f}x |"
        lines.append(ratio)
    return "\n".join(lines)


def _error_at(cells: list[dict], method: str, budget: int) -> dict | None:
    for cell in cells:
        if cell["method"] == method and cell["budget"] == budget and np.isfinite(cell["error"]):
            return cell
    return None


def per_eval_table(results: list[dict], names: list[str]) -> str:
    """At 10, 20 and 50 d: shapkit kernel against the best non-proxy anchor, shapkit
    proxy against the best proxy-class anchor (error ratios, goal <= 1 and <= 0.5), the
    proxy's seconds against OddSHAP's (goal <= 1.5)."""
    non_proxy = [n for n in names if not n.startswith("shapkit") and n not in PROXY_CLASS
                 and n != "shap Exact"]  # fmt: skip
    lines = [
        "| game | budget | shapkit kernel | best non-proxy anchor | kernel / best | "
        "shapkit proxy | best proxy-class anchor | proxy / best | proxy s / OddSHAP s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d = r["d"]
        for m in PER_EVAL:
            budget = m * d
            if budget >= 2**d:
                continue
            row = f"| {r['family'].label} | {budget} ({m} d) |"
            for mine, pool in (("shapkit kernel", non_proxy), ("shapkit proxy", PROXY_CLASS)):
                own = _error_at(r["cells"], mine, budget)
                others = {n: _error_at(r["cells"], n, budget) for n in pool}
                others = {n: c for n, c in others.items() if c is not None}
                best = min(others, key=lambda n: others[n]["error"]) if others else None
                row += f" {own['error']:.4f} |" if own else " - |"
                if best is None or own is None:
                    row += " - | - |"
                else:
                    b = others[best]
                    row += f" {best} {b['error']:.4f} | **{own['error'] / b['error']:.2f}x** |"
            proxy = _error_at(r["cells"], "shapkit proxy", budget)
            odd = _error_at(r["cells"], "shapiq OddSHAP", budget)
            row += f" {proxy['seconds'] / odd['seconds']:.1f}x |" if proxy and odd else " - |"
            lines.append(row)
    return "\n".join(lines)


def error_table(results: list[dict], names: list[str]) -> str:
    """Every method's mean error at every budget it ran (seconds per explanation)."""
    lines = ["| game | method | " + " | ".join(f"{m} d" for m in MULTIPLES) + " | 2^d |",
             "|---|---|" + "---|" * (len(MULTIPLES) + 1)]  # fmt: skip
    for r in results:
        d = r["d"]
        columns = [m * d for m in MULTIPLES] + [2**d]
        for name in names:
            mine = {c["budget"]: c for c in r["cells"] if c["method"] == name}
            if not mine or name == AUTO_TOL:  # its own grid, in the time tables
                continue
            row = f"| {r['family'].label} | {name} |"
            for budget in columns:
                c = mine.get(budget)
                row += (f" {c['error']:.2g} ({_time(c['seconds'])}) |" if c is not None
                        and np.isfinite(c["error"]) else " |")  # fmt: skip
            lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", default=",".join(f.key for f in FAMILIES))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--explicands", type=int, default=3)
    parser.add_argument("--step-cap", type=float, default=60.0,
                        help="stop a method when its next budget's runs would take longer")
    parser.add_argument("--shapleig", action="store_true",
                        help="also run shapiq's ShaplEIG (tens of seconds per call)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--methods", default="",
                        help="comma-separated method names to run (default: all); implies "
                        "--no-write")  # fmt: skip
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    keys = args.games.split(",")
    families = [f for f in FAMILIES if f.key in keys]
    all_methods, skipped = methods(args.shapleig)
    if args.methods:  # a partial run: printed, never published
        wanted = set(args.methods.split(","))
        all_methods = [m for m in all_methods if m.name in wanted]
        args.no_write = True
    with_tol = not args.methods or AUTO_TOL in args.methods.split(",")
    names = [m.name for m in all_methods] + ([AUTO_TOL] if with_tol else [])
    started = time.perf_counter()
    results = [
        run_family(f, all_methods, args.explicands, list(range(args.seeds)), args.step_cap,
                   with_tol)  # fmt: skip
        for f in families
    ]
    machine = machine_description()
    command = " ".join(["python -m benchmarks.anchors", *sys.argv[1:]])
    packages = ("shap", "shapiq", "xgboost", "torch", "scikit-learn", "numpy")
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
    skipped_text = "".join(f"- {n} skipped: {why}\n" for n, why in skipped.items())
    text = (
        f"`{command}` ({(time.perf_counter() - started) / 60:.0f} min in all; "
        f"{machine['CPU']}, {machine['cores (usable)']} cores, Python {machine['python']}, "
        f"{versions}, git {machine['git']}). {args.explicands} explained rows x "
        f"{args.seeds} seeds per cell; error = mean relative L2 error to the exact values; "
        f"seconds per explanation with the game's evaluations, one thread everywhere. "
        f"Budget grid: {', '.join(map(str, MULTIPLES))} evaluations per player, and 2^d "
        f"where smaller; a method stops once its error is below 0.1% (from 50 d on), or "
        f"when its next step would take over {args.step_cap:.0f} s. '{AUTO_TOL}' is "
        f"`method='auto'` asked for an accuracy instead: `tol=t` with a budget of "
        f"{TOL_CAP_PER_PLAYER} d (enumeration where 2^d fits), walking t = "
        f"{', '.join(f'{t:g}' for t in TOLS)}; its cells give the first t that reached the "
        f"target and the mean evaluations it used, the timing probe and pilot included.\n\n"
        f"{skipped_text}\n"
        f"### Time to 1% mean relative error\n\nSeconds per explanation (and the budget) "
        f"of the first grid budget at which the mean error is at most 1%; the fastest in "
        f"bold. 'not by B (e)': the error e at the last budget B run.\n\n"
        f"{time_table(results, names, 0.01)}\n\n"
        f"### Time to 0.1% mean relative error\n\n{time_table(results, names, 0.001)}\n\n"
        f"### Accuracy per evaluation\n\nshapkit's kernel estimator against the best "
        f"non-proxy anchor (goal: at most 1x) and its proxy against the best proxy-class "
        f"anchor, OddSHAP, RegressionMSR or ProxySHAP (goal: at most 0.5x); the proxy's "
        f"seconds against OddSHAP's at the same budget (goal: at most 1.5x).\n\n"
        f"{per_eval_table(results, names)}\n\n"
        f"### Every method's error (seconds per explanation)\n\n"
        f"{error_table(results, names)}\n"
    )
    publish(text, DOC, BEGIN, END, write=not args.no_write)


if __name__ == "__main__":
    main()
