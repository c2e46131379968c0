"""Scale: 1 vs 2 workers (joblib n_jobs, Dask LocalCluster) and peak memory vs rows.

``python -m benchmarks.scale`` (``--quick`` for a smoke run):

* data: breast_cancer (d = 30) resampled with replacement to N rows, plus Gaussian
  jitter of 1% of each column's standard deviation (so rows are distinct);
* model-agnostic path: ``HistGradientBoostingClassifier(max_iter=30, max_depth=4)``,
  ``method="kernel"``, ``budget`` game evaluations per row, 50 background rows;
* tree path: ``RandomForestClassifier(100 trees, max_depth=8)``, ``method="tree"``;
* each explained with ``n_jobs=1``, ``n_jobs=2``, on a Dask
  ``LocalCluster(n_workers=2, processes=True, threads_per_worker=1)`` and (``--spark``)
  on Spark in ``local[2]`` mode; values are checked bit-identical across them;
* peak memory: one fresh subprocess per row count, ``tracemalloc`` peak of the explain
  call (numpy buffers included) and the process's max RSS, in memory (an Explanation)
  and chunked to Parquet (``explain_to_dataset``, what ``shapkit explain`` runs).

The defaults (10,000 rows everywhere) take about 12 minutes on a quiet 2-core machine
(``--no-memory``: the speed runs only, 6.5 minutes; ``--memory-only PATH ...``: the memory
runs only; ``--paths kernel``: one path's speed runs).

Threads are pinned to one per worker (OMP, Numba) so "1 worker" means one core: the
tree path's default in-process Numba threading and HistGradientBoosting's OpenMP would
otherwise already use both cores (and oversubscribe under n_jobs=2). The worker pools
(loky processes, the Dask cluster) are started and warmed on a few rows before timing:
the figures are steady-state throughput; pool start-up is reported separately. The Dask
cluster lives only for its own run, so its polling does not slow the local runs.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def make_data(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """N jittered resampled breast_cancer rows, the training data and a 50-row background."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(X), n_rows)
    rows = X.iloc[picks].reset_index(drop=True)
    rows = rows + rng.normal(size=rows.shape) * (0.01 * X.std().to_numpy())
    background = X.sample(50, random_state=seed)
    return rows, y, X, background


def make_model(path: str, X: pd.DataFrame, y: pd.Series) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    if path == "kernel":
        return HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0).fit(X, y)
    return RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(X, y)


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def start_cluster() -> tuple[Any, Any, float]:
    """A 2-worker Dask LocalCluster (one thread per worker), its client and start seconds."""
    from distributed import Client, LocalCluster

    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address=None, env=env)  # fmt: skip
    return cluster, Client(cluster), time.perf_counter() - start


