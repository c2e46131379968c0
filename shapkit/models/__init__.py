"""Thin model adapters: scikit-learn, torch and plain callables behind one protocol.

:func:`as_model` picks the adapter; each returns float64 ``(rows, k)`` from ``predict``
and names its outputs in ``output_names``.
"""

from __future__ import annotations

from typing import Any

from .base import Model, as_matrix
from .boosters import BoosterModel, booster_library
from .function import CallableModel
from .sklearn import SklearnModel, is_sklearn_model
from .torch import TorchModel, is_torch_module

__all__ = [
    "BoosterModel",
    "CallableModel",
    "Model",
    "SklearnModel",
    "TorchModel",
    "as_matrix",
    "as_model",
]

#: The outputs a function, torch module or other predict-only object takes.
RAW_OUTPUTS = ("auto", "raw")
#: Every output name some adapter takes (see :class:`SklearnModel`, :class:`BoosterModel`).
KNOWN_OUTPUTS = ("auto", "raw", "probability", "log_odds", "decision", "margin")


def as_model(obj: Any, output: str = "auto") -> Model:
    """Wrap ``obj`` (a torch module, scikit-learn estimator, XGBoost or LightGBM Booster,
    or callable) as a :class:`Model`.

    ``output`` picks what is explained: for scikit-learn classifiers "probability"
    (default), "log_odds" or "decision"; for outlier detectors "auto" (``predict``'s
    +1/-1 labels) or "decision"; for Boosters "auto" (their default prediction) or
    "margin"/"decision"; for everything else "auto"/"raw" (its own output). Any other
    name raises a ValueError listing the choices.

    Examples
    --------
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
    if booster_library(obj) is not None:
        return BoosterModel(obj, output)
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
    """Refuse an ``output`` other than "auto"/"raw" for an object that has one output,
    saying whether the name is unknown or which models it applies to."""
    if output in RAW_OUTPUTS:
        return
    name = type(obj).__name__
    if output not in KNOWN_OUTPUTS:
        raise ValueError(
            f"Unknown output={output!r}; choose one of {list(RAW_OUTPUTS)} for a {name} (its "
            f"own output). {', '.join(map(repr, KNOWN_OUTPUTS[2:]))} apply to scikit-learn "
            f"classifiers, outlier detectors and boosted trees only."
        )
    where = "boosted tree models" if output == "margin" else "scikit-learn classifiers"
    raise ValueError(
        f"output={output!r} applies to {where} only; for a {name} use output='auto' (its "
        f"raw output), or wrap the transformation into the callable."
    )
