"""Checks of scalar arguments shared by the public entry points."""

from __future__ import annotations

import numbers
from typing import Any


def check_budget(budget: Any) -> int | None:
    """``None`` or a positive int (game evaluations, empty and full coalitions included)."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 1:
        raise ValueError(f"budget must be a positive integer (game evaluations); got {budget!r}.")
    return int(budget)


def check_tol(tol: Any) -> float | None:
    """``None`` or a positive finite float."""
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 < tol < float("inf"):
        raise ValueError(f"tol must be a positive number; got {tol!r}.")
    return float(tol)


def check_positive_int(value: Any, name: str) -> int:
    """A positive int, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)
