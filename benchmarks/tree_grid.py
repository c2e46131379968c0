"""Exact interventional TreeSHAP at any background size: shapkit against WOODELF, shap and
shapiq on a grid of explained rows x background rows (#20).

An XGBoost regressor (100 trees of depth 6) on 30 synthetic columns; explained rows
{200, 2,000, 20,000} x background rows {100, 1,000, 10,000, 20,000}, plus 500 x 100 and
500 x 10,000. Every (tool, cell) runs in a fresh subprocess: the tool is warmed up on
64 explained x 64 background rows (JIT, caches, imports), then timed once; the peak
resident memory above the warmed-up process is reported with it. A cell is capped at
``--cap`` seconds (600): one that runs longer, or whose time extrapolated from the tool's
largest finished cell (shap's and shapiq's own algorithms cost ~n x m) exceeds the cap,
reads ">600 s"; one estimated at 75-100% of the cap is not run and reads "not run (est.
N s)".
``--baseline REV`` also times shapkit at git revision REV on the small cells (the "no
slower than today" goal). Values are compared with shapkit's: max |difference| over the
largest |value|.

shap 0.54 and shapiq 1.8 need Python >= 3.12: run it in the benchmark environment of
docs/benchmarks.md ("Trees at any background size").

Usage: ``python -m benchmarks.tree_grid [--quick] [--game both|interventional|path]
[--cap S] [--baseline REV] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .machine import machine_description, package_version
from .report import write_marked_block

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- tree-grid:begin -->", "<!-- tree-grid:end -->"
PATH_BEGIN, PATH_END = "<!-- tree-path:begin -->", "<!-- tree-path:end -->"
GRID = [(n, m) for n in (200, 2_000, 20_000) for m in (100, 1_000, 10_000, 20_000)]
GRID += [(500, 100), (500, 10_000)]
#: Path-dependent cells: no background (m = 0).
PATH_CELLS = [(200, 0), (2_000, 0), (20_000, 0)]
QUICK = [(200, 100), (500, 100), (500, 10_000), (2_000, 1_000), (200, 0)]
TOOLS = ("shapkit", "woodelf", "shap", "shapiq")
#: Tools whose cost grows with n x m: their over-cap cells are extrapolated, not waited for.
PAIRWISE = ("shap", "shapiq")
REPEATS, REPEAT_SECONDS = 5, 2.0
TIMING = (
    f"Per cell, a fresh process warms up, then times the best of up to {REPEATS} calls "
    f"(as many as start within {REPEAT_SECONDS:.0f} s)"
)
N_FEATURES, N_TRAIN = 30, 20_000


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Explained-row pool (first 20,000) and background pool (last 20,000), and targets."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * N_TRAIN, N_FEATURES))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3:10].sum(1) + 0.1 * rng.normal(size=len(X))
    return X, y


def fit_model(X: np.ndarray, y: np.ndarray):
    import xgboost as xgb

    return xgb.XGBRegressor(n_estimators=100, max_depth=6, random_state=0, n_jobs=2).fit(
        X[:N_TRAIN], y[:N_TRAIN]
    )


# ----------------------------------------------------------------------- one cell (child)


def _values(tool: str, model, X: np.ndarray, B: np.ndarray | None) -> np.ndarray:
    """``(n, d)`` Shapley values of ``model`` by ``tool``: interventional against the
    background rows B, path-dependent when B is None."""
    if tool.startswith("shapkit"):
        import shapkit

        return shapkit.explain(model, X, background=B, method="tree").values.reshape(X.shape)
    if tool == "woodelf":
        import pandas as pd
        from woodelf import WoodelfExplainer

        cols = [f"x{j}" for j in range(X.shape[1])]
        expl = WoodelfExplainer(model, None if B is None else pd.DataFrame(B, columns=cols))
        out = expl.shap_values(pd.DataFrame(X, columns=cols), verbose=False)
        return np.asarray(out, dtype=float).reshape(X.shape)
    if tool == "shap":
        import shap

        if B is None:
            expl = shap.TreeExplainer(model)
        else:
            masker = shap.maskers.Independent(B, max_samples=len(B)) if len(B) > 100 else B
            expl = shap.TreeExplainer(model, masker, feature_perturbation="interventional")
        return np.asarray(expl.shap_values(X, check_additivity=False)).reshape(X.shape)
    if tool == "shapiq":
        import shapiq

        if B is None:
            expl = shapiq.TreeExplainer(model, index="SV", max_order=1)
        else:
            expl = shapiq.TreeExplainer(model, mode="interventional", reference_dataset=B,
                                        index="SV", max_order=1)  # fmt: skip
        batch = expl.explain_X(X)
        return np.column_stack([np.asarray(batch.values[(j,)]) for j in range(X.shape[1])])
    raise ValueError(f"unknown tool {tool!r}")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_cell(tool: str, model_path: str, n: int, m: int, out_path: str) -> None:
    """Child process: warm up, time the best of up to :data:`REPEATS` calls (while they
    take under :data:`REPEAT_SECONDS` in all), write its values and a JSON line."""
    import pickle
    import resource

    with open(model_path, "rb") as f:
        model = pickle.load(f)
    X, _ = make_data()
    rows = X[:n]
    background = X[N_TRAIN : N_TRAIN + m] if m else None
    # warm-up on 64 x 64 rows: every kernel a larger call runs (JIT, caches, imports)
    _values(tool, model, X[:64], X[N_TRAIN : N_TRAIN + 64] if m else None)
    before = _rss_mib()
    times: list[float] = []
    while len(times) < REPEATS and sum(times) < REPEAT_SECONDS:
        start = time.perf_counter()
        values = _values(tool, model, rows, background)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.save(out_path, values)
    import shapkit

    print(json.dumps({"seconds": seconds, "peak_mib": max(peak - before, 0.0),
                      "module": shapkit.__file__}))  # fmt: skip


# ------------------------------------------------------------------------ grid (parent)


def _child(tool: str, model_path: str, n: int, m: int, tmp: str, cap: float,
           env: dict[str, str] | None, cwd: str | None) -> dict:  # fmt: skip
    out = os.path.join(tmp, f"{tool}-{n}-{m}.npy")
    cmd = [sys.executable, "-m", "benchmarks.tree_grid", "--cell", tool, model_path,
           str(n), str(m), out]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=cap, env=env,
                              cwd=cwd or Path(__file__).resolve().parent.parent)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"status": f">{cap:.0f} s"}
    if proc.returncode != 0:
        return {"status": "failed: " + proc.stderr.strip().splitlines()[-1][:120]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["values"] = np.load(out)
    return result


def _baseline_env(rev: str, tmp: str) -> tuple[dict[str, str], str]:
    """An environment and working directory that import shapkit from a worktree at
    ``rev`` and this checkout's benchmarks."""
    root = Path(__file__).resolve().parent.parent
    tree = os.path.join(tmp, "baseline")
    subprocess.run(["git", "-C", str(root), "worktree", "add", "-f", "--detach", tree, rev],
                   check=True, capture_output=True)  # fmt: skip
    packages = os.path.join(tmp, "baseline-packages")
    os.makedirs(packages)
    os.symlink(os.path.join(tree, "shapkit"), os.path.join(packages, "shapkit"))
    env = dict(os.environ)
    env["PYTHONPATH"] = packages + os.pathsep + str(root)
    return env, packages