def speed(
    path: str, n_rows: int, budget: int, dask: bool, spark: bool = False
) -> list[dict[str, Any]]:
    """Wall seconds for n_jobs=1, n_jobs=2, (when ``dask``) a Dask LocalCluster and (when
    ``spark``) Spark in local[2] mode; values compared.

    The local runs go first with no cluster alive: an idle LocalCluster's scheduler,
    nannies and workers poll (heartbeats, memory monitors) and, on 2 cores, slowed an
    ``n_jobs=2`` run by ~15% when it was kept alive beside it. The cluster is started
    for its own run and closed after it.
    """
    # one Numba thread, as launched: a cluster or session of the previous path may have
    # unset the variable, and Numba refuses a thread count that differs from the launched
    os.environ["NUMBA_NUM_THREADS"] = "1"
    import numba

    import shapkit
    from shapkit.columns import explanation_frame

    numba.set_num_threads(1)
    rows, y, X, background = make_data(n_rows)
    model = make_model(path, X, y)
    method = "kernel" if path == "kernel" else "tree"
    kwargs = dict(method=method, seed=0)
    b = budget if path == "kernel" else None
    # warm-up: imports, Numba cache, the loky pool
    shapkit.Explainer(model, background, **kwargs)(rows.iloc[:4], budget=b)
    pool_start, _ = _timed(
        lambda: shapkit.Explainer(model, background, n_jobs=2, **kwargs)(rows.iloc[:8], budget=b)
    )
    load = _load()
    t1, one = _timed(lambda: shapkit.Explainer(model, background, **kwargs)(rows, budget=b))
    t2, two = _timed(
        lambda: shapkit.Explainer(model, background, n_jobs=2, **kwargs)(rows, budget=b)
    )
    results: list[dict[str, Any]] = []
    runs = [("n_jobs=1", t1, load), ("n_jobs=2", t2, load)]
    same_local = bool(np.array_equal(one.values, two.values))
    same_dask = None
    if dask:
        import dask.dataframe as dd

        cluster, client, cluster_start = start_cluster()
        try:
            shapkit.Explainer(model, background, **kwargs)(
                dd.from_pandas(rows.iloc[:8], npartitions=2), budget=b
            ).compute()  # warm the workers
            lazy = shapkit.Explainer(model, background, **kwargs)(
                dd.from_pandas(rows, npartitions=8), budget=b
            )
            dask_load = _load()
            td, frame = _timed(lazy.compute)
        finally:
            client.close()
            cluster.close()
        print(f"cluster start: {cluster_start:.1f} s", flush=True)
        same_dask = bool(explanation_frame(one).equals(frame))
        runs.append(("Dask 2 workers", td, dask_load))
    same_spark = None
    if spark:
        ts, same_spark, spark_load, spark_start = spark_run(model, background, rows, kwargs, b)
        print(f"spark session start: {spark_start:.1f} s", flush=True)
        same_spark = bool(same_spark.equals(explanation_frame(one).reset_index(drop=True)))
        runs.append(("Spark local[2]", ts, spark_load))
    for name, seconds, before in runs:
        results.append({
            "path": path, "rows": n_rows, "budget": b, "runner": name,
            "seconds": round(seconds, 2), "speedup": round(t1 / seconds, 2),
            "identical": same_local if name == "n_jobs=2" else same_dask if "Dask" in name
            else same_spark if "Spark" in name else True, "load_before": before,
            "pool_warmup_s": round(pool_start, 2),
        })  # fmt: skip
    return results


def spark_run(
    model: Any, background: pd.DataFrame, rows: pd.DataFrame, kwargs: dict, budget: Any
) -> tuple[float, pd.DataFrame, str, float]:
    """Seconds to explain ``rows`` on Spark local[2] (one thread per Python worker, the
    session started and warmed before timing, the result collected as pandas like Dask's
    ``compute``), the values in row order, the load before, and the session's start."""
    import shapkit
    from shapkit.execution.spark import explain_spark, local_session

    os.environ["NUMBA_NUM_THREADS"] = "1"  # the Python workers inherit it (set at import)
    start = time.perf_counter()
    # the collected result of a million rows is about 1 GB of Arrow batches: a heap and a
    # result limit for it (Spark's defaults, 1 GB each, ran out at 1,000,000 tree rows)
    session = local_session(
        cores=2, name="shapkit-scale", memory="8g", config={"spark.driver.maxResultSize": "0"}
    )
    session.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - start
    try:
        explainer = shapkit.Explainer(model, background, **kwargs)
        keyed = rows.reset_index(names="id")
        warm = session.createDataFrame(keyed.iloc[:8]).repartition(2)
        explain_spark(explainer, warm, budget=budget, key="id").toPandas()
        sdf = session.createDataFrame(keyed).repartition(8).cache()
        sdf.count()  # the input in Spark's memory before timing, as Dask's partitions are
        load = _load()
        seconds, frame = _timed(
            lambda: explain_spark(explainer, sdf, budget=budget, key="id").toPandas()
        )
    finally:
        session.stop()
    frame = frame.sort_values("id").drop(columns="id").reset_index(drop=True)
    return seconds, frame, load, started


