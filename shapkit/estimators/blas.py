"""One BLAS thread for the estimators' small dense solves.

The least-squares problems of the kernel and proxy estimators are small (thousands of
rows by at most a few hundred columns). Multi-threaded BLAS gains nothing there and,
whenever another process holds a core, stalls: an SVD of a 1000 x 29 matrix took 310 ms
with OpenBLAS's two threads on a busy 2-core machine against 1.1 ms on one thread.
Model calls are not affected: only the solves run inside :func:`one_blas_thread`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

_CONTROLLER: list[Any] = []


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit the BLAS libraries loaded by numpy/scipy to one thread inside the block.

    The thread-pool controller is built once per process (finding the libraries costs
    ~0.5 ms; entering the limit afterwards ~10 us).
    """
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield
