"""Feature selection on synthetic data with known relevant features.

``python -m benchmarks.selection [--quick] [--seeds N] [--first-seed S] [--null-seeds N]
[--max-minutes M] [--methods NAME ...] [--csv FILE] [--out FILE] [--docs]``: runs
ShapSelector(strategy="probe") side by side with scikit-learn's RFECV, SelectFromModel
(impurity/gain importance), a permutation-importance threshold, powershap and shap-select
(when importable; they are looked for in ``$SHAPKIT_SELECTION_EXTRAS`` too, a ``pip
install --target`` folder, because powershap's pins would downgrade shap in the project
environment). ``ShapSelector(importance="sage")`` runs only when named in ``--methods``
(it costs 40-240 s per run).
Every method gets the same LightGBM model (50 trees, 15 leaves, one thread). Each data
set is split 70/30: selection on the 70 %, then a refit on the selected columns scored
on the 30 % (accuracy / R^2; a dummy model when nothing is selected).

Prints a markdown table (one row per data family and method: mean TPR, FPR, F1, number
selected, held-out score, seconds), F1 per data set, F1 on the runs every method made and
the null-data counts; ``--out`` writes them to a file, ``--docs`` into the marked block of
the "Feature selection" section of docs/benchmarks.md. Default grid: 3 seeds of every
grid point (see ``GRID_CLF``, ``GRID_RED``), 40 null data sets. Runs over other seeds
(``--first-seed``) can go side by side on other cores; ``--from-csv A.csv B.csv`` makes
the tables from their rows joined.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
import zlib
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


@dataclass
class Problem:
    family: str
    name: str
    X: pd.DataFrame
    y: np.ndarray
    relevant: set
    task: str  # "clf" or "reg"
    data_seed: int = 0

    def run_seed(self) -> int:
        """The split and model seed of this data set: derived from its family, name and
        data seed, so that it does not change when grid points are added or reordered."""
        return zlib.crc32(f"{self.family}|{self.name}|{self.data_seed}".encode()) % 2**31


# ----------------------------------------------------------------------------- data


def classification(n, p, frac_inf, redundant, seed):
    """make_classification with shuffle=False, then a seeded shuffle of rows and
    columns (what shuffle=True does) that keeps track of the relevant columns."""
    from sklearn.datasets import make_classification

    n_inf = max(2, int(round(frac_inf * p)))
    n_red = n_inf // 2 if redundant else 0
    X, y = make_classification(
        n_samples=n, n_features=p, n_informative=n_inf, n_redundant=n_red, n_repeated=0,
        shuffle=False, random_state=seed, flip_y=0.02,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    cols = rng.permutation(p)
    rows = rng.permutation(n)
    X, y = X[rows][:, cols], y[rows]
    relevant = {f"f{j}" for j in range(p) if cols[j] < n_inf + n_red}
    family = "classif+redundant" if redundant else "classif"
    name = f"n={n} p={p} inf={n_inf} red={n_red}"
    return Problem(family, name, _frame(X), y, relevant, "clf", seed)


def friedman(n, p, seed):
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=n, n_features=p, noise=1.0, random_state=seed)
    relevant = {f"f{j}" for j in range(5)}
    return Problem("friedman1", f"n={n} p={p}", _frame(X), y, relevant, "reg", seed)


def high_cardinality(n, seed):
    """Regression on 4 of 10 numeric columns plus a 300-level categorical noise column
    (integer codes), the classic trap of impurity importance."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    y = 2 * X[:, 0] + X[:, 1] ** 2 + np.sin(2 * X[:, 2]) + X[:, 3] * X[:, 0]
    y = y + 0.5 * rng.normal(size=n)
    frame = _frame(X)
    frame["zip"] = rng.integers(0, 300, size=n)
    relevant = {f"f{j}" for j in range(4)}
    return Problem("highcard-cat", f"n={n} p=11", frame, y, relevant, "reg", seed)


def null(n, p, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = rng.integers(0, 2, size=n)
    return Problem("null", f"n={n} p={p}", _frame(X), y, set(), "clf", seed)


def _frame(X):
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])


