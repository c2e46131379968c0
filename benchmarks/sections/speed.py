"""Section 2, speed at equal budget: ``shapkit.explain`` vs the model alone vs
shap.KernelExplainer at budget 2048 (breast_cancer, d = 30, 20 rows, 100 background rows);
the timing itself is in :mod:`benchmarks.speed`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from benchmarks.report import to_markdown
from benchmarks.settings import Context
from benchmarks.speed import MAX_OVERHEAD, MIN_SPEEDUP_VS_SHAP, run_speed


def _met(values: Sequence[float], ok: Any) -> str:
    """``met`` / ``not met`` when every measure agrees, else which ones meet it."""
    flags = [bool(ok(v)) for v in values]
    if all(flags):
        return "met"
    if not any(flags):
        return "not met"
    return "mixed: " + "/".join("y" if f else "n" for f in flags)


def speed_report(results: list[dict[str, Any]], repeats: int) -> list[str]:
    """Markdown of the speed section."""
    rows, details = [], []
    for r in results:
        cpu = r["cpu_s"]
        overhead = (r["shapkit/model"], r["cpu shapkit/model"], r["one call shapkit/model"])
        speedup = (r["shap/shapkit"], r["cpu shap/shapkit"], r["one call shap/shapkit"])
        rows.append(
            {
                "threads": r["threads"],
                "model": r["model"],
                "shapkit (s)": f"{r['shapkit_s']:.3g} / {cpu['shapkit']:.3g} / "
                f"{r['shapkit_all_rows_s']:.3g}",
                "model only (s)": f"{r['model_only_s']:.3g} / {cpu['model']:.3g}",
                "shap Kernel (s)": f"{r['shap_s']:.3g} / {cpu['shap']:.3g} / "
                f"{r['shap_all_rows_s']:.3g}",
                "shapkit / model only": " / ".join(f"{v:.2f}" for v in overhead),
                f"<= {MAX_OVERHEAD}?": _met(overhead, lambda v: v <= MAX_OVERHEAD),
                "shap / shapkit": " / ".join(f"{v:.2f}" for v in speedup),
                f">= {MIN_SPEEDUP_VS_SHAP:g}?": _met(speedup, lambda v: v >= MIN_SPEEDUP_VS_SHAP),
                "others' cores": r["others_cores"],
            }
        )
        median = r["median_s"]
        details.append(
            {
                "threads": r["threads"],
                "model": r["model"],
                "one-call times shapkit / shap (s)": " / ".join(
                    str(r["all_rows_all_s"][k]) for k in ("shapkit", "shap")
                ),
                "per-row medians shapkit / model / shap (s)": " / ".join(
                    f"{median[k]:.3g}" for k in ("shapkit", "model", "shap")
                ),
                "model only in shapkit's chunks (s)": f"{r['model_shapkit_chunks_s']:.3g}",
                "shapkit with a no-op model, one call (s)": f"{r['no_model_all_rows_s']:.3g}",
                "model input (from shapkit)": r["input"],
                "rows to model: shapkit / shap": (
                    f"{r['model_rows_shapkit']} / {r['model_rows_shap']}"
                ),
                "shapkit coalitions": r["shapkit_coalitions"],
            }
        )
    n_rows = results[0]["rows"] if results else 0
    return [
        "## 2. Speed at equal budget\n",
        f"breast_cancer (d = 30, float64 ndarray), {n_rows} explained rows, background = 100 "
        "rows, budget 2048 coalitions per row, probability output (both classes) for all "
        'three. `shapkit` = `shapkit.explain(model, x, background=bg, method="kernel", '
        "budget=2048, seed=0)`; `model only` = `model.predict_proba` on exactly the rows "
        "shapkit handed the model (recorded in an untimed run: same rows, same ndarray type), "
        "timed in shapkit's chunks and in 100,000-row chunks, the faster of the two kept per "
        "row, so `shapkit / model only` is shapkit's whole overhead against the model's best "
        "way of running the same rows; `shap Kernel` = "
        "`shap.KernelExplainer(model.predict_proba, bg).shap_values(x, nsamples=2048, "
        "l1_reg=False)`, construction included. All were warmed up on one row (Numba JIT, "
        f"imports, first calls), then timed row by row, interleaved (shapkit, model, shap for "
        f"row 1, then row 2, ...), {repeats} times; each total is the sum over rows of the "
        "fastest repetition of that row, which filters bursts of other processes' load. "
        "Cells read `per-row wall / per-row CPU / one call`: CPU = seconds of CPU this "
        "process used (all threads), summed the same way (with one thread per library it "
        "is what the wall time would be on a quiet machine, so with `threads = 1` the CPU "
        "figures are the reliable ones when `others' cores` is high; with default threads "
        "CPU counts every thread and exceeds wall); `one call` = the best wall time of "
        "explaining all rows in a single `shapkit.explain` / `shap_values` call (2 "
        "repetitions), the literal measure of the issue, reliable on a quiet machine. "
        "`threads = 1`: BLAS and OpenMP limited to one thread for all three (threadpoolctl); "
        "`default`: the libraries' own thread counts. `others' cores`: CPU seconds other "
        "processes used per wall second during the timing (0 = quiet machine). "
        "`shapkit with a no-op model`: the same one-call explanation with a function that "
        "returns zeros in place of the model, i.e. shapkit's own work (sampling, writing "
        "the masked rows, summing per coalition, solving). It is not a floor of "
        "`shapkit - model only`: inside shapkit the model reads rows just written, from "
        "cache, while `model only` replays the recorded rows from memory.\n",
        to_markdown(pd.DataFrame(rows)) + "\n",
        to_markdown(pd.DataFrame(details)) + "\n",
    ]


def run(context: Context) -> list[str]:
    """Run the speed section under each ``--speed-threads`` setting (default: one thread);
    without shap it is skipped."""
    settings = context.settings
    speed_threads = context.speed_threads or ["1"]

    try:
        results = run_speed(
            n_rows=settings.speed_rows,
            repeats=settings.speed_repeats,
            quiet_wait=settings.quiet_wait,
            threads=[None if t == "default" else int(t) for t in speed_threads],
        )
    except ImportError as exc:
        context.skipped["speed"] = f"{type(exc).__name__}: {exc}"
        return []
    return speed_report(results, settings.speed_repeats)
