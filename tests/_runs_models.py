"""Models for the tests of runs, locks and interrupts.

The command line loads them from joblib files in subprocesses (``tests/`` on
PYTHONPATH). Environment variables make them mark the moments a test waits for (an
empty file ``<moment>-<pid>`` in ``SHAPKIT_TEST_MARKERS``) and then block there, so a
test can signal the process at that moment without guessing times:

* ``SHAPKIT_TEST_SLOW_IMPORT``: importing this module marks ``import`` and sleeps.
* ``SHAPKIT_TEST_SLOW_LOAD``: unpickling a :class:`MarkedModel` marks ``load`` and sleeps.
* ``SHAPKIT_TEST_PARENT``: a :class:`MarkedModel` called in a process whose parent is
  not this pid (a worker of the command's process) marks ``call`` and sleeps, on its
  first call in that process.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

WEIGHTS = np.array([1.0, -2.0, 0.5, 3.0])
BLOCK_SECONDS = 60.0


def mark(moment: str) -> None:
    """Create the marker file of ``moment`` for this process (once)."""
    directory = os.environ.get("SHAPKIT_TEST_MARKERS")
    if directory:
        path = os.path.join(directory, f"{moment}-{os.getpid()}")
        if not os.path.exists(path):
            with open(path, "w"):
                pass


if os.environ.get("SHAPKIT_TEST_SLOW_IMPORT"):
    mark("import")
    time.sleep(BLOCK_SECONDS)


_BLOCKED: list[bool] = []


def _in_worker() -> bool:
    parent = os.environ.get("SHAPKIT_TEST_PARENT")
    return parent is not None and os.getppid() != int(parent)


class MarkedModel:
    """A nonlinear model of 4 columns that blocks at the moments the environment asks
    for (see the module docstring)."""

    def __init__(self) -> None:
        self.scale = 1.0  # some state, so that unpickling calls __setstate__

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if os.environ.get("SHAPKIT_TEST_SLOW_LOAD"):
            mark("load")
            time.sleep(BLOCK_SECONDS)

    def __call__(self, X):
        if _in_worker() and not _BLOCKED:
            _BLOCKED.append(True)  # block once per process
            mark("call")
            time.sleep(BLOCK_SECONDS)
        Z = np.asarray(X, dtype=float)
        return self.scale * (Z @ WEIGHTS + np.sin(Z[:, 0] * Z[:, 1]))


class LockedModel:
    """A model that pickles when saved but not once loaded: loading gives it a lock."""

    def __init__(self) -> None:
        self.scale = 1.0

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()

    def __call__(self, X):
        Z = np.asarray(X, dtype=float)
        return Z @ WEIGHTS


class CountingModel:
    """Counts its calls (in this process)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, X):
        self.calls += 1
        Z = np.asarray(X, dtype=float)
        return Z @ WEIGHTS[: Z.shape[1]] + np.sin(Z[:, 0] * Z[:, 1])
