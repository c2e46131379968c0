"""Speed at equal budget: ``shapkit.explain`` vs the model alone vs shap.KernelExplainer.

For each model (a StandardScaler + LogisticRegression pipeline and a
HistGradientBoostingClassifier, both on breast_cancer, d = 30) and the same rows,
background and budget:

* ``shapkit``: ``shapkit.explain(model, X, background=..., method="kernel", budget=...)``;
* ``model only``: the model's ``predict_proba`` on exactly the rows shapkit handed it
  (recorded in an untimed run: same rows, same type), timed both in shapkit's chunks and
  in 100,000-row chunks, the faster of the two per row kept, so the ratio
  ``shapkit / model only`` is shapkit's overhead over the model evaluations it needs,
  against the model's best way of running them;
* ``shap``: ``shap.KernelExplainer(model.predict_proba, background)`` constructed and run
  with ``shap_values(X, nsamples=budget, l1_reg=False)``;
* ``no model``: the same ``shapkit.explain`` call with a function returning zeros in
  place of the model: shapkit's own work (sampling, writing the masked rows, summing,
  solving). Not a floor for ``shapkit - model only``: inside shapkit the model reads
  rows just written (from cache), the replay reads recorded rows from memory.

Each is warmed up (imports, Numba JIT, sklearn first calls) on one row, then timed row by
row, interleaved, ``repeats`` times; totals are sums over rows of the fastest repetition
(see :func:`time_case`). Other processes on a small machine distort wall times badly
(OpenMP models slow down many-fold when a core is taken), so the cores other processes
used during the timing are recorded.
"""

from __future__ import annotations

import contextlib
import gc
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.metrics import CpuMonitor, wait_for_quiet

#: Targets from issue 3.
MAX_OVERHEAD = 1.15  # shapkit / model only
MIN_SPEEDUP_VS_SHAP = 2.0  # shap / shapkit


@dataclass
class SpeedCase:
    """One model to time: a fitted classifier, the rows to explain and the background."""

    name: str
    model: Any
    X: np.ndarray
    background: np.ndarray
    budget: int


def breast_cancer_rows(n_rows: int, n_background: int) -> tuple[np.ndarray, ...]:
    """``(X_all, y_all, X_explain, background)``: a seed-0 permutation of breast_cancer,
    background = its first ``n_background`` rows, explained rows = the next ``n_rows``."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    idx = np.random.default_rng(0).permutation(X.shape[0])
    background = X[idx[:n_background]]
    X_explain = X[idx[n_background : n_background + n_rows]]
    return X, y, X_explain, background


def speed_cases(n_rows: int = 20, n_background: int = 100, budget: int = 2048) -> list[SpeedCase]:
    """The two models of issue 3, fitted on all of breast_cancer (ndarray, float64)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_explain, background = breast_cancer_rows(n_rows, n_background)
    logreg = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    hgb = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    return [
        SpeedCase("StandardScaler+LogisticRegression", logreg, X_explain, background, budget),
        SpeedCase("HistGradientBoostingClassifier", hgb, X_explain, background, budget),
    ]


def record_model_inputs(case: SpeedCase, rows: slice | None = None) -> list[Any]:
    """The inputs shapkit hands ``case.model.predict_proba`` while explaining ``case.X[rows]``
    (copies, in call order).

    The model's ``predict_proba`` is shadowed by a recording instance attribute for the
    duration of the call, so shapkit takes its usual path for the real estimator.
    """
    import shapkit

    model = case.model
    original = model.predict_proba
    recorded: list[Any] = []

    def recorder(data: Any) -> Any:
        recorded.append(data.copy())
        return original(data)

    model.predict_proba = recorder
    try:
        shapkit.explain(
            model,
            case.X[rows if rows is not None else slice(None)],
            background=case.background,
            method="kernel",
            budget=case.budget,
            seed=0,
        )
    finally:
        del model.predict_proba
    return recorded


