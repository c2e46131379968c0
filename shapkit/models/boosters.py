"""Adapters for XGBoost and LightGBM ``Booster`` objects (the native, non-scikit-learn API).

An ``xgboost.Booster`` predicts from a ``DMatrix`` only; a ``lightgbm.Booster`` takes
arrays and DataFrames. Both give their objective's transformed output by default
(probabilities for a logistic objective, ``exp`` of the margin for poisson) and the raw
sum of the trees (the margin) on request. Neither module is imported unless it is
already loaded: a Booster cannot exist otherwise.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .base import as_matrix

#: Outputs a Booster takes: its default (transformed) prediction, or its margin.
BOOSTER_OUTPUTS = ("auto", "raw", "margin", "decision")
_MARGIN = ("margin", "decision")


def booster_library(obj: Any) -> str | None:
    """``"xgboost"`` or ``"lightgbm"`` when ``obj`` is that library's ``Booster``, else None."""
    for library in ("xgboost", "lightgbm"):
        module = sys.modules.get(library)
        if module is not None and isinstance(obj, module.Booster):
            return library
    return None


class BoosterModel:
    """Calls an XGBoost or LightGBM ``Booster`` on data of the type of X.

    ``output="auto"``/``"raw"`` explains the booster's default prediction (its objective's
    transformed output: probabilities for ``binary:logistic``); ``"margin"``/``"decision"``
    the sum of its trees (``output_margin=True`` for XGBoost, ``raw_score=True`` for
    LightGBM), where the exact tree path (``method="tree"``) applies too.

    XGBoost rows go through ``xgboost.DMatrix(data, enable_categorical=True)`` with
    ``missing=nan``: a Booster does not remember another ``missing`` value given to the
    ``DMatrix`` it was trained on, so encode such values as NaN first.

    Examples
    --------
    >>> import numpy as np, xgboost as xgb
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> booster = xgb.train({"max_depth": 1}, xgb.DMatrix(X, label=X[:, 0]), 2)
    >>> BoosterModel(booster).predict(X[:3]).shape
    (3, 1)
    """

    def __init__(self, booster: Any, output: str = "auto") -> None:
        library = booster_library(booster)
        if library is None:
            raise TypeError(f"{type(booster).__name__} is not an XGBoost or LightGBM Booster.")
        if output not in BOOSTER_OUTPUTS:
            raise ValueError(
                f"Unknown output={output!r} for a {library} Booster; choose one of "
                f"{list(BOOSTER_OUTPUTS)} ('auto'/'raw': its default prediction, "
                f"'margin'/'decision': the sum of its trees)."
            )
        self.booster = booster
        self.library = library
        self.margin = output in _MARGIN
        self.output_names: list[Any] = []

    def _raw(self, data: Any) -> Any:
        if self.library == "lightgbm":
            return self.booster.predict(data, raw_score=self.margin)
        import xgboost

        if hasattr(data, "columns"):
            matrix = xgboost.DMatrix(data, missing=np.nan, enable_categorical=True)
        else:  # an ndarray: the booster's own names, so its feature check passes
            matrix = xgboost.DMatrix(
                data,
                missing=np.nan,
                feature_names=self.booster.feature_names,
                feature_types=self.booster.feature_types,
            )
        return self.booster.predict(matrix, output_margin=self.margin)

    def predict(self, data: Any) -> np.ndarray:
        """The booster's default prediction or margin, float64 ``(rows, k)``."""
        n = len(data)
        raw = np.asarray(self._raw(data))
        if raw.ndim > 2:  # multi-target margins: (rows, targets, classes)
            raw = raw.reshape(n, -1)
        out = as_matrix(raw, n, f"The {self.library} Booster")
        if not self.output_names:
            k = out.shape[1]
            stem = "margin" if self.margin else None
            if k == 1:
                self.output_names = [stem or "prediction"]
            else:
                self.output_names = [f"{stem or 'output'}_{c}" for c in range(k)]
        return out
