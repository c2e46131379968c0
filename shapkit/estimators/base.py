"""The estimator contract: one ``estimate(game, n_players, budget, tol, rng)`` for all methods."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

#: An internal game: bool masks ``(m, n_players)`` -> float64 values ``(m, k)``.
Game = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values of one game.

    Attributes
    ----------
    values : ndarray of shape (n_players,) or (n_players, k)
        The estimated (or exact) Shapley values.
    std_errors : ndarray, same shape as ``values``
        Standard errors of ``values``; zeros for exact methods, ``inf`` where the
        evaluated coalitions do not determine a value.
    n_evals : int
        Number of coalitions the game was evaluated on.
    method : str
        The estimator that produced the values: what ran, which may differ from what
        was asked for (a sampling estimator whose budget covers every coalition
        enumerates them: ``"exact"``).
    empty_value, full_value : ndarray of shape () or (k,)
        ``v(empty set)`` and ``v(all players)``; by efficiency
        ``values.sum(0) == full_value - empty_value``.
    reason : str
        Why ``method`` differs from the estimator asked for (empty when it does not).
    achieved_tol : float or None
        The stopping rule's statistic at the end: the largest standard error over the
        spread of the values (``max - min`` over players), the worst output's
        (:func:`achieved_tolerance`); set by :func:`shapkit.shapley_values`.
    converged : bool or None
        With ``tol``: whether ``achieved_tol <= tol``, i.e. the tolerance was reached
        within the budget (False: the budget ran out first); None without ``tol``.
    """

    values: np.ndarray
    std_errors: np.ndarray
    n_evals: int
    method: str
    empty_value: np.ndarray
    full_value: np.ndarray
    reason: str = ""
    achieved_tol: float | None = None
    converged: bool | None = None

    def __repr__(self) -> str:
        why = f", reason={self.reason!r}" if self.reason else ""
        return (
            f"ShapleyResult(method={self.method!r}, n_evals={self.n_evals}, "
            f"values={np.array2string(self.values, precision=4, threshold=20)}{why})"
        )

    def with_method(self, method: str, reason: str) -> ShapleyResult:
        """This result, saying that ``method`` ran and why."""
        return replace(self, method=method, reason=reason)

    def with_reason(self, reason: str) -> ShapleyResult:
        """This result, saying why its method is not the one asked for."""
        return replace(self, reason=reason)


