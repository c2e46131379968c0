"""Boosted classifiers in probability space: games on the compiled trees vs model calls.

A boosted classifier's probabilities are the sigmoid (softmax) of its trees' margins, so
TreeSHAP does not apply and shapkit evaluates the marginal game. Since #20 it evaluates
it on the compiled trees (``settings["evaluated_on"]``); the model-call path it replaced
is timed by passing ``model.predict_proba`` as a plain callable, the same estimator and
seed: the estimator ``method="auto"`` chooses for the compiled game (its choice is made
once, untimed, and given to both paths, since auto times each game and could choose
differently for the slower one). Cases (make_classification, 100 background rows):
binary d = 10 (enumeration), three classes d = 8 (enumeration), binary d = 30 (a sampling
estimator, default budget and tol). shap's ``TreeExplainer(model, background,
model_output="probability")`` (interventional; it rescales each background row's margin
attributions to the probability gap, an approximation) is timed on the binary d = 10 case
with its largest difference from the exact values. One timed call per cell after a
warm-up; the table goes between the TREE_LINKS markers of docs/benchmarks.md.

Usage: ``python -m benchmarks.tree_links [--rows N] [--no-write]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .machine import machine_description
from .report import publish

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- TREE_LINKS:BEGIN -->", "<!-- TREE_LINKS:END -->"
#: (name, features, classes, share of the explained rows)
CASES = (("binary, d = 10", 10, 2, 1.0), ("3 classes, d = 8", 8, 3, 0.5),
         ("binary, d = 30", 30, 2, 0.1))  # fmt: skip


def models() -> dict[str, object]:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier

    return {
        "XGBoost 100x depth 6": xgb.XGBClassifier(n_estimators=100, max_depth=6, random_state=0),
        "LightGBM 100 trees": lgb.LGBMClassifier(n_estimators=100, verbose=-1, random_state=0),
        "GradientBoosting 100x depth 3": GradientBoostingClassifier(random_state=0),
        "HistGradientBoosting 100": HistGradientBoostingClassifier(max_iter=100, random_state=0),
    }


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _shap(model, X: np.ndarray, B: np.ndarray) -> tuple[float, np.ndarray | None]:
    try:
        import shap
    except ImportError:
        return float("nan"), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            seconds, vals = _timed(
                lambda: np.asarray(
                    shap.TreeExplainer(model, B, model_output="probability").shap_values(
                        X, check_additivity=False
                    )
                )
            )
        except Exception:  # noqa: BLE001 - a model shap does not take in this space
            return float("nan"), None
    if vals.ndim == 3 and vals.shape[0] != X.shape[0]:
        vals = np.moveaxis(vals, 0, -1)
    return seconds, vals


def run(n_rows: int) -> list[dict[str, object]]:
    from sklearn.datasets import make_classification

    import shapkit

    results = []
    for case, d, k, share in CASES:
        X, y = make_classification(n_samples=3000, n_features=d, n_informative=6,
                                   n_classes=k, random_state=0)  # fmt: skip
        B, rows = X[:100], X[1000 : 1000 + max(int(n_rows * share), 2)]
        for name, model in models().items():
            model.fit(X, y)
            shapkit.explain(model, rows[:2], B, seed=0)  # warm-up: JIT, imports
            # the estimator auto chooses for the compiled game, given to both paths
            est = shapkit.Explainer(model, B, seed=0).row_job(rows).estimator
            trees_s, ours = _timed(
                lambda m=model, r=rows, b=B, e=est: shapkit.explain(m, r, b, seed=0, method=e)
            )
            model_s, ref = _timed(
                lambda m=model, r=rows, b=B, e=est: shapkit.explain(
                    m.predict_proba, r, b, seed=0, method=e
                )
            )
            row = {"case": case, "model": name, "rows": rows.shape[0], "method": ours.method,
                   "trees": trees_s, "calls": model_s,
                   "diff": float(np.abs(ours.values - ref.values).max()),
                   "evaluated_on": ours.settings["evaluated_on"]}  # fmt: skip
            if case == CASES[0][0]:
                shap_s, vals = _shap(model, rows, B)
                row["shap"] = shap_s
                if vals is not None:
                    positive = ours.values[..., 1] if vals.ndim == 2 else ours.values
                    row["shap_diff"] = float(np.abs(vals - positive).max())
            results.append(row)
            print(row, flush=True)
    return results


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| case | model | rows | method | compiled trees (s) | model calls (s) | speed-up "
        "| max abs diff | shap TreeExplainer probability (s) | shap max abs error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        shap_s = f"{r['shap']:.3g}" if "shap" in r and np.isfinite(r["shap"]) else "-"
        shap_e = f"{r['shap_diff']:.2g}" if "shap_diff" in r else "-"
        lines.append(
            f"| {r['case']} | {r['model']} | {r['rows']} | {r['method']} | {r['trees']:.3g} | "
            f"{r['calls']:.3g} | {r['calls'] / r['trees']:.1f}x | {r['diff']:.1g} | {shap_s} "
            f"| {shap_e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200, help="explained rows (binary d = 10)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.rows)
    machine = machine_description()
    command = " ".join(["python -m benchmarks.tree_links", *sys.argv[1:]])
    text = (
        f"`{command}` ({time.perf_counter() - started:.0f} s in all; {machine['CPU']}, "
        f"{machine['cores (usable)']} cores, Python {machine['python']}, shap "
        f"{machine.get('shap', '?')}, git {machine['git']}). `compiled trees`: "
        f"`shapkit.explain(model, X, B, seed=0, method=est)`; `model calls`: the same with "
        f"`model.predict_proba` as a plain callable (the path before #20 item 5); `est` "
        f"is the estimator `method=\"auto\"` chooses for the compiled game (chosen once, "
        f"untimed, for both); one timed call each after a warm-up. `max abs diff` is "
        f"between the two (XGBoost rounds its probabilities to float32). shap's "
        f"probability-space TreeExplainer rescales margin attributions: its error is "
        f"against shapkit's exact values of the positive class.\n\n{table(results)}\n"
    )
    publish(text, DOC, BEGIN, END, write=not args.no_write)


if __name__ == "__main__":
    main()