# (n, p, informative fraction) of make_classification; the grid is n in {1000, 5000},
# p in {20, 100, 250}, 10-50 % informative, with and without redundant features
GRID_CLF = [(1000, 20, 0.25), (1000, 20, 0.5), (1000, 100, 0.1), (1000, 250, 0.1),
            (5000, 20, 0.25), (1000, 100, 0.5), (5000, 250, 0.1), (5000, 100, 0.1),
            (1000, 250, 0.5)]  # fmt: skip
GRID_RED = [(1000, 20, 0.25), (1000, 100, 0.1), (5000, 100, 0.1), (1000, 250, 0.1)]
# the grid points run last (after every seed of the others): the slowest ones
EXPENSIVE = {("classif", 1000, 100, 0.5), ("classif", 5000, 250, 0.1),
             ("classif+redundant", 5000, 100, 0.1), ("classif", 5000, 100, 0.1),
             ("classif", 1000, 250, 0.5), ("classif+redundant", 1000, 250, 0.1)}  # fmt: skip


def problems(quick: bool, seeds: int = 3, null_seeds: int = 40, first_seed: int = 0):
    """The data sets, cheap ones first: every seed of the cheaper grid points, the null
    data sets, then the expensive grid points (so that a run cut short still covers
    every family with all its seeds)."""
    if quick:
        return [
            classification(1000, 20, 0.25, False, 0), classification(1000, 20, 0.25, True, 0),
            friedman(1000, 20, 0), high_cardinality(1000, 0),
        ] + [null(500, 20, 100 + s) for s in range(5)]  # fmt: skip
    cheap, costly = [], []
    for s in range(first_seed, first_seed + seeds):
        for grid, red, fam in ((GRID_CLF, False, "classif"), (GRID_RED, True, "classif+redundant")):
            for n, p, f in grid:
                (costly if (fam, n, p, f) in EXPENSIVE else cheap).append(
                    classification(n, p, f, red, s)
                )
        cheap += [friedman(1000, 20, s), friedman(1000, 100, s), high_cardinality(1000, s)]
    nulls = [null(500, 20, 100 + s) for s in range(null_seeds)]
    return cheap + nulls + costly


# ----------------------------------------------------------------------------- methods


def model(task, seed):
    import lightgbm as lgb

    kw = dict(n_estimators=50, num_leaves=15, learning_rate=0.1, n_jobs=1, verbose=-1,
              random_state=seed)  # fmt: skip
    return lgb.LGBMClassifier(**kw) if task == "clf" else lgb.LGBMRegressor(**kw)


def sel_probe(pr, X, y, seed):
    from shapkit.selection import ShapSelector

    s = ShapSelector(model(pr.task, seed), strategy="probe", cv=5, n_repeats=5, seed=seed)
    return list(s.fit(X, y).get_feature_names_out())


def sel_probe_sage(pr, X, y, seed):
    from shapkit.selection import ShapSelector

    s = ShapSelector(model(pr.task, seed), strategy="probe", importance="sage", cv=5,
                     n_repeats=5, seed=seed)  # fmt: skip
    return list(s.fit(X, y).get_feature_names_out())


def sel_rfecv(pr, X, y, seed):
    from sklearn.feature_selection import RFECV

    step = 1 if X.shape[1] <= 20 else 0.1
    s = RFECV(model(pr.task, seed), step=step, cv=3, n_jobs=1)
    return list(X.columns[s.fit(X, y).get_support()])


def sel_sfm(pr, X, y, seed):
    from sklearn.feature_selection import SelectFromModel

    est = model(pr.task, seed).set_params(importance_type="gain")
    s = SelectFromModel(est, threshold="mean").fit(X, y)
    return list(X.columns[s.get_support()])


def sel_permutation(pr, X, y, seed):
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    strat = y if pr.task == "clf" else None
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=strat)
    est = model(pr.task, seed).fit(Xa, ya)
    r = permutation_importance(est, Xb, yb, n_repeats=5, random_state=seed, n_jobs=1)
    keep = r.importances_mean - 2 * r.importances_std > 0
    return list(X.columns[keep])