def memory_child(path: str, n_rows: int, budget: int) -> None:
    """Subprocess: peak traced memory of one explain call, max RSS; JSON on stdout."""
    import resource
    import tempfile
    import tracemalloc

    import numba

    import shapkit
    from shapkit.execution.resumable import explain_to_dataset

    numba.set_num_threads(1)
    chunked = path.endswith("-chunked")
    kind = path.removesuffix("-chunked")
    rows, y, X, background = make_data(n_rows)
    model = make_model(kind, X, y)
    method = "kernel" if kind == "kernel" else "tree"
    b = budget if kind == "kernel" else None
    explainer = shapkit.Explainer(model, background, method=method, seed=0)
    explainer(rows.iloc[:2], budget=b)  # warm-up outside the trace
    rows_bytes = rows.memory_usage(deep=True).sum()
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        start = time.perf_counter()
        if chunked:  # the command line's path: chunks of 1000 rows written to Parquet
            explain_to_dataset(explainer, rows, tmp, budget=b, chunk_size=1000, progress=False)
            output_bytes = 0
        else:
            expl = explainer(rows, budget=b)
            output_bytes = (
                expl.values.nbytes + expl.std_errors.nbytes + expl.data.memory_usage().sum()
            )
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(json.dumps({
        "path": path, "rows": n_rows, "peak_traced_MB": round(peak / 2**20, 1),
        "output_MB": round(output_bytes / 2**20, 1), "input_MB": round(rows_bytes / 2**20, 1),
        "max_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(seconds, 2),
    }))  # fmt: skip


def memory(path: str, sizes: list[int], budget: int) -> list[dict[str, Any]]:
    results = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", "--memory-child", path, str(n),
             "--budget", str(budget)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    return results


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (small sizes)")
    parser.add_argument("--kernel-rows", type=int, default=10_000)
    parser.add_argument("--tree-rows", type=int, default=10_000)
    parser.add_argument("--budget", type=int, default=256)
    parser.add_argument("--memory-sizes", default="2500,5000,10000")
    parser.add_argument("--memory-kernel-sizes", default="2500,5000,10000")
    parser.add_argument("--memory-kernel-budget", type=int, default=64,
                        help="kernel budget of the memory runs (the rows vary)")  # fmt: skip
    parser.add_argument("--memory-child", nargs=2, metavar=("PATH", "ROWS"), help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write all results to this JSON file")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    parser.add_argument("--spark", action="store_true",
                        help="also Spark in local[2] mode (needs pyspark, Java)")  # fmt: skip
    parser.add_argument("--paths", nargs="+", default=["tree", "kernel"],
                        choices=["tree", "kernel"], help="paths of the speed runs")  # fmt: skip
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--memory-only", nargs="*", metavar="PATH",
                        help="only the memory runs of these paths (tree, kernel, "
                             "tree-chunked, kernel-chunked)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), args.budget)
        return
    if args.quick:
        args.kernel_rows, args.tree_rows, args.budget = 40, 400, 64
        args.memory_sizes = args.memory_kernel_sizes = "100,200,400"
    sizes = [int(s) for s in args.memory_sizes.split(",")]
    kernel_sizes = [int(s) for s in args.memory_kernel_sizes.split(",")]
    if args.memory_only is not None:
        mems = []
        for path in args.memory_only:
            kernel = path.startswith("kernel")
            mems += memory(path, kernel_sizes if kernel else sizes,
                           args.memory_kernel_budget if kernel else args.budget)  # fmt: skip
        print("\n" + table(mems))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"memory": mems, "cpus": os.cpu_count()}, handle, indent=1)
        return
    speeds = []
    for path, n in (("tree", args.tree_rows), ("kernel", args.kernel_rows)):
        if path not in args.paths:
            continue
        speeds += speed(path, n, args.budget, dask=not args.no_dask, spark=args.spark)
        print(table(speeds[-4:]), flush=True)
    if args.no_memory:
        print("\n" + table(speeds) + f"\n\nload after: {_load()}")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump({"speed": speeds, "cpus": os.cpu_count()}, handle, indent=1)
        return
    mems = memory("tree", sizes, args.budget) + memory("tree-chunked", sizes, args.budget)
    for path in ("kernel", "kernel-chunked"):
        mems += memory(path, kernel_sizes, args.memory_kernel_budget)
    print("\n" + table(speeds) + "\n\n" + table(mems) + f"\n\nload after: {_load()}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"speed": speeds, "memory": mems, "cpus": os.cpu_count()}, handle, indent=1)


if __name__ == "__main__":
    main()
