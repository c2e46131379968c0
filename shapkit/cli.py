"""The ``shapkit`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``shapkit`` command."""
    parser = argparse.ArgumentParser(
        prog="shapkit", description="Shapley values for any game and any tabular model."
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shapkit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        if not 1 <= args.rows <= 171:
            print(
                "shapkit demo: error: --rows must be between 1 and 171 (held-out rows).",
                file=sys.stderr,
            )
            return 2
        from .demo import run_demo

        run_demo(n_rows=args.rows, out_dir=args.out, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
