"""The ``shapkit`` console script's entry point: Ctrl-C while shapkit starts up (before
:func:`shapkit.cli.main` takes over) exits with code 130 and one line, no traceback."""

from __future__ import annotations

import signal
import sys
from typing import Any


def _interrupted(signum: int, frame: Any) -> None:
    sys.stderr.write("shapkit: interrupted.\n")
    sys.exit(130)


def run() -> int:
    """Import the command line under the start-up handler, then run it with Python's
    own Ctrl-C handling, which :func:`shapkit.cli.main` turns into one line."""
    from shapkit.cli import main

    signal.signal(signal.SIGINT, signal.default_int_handler)
    return main()


signal.signal(signal.SIGINT, _interrupted)  # from the first statement of the script
