"""Adapter for any callable ``f(data) -> (rows,) or (rows, k)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import as_matrix


class CallableModel:
    """Wraps a plain function; it receives data of the type of X, unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> model = CallableModel(lambda X: X.sum(axis=1))
    >>> model.predict(np.ones((2, 3)))
    array([[3.],
           [3.]])
    """

    def __init__(self, fn: Callable[[Any], Any], output_names: list[str] | None = None) -> None:
        self.fn = fn
        self._names = output_names
        self.output_names: list[str] = list(output_names) if output_names else []

    def predict(self, data: Any) -> np.ndarray:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        raw = self.fn(data)
        out = as_matrix(raw, len(data), f"The model {name!r}")
        if not self.output_names and hasattr(raw, "columns") and len(raw.columns) == out.shape[1]:
            self.output_names = [str(c) for c in raw.columns]
        if not self.output_names:
            k = out.shape[1]
            self.output_names = ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]
        return out