def run_grid(cells: list[tuple[int, int]], cap: float, baseline: str | None) -> list[dict]:
    import pickle

    X, y = make_data()
    model = fit_model(X, y)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.pkl")
        with open(model_path, "wb") as f:
            pickle.dump(model, f)
        tools: list[tuple[str, tuple[dict[str, str], str] | None]] = [(t, None) for t in TOOLS]
        if baseline:
            tools.append((f"shapkit@{baseline}", _baseline_env(baseline, tmp)))
        order = sorted(cells, key=lambda c: (c[0] * c[1], c))
        for tool, env in tools:
            largest: dict[bool, tuple[int, float]] = {}  # per game: (cost, s) of the largest
            for n, m in order:
                if tool.startswith("shapkit@") and (n * m > 500 * 1_000 or m == 0):
                    continue
                done = largest.get(m == 0)
                if tool in PAIRWISE and done is not None:
                    estimate = done[1] * n * max(m, 1) / done[0]
                    if estimate > cap:
                        status = f">{cap:.0f} s (est. {estimate:.0f} s)"
                    elif estimate > 0.75 * cap:  # too close to the cap to be worth the wait
                        status = f"not run (est. {estimate:.0f} s)"
                    if estimate > 0.75 * cap:
                        results.append(dict(tool=tool, n=n, m=m, status=status))
                        continue
                r = _child(tool, model_path, n, m, tmp, cap, *(env or (None, None)))
                r.update(tool=tool, n=n, m=m)
                if "seconds" in r:
                    largest[m == 0] = (n * max(m, 1), r["seconds"])
                shown = r.get("status") or f"{r['seconds']:.3g} s ({r.get('module')})"
                print(f"{tool:>16} {n:>6} x {m:<6} {shown}", flush=True)
                results.append(r)
        if baseline:
            root = Path(__file__).resolve().parent.parent
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force",
                            os.path.join(tmp, "baseline")], capture_output=True)  # fmt: skip
    return results


