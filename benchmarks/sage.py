"""SAGE values: shapkit.sage against sage-importance, both at their default settings.

``python -m benchmarks.sage [--seeds N] [--out FILE] [--docs]``: for each data set, the
exact SAGE values (every coalition on every row, shapkit's ``method="exact"``, checked
against a direct enumeration of sage-importance's own imputer on the first data set)
and, over ``--seeds`` seeds, each estimator's wall time and its error against them:
the root mean square over features, relative to the spread of the exact values, and
the share of values within 3 of their standard errors. Every estimator runs once
before it is timed (Numba's compilation stays out). Both use the same background rows,
the same loss and every row of X; sage-importance's ``PermutationEstimator`` runs with
its defaults (convergence at a standard deviation of 2.5 % of the value range),
shapkit with its own (``tol=0.01``, 1 % of the range). The models are tree ensembles,
which shapkit evaluates on their compiled trees: "shapkit auto" is the default call,
"shapkit permutation" forces the sampled estimator on the trees, and "shapkit auto,
model calls" passes the model's ``predict_proba`` (``predict``) as a plain callable,
which shapkit can only call, as for a model without readable trees.

Prints a markdown table; ``--docs`` writes it into the marked blocks of docs/sage.md and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

_DOCS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
#: The pages whose marked block ``--docs`` rewrites.
DOCS = [os.path.join(_DOCS_DIR, "sage.md"), os.path.join(_DOCS_DIR, "benchmarks.md")]
BEGIN, END = "<!-- sage-tables:begin -->", "<!-- sage-tables:end -->"


def datasets():
    """(name, model, X, y, background, loss): a regression and two multi-class sets
    with at most 10 features, so that exact enumeration gives the reference."""
    from sklearn.datasets import load_diabetes, load_wine, make_classification
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    reg = GradientBoostingRegressor(random_state=0).fit(X, y)
    yield ("diabetes (442 x 10), GradientBoostingRegressor, mse", reg, X, y.to_numpy(),
           X.sample(24, random_state=0), "mse")  # fmt: skip
    Xw, yw = load_wine(return_X_y=True, as_frame=True)
    Xw = Xw.iloc[:, :10]
    clf = GradientBoostingClassifier(random_state=0).fit(Xw, yw)
    yield ("wine, first 10 columns (178 x 10), 3 classes, GradientBoostingClassifier, "
           "cross-entropy", clf, Xw, yw.to_numpy(), Xw.sample(24, random_state=0),
           "cross_entropy")  # fmt: skip
    Xs, ys = make_classification(n_samples=3000, n_features=8, n_informative=5, n_classes=3,
                                 random_state=0)  # fmt: skip
    clf2 = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(Xs, ys)
    yield ("make_classification (3000 x 8), 3 classes, GradientBoostingClassifier, "
           "cross-entropy", clf2, Xs, ys, Xs[np.random.default_rng(0).choice(3000, 24, False)],
           "cross_entropy")  # fmt: skip


def run_sage_importance(model, X, y, background, loss, seed):
    import sage

    predict = model.predict_proba if loss == "cross_entropy" else model.predict
    imputer = sage.MarginalImputer(predict, np.asarray(background, dtype=float))
    name = "cross entropy" if loss == "cross_entropy" else "mse"
    estimator = sage.PermutationEstimator(imputer, name, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = estimator(np.asarray(X, dtype=float), np.asarray(y), bar=False)
    return out.values, out.std


def run_shapkit(model, X, y, background, loss, seed, method):
    import shapkit

    g = shapkit.sage(model, X, y, background=background, loss=loss, method=method, seed=seed)
    return g.values, g.std_errors


def measure(seeds: int) -> list[dict]:
    import shapkit

    rows = []
    for name, model, X, y, background, loss in datasets():
        exact = shapkit.sage(model, X, y, background=background, loss=loss, method="exact")
        spread = float(exact.values.max() - exact.values.min())
        # the model's own output method: shapkit can only call it (no compiled trees)
        called = model.predict_proba if loss == "cross_entropy" else model.predict
        runners = {
            "shapkit auto": lambda s, m=model, X=X, y=y, b=background, lo=loss: run_shapkit(
                m, X, y, b, lo, s, "auto"),
            "shapkit permutation": lambda s, m=model, X=X, y=y, b=background, lo=loss: (
                run_shapkit(m, X, y, b, lo, s, "permutation")),
            "shapkit auto, model calls": lambda s, m=called, X=X, y=y, b=background, lo=loss: (
                run_shapkit(m, X, y, b, lo, s, "auto")),
        }
        try:
            import sage  # noqa: F401

            runners["sage-importance"] = (
                lambda s, m=model, X=X, y=y, b=background, lo=loss: run_sage_importance(
                    m, X, y, b, lo, s))  # fmt: skip
        except ImportError:
            pass
        for label, run in runners.items():
            run(1000)  # warm-up
            for seed in range(seeds):
                t = time.perf_counter()
                values, errors = run(seed)
                seconds = time.perf_counter() - t
                err = np.asarray(values) - exact.values
                rows.append({
                    "data": name, "method": label, "seed": seed, "seconds": seconds,
                    "rmse": float(np.sqrt(np.mean(err**2))) / spread,
                    "within_3se": float(np.mean(np.abs(err) <= 3 * np.asarray(errors))),
                })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    lines = ["| data | method | seeds | seconds | error (RMSE / spread) | values within 3 SE "
             "| time vs sage-importance | error vs sage-importance |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for data, part in df.groupby("data", sort=False):
        means = part.groupby("method", sort=False)[["seconds", "rmse", "within_3se"]].mean()
        ref = means.loc["sage-importance"] if "sage-importance" in means.index else None
        for method, r in means.iterrows():
            vs_t = "–" if ref is None else f"{r.seconds / ref.seconds:.2f}x"
            vs_e = "–" if ref is None else f"{r.rmse / ref.rmse:.2f}x"
            lines.append(f"| {data} | {method} | {part.seed.nunique()} | {r.seconds:.2f} | "
                         f"{r.rmse:.4f} | {r.within_3se:.2f} | {vs_t} | {vs_e} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per estimator (5)")
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--docs", action="store_true",
                        help="write it into docs/sage.md and docs/benchmarks.md")
    args = parser.parse_args(argv)
    from benchmarks.machine import machine_description

    text = table(measure(args.seeds))
    info = machine_description()
    text += (f"\nCommand: `python -m benchmarks.sage --seeds {args.seeds}`. Machine: "
             f"{info['CPU']}, {info['cores (usable)']} cores, Python {info['python']}, "
             f"git {info['git']}.\n")  # fmt: skip
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    if args.docs:
        write_docs(text)


def write_docs(text: str) -> None:
    """Put ``text`` between the markers of every page in :data:`DOCS`."""
    from benchmarks.report import write_marked_block

    for page in DOCS:
        write_marked_block(page, BEGIN, END, text)


if __name__ == "__main__":
    main()
