"""Thin model adapters: scikit-learn, torch and plain callables behind one protocol.

:func:`as_model` picks the adapter; each returns float64 ``(rows, k)`` from ``predict``
and names its outputs in ``output_names``.
"""

from __future__ import annotations

from typing import Any

from .base import Model, as_matrix
from .function import CallableModel
from .sklearn import SklearnModel, is_sklearn_model
from .torch import TorchModel, is_torch_module

__all__ = ["CallableModel", "Model", "SklearnModel", "TorchModel", "as_matrix", "as_model"]


def as_model(obj: Any, output: str = "auto") -> Model:
    """Wrap ``obj`` (a torch module, scikit-learn estimator or callable) as a :class:`Model`.

    Example
    -------
    >>> import numpy as np
    >>> model = as_model(lambda X: X[:, 0] * 2)
    >>> model.predict(np.ones((3, 2))).ravel().tolist()
    [2.0, 2.0, 2.0]
    """
    if is_torch_module(obj):
        _only_raw(obj, output)
        return TorchModel(obj)
    if is_sklearn_model(obj):
        return SklearnModel(obj, output)
    if callable(obj):
        _only_raw(obj, output)
        return CallableModel(obj)
    if hasattr(obj, "predict"):
        _only_raw(obj, output)
        return CallableModel(obj.predict)
    raise TypeError(
        f"Cannot explain a {type(obj).__name__}: pass a scikit-learn estimator or Pipeline, "
        f"a torch nn.Module, or a callable f(X) -> predictions."
    )


def _only_raw(obj: Any, output: str) -> None:
    if output not in ("auto", "raw"):
        raise ValueError(
            f"output={output!r} applies to scikit-learn classifiers only; for a "
            f"{type(obj).__name__} use output='auto' (its raw output), or wrap the "
            f"transformation into the callable."
        )
