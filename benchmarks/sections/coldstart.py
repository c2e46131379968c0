"""Section 4, cold start: the first explain of a fresh process with an empty and with a
warm Numba cache; the child processes are run by :mod:`benchmarks.coldstart`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmarks.coldstart import cold_start
from benchmarks.report import print_frame, to_markdown
from benchmarks.settings import Context

N_ROWS = 1
BUDGET = 2048


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


def run(context: Context) -> list[str]:
    """Run the cold-start section: one row, budget 2048, each of the settings' methods."""
    cold = cold_start(context.settings.coldstart_methods, n_rows=N_ROWS, budget=BUDGET)
    print_frame(pd.DataFrame(cold))
    return coldstart_report(cold, N_ROWS, BUDGET)