def _wall_time(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _times(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, wall seconds, CPU seconds of this process, all threads)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def time_case(case: SpeedCase, repeats: int = 3, quiet_wait: float = 10.0) -> dict[str, Any]:
    """Wall and CPU times of shapkit, the model alone and shap on one case.

    Row by row and interleaved: for each repetition and each row, ``shapkit.explain`` of
    that row, then the model on exactly the inputs shapkit handed it for that row (recorded
    beforehand; shapkit's random stream of a row depends only on the row and the seed, so
    one-row calls see the same coalitions as the all-rows call), then shap.KernelExplainer
    (constructed and run) on that row. Each total is the sum over rows of the fastest of
    ``repeats`` repetitions: bursts of other processes' load, which last seconds, inflate
    single calls rather than every repetition of a row. CPU times (this process, all
    threads) are summed the same way; with one thread per library they are what the wall
    times would be on a quiet machine, whatever other processes do. Separately,
    ``shapkit.explain`` and shap on all rows in one call are timed ``min(repeats, 2)``
    times each (best kept): the literal measure, reliable on a quiet machine.
    """
    import shap

    import shapkit

    model, X, background, budget = case.model, case.X, case.background, case.budget
    n_rows = X.shape[0]
    shap_rows = [0]

    def shap_model(data: np.ndarray) -> np.ndarray:
        shap_rows[0] += len(data)
        return model.predict_proba(data)

    def explain(rows: np.ndarray) -> Any:
        return shapkit.explain(
            model, rows, background=background, method="kernel", budget=budget, seed=0
        )

    def run_shap(rows: np.ndarray) -> Any:
        explainer = shap.KernelExplainer(shap_model, background)
        return explainer.shap_values(rows, nsamples=budget, l1_reg=False, silent=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # warm-up: JIT compilation, imports, first calls
        shapkit.explain(model, X[:1], background=background, method="kernel", budget=budget, seed=1)
        run_shap(X[:1])
        model.predict_proba(background)
        recorded = [record_model_inputs(case, slice(i, i + 1)) for i in range(n_rows)]

        # the same rows in 100,000-row calls too; the model's time is the faster of the two
        recorded_100k = [
            [rows[s : s + 100_000] for s in range(0, len(rows), 100_000)]
            for rows in (np.concatenate(calls) for calls in recorded)
        ]

        def run_model(i: int) -> None:
            for data in recorded[i]:
                model.predict_proba(data)

        def run_model_100k(i: int) -> None:
            for data in recorded_100k[i]:
                model.predict_proba(data)

        keys = ("shapkit", "model", "model_100k", "shap")
        per_row = {key: np.full((repeats, n_rows), np.nan) for key in keys}
        per_row_cpu = {key: np.full((repeats, n_rows), np.nan) for key in keys}
        n_evals = 0
        shap_rows[0] = 0
        wait_for_quiet(max_wait=quiet_wait)
        with CpuMonitor() as monitor:
            for r in range(repeats):
                gc.collect()
                for i in range(n_rows):
                    row = X[i : i + 1]
                    calls = {
                        "shapkit": lambda row=row: explain(row),
                        "model": lambda i=i: run_model(i),
                        "model_100k": lambda i=i: run_model_100k(i),
                        "shap": lambda row=row: run_shap(row),
                    }
                    for key, call in calls.items():
                        result, wall, cpu = _times(call)
                        per_row[key][r, i], per_row_cpu[key][r, i] = wall, cpu
                        if key == "shapkit" and r == 0:
                            n_evals += int(np.sum(result.n_evals))
        shap_rows_total = shap_rows[0] // repeats
        n_outputs = model.predict_proba(background[:1]).shape[1]

        def no_model(data: np.ndarray) -> np.ndarray:  # shapkit's own work, no model
            return np.zeros((len(data), n_outputs))

        def explain_no_model(rows: np.ndarray) -> Any:
            return shapkit.explain(
                no_model, rows, background=background, method="kernel", budget=budget, seed=0
            )

        explain_no_model(X[:1])
        whole: dict[str, list[float]] = {"shapkit": [], "shap": [], "no_model": []}
        for _ in range(min(repeats, 2)):
            for key, call in (
                ("shapkit", lambda: explain(X)),
                ("shap", lambda: run_shap(X)),
                ("no_model", lambda: explain_no_model(X)),
            ):
                gc.collect()
                wait_for_quiet(max_wait=quiet_wait)
                whole[key].append(_wall_time(call))
    rows_model = int(sum(len(d) for calls in recorded for d in calls))
    kinds = sorted({f"{type(d).__name__}[{getattr(d, 'dtype', '?')}]" for c in recorded for d in c})
    chunk = max(len(d) for calls in recorded for d in calls)
    recorded.clear()  # up to ~1 GB of masked rows
    recorded_100k.clear()
    gc.collect()
    for table in (per_row, per_row_cpu):  # the model's faster chunking, row by row
        table["model_shapkit_chunks"] = table["model"]
        table["model"] = np.minimum(table["model"], table.pop("model_100k"))
    best = {key: float(values.min(axis=0).sum()) for key, values in per_row.items()}
    median = {key: float(np.median(values, axis=0).sum()) for key, values in per_row.items()}
    cpu = {key: float(values.min(axis=0).sum()) for key, values in per_row_cpu.items()}
    return {
        "model": case.name,
        "rows": n_rows,
        "background": background.shape[0],
        "budget": budget,
        "shapkit_s": best["shapkit"],
        "model_only_s": best["model"],
        "model_shapkit_chunks_s": best["model_shapkit_chunks"],
        "shap_s": best["shap"],
        "shapkit/model": best["shapkit"] / best["model"],
        "shap/shapkit": best["shap"] / best["shapkit"],
        "median_s": median,
        "cpu_s": cpu,
        "cpu shapkit/model": cpu["shapkit"] / cpu["model"],
        "cpu shap/shapkit": cpu["shap"] / cpu["shapkit"],
        "shapkit_all_rows_s": min(whole["shapkit"]),
        "shap_all_rows_s": min(whole["shap"]),
        "no_model_all_rows_s": min(whole["no_model"]),
        "all_rows_all_s": {key: [round(w, 3) for w in values] for key, values in whole.items()},
        "one call shapkit/model": min(whole["shapkit"]) / best["model"],
        "one call shap/shapkit": min(whole["shap"]) / min(whole["shapkit"]),
        "shapkit_coalitions": n_evals,
        "model_rows_shapkit": rows_model,
        "model_rows_shap": shap_rows_total,
        "input": ", ".join(kinds) + f", <= {chunk} rows per call",
        "others_cores": monitor.others,
    }


def thread_limit(threads: int | None) -> contextlib.AbstractContextManager:
    """Limit the loaded BLAS/OpenMP pools to ``threads`` (None: leave the defaults)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def run_speed(
    n_rows: int = 20,
    budget: int = 2048,
    repeats: int = 3,
    quiet_wait: float = 10.0,
    threads: Sequence[int | None] = (1,),
) -> list[dict[str, Any]]:
    """Time every case under every thread setting; one result dict per (threads, model).

    ``threads``: 1 limits BLAS and OpenMP to one thread for everyone (robust to other
    processes on a small machine); None keeps the libraries' defaults (one per core).
    """
    import shap  # noqa: F401 - load every library before limiting their pools

    import shapkit  # noqa: F401

    cases = speed_cases(n_rows=n_rows, budget=budget)
    results = []
    for limit in threads:
        with thread_limit(limit):
            for case in cases:
                result = time_case(case, repeats, quiet_wait)
                result["threads"] = "default" if limit is None else str(limit)
                results.append(result)
                print(
                    f"  {result['threads']} thread(s), {case.name}: shapkit "
                    f"{result['shapkit_s']:.2f} s (one call: {result['shapkit_all_rows_s']:.2f}"
                    f" s), model {result['model_only_s']:.2f} s, shap {result['shap_s']:.2f} s "
                    f"(one call: {result['shap_all_rows_s']:.2f} s), "
                    f"others' cores {result['others_cores']:.2f}",
                    flush=True,
                )
    return results
