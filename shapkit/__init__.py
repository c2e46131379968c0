"""shapkit: Shapley values for any game and any tabular model.

Heavy dependencies (numba, pandas, scikit-learn, torch) are imported on first use, so
``import shapkit`` is fast.

Examples
--------
>>> import numpy as np, shapkit
>>> expl = shapkit.explain(lambda X: X.sum(axis=1), np.eye(3), background=np.zeros((1, 3)))
>>> expl.values.tolist()
[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "shapley_values": "shapkit.shapley",
    "ShapleyResult": "shapkit.estimators.base",
    "Explainer": "shapkit.explainer",
    "explain": "shapkit.explainer",
    "Explanation": "shapkit.explanation",
    "as_model": "shapkit.models",
    "BackgroundRequiredError": "shapkit.exceptions",
    "ExplanationFileError": "shapkit.exceptions",
    "InfeasibleRequestError": "shapkit.exceptions",
    "GameOutputError": "shapkit.exceptions",
    "LinearNotApplicableError": "shapkit.closed_form",
    "ModelCallError": "shapkit.exceptions",
    "ModelOutputError": "shapkit.exceptions",
    "TooManyPlayersError": "shapkit.exceptions",
    "load_explanation": "shapkit.explanation",
    "report": "shapkit.reports.html",
    "summary": "shapkit.reports.summary",
    "ShapSelector": "shapkit.selection",
    "select_features": "shapkit.selection",
    "sage": "shapkit.global_importance",
    "GlobalExplanation": "shapkit.global_importance",
    "interaction_values": "shapkit.interactions",
    "InteractionValues": "shapkit.interactions",
    "InteractionExplanation": "shapkit.interaction_explanation",
}

#: Submodules reachable as attributes: ``shapkit.plots.bar(expl)``.
_SUBMODULES = {
    "diagnostics": "shapkit.diagnostics",
    "plots": "shapkit.plots",
    "reports": "shapkit.reports",
}

__all__ = [
    "BackgroundRequiredError",
    "Explainer",
    "Explanation",
    "ExplanationFileError",
    "GlobalExplanation",
    "InfeasibleRequestError",
    "InteractionExplanation",
    "InteractionValues",
    "GameOutputError",
    "LinearNotApplicableError",
    "ModelCallError",
    "ModelOutputError",
    "ShapSelector",
    "ShapleyResult",
    "TooManyPlayersError",
    "__version__",
    "as_model",
    "diagnostics",
    "explain",
    "interaction_values",
    "load_explanation",
    "plots",
    "report",
    "reports",
    "sage",
    "select_features",
    "shapley_values",
    "summary",
]

if TYPE_CHECKING:
    from .closed_form import LinearNotApplicableError
    from .estimators.base import ShapleyResult
    from .exceptions import (
        BackgroundRequiredError,
        ExplanationFileError,
        GameOutputError,
        InfeasibleRequestError,
        ModelCallError,
        ModelOutputError,
        TooManyPlayersError,
    )
    from .explainer import Explainer, explain
    from .explanation import Explanation, load_explanation
    from .global_importance import GlobalExplanation, sage
    from .interaction_explanation import InteractionExplanation
    from .interactions import InteractionValues, interaction_values
    from .models import as_model
    from .reports import plots
    from .reports.html import report
    from .reports.summary import summary
    from .selection import ShapSelector, select_features
    from .shapley import shapley_values


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(_SUBMODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'shapkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
