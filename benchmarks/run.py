"""Run the benchmarks of issue 3 and write docs/benchmarks.md.

Sections (all by default, or pick with ``--sections``), one module each in
:mod:`benchmarks.sections`:

* ``accuracy``: every game x budget (10d, 50d, and 2^d when d <= 12) x applicable method,
  over several explicands x seeds; mean relative L2 error with its standard error, and
  shapkit's samplers against the best anchor (paired by explicand and seed);
* ``speed``: ``shapkit.explain`` vs the model alone vs shap.KernelExplainer at budget 2048
  (breast_cancer, d = 30, 20 rows, 100 background rows; see :mod:`benchmarks.speed`);
* ``target``: time to reach 1% mean relative error on the breast_cancer tree game
  (see :mod:`benchmarks.target`);
* ``coldstart``: first explain in a fresh process, empty vs warm Numba cache
  (see :mod:`benchmarks.coldstart`).

Usage (from the repository root)::

    python -m benchmarks.run                 # full run (~10-15 min on 2 cores)
    python -m benchmarks.run --quick         # smoke run (< ~1 minute on 2 cores), prints only
    python -m benchmarks.run --sections speed --out /tmp/speed.md   # one section
    python -m benchmarks.run --verify        # check every method on a d=6 unanimity game
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.games import GAMES
from benchmarks.machine import machine_description
from benchmarks.methods import build_methods
from benchmarks.report import render_report, skipped_section, write_report
from benchmarks.sections import accuracy, coldstart, speed, time_to_accuracy
from benchmarks.settings import Context, Settings
from benchmarks.target import geometric_grid
from benchmarks.verify import verify_methods

#: The sections, in the order they run and appear in the report.
SECTIONS: dict[str, Callable[[Context], list[str]]] = {
    "accuracy": accuracy.run,
    "speed": speed.run,
    "target": time_to_accuracy.run,
    "coldstart": coldstart.run,
}
DEFAULT_OUT = Path("docs/benchmarks.md")


def settings_for(args: argparse.Namespace) -> Settings:
    """Section sizes from the command line."""
    if args.quick:
        base = Settings(2, 1, 2, 1, 1, 1, tuple(geometric_grid(256, 1024)), ("kernel",), 3.0)
    else:
        base = Settings(
            5, 3, 20, 3, 5, 2, tuple(geometric_grid(128, 16384)), ("kernel", "permutation"), 10.0
        )
    return dataclasses.replace(
        base,
        explicands=args.explicands or base.explicands,
        seeds=args.seeds or base.seeds,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run (< ~1 min)")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=list(SECTIONS),
        default=list(SECTIONS),
        help="sections to run (default: all)",
    )
    parser.add_argument(
        "--explicands",
        type=int,
        default=None,
        help="explicands per game in the accuracy section (default: 2 with --quick, else 5)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds 0..N-1 per explicand in the accuracy section (default: 1 quick, else 3)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown report path (default: docs/benchmarks.md; with --quick, none: the "
        "smoke run only prints unless --out is given)",
    )
    parser.add_argument(
        "--games", nargs="*", default=None, help=f"only these games of {list(GAMES)}"
    )
    parser.add_argument(
        "--speed-threads",
        nargs="+",
        default=None,
        help="thread settings of the speed section: integers and/or 'default' (default: 1; "
        "'default' keeps the libraries' thread counts, meaningful on a quiet machine only: "
        "OpenMP models slow down many-fold while another process holds a core)",
    )
    parser.add_argument("--no-anchors", action="store_true", help="only shapkit methods")
    parser.add_argument(
        "--verify", action="store_true", help="only check the methods on a d=6 unanimity game"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # anchors warn a lot (budget capping, convergence)
    start = time.perf_counter()
    methods, skipped = build_methods(include_anchors=not args.no_anchors)
    if args.verify:
        result = verify_methods(methods)
        print(result.to_string(index=False))
        return 0 if result["ok"].all() else 1

    context = Context(
        settings=settings_for(args),
        quick=args.quick,
        games=args.games,
        speed_threads=args.speed_threads,
        methods=methods,
        skipped=skipped,
    )
    sections: list[str] = []
    notes: list[str] = []
    section_times: dict[str, float] = {}
    clock = time.perf_counter()
    for name, run_section in SECTIONS.items():
        if name not in args.sections:
            continue
        print(f"== {name}", flush=True)
        sections += run_section(context)
        now = time.perf_counter()
        section_times[name] = now - clock
        clock = now
    notes.append(
        "Section wall times: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in section_times.items())
        + "."
    )
    if args.quick:
        notes.append("`--quick`: reduced sizes, a smoke run; numbers are not for quoting.")
    sections.append(skipped_section(skipped))
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    wall = time.perf_counter() - start
    notes.append(
        f"CPU time of the run (this process, children excluded): "
        f"{time.process_time() / 60:.1f} min; the wall time exceeds it by what other "
        "processes on the machine took."
    )
    out = args.out if args.out is not None else (None if args.quick else DEFAULT_OUT)
    if out is None:
        print(f"done ({wall:.0f} s); --quick writes no report without --out")
        return 0
    report = render_report(command, machine_description(), sections, wall, notes)
    write_report(out, report)
    print(f"wrote {out} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
