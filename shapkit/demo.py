"""The ``shapkit demo`` job: explain a gradient-boosting classifier on breast-cancer data."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .explainer import Explainer
from .reports.summary import summary


def breast_cancer_groups(columns: list[str]) -> dict[str, list[str]]:
    """Group the 30 breast-cancer columns into their 10 measurements.

    Each measurement (radius, texture, ...) comes as "mean X", "X error" and "worst X";
    one group per measurement gives 10 players, which exact enumeration handles.
    """
    groups: dict[str, list[str]] = {}
    for column in columns:
        measurement = column.removeprefix("mean ").removeprefix("worst ").removesuffix(" error")
        groups.setdefault(measurement, []).append(column)
    return groups


def run_demo(n_rows: int = 100, out_dir: str | Path = "shapkit_demo", seed: int = 0) -> Path:
    """Train, explain ``n_rows`` held-out rows, print the importance table, write a CSV
    and, with matplotlib installed, an HTML report next to it (``report.html``).

    Returns the path of the CSV of per-row values (long format, see
    :meth:`Explanation.to_frame`).
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X = data.data
    y = pd.Series(data.target_names[data.target], name="diagnosis")
    X_train, X_test, y_train, _ = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    model = GradientBoostingClassifier(random_state=seed).fit(X_train, y_train)
    background = X_train.sample(100, random_state=seed)
    rows = X_test.iloc[:n_rows]
    groups = breast_cancer_groups(list(X.columns))

    print(
        f"Gradient boosting on breast_cancer: {len(X_train)} training rows, explaining "
        f"{len(rows)} held-out rows against {len(background)} background rows."
    )
    print(
        f"Players: the {len(groups)} measurements, each grouping its mean / error / worst columns."
    )
    started = time.perf_counter()
    explainer = Explainer(model, background, groups=groups, seed=seed)
    expl = explainer(rows)
    elapsed = time.perf_counter() - started
    gap = abs(expl.base_values + expl.values.sum(axis=1) - expl.predictions).max()
    print(
        f"Method {expl.method}: {int(expl.n_evals.sum()):,} coalitions in {elapsed:.1f} s; "
        f"efficiency gap (base + sum - prediction) {gap:.1e}."
    )
    output = "malignant"
    print(f"\nGlobal importance for P({output}) (mean |Shapley value| over rows, 95% interval):")
    table = summary(expl, output=output)[["mean_abs", "ci_low", "ci_high", "share", "mean"]]
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "values.csv"
    expl.to_frame().to_csv(path, index=False)
    print(f"\nPer-row values written to {path}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("HTML report skipped: it needs matplotlib (pip install 'shapkit[plot]').")
    else:
        from .reports.html import report

        report_path = report(expl, out / "report.html", outputs=[output])
        print(f"HTML report written to {report_path}")
    return path
