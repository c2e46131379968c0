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
worker, chunk and resumed run uses the same estimator. docs/concepts.md ("How auto
chooses") explains the rule; docs/proxy.md ("How auto came to time the model") gives the
measurements behind the constants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..methods import MODEL_METHODS
from .base import (
    FIRST_ROUND_MAX_EVALUATIONS,
    MIN_ERROR_DF,
    Estimator,
    achieved_tolerance,
    default_budget,
    round_growth,
)
from .exact import MAX_EXACT_PLAYERS, ExactEstimator
from .kernel import KernelEstimator
from .proxy import ProxyEstimator
from .proxy.tuning import FIRST_ROUND as PROXY_FIRST_ROUND
from .proxy.tuning import GP_MAX_UNITS, MIN_EVALS_PER_PLAYER

#: The kernel estimator's own seconds per evaluation (sampling and the regression).
KERNEL_SECONDS_PER_EVAL = 2e-6
#: The proxy's own seconds per sampled unit (two evaluations) and per sqrt(player), while
#: the Gaussian process runs (up to its unit limit), and beyond it (the regression).
PROXY_SECONDS_PER_UNIT, REGRESSION_SECONDS_PER_UNIT = 2e-4, 3e-5
#: The proxy reaches with ``B`` evaluations the accuracy the kernel estimator reaches with
#: about ``B^2 / (EQUAL_EVALS_PER_PLAYER d)`` (the two are equal at ``10 d``; measured
#: 4-25 d on the benchmark games).
EQUAL_EVALS_PER_PLAYER = MIN_EVALS_PER_PLAYER
#: Most coalitions in one timed call of the game, and at most this share of the budget.
PROBE_COALITIONS, PROBE_BUDGET_SHARE = 256, 0.02
#: A timed call that takes this long measures the game well enough.
PROBE_SECONDS = 0.005
#: With ``tol``: the pilot kernel estimate's evaluations per player (plus the errors'
#: degrees of freedom), at most a quarter of the budget; its seed.
PILOT_EVALS_PER_PLAYER, PILOT_BUDGET_SHARE, PILOT_SEED = 4, 0.25, 0
#: The pilot's ``n (a / tol)^2`` times this: at the evaluations it predicts, the kernel
#: estimator's statistic measured 0.27-0.49 of ``tol`` (d = 16-60, tol 0.003-0.02):
#: a small sample's t-corrected, noisiest errors overstate how many are needed.
PILOT_CALIBRATION = 0.2
#: With a pilot's prediction: the kernel estimator's first round spends this share of
#: the predicted evaluations (then grows toward it: its refits are cheap), the proxy's all
#: of it.
KERNEL_FIRST_SHARE, PROXY_FIRST_SHARE = 0.5, 1.0
#: Where only the proxy is predicted to reach ``tol`` within the budget, it runs if its
#: predicted time is at most this many times the kernel estimator's time to ``tol``
#: without a budget (reaching ``tol`` is what was asked, and both predictions are good to
#: about 2x; docs/proxy.md). Past it, the kernel estimator's near miss within the budget
#: costs far less: 12x less on LightGBM's compiled trees, d = 30, where the proxy took
#: 26.6 s for 20 rows and the kernel estimator 0.38 s, 19 of them at ``tol``.
TOL_PREMIUM = 3.0
#: The proxy's Gaussian process runs up to this many evaluations (its unit limit).
PROXY_PROCESS_EVALS = 2 * GP_MAX_UNITS + 2
#: Where the process's range gives at least this many evaluations per player, ``auto``
#: caps the proxy there: past it the regression that takes over measured 30-40x less
#: accurate than the process at its end (d = 30: XGBoost and GBC margins, 20,000 vs
#: 8,002 evaluations; docs/proxy.md).
PROXY_CAP_EVALS_PER_PLAYER = 100
ESTIMATORS_BY_NAME: dict[str, type[Estimator]] = {
    "exact": ExactEstimator, "kernel": KernelEstimator, "proxy": ProxyEstimator,
}  # fmt: skip


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
    first_round : float or None
        With ``tol`` and a pilot's prediction: the share of the budget the estimator's
        first round spends, sized to the prediction (None: the estimator's default).
    """

    method: str
    reason: str
    seconds_per_eval: float | None = None
    first_round: float | None = None

    def budget(self, budget: int | None, n_players: int) -> int | None:
        """The budget the chosen estimator runs with: ``budget``, or for the proxy at
        most its process's range (:func:`proxy_budget`)."""
        return proxy_budget(budget, n_players) if self.method == "proxy" else budget

    def estimator(self) -> Estimator:
        """The chosen estimator, with its first round sized where the choice sized it."""
        if self.first_round is None or self.method == "exact":
            return ESTIMATORS_BY_NAME[self.method]()
        if self.method == "kernel":
            return KernelEstimator(first_round=self.first_round)
        return ProxyEstimator(first_round=self.first_round)


def check_choice(choice: str | AutoChoice | None) -> AutoChoice | None:
    """A recorded choice as an :class:`AutoChoice` (a method name: with default rounds),
    or None (also for a closed form's name, ``"linear"`` or ``"tree"``: nothing was
    chosen); a ``ValueError`` for any other name."""
    if choice is None or isinstance(choice, AutoChoice):
        return choice
    if choice in MODEL_METHODS:
        return None
    if choice not in ESTIMATORS_BY_NAME:
        raise ValueError(
            f"auto_choice={choice!r}: pass what an earlier run recorded, one of "
            f"{list(ESTIMATORS_BY_NAME)} (its settings['method']) or an AutoChoice."
        )
    return AutoChoice(choice, "recorded by an earlier run")


def proxy_budget(budget: int | None, n_players: int) -> int | None:
    """``budget`` capped at the proxy's Gaussian process's range
    (:data:`PROXY_PROCESS_EVALS`) where that range gives at least
    :data:`PROXY_CAP_EVALS_PER_PLAYER` evaluations per player; else ``budget``."""
    limit = budget if budget is not None else default_budget(n_players)
    if PROXY_PROCESS_EVALS < PROXY_CAP_EVALS_PER_PLAYER * n_players:
        return budget
    return budget if limit <= PROXY_PROCESS_EVALS else PROXY_PROCESS_EVALS


def needs_timing(n_players: int, budget: int | None) -> bool:
    """Whether ``auto``'s choice depends on the game's cost: neither enumeration fits the
    budget nor is the budget below the proxy's smallest (:func:`choose_estimator`)."""
    limit = budget if budget is not None else default_budget(n_players)
    return not _enumerates(n_players, limit) and limit >= MIN_EVALS_PER_PLAYER * n_players


def choose_estimator(
    n_players: int,
    budget: int | None,
    tol: float | None,
    seconds_per_eval: float | None,
    kernel_evals: int | None = None,
) -> AutoChoice:
    """The estimator ``method="auto"`` runs for a game of ``n_players`` players.

    Exact enumeration when ``2^d`` coalitions fit the budget (``budget``, or the default
    ``max(2048, 100 d)``) and ``d <= 20``; the kernel estimator when the budget is below
    the proxy's ``10 d``; otherwise whichever of the kernel estimator and the proxy is
    predicted to reach the same accuracy sooner, game evaluations included:

    - without ``tol`` (the budget ``B`` is spent): the proxy takes ``B`` evaluations plus
      its own work; the kernel estimator needs about ``B^2 / (10 d)`` evaluations for the
      proxy's accuracy;
    - with ``tol``: the kernel estimator is predicted to need ``kernel_evals``
      evaluations (a pilot's prediction, :func:`kernel_evaluations_to_tol`; the budget
      when None), the proxy about ``sqrt(10 d kernel_evals)``; each stops at the end of
      the first of its rounds (a first share of the budget, then growing) that gets
      there, and the proxy's own work is counted for every round's refit. Where only
      the proxy is predicted to reach ``tol`` within the budget (and within its Gaussian
      process's range, :data:`PROXY_PROCESS_EVALS`), the proxy, unless its predicted
      time exceeds the kernel estimator's to ``tol`` with no budget: then the kernel
      estimator, which runs within the budget (the budget, not time, was what kept it
      from ``tol``, and it may well get there: the pilot's prediction is rough); where
      neither, the comparison without ``tol`` at the budget.

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
    kernel_evals : int, optional
        With ``tol``: the kernel estimator's predicted evaluations to reach it.

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
    first_rounds: dict[str, float] = {}  # with a pilot's prediction: the rounds it sized
    capped = proxy_budget(limit, d)
    proxy_limit = limit if capped is None else capped
    needed = limit if kernel_evals is None else max(kernel_evals, 1)
    proxy_needed = max(smallest, math.isqrt(EQUAL_EVALS_PER_PLAYER * d * needed))
    reaches = proxy_needed <= min(proxy_limit, PROXY_PROCESS_EVALS)  # within the process
    if tol is not None and needed > limit and reaches:
        share = PROXY_FIRST_SHARE * proxy_needed / proxy_limit
        proxy_seconds = _proxy_seconds(_rounds(proxy_needed, share, d, proxy_limit), d,
                                       seconds_per_eval)  # fmt: skip
        unbounded = needed * (seconds_per_eval + KERNEL_SECONDS_PER_EVAL)
        prediction = (
            f"the kernel estimator is predicted to need {needed:,} evaluations for "
            f"tol={tol:g}, more than the budget of {limit:,}; the proxy about "
            f"{proxy_needed:,}"
        )
        if proxy_seconds <= TOL_PREMIUM * unbounded:
            return AutoChoice(
                "proxy",
                prediction + (f" (at most {proxy_limit:,}: its Gaussian process's range)"
                              if proxy_limit < limit else ""),  # fmt: skip
                seconds_per_eval,
                share,
            )
        return AutoChoice(
            "kernel",
            f"{prediction}, but with its own work the proxy is predicted to take "
            f"{_duration(proxy_seconds)}, more than {TOL_PREMIUM:g} times what the kernel "
            f"estimator would take even to tol ({_duration(unbounded)}): the kernel "
            f"estimator runs within the budget and stops at tol if it gets there",
            seconds_per_eval,
            KERNEL_FIRST_SHARE,
        )
    if tol is None or needed > limit or not reaches:  # the budget is spent: what it buys
        proxy_evals, kernel_evals = proxy_limit, _kernel_equivalent(proxy_limit, d)
        proxy_seconds = proxy_evals * seconds_per_eval + proxy_own_seconds(d, proxy_evals)
        target = f"the accuracy the proxy reaches with the budget of {limit:,} evaluations"
        if tol is not None:
            target += f" (neither is predicted to reach tol={tol:g} within it)"
    else:  # each estimator stops at the end of the first of its rounds that gets there
        shares = {"kernel": KernelEstimator().first_round, "proxy": PROXY_FIRST_ROUND}
        if kernel_evals is not None:  # a pilot's prediction: rounds sized to it
            shares = first_rounds = {
                "kernel": KERNEL_FIRST_SHARE * needed / limit,
                "proxy": PROXY_FIRST_SHARE * proxy_needed / proxy_limit,
            }
        kernel_rounds = _rounds(needed, shares["kernel"], d, limit)
        proxy_rounds = _rounds(proxy_needed, shares["proxy"], d, proxy_limit)
        kernel_evals, proxy_evals = kernel_rounds[-1], proxy_rounds[-1]
        proxy_seconds = _proxy_seconds(proxy_rounds, d, seconds_per_eval)
        target = f"tol={tol:g} within the budget of {limit:,} evaluations"
    kernel_seconds = kernel_evals * (seconds_per_eval + KERNEL_SECONDS_PER_EVAL)
    method = "proxy" if proxy_seconds < kernel_seconds else "kernel"
    sized = first_rounds.get(method)
    reason = (
        f"the game takes {_duration(seconds_per_eval)} per evaluation; to {target}, the "
        f"proxy is predicted to need {proxy_evals:,} evaluations and "
        f"{_duration(proxy_seconds)} with its own work, the kernel estimator "
        f"{kernel_evals:,} evaluations and {_duration(kernel_seconds)}"
    )
    if method == "proxy" and proxy_limit < limit:
        reason += f" (the proxy at most {proxy_limit:,}: its Gaussian process's range)"
    return AutoChoice(method, reason, seconds_per_eval, sized)


def proxy_own_seconds(n_players: int, evaluations: int) -> float:
    """The proxy's predicted own work (everything but the game) for one fit of
    ``evaluations`` evaluations: linear in its sampled units, faster beyond the Gaussian
    process's unit limit (measured in docs/proxy.md)."""
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


def kernel_evaluations_to_tol(
    game: Callable[[np.ndarray], np.ndarray], n_players: int, budget: int | None, tol: float
) -> tuple[int, int]:
    """The kernel estimator's predicted evaluations to reach ``tol`` on ``game``, from a
    pilot kernel estimate (seeded, :data:`PILOT_EVALS_PER_PLAYER` per player plus the
    errors' degrees of freedom, at most :data:`PILOT_BUDGET_SHARE` of the budget): its
    stopping statistic ``a`` (:func:`~shapkit.estimators.base.achieved_tolerance`)
    shrinks as one over the root of the evaluations, so ``n (a / tol)^2``, times
    :data:`PILOT_CALIBRATION`. Returns the prediction (the budget where the pilot's
    errors are undetermined) and the pilot's evaluations.

    Examples
    --------
    >>> import numpy as np
    >>> def game(masks):  # additive plus a pair: the kernel estimator needs a few hundred
    ...     z = masks.astype(float)
    ...     return z @ np.arange(1.0, 21.0) + 8.0 * z[:, 0] * z[:, 1]
    >>> predicted, pilot = kernel_evaluations_to_tol(game, 20, None, 0.01)
    >>> pilot, predicted > 0
    (140, True)
    """
    limit = budget if budget is not None else default_budget(n_players)
    wanted = PILOT_EVALS_PER_PLAYER * (n_players + MIN_ERROR_DF)
    evaluations = max(n_players + 2, min(wanted, int(PILOT_BUDGET_SHARE * limit)))

    def two_d(masks: np.ndarray) -> np.ndarray:  # (m,) games as well as (m, k)
        values = np.asarray(game(masks), dtype=np.float64)
        return values.reshape(masks.shape[0], -1)

    rng = np.random.default_rng(PILOT_SEED)
    pilot = KernelEstimator().estimate(two_d, n_players, evaluations, None, rng)
    achieved = achieved_tolerance(pilot.values, pilot.std_errors)
    if not math.isfinite(achieved):
        return limit, pilot.n_evals
    predicted = PILOT_CALIBRATION * pilot.n_evals * (achieved / tol) ** 2
    return max(1, math.ceil(predicted)), pilot.n_evals


def choose_for_game(
    game: Callable[[np.ndarray], np.ndarray],
    n_players: int,
    budget: int | None,
    tol: float | None,
    most: int = PROBE_COALITIONS,
) -> AutoChoice:
    """What ``method="auto"`` runs on ``game``: timed (:func:`seconds_per_evaluation`,
    at most ``most`` coalitions per call), with ``tol`` also piloted
    (:func:`kernel_evaluations_to_tol`), then :func:`choose_estimator`. The drivers
    call it once per call, where :func:`needs_timing` says the cost decides; the reason
    names the probe's and the pilot's evaluations, which are not in ``n_evals``."""
    seconds = seconds_per_evaluation(game, n_players, probe_size(budget, n_players, most))
    kernel_evals, pilot = None, 0
    if tol is not None:
        kernel_evals, pilot = kernel_evaluations_to_tol(game, n_players, budget, tol)
    choice = choose_estimator(n_players, budget, tol, seconds, kernel_evals)
    if pilot:
        why = f"{choice.reason} (from a pilot kernel estimate of {pilot} evaluations)"
        choice = replace(choice, reason=why)
    return choice


def probe_size(budget: int | None, n_players: int, most: int = PROBE_COALITIONS) -> int:
    """Coalitions in the largest timed call: at most :data:`PROBE_COALITIONS`, ``most``
    (a model game: the coalitions whose rows fit one model call) and a
    :data:`PROBE_BUDGET_SHARE` of the budget (the default's where None); at least 8."""
    limit = budget if budget is not None else default_budget(n_players)
    return max(8, min(PROBE_COALITIONS, most, int(PROBE_BUDGET_SHARE * limit)))


def _enumerates(n_players: int, limit: int) -> bool:
    return n_players <= MAX_EXACT_PLAYERS and 2**n_players <= limit


def _rounds(needed: int, first_share: float, n_players: int, limit: int) -> list[int]:
    """Evaluations after each round of an estimator with ``tol`` (as
    :func:`~shapkit.estimators.base.sample_in_rounds` spends them: a first share of the
    budget, at least what finite errors need, then rounds that grow by
    :func:`~shapkit.estimators.base.round_growth`, its errors taken to follow
    ``needed``) until ``needed`` or the budget ``limit`` is reached."""
    smallest = 2 * (n_players + MIN_ERROR_DF) + 2
    first = max(smallest, min(math.ceil(first_share * limit), FIRST_ROUND_MAX_EVALUATIONS))
    rounds = [min(limit, first)]
    while rounds[-1] < min(needed, limit):
        growth = round_growth(math.sqrt(needed / rounds[-1]), 1.0)
        rounds.append(min(limit, math.ceil(growth * rounds[-1])))
    return rounds


def _proxy_seconds(rounds: list[int], n_players: int, seconds_per_eval: float) -> float:
    """The proxy's predicted time over its ``rounds`` (evaluations after each): the game's
    evaluations and its own work, refitted after every round."""
    own = sum(proxy_own_seconds(n_players, evaluations) for evaluations in rounds)
    return rounds[-1] * seconds_per_eval + own


def _kernel_equivalent(evaluations: int, n_players: int) -> int:
    """The kernel estimator's evaluations for the proxy's accuracy at ``evaluations``;
    beyond the Gaussian process's range no better than at its end (the regression that
    takes over measured less accurate than the process at its last budget)."""
    within = min(evaluations, PROXY_PROCESS_EVALS)
    return max(evaluations, within * within // (EQUAL_EVALS_PER_PLAYER * n_players))


def _duration(seconds: float) -> str:
    if seconds < 1e-5:
        return f"{seconds * 1e6:.2g} µs"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.1f} s"