def _extra(module: str, name: str):
    """``module.name`` from the project environment or ``$SHAPKIT_SELECTION_EXTRAS``
    (appended to the path, so the project's own packages win); None when it does not
    import."""
    extra = os.environ.get("SHAPKIT_SELECTION_EXTRAS", "/tmp/selextras")
    if os.path.isdir(extra) and extra not in sys.path:
        sys.path.append(extra)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(__import__(module, fromlist=[name]), name)
    except Exception:  # noqa: BLE001 - not installed or broken: leave it out
        return None


def _powershap():
    return _extra("powershap", "PowerShap")


def sel_shap_select(pr, X, y, seed):
    """shap-select's own recipe: fit on 70 % of the selection data, then regress the
    target on the SHAP values of the other 30 % and keep the significant features with a
    positive coefficient (``selected == 1``)."""
    from sklearn.model_selection import train_test_split

    shap_select = _extra("shap_select", "shap_select")
    strat = y if pr.task == "clf" else None
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=strat)
    est = model(pr.task, seed).fit(Xa, ya)
    if pr.task == "reg":
        task = "regression"
    else:
        task = "binary" if len(np.unique(y)) == 2 else "multiclass"
    table = shap_select(est, Xb.reset_index(drop=True), pd.Series(yb), task=task)
    return list(table.loc[table["selected"] == 1, "feature name"])


def sel_powershap(pr, X, y, seed):
    PowerShap = _powershap()
    s = PowerShap(model=model(pr.task, seed), verbose=False)
    s.fit(X, y)
    return list(X.columns[s.get_support()])


METHODS = {
    "shapkit probe": sel_probe,
    "shapkit probe (SAGE)": sel_probe_sage,
    "RFECV": sel_rfecv,
    "SelectFromModel (gain)": sel_sfm,
    "permutation (mean-2sd>0)": sel_permutation,
    "powershap": sel_powershap,
    "shap-select": sel_shap_select,
}
#: shap-select's recursive ablation (a regression per dropped feature) took 0.3 s per run
#: at p = 20 and 367 s at p = 100: it runs where p is at most this.
SHAP_SELECT_MAX_FEATURES = 20
#: Methods run only when named in ``--methods``: SAGE-based selection costs 3-13 s per
#: run at n = 1000, p = 20 (a SAGE estimate per fit, 25 fits; docs/sage.md).
OPT_IN = ("shapkit probe (SAGE)",)


# ----------------------------------------------------------------------------- run


def heldout_score(pr, Xtr, ytr, Xte, yte, selected, seed):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if not selected:
        est = DummyClassifier() if pr.task == "clf" else DummyRegressor()
        return est.fit(Xtr, ytr).score(Xte, yte)
    return model(pr.task, seed).fit(Xtr[selected], ytr).score(Xte[selected], yte)


