"""Progress bars: tqdm on stderr when a run is long and someone is watching.

``progress=None`` (auto) shows a bar only when stderr is a terminal and not under
pytest, and only once the run has taken ``AUTO_DELAY`` seconds (short runs stay quiet);
``True`` forces it from the start, ``False`` hides it. tqdm's bar shows the rows done, the
rate and the remaining-time estimate.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: Seconds before an automatic (``progress=None``) bar appears.
AUTO_DELAY = 2.0


def progress_enabled(progress: bool | None) -> bool:
    """Whether to draw a bar: ``progress`` itself, or for None whether stderr is a TTY."""
    if progress is not None:
        return bool(progress)
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class _NoBar:
    """Stands in for a bar when none is drawn."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(total: int, progress: bool | None, desc: str = "shapkit", initial: int = 0) -> Any:
    """A tqdm bar over ``total`` rows (a context manager with ``update(n)``), or a no-op."""
    if not progress_enabled(progress):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="row",
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
        delay=AUTO_DELAY if progress is None else 0.0,
    )
