"""Progress bars: tqdm on stderr when a run is long and someone is watching.

``progress=None`` (auto) shows a bar only when stderr is a terminal or the code runs in
a Jupyter kernel, not under pytest, and only once the run has taken ``AUTO_DELAY``
seconds (short runs stay quiet); ``True`` forces it from the start, ``False`` hides it.
The bar comes from ``tqdm.auto`` (a widget in notebooks where ipywidgets is installed,
text elsewhere) and shows the rows done, the rate and the remaining-time estimate. Runs
move it per row in this process and per task (about a second of work) on worker
processes (see :mod:`shapkit.execution.local`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: Seconds before an automatic (``progress=None``) bar appears.
AUTO_DELAY = 2.0


def progress_enabled(progress: bool | None) -> bool:
    """Whether to draw a bar: ``progress`` itself, or for None whether stderr is a TTY
    or a notebook (never under pytest)."""
    if progress is not None:
        return bool(progress)
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    if _in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _in_notebook() -> bool:
    """Whether this code runs in a Jupyter (IPython) kernel, whose stderr is no TTY."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a partial or unusual IPython
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


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