def evaluate(pr, method, seed, powershap_max_cells):
    from sklearn.model_selection import train_test_split

    strat = pr.y if pr.task == "clf" else None
    Xtr, Xte, ytr, yte = train_test_split(pr.X, pr.y, test_size=0.3, random_state=seed,
                                          stratify=strat)  # fmt: skip
    Xtr, Xte = Xtr.reset_index(drop=True), Xte.reset_index(drop=True)
    if method == "powershap" and Xtr.shape[0] * Xtr.shape[1] > powershap_max_cells:
        return None
    if method == "shap-select" and Xtr.shape[1] > SHAP_SELECT_MAX_FEATURES:
        return None
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selected = METHODS[method](pr, Xtr, ytr, seed)
    seconds = time.perf_counter() - t
    chosen = set(selected)
    p = pr.X.shape[1]
    tp = len(chosen & pr.relevant)
    fp = len(chosen - pr.relevant)
    fn = len(pr.relevant - chosen)
    tpr = tp / len(pr.relevant) if pr.relevant else np.nan
    fpr = fp / (p - len(pr.relevant))
    f1 = 2 * tp / (2 * tp + fp + fn) if pr.relevant else np.nan
    score = heldout_score(pr, Xtr, ytr, Xte, yte, selected, seed)
    return {
        "family": pr.family, "problem": pr.name, "method": method, "tpr": tpr, "fpr": fpr,
        "f1": f1, "n_selected": len(chosen), "none_selected": len(chosen) == 0,
        "score": score, "seconds": seconds, "seed": seed,
        "selected": " ".join(sorted(chosen, key=str)),
    }  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, small problems")
    parser.add_argument("--out", help="write the markdown table here")
    parser.add_argument("--csv", help="write the per-run rows here")
    parser.add_argument(
        "--from-csv", nargs="+", help="only re-make the tables from --csv files (their rows joined)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per grid point (3)")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first data seed of the grid points (0): another run with "
        "--first-seed 3 --null-seeds 0 adds seeds 3-5, and --from-csv "
        "joins the two runs' rows",
    )
    parser.add_argument("--null-seeds", type=int, default=40, help="null data sets (40)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=None,
                        help="run only these methods (default: all that import)")  # fmt: skip
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="start no new data set after this many minutes (the table "
                             "says which were not run)")  # fmt: skip
    parser.add_argument(
        "--docs",
        action="store_true",
        help="write the tables into docs/benchmarks.md (Feature selection)",
    )
    args = parser.parse_args(argv)
    if args.from_csv:
        # "null" is a family name here, not a missing value
        df = pd.concat(
            [pd.read_csv(f, keep_default_na=False, na_values=["", "nan", "NaN"])
             for f in args.from_csv],
            ignore_index=True,
        )  # fmt: skip
        total = df.attrs.get("total")
        text = tables_text(df, args.quick, total, list(df["method"].unique()), [])
        emit(text, args)
        return
    available = {"powershap": _powershap() is not None,
                 "shap-select": _extra("shap_select", "shap_select") is not None}  # fmt: skip
    asked = args.methods or [m for m in METHODS if m not in OPT_IN]
    methods = [m for m in asked if available.get(m, True)]
    # powershap refits many models per run: keep it to the smaller problems
    powershap_cells = 700 * 20 if args.quick else 700 * 100
    rows = []
    skipped = []
    t0 = time.perf_counter()
    all_problems = problems(args.quick, args.seeds, args.null_seeds, args.first_seed)
    for pr in all_problems:
        if args.max_minutes is not None and time.perf_counter() - t0 > 60 * args.max_minutes:
            skipped.append(f"{pr.family} {pr.name}")
            continue
        seed = pr.run_seed()
        for method in methods:
            if pr.family == "null" and method == "powershap" and pr.data_seed % 4:
                continue  # every 4th null data set only: it is slow
            r = evaluate(pr, method, seed, powershap_cells)
            if r is not None:
                rows.append(r)
        if args.csv:  # after every data set, so that a run cut short keeps its rows
            pd.DataFrame(rows).to_csv(args.csv, index=False)
        print(f"[{time.perf_counter() - t0:6.0f}s] {pr.family} {pr.name}", file=sys.stderr)
    df = pd.DataFrame(rows)
    text = tables_text(df, args.quick, time.perf_counter() - t0, methods, skipped)
    emit(text, args)


DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                    "benchmarks.md")  # fmt: skip
BEGIN, END = "<!-- selection-tables:begin -->", "<!-- selection-tables:end -->"
#: ``--quick`` runs (one seed, the small data sets) have a block of their own.
QUICK_BEGIN, QUICK_END = "<!-- selection-quick:begin -->", "<!-- selection-quick:end -->"


def tables_text(df, quick, total, methods, skipped):
    text = table_markdown(summarise(df), quick, total, methods)
    text += "\n" + grid_markdown(df) + "\n" + common_f1_markdown(df) + "\n" + null_markdown(df)
    if skipped:
        counts = pd.Series(skipped).value_counts(sort=False)
        text += "\nNot run (time limit): " + "; ".join(
            f"{k} ({v} seed{'s' if v > 1 else ''})" for k, v in counts.items()
        ) + ".\n"  # fmt: skip
    return text


