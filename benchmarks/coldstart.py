"""Cold start: the first ``shapkit.explain`` of a fresh process, with an empty and with a
warm Numba cache, against a second explain in the same process.

The parent creates an empty temporary ``NUMBA_CACHE_DIR`` and runs this module as a child
twice with it: the first child compiles every kernel it needs (empty cache) and writes
the cache, the second loads it (warm cache). Each child imports shapkit, fits the model,
calls the model once (so sklearn's own first-call costs are not counted), then times two
identical explains; ``overhead = first - second``, in wall and in CPU seconds (the CPU
figure is immune to other processes' load).

Child usage: ``python -m benchmarks.coldstart --child --method kernel``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def child(method: str, n_rows: int, budget: int) -> dict[str, float]:
    """Run in the fresh process: time the import and two explains."""
    start = time.perf_counter()
    import shapkit

    import_s = time.perf_counter() - start

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from benchmarks.speed import breast_cancer_rows

    X, y, X_explain, background = breast_cancer_rows(n_rows, 100)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    model.predict_proba(background)
    times, cpu = [], []
    for _ in range(2):
        start, start_cpu = time.perf_counter(), time.process_time()
        shapkit.explain(
            model, X_explain, background=background, method=method, budget=budget, seed=0
        )
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "import_s": import_s,
        "first_s": times[0],
        "second_s": times[1],
        "first_cpu_s": cpu[0],
        "second_cpu_s": cpu[1],
    }


def run_child(method: str, cache_dir: str, n_rows: int, budget: int) -> dict[str, Any]:
    """One fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``; returns its timings."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    command = [
        sys.executable,
        "-m",
        "benchmarks.coldstart",
        "--child",
        "--method",
        method,
        "--rows",
        str(n_rows),
        "--budget",
        str(budget),
    ]
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=root)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def cold_start(
    methods: Sequence[str] = ("kernel", "permutation"), n_rows: int = 1, budget: int = 2048
) -> list[dict[str, Any]]:
    """Empty-cache and warm-cache child runs per method, each with a fresh cache dir."""
    rows = []
    for method in methods:
        cache_dir = tempfile.mkdtemp(prefix="shapkit-numba-cache-")
        try:
            for cache in ("empty", "warm"):
                result = run_child(method, cache_dir, n_rows, budget)
                rows.append(
                    {
                        "method": method,
                        "numba cache": cache,
                        "import shapkit (s)": result["import_s"],
                        "first explain (s)": result["first_s"],
                        "second explain (s)": result["second_s"],
                        "overhead = first - second (s)": result["first_s"] - result["second_s"],
                        "overhead, CPU (s)": result["first_cpu_s"] - result["second_cpu_s"],
                        "whole process (s)": result["process_s"],
                    }
                )
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart")
    parser.add_argument("--child", action="store_true", help="run as the timed child")
    parser.add_argument("--method", default="kernel")
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--budget", type=int, default=2048)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.method, args.rows, args.budget)))
    else:
        for row in cold_start((args.method,), args.rows, args.budget):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
