"""How ``method="auto"`` picks an estimator: by the wall time each needs, from the game's
measured cost per evaluation and the estimators' own work.

Enumeration runs where every coalition fits the budget. Otherwise the choice is between
the kernel estimator (almost no work of its own: a few microseconds per evaluation) and
the proxy (a Gaussian process, a greedy design and interaction trees: reaching the same
accuracy with far fewer evaluations, at a cost of its own that grows with the units it
fits). :func:`choose_estimator` compares their predicted times to the same accuracy and
returns the faster, with the reason in words; :func:`seconds_per_evaluation` measures a
game's cost on a few seeded coalitions. The drivers (``shapley_values`` and
``Explainer``) time the game once per call, choose once, and record the choice, so every
worker, chunk and resumed run uses the same estimator. docs/estimators.md ("How auto
chooses") gives the measurements behind the constants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import default_budget
from .exact import MAX_EXACT_PLAYERS
from .proxy.tuning import GP_MAX_UNITS, MIN_EVALS_PER_PLAYER

#: The kernel estimator's own seconds per evaluation (sampling and the regression).
KERNEL_SECONDS_PER_EVAL = 2e-6
#: The proxy's own seconds per sampled unit (two evaluations) and per sqrt(player), while
#: the Gaussian process runs (up to its unit limit), and beyond it (the regression).
PROXY_SECONDS_PER_UNIT, REGRESSION_SECONDS_PER_UNIT = 2e-4, 3e-5
#: With ``tol``, the proxy refits after each round: its own work grows by this factor.
PROXY_ROUNDS_FACTOR = 1.75
#: The proxy reaches with ``B`` evaluations the accuracy the kernel estimator reaches with
#: about ``B^2 / (EQUAL_EVALS_PER_PLAYER d)`` (the two are equal at ``10 d``; measured
#: 4-25 d on the benchmark games).
EQUAL_EVALS_PER_PLAYER = MIN_EVALS_PER_PLAYER
#: Most coalitions in one timed call of the game, and at most this share of the budget.
PROBE_COALITIONS, PROBE_BUDGET_SHARE = 256, 0.02
#: A timed call that takes this long measures the game well enough.
PROBE_SECONDS = 0.005


@dataclass(frozen=True)
class AutoChoice:
    """What ``method="auto"`` chose and why.

    Attributes
    ----------
    method : str
        ``"exact"``, ``"kernel"`` or ``"proxy"``.
    reason : str
        Why, in one sentence (with the predicted times where the game was timed).
    seconds_per_eval : float or None
        The game's measured seconds per evaluation (None where no timing was needed).
    """

    method: str
    reason: str
    seconds_per_eval: float | None = None


def needs_timing(n_players: int, budget: int | None) -> bool:
    """Whether ``auto``'s choice depends on the game's cost: neither enumeration fits the
    budget nor is the budget below the proxy's smallest (:func:`choose_estimator`)."""
    limit = budget if budget is not None else default_budget(n_players)
    return not _enumerates(n_players, limit) and limit >= MIN_EVALS_PER_PLAYER * n_players