def emit(text, args):
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    if args.docs:
        from benchmarks.report import write_marked_block

        begin, end = (QUICK_BEGIN, QUICK_END) if args.quick else (BEGIN, END)
        write_marked_block(DOCS, begin, end, text)


def summarise(df):
    g = df.groupby(["family", "method"], sort=False)
    table = g.agg(
        runs=("f1", "size"), TPR=("tpr", "mean"), FPR=("fpr", "mean"), F1=("f1", "mean"),
        n_selected=("n_selected", "mean"), none_selected=("none_selected", "mean"),
        score=("score", "mean"), seconds=("seconds", "mean"),
    )  # fmt: skip
    return table.reset_index()


def table_markdown(table, quick, total, methods):
    lines = [
        "| family | method | runs | TPR | FPR | F1 | # selected | share of runs selecting "
        "nothing | held-out score | seconds/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def f(x, fmt="{:.3f}"):
        return "–" if pd.isna(x) else fmt.format(x)

    for _, r in table.iterrows():
        lines.append(
            f"| {r.family} | {r.method} | {r.runs} | {f(r.TPR)} | {f(r.FPR)} | {f(r.F1)} | "
            f"{r.n_selected:.1f} | {r.none_selected:.2f} | {r.score:.3f} | {r.seconds:.2f} |"
        )
    lines.append("")
    took = "" if total is None else f"{total:.0f} s in all, "
    lines.append(f"Run: {'--quick' if quick else 'full'}, {took}methods: {', '.join(methods)}.")
    return "\n".join(lines) + "\n"


def grid_markdown(df):
    """Mean F1 per grid point (data set of a family) and method, with the number of seeds."""
    df = df[df["family"] != "null"]
    table = df.pivot_table(index=["family", "problem"], columns="method", values="f1",
                           aggfunc="mean", sort=False)  # fmt: skip
    table = table[[m for m in df["method"].unique() if m in table.columns]]
    seeds = df.groupby(["family", "problem"], sort=False)["seed"].nunique()
    head = "| family | data set | seeds | " + " | ".join(table.columns) + " |"
    lines = ["Mean F1 per data set (– where a method did not run):", "", head,
             "|---|---|---|" + "---|" * len(table.columns)]  # fmt: skip
    for (family, problem), row in table.iterrows():
        best = row.max()
        cells = ["–" if pd.isna(v) else (f"**{v:.3f}**" if v == best else f"{v:.3f}") for v in row]
        lines.append(f"| {family} | {problem} | {seeds[(family, problem)]} | " + " | ".join(cells)
                     + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


def null_markdown(df):
    """Null data: the share of data sets where each method selected nothing."""
    df = df[df["family"] == "null"]
    if df.empty:
        return ""
    g = df.groupby("method", sort=False)["none_selected"].agg(["sum", "size"])
    cells = [f"{m}: {int(r['sum'])}/{int(r['size'])}" for m, r in g.iterrows()]
    return "Null data, data sets where nothing was selected: " + "; ".join(cells) + ".\n"


def common_f1_markdown(df):
    """Mean F1 per family over the problems (data set x seed) that every method ran, so
    that methods skipped on the large problems are compared on equal terms."""
    df = df[df["family"] != "null"]
    n_methods = df["method"].nunique()
    counts = df.groupby(["family", "problem", "seed"])["method"].transform("nunique")
    common = df[counts == n_methods]
    table = common.pivot_table(index="family", columns="method", values="f1", aggfunc="mean")
    table = table[list(df["method"].unique())]
    n_runs = common.groupby("family")["problem"].size() // n_methods
    head = "| family | runs | " + " | ".join(table.columns) + " |"
    lines = ["Mean F1 on the runs every method made:", "", head,
             "|---|---|" + "---|" * len(table.columns)]  # fmt: skip
    for family, row in table.iterrows():
        best = row.max()
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in row]
        lines.append(f"| {family} | {n_runs[family]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