def table(results: list[dict], cells: list[tuple[int, int]]) -> str:
    """One markdown table: a row per cell, a column per tool."""
    by = {(r["tool"], r["n"], r["m"]): r for r in results}
    tools = list(dict.fromkeys(r["tool"] for r in results))

    def cell(tool: str, n: int, m: int) -> str:
        r = by.get((tool, n, m))
        if r is None:
            return "-"
        if "seconds" not in r:
            return r["status"]
        return f"{r['seconds']:.3g} s ({r['peak_mib']:.0f} MiB)"

    head = "| rows x background | " + " | ".join(tools) + " | WOODELF / shapkit | max diff |"
    lines = [head, "|" + "---|" * (len(tools) + 3)]
    for n, m in sorted(cells):
        ours = by.get(("shapkit", n, m), {})
        theirs = by.get(("woodelf", n, m), {})
        ratio = (f"{theirs['seconds'] / ours['seconds']:.2g}x"
                 if "seconds" in ours and "seconds" in theirs else "-")  # fmt: skip
        diffs = []
        if "values" in ours:
            scale = max(float(np.abs(ours["values"]).max()), 1e-12)
            for tool in tools:
                other = by.get((tool, n, m), {})
                if tool != "shapkit" and "values" in other:
                    diffs.append(float(np.abs(other["values"] - ours["values"]).max()) / scale)
        diff = f"{max(diffs):.1g}" if diffs else "-"
        label = f"{n:,} x {m:,}" if m else f"{n:,}, path-dependent"
        row = [label] + [cell(t, n, m) for t in tools] + [ratio, diff]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--cell":
        tool, model_path, n, m, out = sys.argv[2:7]
        run_cell(tool, model_path, int(n), int(m), out)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="five small cells only")
    parser.add_argument("--game", choices=("both", "interventional", "path"), default="both",
                        help="which games' cells to run (both)")  # fmt: skip
    parser.add_argument("--cap", type=float, default=600.0, help="seconds per cell")
    parser.add_argument("--baseline", default=None, help="also time shapkit at this git rev")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    cells = QUICK if args.quick else GRID + PATH_CELLS
    if args.game != "both":
        cells = [c for c in cells if (c[1] == 0) == (args.game == "path")]
    started = time.perf_counter()
    results = run_grid(cells, args.cap, args.baseline)
    body = table([r for r in results if r["m"]], [c for c in cells if c[1]])
    machine = machine_description()
    versions = ", ".join(f"{k} {machine.get(k, '?')}" for k in ("shap", "shapiq", "shapkit"))
    path_cells = [c for c in cells if not c[1]]
    path_body = table([r for r in results if not r["m"]], path_cells) if path_cells else ""

    command = " ".join(["python -m benchmarks.tree_grid", *sys.argv[1:]])
    where = (
        f"{machine['CPU']}, {machine['cores (usable)']} cores, Python {machine['python']}, "
        f"{versions}, woodelf-explainer {package_version('woodelf-explainer')}, git "
        f"{machine['git']}"
    )
    seconds = time.perf_counter() - started
    blocks = []
    if body.count("\n") > 1:
        text = (
            f"`{command}` ({seconds:.0f} s in all): XGBoost regressor, 100 trees of depth 6, "
            f"d = {N_FEATURES}; {where}. {TIMING}; in brackets the peak resident memory "
            f"above the warmed-up process. "
            f"shap runs with `shap.maskers.Independent(B, max_samples=len(B))` when m > 100 "
            f"(its default would subsample the background to 100 rows); shapiq's "
            f"`TreeExplainer(mode='interventional')` hands inputs with n x m >= 1e5 to "
            f"WOODELF itself.\n\n{body}\n"
        )
        blocks.append((BEGIN, END, text))
    if path_body:
        text = (
            f"`{command}` ({seconds:.0f} s in all), path-dependent TreeSHAP (no background) "
            f"on the same model: shapkit `explain(model, X)`, `WoodelfExplainer(model)`, "
            f"`shap.TreeExplainer(model)`, shapiq `TreeExplainer(model)` "
            f"(Quadrature-TreeSHAP); {where}. {TIMING}; each call reads the model "
            f"afresh.\n\n{path_body}\n"
        )
        blocks.append((PATH_BEGIN, PATH_END, text))
    for begin, end, text in blocks:
        print(text)
        if not args.no_write:
            write_marked_block(DOC, begin, end, text)
    if not args.no_write:
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