class Estimator(ABC):
    """Base class of Shapley estimators.

    Subclasses implement :meth:`estimate` on an internal game, which takes bool masks
    ``(m, n_players)`` and returns float64 values ``(m, k)``, and know nothing about
    models or data.
    """

    #: The ``method=`` name that selects this estimator.
    name: str = ""
    #: True for estimators without sampling error (standard errors are zero).
    exact: bool = False

    @abstractmethod
    def estimate(
        self,
        game: Game,
        n_players: int,
        budget: int | None,
        tol: float | None,
        rng: np.random.Generator,
    ) -> ShapleyResult:
        """Shapley values of ``game``; values have shape ``(n_players, k)``."""

    def min_budget(self, n_players: int) -> int:
        """The smallest budget :meth:`estimate` accepts for ``n_players`` players."""
        return 1

    def check_budget(self, n_players: int, budget: int | None) -> None:
        """Raise a ``ValueError`` naming this method and its smallest budget when
        ``budget`` is below :meth:`min_budget`."""
        if budget is not None and budget < self.min_budget(n_players):
            raise ValueError(
                f"method={self.name!r} needs at least {self.min_budget(n_players)} game "
                f"evaluations for d={n_players} players; got budget={budget}. Raise the budget."
            )

    def __repr__(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({options})"

    def max_evaluations(self, n_players: int, budget: int | None) -> int:
        """Most game evaluations :meth:`estimate` makes for ``budget`` (None: the
        default budget)."""
        return budget if budget is not None else default_budget(n_players)

    def state_bytes(self, n_players: int, budget: int | None, n_outputs: int) -> int:
        """Peak memory of :meth:`estimate`'s own state at the full budget (the game's
        memory aside); 0 when unknown (estimators defined outside shapkit)."""
        return 0


#: Fewest residual degrees of freedom behind a finite standard error. Below this the
#: variance estimate is itself too noisy to promise anything: on random games with
#: interactions up to order d (d = 3-12, every budget to 12 d, 20 seeds) kernel values
#: with 10-15 residual degrees of freedom lay beyond 6 standard errors 0.05% of the
#: time, with 15 or more never (docs/reliability.md). Such values get ``inf``.
MIN_ERROR_DF = 15

#: Two-sided level of the t-correction: a standard error from ``df`` degrees of freedom
#: is scaled by ``t_df(q) / z(q)``, so normal-theory intervals at this level keep
#: their coverage on small samples.
T_CORRECTION_QUANTILE = 0.975


def honest_errors(std_errors: np.ndarray, df: np.ndarray | float) -> np.ndarray:
    """Standard errors made safe to report: ``inf`` where fewer than
    :data:`MIN_ERROR_DF` degrees of freedom stand behind them, else scaled by the
    t-correction ``t_df(0.975) / z(0.975)`` (1.09 at 15 df, 1.01 at 150).

    ``std_errors`` ``(d, k)``; ``df`` a scalar or an array broadcasting against it.
    Entries already ``inf`` stay ``inf``; NaN never comes out.
    """
    from scipy.special import ndtri, stdtrit

    df = np.broadcast_to(np.asarray(df, dtype=np.float64), std_errors.shape)
    enough = df >= MIN_ERROR_DF
    safe_df = np.where(enough, df, MIN_ERROR_DF)
    factor = stdtrit(safe_df, T_CORRECTION_QUANTILE) / ndtri(T_CORRECTION_QUANTILE)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.where(enough, std_errors * factor, np.inf)
    return np.where(np.isnan(scaled), np.inf, scaled)


def check_finite(result: ShapleyResult) -> ShapleyResult:
    """``result`` unchanged, or a ``GameOutputError`` when its values, ``v(empty)`` or
    ``v(full)`` are not finite (game values near the float64 maximum overflow in the
    estimators' sums and differences even where each value is finite)."""
    from ..exceptions import GameOutputError

    parts = (result.values, result.empty_value, result.full_value)
    if not all(np.isfinite(part).all() for part in parts):
        raise GameOutputError(
            "The Shapley values overflowed float64 although every game value was finite "
            "(values near 1.8e308 cannot be summed or differenced); rescale the game or "
            "model output, e.g. to thousands or a log scale."
        )
    return result


#: With ``tol``, the first round spends at most this many game evaluations (later
#: rounds at most double what was spent): a huge budget is a cap, not a first step.
FIRST_ROUND_MAX_EVALUATIONS = 100_000


def first_round(total: int, fraction: float, smallest: int, per_sample: int = 1) -> int:
    """Samples (units, pairs) of the first round with ``tol``: ``fraction`` of the
    ``total`` the budget buys, at least ``smallest`` (what finite errors need), at most
    :data:`FIRST_ROUND_MAX_EVALUATIONS` evaluations' worth, never more than ``total``."""
    cap = max(FIRST_ROUND_MAX_EVALUATIONS // max(per_sample, 1), 1)
    return min(total, max(smallest, min(math.ceil(fraction * total), cap)))


def sample_in_rounds(
    total: int,
    first: int,
    draw: Callable[[int], int],
    solve: Callable[[], tuple[np.ndarray, np.ndarray]],
    tol: float | None,
    exhausted: Callable[[], bool] = lambda: False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The one rounds loop of the sampling estimators.

    ``draw(n)`` samples and evaluates ``n`` more samples (units, pairs) and returns how
    many it drew; ``solve()`` returns the values and standard errors ``(d, k)`` from all
    samples so far. Without ``tol`` everything (``total``) is drawn at once; with it,
    ``first`` (:func:`first_round`) first, then rounds that grow the samples drawn
    (:func:`round_growth`: to where the errors are predicted to reach ``tol``, between
    1.25 and 2 times), until :func:`has_converged` holds, ``total`` is spent or
    ``exhausted()`` (every sample drawn). The first round always draws. Returns the last
    values, errors and the samples drawn.
    """
    target = total if tol is None else min(first, total)
    used = 0
    drawn_once = False
    while True:
        want = min(target, total) - used
        if not drawn_once or (want > 0 and not exhausted()):
            used += draw(want)
            drawn_once = True
        values, errors = solve()
        if used >= total or exhausted() or has_converged(values, errors, tol):
            return values, errors, used
        growth = round_growth(achieved_tolerance(values, errors), tol)
        target = min(total, math.ceil(growth * max(target, used)))


#: Rounds after the first grow the samples by a factor in this range (:func:`round_growth`).
MIN_ROUND_GROWTH, MAX_ROUND_GROWTH = 1.25, 2.0
#: A round aims this much past the samples predicted to reach ``tol`` (errors shrink as
#: ``1 / sqrt(samples)``, but their estimate is noisy: aiming at the prediction itself
#: would often need one more round).
ROUND_MARGIN = 1.2


def round_growth(achieved: float, tol: float | None) -> float:
    """The factor by which the next round grows the samples: ``ROUND_MARGIN (achieved /
    tol)^2`` (errors shrink as ``1 / sqrt(samples)``), between :data:`MIN_ROUND_GROWTH`
    and :data:`MAX_ROUND_GROWTH`; doubling where the errors say nothing yet (``inf``).

    Examples
    --------
    >>> round_growth(0.011, 0.01), round_growth(0.05, 0.01), round_growth(float("inf"), 0.01)
    (1.452, 2.0, 2.0)
    """
    if tol is None or not math.isfinite(achieved) or achieved <= 0:
        return MAX_ROUND_GROWTH
    wanted = ROUND_MARGIN * (achieved / tol) ** 2
    return round(min(MAX_ROUND_GROWTH, max(MIN_ROUND_GROWTH, wanted)), 6)


#: Relative accuracy targeted when neither budget nor tol is given (Covert & Lee 2021).
DEFAULT_TOL = 0.01


def default_budget(n_players: int) -> int:
    """Game evaluations a sampling estimator may use when ``budget=None``: ``max(2048, 100 d)``."""
    return max(2048, 100 * n_players)


def achieved_tolerance(values: np.ndarray, std_errors: np.ndarray) -> float:
    """The stopping rule's statistic (:func:`has_converged`): the largest standard error
    over the spread of the values (``max - min`` over players), for the worst output;
    0 for exact values, ``inf`` where a value is undetermined or the spread is zero
    while an error is not. ``values`` and ``std_errors``: ``(n_players, k)``."""
    errors = std_errors.max(axis=0)
    spread = values.max(axis=0) - values.min(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(errors > 0, errors / np.where(spread > 0, spread, 0.0), 0.0)
    return float(ratio.max(initial=0.0))


def has_converged(values: np.ndarray, std_errors: np.ndarray, tol: float | None) -> bool:
    """Covert & Lee's stopping rule: the largest standard error is below ``tol`` times
    the spread of the values (``max - min`` over players), for every output.

    ``values`` and ``std_errors`` have shape ``(n_players, k)``. ``tol=None`` never stops.
    """
    if tol is None:
        return False
    spread = values.max(axis=0) - values.min(axis=0)
    return bool(np.all(std_errors.max(axis=0) <= tol * np.maximum(spread, 1e-300)))
