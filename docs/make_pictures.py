"""Regenerate the pictures of docs/reports.md from the demo data (under 30 s on 2 cores).

    python docs/make_pictures.py            # writes docs/img/*.png

The demo's model: gradient boosting on scikit-learn's breast-cancer data, 100 held-out
rows explained exactly with the 30 columns grouped into their 10 measurements. The
dependence plot of a single column uses an ungrouped kernel explanation of 60 rows at a
small budget. The HTML report goes to a temporary folder (its path is printed); with
chromium on the PATH, its first screen is saved as report.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import shapkit  # noqa: E402
from shapkit.demo import breast_cancer_groups  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"


def save(ax, name: str) -> None:
    ax.figure.savefig(OUT / name, dpi=110)
    plt.close(ax.figure)
    print(f"wrote {OUT / name}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = load_breast_cancer(as_frame=True)
    X = data.data
    y = pd.Series(data.target_names[data.target], name="diagnosis")
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = GradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    background = X_train.sample(100, random_state=0)
    groups = breast_cancer_groups(list(X.columns))
    explainer = shapkit.Explainer(model, background, groups=groups, seed=0)
    expl = explainer(X_test.iloc[:100])

    save(shapkit.plots.bar(expl, output="malignant"), "bar.png")
    save(shapkit.plots.bar(expl, max_features=6), "bar_outputs.png")
    save(shapkit.plots.beeswarm(expl, output="malignant"), "beeswarm.png")
    top = int(expl.predictions[:, 1].argmax())
    save(shapkit.plots.waterfall(expl, top, output="malignant"), "waterfall.png")
    save(shapkit.plots.force(expl, top, output="malignant"), "force.png")
    save(shapkit.plots.heatmap(expl, output="malignant"), "heatmap.png")
    save(shapkit.plots.decision(expl, rows=slice(0, 40), output="malignant"), "decision.png")
    trace = shapkit.diagnostics.convergence_trace(explainer, X_test.iloc[[top]])
    save(shapkit.plots.convergence(trace), "convergence.png")

    columns = shapkit.Explainer(model, background.iloc[:50], method="kernel", seed=0)
    per_column = columns(X_test.iloc[:60], budget=256)
    save(
        shapkit.plots.beeswarm(per_column, output="malignant", max_features=12),
        "beeswarm_columns.png",
    )
    save(shapkit.plots.bar(per_column, output="malignant", max_features=12), "bar_columns.png")
    save(
        shapkit.plots.dependence(per_column, "worst concave points", output="malignant"),
        "dependence.png",
    )

    report = shapkit.report(expl, Path(tempfile.mkdtemp()) / "report.html", outputs=["malignant"])
    print(f"wrote {report}")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--screenshot={OUT / 'report.png'}",
                "--window-size=1100,2400",
                report.as_uri(),
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )
        if (OUT / "report.png").exists():
            print(f"wrote {OUT / 'report.png'}")


if __name__ == "__main__":
    sys.exit(main())
