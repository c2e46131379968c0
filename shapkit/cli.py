"""The ``shapkit`` command line.

Every failure is one line on stderr (``shapkit COMMAND: error: ...``) and a non-zero
exit code; Ctrl-C at any moment after start-up is one line and exit code 130, and stops
the worker processes of ``--n-jobs``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .methods import ALL_METHODS

TRUST_WARNING = (
    "Security: pickle and joblib model files run code when they are loaded; load only "
    "files from sources you trust. TorchScript (.pt) and torch.export (.pt2) files are "
    "loaded with torch."
)

#: Printed once to stderr when a pickle or joblib model file is loaded.
PICKLE_NOTICE = (
    "shapkit: note: {path} is loaded with joblib/pickle, which runs code from the file; "
    "load only model files from sources you trust."
)

METHODS = list(ALL_METHODS)
OUTPUTS = ["auto", "probability", "log_odds", "decision", "raw", "margin"]


class CLIError(Exception):
    """A user error: reported as one line on stderr, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``shapkit`` command."""
    parser = argparse.ArgumentParser(
        prog="shapkit",
        description="Shapley values for any game and any tabular model.",
        epilog=(
            TRUST_WARNING + " Errors are reported in one line on stderr with a non-zero "
            "exit code; set SHAPKIT_TRACEBACK=1 to see the full traceback. Run "
            "'shapkit COMMAND --help' for the options of each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"shapkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="explain a gradient-boosting classifier on bundled breast-cancer data",
        description=(
            "Train a gradient-boosting classifier on scikit-learn's bundled breast-cancer "
            "data, explain held-out rows exactly, print the global importance table and "
            "write the per-row values to OUT/values.csv."
        ),
    )
    demo.add_argument("--rows", type=int, default=100, help="held-out rows to explain (100)")
    demo.add_argument("--out", default="shapkit_demo", help="output folder (shapkit_demo)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")

    explain = commands.add_parser(
        "explain",
        help="explain a saved model on a CSV/Parquet table (resumable, parallel)",
        description=(
            "Explain every row of --data with the model in --model and write one row of "
            "values per data row. Output columns: row (the data row number or index "
            "label), base_value, shap_value:<feature>..., std_error:<feature>..., "
            "prediction, n_evals (with ':<output>' suffixes for multi-output models). "
            "--out is a Parquet dataset directory (part-NNNNNN.parquet files plus "
            "_manifest.json), or a .csv file (its parts live in OUT.parts/ until the CSV is "
            "written, then they are deleted). Chunks are written as they finish; rerunning "
            "the same command after an interruption skips the finished chunks (resume) and "
            "gives the same values. Worker processes: "
            "--n-jobs."
        ),
        epilog=TRUST_WARNING,
    )
    _model_args(explain)
    explain.add_argument(
        "--background",
        metavar="PATH",
        help="background rows (CSV/Parquet); default: a seeded sample of "
        "--background-size rows of --data",
    )
    explain.add_argument(
        "--background-size",
        type=int,
        default=100,
        metavar="N",
        help="rows sampled from --data when --background is not given (100)",
    )
    explain.add_argument(
        "--path-dependent",
        action="store_true",
        help="tree models: path-dependent TreeSHAP from the trees' node covers, no background "
        "rows (the game of shap's TreeExplainer(model)); not with --background",
    )
    explain.add_argument("--method", default="auto", choices=METHODS, help="estimator (auto)")
    explain.add_argument("--budget", type=int, help="game evaluations per row (sampling methods)")
    explain.add_argument("--tol", type=float, help="target standard error (sampling methods)")
    explain.add_argument(
        "--output",
        default="auto",
        choices=OUTPUTS,
        help="model output space (auto: probability for classifiers)",
    )
    explain.add_argument(
        "--n-jobs", type=int, default=1, metavar="N", help="worker processes (1; -1: every core)"
    )
    explain.add_argument(
        "--out",
        default="shapkit_values",
        metavar="PATH",
        help="output: Parquet dataset directory or .csv file (shapkit_values)",
    )
    explain.add_argument(
        "--chunk-size", type=int, default=1000, metavar="ROWS", help="rows per written chunk (1000)"
    )
    explain.add_argument("--seed", type=int, default=0, help="random seed (0)")
    explain.add_argument(
        "--groups",
        metavar="FILE.json",
        help='players made of several columns: a JSON object {"group": ["col", ...], ...}; '
        "columns in no group stay players of their own",
    )
    explain.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write the HTML report of the values (shapkit.report) to this file",
    )
    explain.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run with other arguments found at --out (deletes only shapkit's own "
        "files there; a directory holding other files is refused)",
    )
    _progress_args(explain)

    select = commands.add_parser(
        "select",
        help="Shapley-based feature selection (shapkit.select_features)",
        description=(
            "Rank and select the features of --data (less the --target column) with "
            "shapkit.select_features: the model is refitted on --cv folds, --n-repeats "
            "times, and each feature's held-out importance is tested against random "
            "probes (strategy probe), used for recursive elimination (rfe) or ranked "
            "(rank). Prints the selected features and a compact table; --out writes the "
            "full report (CSV, or Parquet for .parquet)."
        ),
        epilog=TRUST_WARNING,
    )
    _model_args(select)
    select.add_argument("--target", required=True, metavar="COLUMN", help="target column")
    select.add_argument(
        "--strategy", default="probe", choices=["probe", "rfe", "rank"],
        help="selection strategy (probe)",
    )  # fmt: skip
    select.add_argument(
        "--importance", default="shap", choices=["shap", "sage"],
        help="rank by mean |Shapley value| (shap) or by SAGE loss reduction (sage)",
    )  # fmt: skip
    select.add_argument(
        "--select", default="f1", choices=["f1", "fdr"],
        help="probe: keep the FDR-accepted features plus the F1 cut (f1) or those only (fdr)",
    )  # fmt: skip
    select.add_argument(
        "--alpha", type=float, default=0.05, help="probe: false discovery rate (0.05)"
    )
    select.add_argument("--cv", type=int, default=5, metavar="K", help="folds per repeat (5)")
    select.add_argument(
        "--n-repeats", type=int, default=5, metavar="N", help="repeats of the K folds (5)"
    )
    select.add_argument(
        "--n-jobs", type=int, default=1, metavar="N", help="parallel refits (1; -1: every core)"
    )
    select.add_argument("--seed", type=int, default=0, help="random seed (0)")
    select.add_argument("--out", metavar="PATH", help="full report file (.csv or .parquet)")

    bench = commands.add_parser(
        "bench",
        help="run the benchmark harness (python -m benchmarks.run)",
        description=(
            "Run the benchmark harness of a source checkout (python -m benchmarks.run); "
            "the benchmarks package is not part of the installed wheel."
        ),
    )
    bench.add_argument("--quick", action="store_true", help="small smoke run")
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        metavar="PATH",
        help="model file: .joblib/.pkl/.pickle (joblib or pickle; trusted "
        "sources only), .pt2 (torch.export) or .pt/.pth (TorchScript)",
    )
    parser.add_argument("--data", required=True, metavar="PATH", help="rows: .csv or .parquet")


def _progress_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show a progress bar (default: when stderr is a terminal)",
    )
    group.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show a progress bar"
    )


@contextlib.contextmanager
def interrupts_not_swallowed() -> Iterator[None]:
    """Ctrl-C that lands in a callback from C (Numba's compiler calls back into Python
    through ctypes) becomes an "Exception ignored" message and is lost, and the run goes
    on as if never interrupted. While this is active such a KeyboardInterrupt is sent
    again as a fresh SIGINT from another thread 50 ms later (a signal raised inside the
    hook would be handled, and lost, right there), which Python delivers once it is back
    in its own code; a second loss sends it again."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapkit`` console script; returns the exit code."""
    command = None
    try:
        with interrupts_not_swallowed():
            parser = build_parser()
            args = parser.parse_args(argv)
            command = args.command
            if command is None:
                parser.print_help()
                return 0
            return _COMMANDS[command](args)
    except KeyboardInterrupt:
        prefix = f"shapkit {command}" if command else "shapkit"
        resume = "; rerun the same command to resume" if command == "explain" else ""
        print(f"{prefix}: interrupted{resume}.", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line, no traceback, for any failure
        if os.environ.get("SHAPKIT_TRACEBACK"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, CLIError):
            message = f"{type(error).__name__}: {message}"
        print(f"shapkit {command}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, CLIError) else 1


def _check_seed(seed: Any) -> None:
    """A CLIError unless ``--seed`` passes :func:`shapkit._validation.check_seed`."""
    from ._validation import check_seed

    try:
        check_seed(seed, generator=False, name="--seed")
    except (TypeError, ValueError) as error:
        raise CLIError(str(error)) from error


def _check_file(path: str, what: str) -> None:
    if not Path(path).is_file():
        raise CLIError(f"{what} file not found: {path}")


def _demo(args: argparse.Namespace) -> int:
    if not 1 <= args.rows <= 171:
        raise CLIError("--rows must be between 1 and 171 (held-out rows).")
    _check_seed(args.seed)
    from .demo import run_demo

    run_demo(n_rows=args.rows, out_dir=args.out, seed=args.seed)
    return 0


def read_table(path: str, what: str) -> Any:
    """A CSV or Parquet file as a DataFrame, or a CLIError saying why not."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"{what} file not found: {path}")
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(file)
        else:
            frame = pd.read_csv(file)
    except ImportError as error:
        raise CLIError(f"cannot read {path}: {error}") from error
    except Exception as error:  # noqa: BLE001 - parser errors of many kinds
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        detail = " ".join(str(error).split())
        raise CLIError(f"cannot read {what} file {path} as {kind}: {detail}") from error
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise CLIError(f"{what} file {path} has no rows or no columns.")
    return frame


def load_model(path: str) -> Any:
    """A model from a joblib/pickle, torch.export (.pt2) or TorchScript (.pt) file.

    Loading a joblib/pickle file first prints :data:`PICKLE_NOTICE` to stderr."""
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"model file not found: {path}")
    suffix = file.suffix.lower()
    if suffix in (".pt2", ".pt", ".pth"):
        try:
            import torch
        except ImportError as error:
            raise CLIError(f"{path} is a torch model; install torch to load it.") from error
        try:
            if suffix == ".pt2":
                return _exported_module(torch, torch.export.load(str(file)))
            return torch.jit.load(str(file), map_location="cpu")
        except Exception as error:  # noqa: BLE001
            detail = " ".join(str(error).split())
            raise CLIError(f"cannot load torch model {path}: {detail}") from error
    print(PICKLE_NOTICE.format(path=path), file=sys.stderr)
    import joblib

    try:
        return joblib.load(file)
    except Exception as error:  # noqa: BLE001 - unpickling fails in many ways
        detail = " ".join(str(error).split())
        raise CLIError(f"cannot load model {path} (joblib/pickle): {detail}") from error


def _exported_module(torch: Any, program: Any) -> Any:
    """An ``nn.Module`` around a loaded ``torch.export`` program.

    The program's module refuses ``eval()``; the wrapper keeps it out of its children
    (so ``eval()`` does not reach it) and holds a buffer of the program's float dtype, so
    shapkit's torch adapter feeds it tensors of that dtype."""
    graph_module = program.module()
    floats = [t for t in graph_module.state_dict().values() if t.is_floating_point()]
    dtype = floats[0].dtype if floats else torch.float32

    class ExportedModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("dtype_probe", torch.zeros((), dtype=dtype))
            object.__setattr__(self, "program", graph_module)

        def forward(self, x: Any) -> Any:
            return self.program(x)

    return ExportedModule()


def check_columns(model: Any, frame: Any, path: str) -> None:
    """A CLIError unless the columns match what a scikit-learn model was fitted on."""
    names = getattr(model, "feature_names_in_", None)
    columns = [str(c) for c in frame.columns]
    if names is not None:
        names = [str(n) for n in names]
        missing = [n for n in names if n not in columns]
        extra = [c for c in columns if c not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {_few(missing)}")
            if extra:
                parts.append(f"unexpected {_few(extra)}")
            raise CLIError(
                f"the columns of {path} do not match the model's features: {'; '.join(parts)}."
            )
        return
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and expected != len(columns):
        raise CLIError(
            f"{path} has {len(columns)} columns but the model was fitted on {expected} features."
        )


def in_model_order(model: Any, frame: Any, path: str) -> Any:
    """``frame`` with its columns in the order the model was fitted on (a CSV's column
    order is no part of its meaning), after :func:`check_columns`."""
    check_columns(model, frame, path)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame
    by_name = {str(c): c for c in frame.columns}
    return frame[[by_name[str(n)] for n in names]]


def common_numeric_dtypes(data: Any, background: Any) -> tuple[Any, Any]:
    """Data and background with each numeric column in one dtype: files read separately
    can disagree (an int column in one, floats where the other has a blank cell), and the
    lossless common type (int64 and float64 -> float64) is what both hold."""
    import numpy as np

    casts = {}
    for column in data.columns:
        a, b = data[column].dtype, background[column].dtype
        if a == b or not all(isinstance(t, np.dtype) and t.kind in "biuf" for t in (a, b)):
            continue
        common = np.result_type(a, b)
        if common.kind == "f" or common == a or common == b:
            casts[column] = common
    if not casts:
        return data, background
    return data.astype(casts), background.astype(casts)


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _explain(args: argparse.Namespace) -> int:
    if args.budget is not None and args.budget < 1:
        raise CLIError(f"--budget must be a positive integer; got {args.budget}.")
    if args.tol is not None and not args.tol > 0:
        raise CLIError(f"--tol must be a positive number; got {args.tol}.")
    if args.chunk_size < 1:
        raise CLIError(f"--chunk-size must be a positive integer; got {args.chunk_size}.")
    if args.n_jobs == 0:
        raise CLIError("--n-jobs must be a non-zero integer (-1: every core).")
    if args.background_size < 1:
        raise CLIError(f"--background-size must be positive; got {args.background_size}.")
    _check_seed(args.seed)
    groups = _read_groups(args.groups) if args.groups is not None else None
    if args.report is not None and Path(args.report).is_dir():
        raise CLIError(f"--report {args.report} is a directory; give an .html file name.")
    out = Path(args.out)
    to_csv = out.suffix.lower() == ".csv"
    directory = out.with_name(out.name + ".parts") if to_csv else out
    if to_csv and out.is_dir():
        raise CLIError(f"--out {out} is an existing directory; a .csv output is a file.")
    if directory.exists() and not directory.is_dir():
        raise CLIError(
            f"--out {directory} is an existing file; a Parquet output is a directory of "
            "part files: choose another path (or a .csv file name for a CSV output)."
        )
    _check_file(args.model, "model")
    _check_file(args.data, "data")
    if args.background is not None:
        if args.path_dependent:
            raise CLIError("--path-dependent reads no background: drop --background.")
        _check_file(args.background, "background")
    model = load_model(args.model)
    data = in_model_order(model, read_table(args.data, "data"), args.data)
    if args.background is not None:
        background = in_model_order(
            model, read_table(args.background, "background"), args.background
        )
        if set(background.columns) != set(data.columns):
            raise CLIError(f"the columns of {args.background} differ from those of {args.data}.")
        data, background = common_numeric_dtypes(data, background[list(data.columns)])
    elif args.path_dependent:
        background = None
    else:
        from .tabular import sample_background

        background = sample_background(data, args.background_size, args.seed)
    from .execution.local import UnpicklableModelError
    from .execution.resumable import (
        ForeignFilesError,
        ManifestError,
        RunLockedError,
        RunMismatchError,
        explain_to_dataset,
        file_digest,
        read_dataset,
        remove_run,
    )
    from .explainer import Explainer

    explainer = Explainer(
        model,
        background,
        method=args.method,
        output=args.output,
        seed=args.seed,
        n_jobs=args.n_jobs,
        groups=groups,
    )
    try:
        summary = explain_to_dataset(
            explainer,
            data,
            directory,
            budget=args.budget,
            tol=args.tol,
            chunk_size=args.chunk_size,
            n_jobs=args.n_jobs,
            progress=args.progress,
            fingerprint={"model": file_digest(args.model)},
            overwrite=args.overwrite,
        )
    except UnpicklableModelError as error:
        raise CLIError(
            f"--n-jobs {args.n_jobs}: the model cannot be sent to worker processes "
            f"({error.reason}); use --n-jobs 1."
        ) from error
    except (
        RunMismatchError,
        ForeignFilesError,
        ManifestError,
        RunLockedError,
        NotADirectoryError,
    ) as error:
        raise CLIError(str(error)) from error
    if to_csv or args.report is not None:  # from the verified dataset of this run only
        values = read_dataset(directory, key=summary["key"])
    if args.report is not None:
        from .reports.html import report

        expl = explainer.explanation_from_frame(
            data, values.drop(columns="row"), budget=args.budget, tol=args.tol,
            method=summary["method"],
        )  # fmt: skip
        report(expl, args.report)
        print(f"shapkit explain: report -> {args.report}", file=sys.stderr)
    if to_csv:  # then the parts go
        _write_csv(values, out)
        left = remove_run(directory)
        if left:
            print(
                f"shapkit: note: {directory} was kept: it holds files shapkit did not "
                f"write ({', '.join(left[:5])}).",
                file=sys.stderr,
            )
    if summary["method_reason"]:
        print(
            f"shapkit explain: auto ran {summary['method']}: {summary['method_reason']}.",
            file=sys.stderr,
        )
    reused = f" ({summary['reused']} reused from an earlier run)" if summary["reused"] else ""
    print(
        f"shapkit explain: {len(data)} rows, {summary['n_chunks']} chunks{reused}, "
        f"verified -> {out}",
        file=sys.stderr,
    )
    return 0


def _read_groups(path: str) -> dict[str, list[str]]:
    """The ``--groups`` file: a JSON object of group name -> column names (or one name)."""
    import json

    _check_file(path, "groups")
    try:
        groups = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CLIError(f"--groups {path} is not valid JSON ({error}).") from error
    if not isinstance(groups, dict) or not groups:
        raise CLIError(
            f'--groups {path} must hold a non-empty JSON object {{"group": ["column", ...]}}; '
            f"got {type(groups).__name__}."
        )
    for name, columns in groups.items():
        if isinstance(columns, str):
            groups[name] = [columns]
        elif not (
            isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)
        ):
            raise CLIError(
                f"--groups {path}: group {name!r} must be a column name or a non-empty list "
                f"of column names; got {json.dumps(columns)}."
            )
    return groups


def _write_csv(frame: Any, out: Path) -> None:
    """Write ``frame`` to ``out`` through a temporary file, flushed and renamed."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", newline="") as handle:
            frame.to_csv(handle, index=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: The report columns ``shapkit select`` prints (the full report goes to ``--out``).
COMPACT_COLUMNS = [
    "rank", "mean_abs_shap", "mean_sage", "ci_low", "ci_high", "q_value", "decision", "selected",
]


def _select(args: argparse.Namespace) -> int:
    _check_seed(args.seed)
    if args.cv < 2:
        raise CLIError(f"--cv must be at least 2 folds; got {args.cv}.")
    if args.n_repeats < 1:
        raise CLIError(f"--n-repeats must be a positive integer; got {args.n_repeats}.")
    if args.n_jobs == 0:
        raise CLIError("--n-jobs must be a non-zero integer (-1: every core).")
    if not 0 < args.alpha < 1:
        raise CLIError(f"--alpha must lie between 0 and 1; got {args.alpha}.")
    _check_file(args.model, "model")
    _check_file(args.data, "data")
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.is_dir():
        raise CLIError(f"--out {out} is a directory; the report is a .csv or .parquet file.")
    model = load_model(args.model)
    data = read_table(args.data, "data")
    if args.target not in data.columns:
        raise CLIError(
            f"target column {args.target!r} is not in {args.data} "
            f"(columns: {_few([str(c) for c in data.columns])})."
        )
    X, y = data.drop(columns=[args.target]), data[args.target]
    check_columns(model, X, args.data)
    import shapkit

    report = shapkit.select_features(
        model, X, y, strategy=args.strategy, importance=args.importance, select=args.select,
        alpha=args.alpha, cv=args.cv, n_repeats=args.n_repeats, n_jobs=args.n_jobs,
        seed=args.seed,
    )  # fmt: skip
    selected = [str(name) for name in report.index[report["selected"].astype(bool)]]
    print(
        f"shapkit select: {len(selected)} of {len(report)} features selected "
        f"({args.strategy}): {', '.join(selected) if selected else 'none'}"
    )
    columns = [c for c in COMPACT_COLUMNS if c in report.columns]
    print(report[columns].to_string(float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        if out.suffix.lower() in (".parquet", ".pq"):
            report.to_parquet(out)
        else:
            report.to_csv(out, index=True)
        print(f"shapkit select: full report -> {out}", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    try:
        found = importlib.util.find_spec("benchmarks.run") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise CLIError(
            "the benchmarks package is not importable here; it ships with the source "
            "repository, not the installed package: run 'shapkit bench' from a clone of "
            "shapkit (its root on the Python path)."
        )
    command = [sys.executable, "-m", "benchmarks.run", *(["--quick"] if args.quick else [])]
    return subprocess.call(command)


_COMMANDS = {"demo": _demo, "explain": _explain, "select": _select, "bench": _bench}


if __name__ == "__main__":
    sys.exit(main())