def choose_estimator(
    n_players: int, budget: int | None, tol: float | None, seconds_per_eval: float | None
) -> AutoChoice:
    """The estimator ``method="auto"`` runs for a game of ``n_players`` players.

    Exact enumeration when ``2^d`` coalitions fit the budget (``budget``, or the default
    ``max(2048, 100 d)``) and ``d <= 20``; the kernel estimator when the budget is below
    the proxy's ``10 d``; otherwise whichever of the kernel estimator and the proxy is
    predicted to reach the same accuracy sooner, game evaluations included:

    - without ``tol`` (the budget ``B`` is spent): the proxy takes ``B`` evaluations plus
      its own work; the kernel estimator needs about ``B^2 / (10 d)`` evaluations for the
      proxy's accuracy;
    - with ``tol``: the kernel estimator is predicted to use the whole budget ``B``, the
      proxy about ``sqrt(10 d B)`` evaluations and its own work over its rounds.

    Without ``seconds_per_eval`` (an untimed game), the proxy is chosen for an explicit
    budget of at least ``10 d`` and the kernel estimator otherwise (the choice by
    accuracy per evaluation).

    Parameters
    ----------
    n_players : int
        Players d.
    budget : int or None
        The evaluation budget (None: the default, a cap).
    tol : float or None
        The stopping tolerance as resolved (None: the budget is spent).
    seconds_per_eval : float or None
        The game's cost per evaluation (:func:`seconds_per_evaluation`).

    Returns
    -------
    AutoChoice

    Examples
    --------
    >>> choose_estimator(30, 3000, None, 1e-5).method  # a cheap model
    'kernel'
    >>> choose_estimator(30, 3000, None, 1e-2).method  # an expensive one
    'proxy'
    >>> choose_estimator(10, None, 0.01, 1e-5).reason
    'every one of the 2^10 coalitions fits the budget of 2048 evaluations'
    """
    d = n_players
    limit = budget if budget is not None else default_budget(d)
    smallest = MIN_EVALS_PER_PLAYER * d
    if _enumerates(d, limit):
        return AutoChoice(
            "exact", f"every one of the 2^{d} coalitions fits the budget of {limit} evaluations",
            seconds_per_eval,
        )  # fmt: skip
    if limit < smallest:
        return AutoChoice(
            "kernel",
            f"the budget of {limit} evaluations is below the proxy's smallest ({smallest} = "
            f"{MIN_EVALS_PER_PLAYER} d)",
            seconds_per_eval,
        )
    if seconds_per_eval is None:
        if budget is None:
            return AutoChoice("kernel", "the default budget, and the game was not timed")
        return AutoChoice(
            "proxy", f"the budget allows at least {MIN_EVALS_PER_PLAYER} d evaluations, "
            "and the game was not timed (the most accurate per evaluation)",
        )  # fmt: skip
    if tol is None:
        proxy_evals, kernel_evals = limit, _kernel_equivalent(limit, d)
        proxy_seconds = proxy_evals * seconds_per_eval + proxy_own_seconds(d, proxy_evals)
        target = f"the accuracy the proxy reaches with the budget of {limit:,} evaluations"
    else:
        kernel_evals = limit
        proxy_evals = min(limit, max(smallest, math.isqrt(EQUAL_EVALS_PER_PLAYER * d * limit)))
        proxy_seconds = proxy_evals * seconds_per_eval + PROXY_ROUNDS_FACTOR * (
            proxy_own_seconds(d, proxy_evals)
        )
        target = f"tol={tol:g} within the budget of {limit:,} evaluations"
    kernel_seconds = kernel_evals * (seconds_per_eval + KERNEL_SECONDS_PER_EVAL)
    method = "proxy" if proxy_seconds < kernel_seconds else "kernel"
    reason = (
        f"the game takes {_duration(seconds_per_eval)} per evaluation; to {target}, the "
        f"proxy is predicted to need {proxy_evals:,} evaluations and "
        f"{_duration(proxy_seconds)} with its own work, the kernel estimator "
        f"{kernel_evals:,} evaluations and {_duration(kernel_seconds)}"
    )
    return AutoChoice(method, reason, seconds_per_eval)


def proxy_own_seconds(n_players: int, evaluations: int) -> float:
    """The proxy's predicted own work (everything but the game) for one fit of
    ``evaluations`` evaluations: linear in its sampled units, faster beyond the Gaussian
    process's unit limit (docs/estimators.md, "How auto chooses")."""
    units = max(evaluations - 2, 0) // 2
    per_unit = PROXY_SECONDS_PER_UNIT if units <= GP_MAX_UNITS else REGRESSION_SECONDS_PER_UNIT
    return per_unit * units * math.sqrt(n_players)


def seconds_per_evaluation(
    game: Callable[[np.ndarray], np.ndarray], n_players: int, coalitions: int = PROBE_COALITIONS
) -> float:
    """A game's wall time per evaluation, measured on seeded random coalitions (the same
    on every call of this function, so only the clock varies): calls on 8, 64, ...
    coalitions, up to ``coalitions``, until one takes :data:`PROBE_SECONDS`; at least two
    calls (a slow first call is repeated, so a warm-up does not count). The last call's
    time per coalition, or the faster of two equal calls.

    Examples
    --------
    >>> import numpy as np
    >>> seconds_per_evaluation(lambda masks: masks.sum(1).astype(float), 5) > 0
    True
    """
    masks = np.random.default_rng(0).random((max(coalitions, 8), n_players)) < 0.5
    size, calls, per_eval = min(8, coalitions), 0, math.inf
    while True:
        start = time.perf_counter()
        game(masks[:size])
        elapsed = time.perf_counter() - start
        calls += 1
        per_eval = min(per_eval, elapsed / size)
        if calls >= 2 and (elapsed >= PROBE_SECONDS or size >= coalitions):
            return max(per_eval, 1e-9)
        if elapsed < PROBE_SECONDS and size < coalitions:
            size, per_eval = min(coalitions, 8 * size), math.inf


def probe_size(budget: int | None, n_players: int, most: int = PROBE_COALITIONS) -> int:
    """Coalitions in the largest timed call: at most :data:`PROBE_COALITIONS`, ``most``
    (a model game: the coalitions whose rows fit one model call) and a
    :data:`PROBE_BUDGET_SHARE` of the budget (the default's where None); at least 8."""
    limit = budget if budget is not None else default_budget(n_players)
    return max(8, min(PROBE_COALITIONS, most, int(PROBE_BUDGET_SHARE * limit)))


def _enumerates(n_players: int, limit: int) -> bool:
    return n_players <= MAX_EXACT_PLAYERS and 2**n_players <= limit


def _kernel_equivalent(evaluations: int, n_players: int) -> int:
    """The kernel estimator's evaluations for the proxy's accuracy at ``evaluations``."""
    return max(evaluations, evaluations * evaluations // (EQUAL_EVALS_PER_PLAYER * n_players))


def _duration(seconds: float) -> str:
    if seconds < 1e-5:
        return f"{seconds * 1e6:.2g} µs"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.1f} s"
