"""Exact tree interactions: shapkit's leaf algorithm against shapiq's TreeExplainer
(TreeSHAP-IQ, with its Woodelf backend where installed) and shap's C++
``shap_interaction_values``, on the same rows, in the same run.

For each model (scikit-learn, XGBoost and LightGBM ensembles, depth 3 to 10, d = 30)
and game (path-dependent: node covers, no background; interventional: 100 background
rows), k-SII up to order 2 of 200 explained rows in one call:
``shapkit.Explainer(model, background).interactions(X)`` against
``shapiq.TreeExplainer(model, mode=..., index="k-SII", max_order=2).explain_X(X)`` and,
for the path-dependent game, ``shap.TreeExplainer(model).shap_interaction_values(X)``
(whose matrix is k-SII's ``to_matrix()``). Times are the best of two calls after a
warm-up (Numba compilation, imports), with each library's default threads (shapkit:
Numba's, 2 here) and, for shapkit, also one thread; the largest absolute difference to
shapkit's values is reported. Needs Python >= 3.12 with shapiq 1.8 and shap 0.54
(``benchmarks/env312.sh``). The table goes between the TREE-INTERACTIONS markers of
docs/benchmarks.md.

Usage: ``python -m benchmarks.tree_interactions [--rows N] [--no-write]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .machine import machine_description, package_version
from .report import publish

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- TREE-INTERACTIONS:BEGIN -->", "<!-- TREE-INTERACTIONS:END -->"


def models() -> list[tuple[str, object, np.ndarray]]:
    """(label, fitted model, data) of the benchmark."""
    import lightgbm
    import xgboost
    from sklearn.datasets import load_breast_cancer, make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    cancer, label = load_breast_cancer(return_X_y=True)
    X, y = make_friedman1(5000, n_features=30, noise=0.5, random_state=0)
    return [
        ("GradientBoosting(100, depth 3), breast_cancer",
         GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0)
         .fit(cancer, label), cancer),
        ("RandomForest(100, depth 8), friedman1",
         RandomForestRegressor(100, max_depth=8, random_state=0, n_jobs=1).fit(X, y), X),
        ("XGBoost(100, depth 6), friedman1",
         xgboost.XGBRegressor(n_estimators=100, max_depth=6, random_state=0, n_jobs=1)
         .fit(X, y), X),
        ("XGBoost(100, depth 10), friedman1",
         xgboost.XGBRegressor(n_estimators=100, max_depth=10, random_state=0, n_jobs=1)
         .fit(X, y), X),
        ("LightGBM(100, 63 leaves), friedman1",
         lightgbm.LGBMRegressor(n_estimators=100, num_leaves=63, random_state=0, n_jobs=1,
                                verbose=-1).fit(X, y), X),
    ]  # fmt: skip


def best_of_two(fn: Callable[[], object]) -> tuple[object, float]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(2):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, min(times)


def shapiq_pairs(batch, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``main (n, d)`` and ``pairs (n, d, d)`` from a shapiq InteractionValuesBatch."""
    main, pairs = np.zeros((n, d)), np.zeros((n, d, d))
    for r in range(n):
        values = batch[r]
        main[r] = values.get_n_order_values(1)
        pairs[r] = values.get_n_order_values(2)
    return main, pairs


def run(n_rows: int) -> list[dict]:
    import numba
    import shap
    import shapiq

    import shapkit

    results = []
    for label, model, X in models():
        rows, background = X[-n_rows:], X[:100]
        d = X.shape[1]
        for mode in ("path-dependent", "interventional"):
            bg = None if mode == "path-dependent" else background
            cell = {"model": label, "mode": mode}
            explainer = shapkit.Explainer(model, bg)
            inter, cell["shapkit"] = best_of_two(
                lambda e=explainer, r=rows: e.interactions(r, index="k-SII"))  # fmt: skip
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            _, cell["shapkit 1 thread"] = best_of_two(
                lambda e=explainer, r=rows: e.interactions(r, index="k-SII"))  # fmt: skip
            numba.set_num_threads(threads)
            cell["method"] = inter.method
            options = {} if bg is None else {"reference_dataset": bg}
            tree = shapiq.TreeExplainer(
                model=model, mode="pathdependent" if bg is None else "interventional",
                index="k-SII", max_order=2, min_order=1, **options,
            )  # fmt: skip
            batch, cell["shapiq"] = best_of_two(lambda t=tree, r=rows: t.explain_X(r))
            main, pairs = shapiq_pairs(batch, n_rows, d)
            cell["shapiq diff"] = max(float(np.abs(main - inter.main).max()),
                                      float(np.abs(pairs - inter.pairs).max()))  # fmt: skip
            if bg is None:
                reference, cell["shap"] = best_of_two(
                    lambda m=model, r=rows: np.asarray(
                        shap.TreeExplainer(m).shap_interaction_values(r)))  # fmt: skip
                cell["shap diff"] = float(np.abs(reference - inter.to_matrix()).max())
            results.append(cell)
            print(cell, flush=True)
    return results


def table(results: list[dict]) -> str:
    lines = [
        "| model | game | shapkit (s) | shapkit, 1 thread (s) | shapiq TreeExplainer (s) | "
        "shapiq / shapkit | shap C++ (s) | shap / shapkit | largest difference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results:
        shap_cells = (f" {c['shap']:.3f} | {c['shap'] / c['shapkit']:.1f}x |" if "shap" in c
                      else " - | - |")  # fmt: skip
        diff = max(c["shapiq diff"], c.get("shap diff", 0.0))
        lines.append(
            f"| {c['model']} | {c['mode']} | {c['shapkit']:.3f} | {c['shapkit 1 thread']:.3f} "
            f"| {c['shapiq']:.3f} | **{c['shapiq'] / c['shapkit']:.1f}x** |{shap_cells} "
            f"{diff:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    results = run(args.rows)
    machine = machine_description()
    command = " ".join(["python -m benchmarks.tree_interactions", *sys.argv[1:]])
    packages = ("shapiq", "woodelf-explainer", "shap", "xgboost", "lightgbm")
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
    text = (
        f"`{command}` ({time.perf_counter() - started:.0f} s in all; {machine['CPU']}, "
        f"{machine['cores (usable)']} cores, Python {machine['python']}, {versions}, git "
        f"{machine['git']}). k-SII up to order 2 of {args.rows} rows in one call; seconds "
        f"are the best of two calls after a warm-up; 'largest difference': the largest "
        f"absolute difference of any term from shapkit's (shap: its interaction matrix "
        f"against `to_matrix()`).\n\n{table(results)}\n"
    )
    publish(text, DOC, BEGIN, END, write=not args.no_write)


if __name__ == "__main__":
    main()
