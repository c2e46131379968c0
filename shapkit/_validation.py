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
    if (
        isinstance(tol, bool)
        or not isinstance(tol, numbers.Real)
        # typeshed's numbers.Real declares __lt__ only: every concrete real has __gt__
        or not 0 < tol < float("inf")  # type: ignore[operator]
    ):
        raise ValueError(f"tol must be a positive number; got {tol!r}.")
    return float(tol)


def check_level(level: Any, name: str = "level") -> float:
    """A coverage strictly between 0 and 1: a ``TypeError`` for a non-number (a str, a
    bool), a ``ValueError`` outside (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise TypeError(
            f"{name}={level!r} ({type(level).__name__}): pass a coverage between 0 and 1 as "
            f"a number, e.g. {name}=0.95."
        )
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"{name}={level!r}: choose a coverage between 0 and 1, e.g. 0.95.")
    return float(level)


def check_positive_int(value: Any, name: str) -> int:
    """A positive int, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_seed(seed: Any, *, generator: bool = True, name: str = "seed") -> Any:
    """``seed`` checked by the one rule of every public entry point and the CLI.

    Accepted: ``None`` (fresh entropy), a non-negative int, a ``numpy.random.SeedSequence``
    and, where ``generator`` is True, a ``numpy.random.Generator``. Returns the seed with
    ints as Python ints; raises ``ValueError`` (a bad value) or ``TypeError`` (a bad type)
    naming ``name``.

    Examples
    --------
    >>> check_seed(3), check_seed(None)
    (3, None)
    """
    import numpy as np

    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        if generator:
            return seed
        raise TypeError(
            f"{name} must be None, a non-negative int or a numpy SeedSequence here; a "
            "Generator cannot give each row its own reproducible stream. Pass an int, "
            "e.g. seed=0."
        )
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {seed!r}.")
        return int(seed)
    accepted = (
        "None, a non-negative int, a numpy SeedSequence or a numpy Generator"
        if generator
        else "None, a non-negative int or a numpy SeedSequence"
    )
    raise TypeError(f"{name} must be {accepted}; got {seed!r} of type {type(seed).__name__}.")
