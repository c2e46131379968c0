"""``interaction_values``: pairwise interaction indices of any cooperative game."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._kernels.exact import enumerate_masks
from .._kernels.moebius import moebius_transform, superset_sums
from .._validation import check_budget, check_positive_int, check_seed, check_tol
from ..estimators.base import DEFAULT_TOL, achieved_tolerance, default_budget, round_growth
from ..estimators.exact import COALITIONS_PER_CALL, MAX_EXACT_PLAYERS
from ..exceptions import GameOutputError, TooManyPlayersError
from ..games import CheckedGame
from .design import CoalitionSampler, border_count
from .indices import EFFICIENT_INDICES, check_index, index_weights
from .proxy import fit_proxy
from .result import InteractionValues

#: The methods of :func:`interaction_values`.
METHODS = ("auto", "exact", "proxy")
#: The proxy's first round: this share of its coalitions beyond the borders is drawn
#: (complementary pairs), the rest chosen in this many stages, each under a fit of the
#: values so far (:func:`~shapkit.interactions.design.greedy_coalitions`).
DRAWN_SHARE, DESIGN_STAGES = 0.25, 2
#: The proxy's range of players and its largest budget (a dense solve in the budget).
PROXY_MIN_PLAYERS = 4
PROXY_MAX_PLAYERS = 100
PROXY_MAX_EVALUATIONS = 8192


def interaction_values(
    game: Callable[[np.ndarray], Any],
    n_players: int,
    *,
    index: str = "k-SII",
    max_order: int = 2,
    method: str = "auto",
    budget: int | None = None,
    tol: float | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> InteractionValues:
    """Interaction index of a cooperative game: order-1 and order-2 terms.

    Parameters
    ----------
    game : callable
        ``game(masks)`` takes a bool array ``(m, n_players)`` (row ``r`` is a coalition,
        ``True`` = player present) and returns values of shape ``(m,)`` or ``(m, k)``.
    n_players : int
        Number of players d.
    index : {"k-SII", "SII", "STII", "FSII"}
        k-SII (default; efficient, its order-1 terms are the Shapley values minus half of
        each player's SII pairs), SII (its order-1 terms are the Shapley values; not
        efficient), STII (Shapley-Taylor) or FSII (Faith-Shap); docs/interactions.md.
    max_order : {1, 2}
        2: order-1 and order-2 terms; 1: the Shapley values (every index).
    method : {"auto", "exact", "proxy"}
        ``"exact"`` enumerates all ``2^d`` coalitions (``d <= 20``) and reads the index
        from the game's Moebius transform. ``"proxy"`` (4 to 100 players) samples
        coalitions (the ``2 d + 2`` borders, then complementary pairs weighted by the
        Shapley kernel), fits a Gaussian process to the game (a prior on its Moebius
        coefficients, tuned by restricted maximum likelihood) and reads the index terms
        from the posterior, with standard errors (docs/interactions.md).
        ``"auto"``: exact when ``2^d`` fits the budget (without one,
        ``max(2048, 100 d)``: ``d <= 11``), else the proxy.
    budget : int, optional
        Most game evaluations: enumeration needs ``2^d``, the proxy at least ``2 d + 4``
        and at most 8,192. Default for the proxy: ``max(2048, 100 d)``, a cap with
        ``tol=0.01``.
    tol : float, optional
        The proxy starts at ``10 d`` evaluations and grows them (1.25 to 2 times per
        round, toward what its errors predict) until its largest standard error is
        below ``tol`` times the spread of the terms (``max - min``); ``.converged`` says
        whether that happened within the budget. Without ``tol`` and with a budget it
        spends the budget in one round.
    seed : int, SeedSequence or Generator, optional
        The proxy's coalitions; same seed, same values (enumeration draws nothing).

    Returns
    -------
    InteractionValues
        ``.main`` ``(d,)``/``(d, k)``, ``.pairs`` ``(d, d)``/``(d, d, k)``, their standard
        errors (zeros for enumeration), ``.index``, ``.max_order``, ``.n_evals``,
        ``.method``, ``.to_matrix()``.

    Raises
    ------
    ValueError
        An unknown index or method, ``max_order`` not 1 or 2 or above ``n_players``, a
        budget below what the method needs (the message names the smallest that works)
        or above the proxy's 8,192.
    TooManyPlayersError
        More than 20 players for enumeration, 100 for the proxy (a ``ValueError``).
    GameOutputError
        The game returned the wrong shape or non-finite values.

    Examples
    --------
    Players 0 and 1 are needed together, player 2 adds 1 alone:

    >>> import shapkit
    >>> game = lambda S: 1.0 * (S[:, 0] & S[:, 1]) + S[:, 2]
    >>> result = shapkit.interaction_values(game, 3, index="k-SII")
    >>> result.main.round(12).tolist(), float(result.pairs[0, 1].round(12))
    ([0.0, 0.0, 1.0], 1.0)

    Sampled, for more players (here 16 coalitions of 4,096):

    >>> game = lambda S: 2.0 * (S[:, 0] & S[:, 1]) + S.sum(axis=1)
    >>> result = shapkit.interaction_values(game, 12, budget=120, seed=0)
    >>> result.method, bool(abs(result.pairs[0, 1] - 2.0) < 3 * result.pair_std_errors[0, 1] + 0.01)
    ('proxy', True)
    """
    n_players = check_positive_int(n_players, "n_players")
    check_index(index, max_order, n_players)
    budget = check_budget(budget)
    tol = check_tol(tol)
    check_seed(seed)
    method = choose_method(method, n_players, budget, max_order)
    checked = CheckedGame(game, n_players)
    if method == "proxy":
        return _proxy(checked, n_players, index, max_order, budget, tol, seed)
    return _exact(checked, n_players, index, max_order, budget)


def choose_method(method: str, n_players: int, budget: int | None, max_order: int) -> str:
    """``"exact"`` or ``"proxy"`` for a request, after checking that it can run: what
    ``"auto"`` picks is enumeration when the ``2^d`` coalitions fit the budget (or, with
    no budget, :func:`~shapkit.estimators.base.default_budget`), else the proxy. Raises
    ``ValueError`` naming the smallest working budget, ``TooManyPlayersError`` beyond
    what either method accepts, or for a method not in :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"Unknown method={method!r} for interaction values; choose one of "
                         f"{list(METHODS)}.")  # fmt: skip
    n_coalitions = 1 << min(n_players, 62)
    cap = budget if budget is not None else default_budget(n_players)
    if method == "auto":
        exact = n_players <= MAX_EXACT_PLAYERS and n_coalitions <= cap
        if not exact and (max_order == 1 or n_players < PROXY_MIN_PLAYERS):
            exact = n_players <= MAX_EXACT_PLAYERS
        method = "exact" if exact else "proxy"
    if method == "exact":
        if n_players > MAX_EXACT_PLAYERS:
            raise TooManyPlayersError(
                f"method='exact' enumerates all 2^d coalitions and accepts at most "
                f"{MAX_EXACT_PLAYERS} players; got d={n_players}. Use method='proxy' "
                f"(sampled, with standard errors) or reduce d with feature groups."
            )
        if budget is not None and budget < n_coalitions:
            raise ValueError(
                f"budget={budget:,} is below the 2^{n_players} = {n_coalitions:,} game "
                f"evaluations that exact interaction indices need; pass "
                f"budget={n_coalitions} or more, method='proxy' with a smaller budget, or "
                f"reduce d with feature groups."
            )
        return method
    if n_players < PROXY_MIN_PLAYERS:
        raise ValueError(
            f"method='proxy' needs at least {PROXY_MIN_PLAYERS} players (got "
            f"{n_players}); use method='exact', which needs only 2^{n_players} = "
            f"{n_coalitions} evaluations."
        )
    if n_players > PROXY_MAX_PLAYERS:
        raise TooManyPlayersError(
            f"method='proxy' accepts at most {PROXY_MAX_PLAYERS} players (its pair terms "
            f"and their weights grow as d^2 times the budget); got d={n_players}. Reduce "
            f"d with feature groups."
        )
    if max_order == 1:
        raise ValueError(
            "max_order=1 asks for Shapley values: use shapkit.shapley_values (kernel, "
            "permutation and proxy estimators with standard errors), or max_order=2."
        )
    smallest = proxy_min_budget(n_players)
    if budget is not None and budget < smallest:
        raise ValueError(
            f"budget={budget:,} is below the {smallest} game evaluations the interaction "
            f"proxy needs for d={n_players} (the empty and full coalitions, each player "
            f"alone and each left out, and one more pair); pass budget={smallest} or more."
        )
    if budget is not None and budget > PROXY_MAX_EVALUATIONS:
        raise ValueError(
            f"budget={budget:,}: the interaction proxy solves a dense system in the number "
            f"of evaluations and accepts at most {PROXY_MAX_EVALUATIONS:,}; pass "
            f"budget={PROXY_MAX_EVALUATIONS} or less (with tol to stop earlier)."
        )
    return method


def proxy_min_budget(n_players: int) -> int:
    """The proxy's smallest budget: the ``2 d + 2`` borders and one more pair."""
    return border_count(n_players) + 2


def _exact(
    checked: CheckedGame, n_players: int, index: str, max_order: int, budget: int | None
) -> InteractionValues:
    n_coalitions = 1 << n_players
    chunks = [
        checked(enumerate_masks(n_players, start, min(start + COALITIONS_PER_CALL, n_coalitions)))
        for start in range(0, n_coalitions, COALITIONS_PER_CALL)
    ]
    values = np.ascontiguousarray(np.concatenate(chunks, axis=0))
    main, pairs = superset_sums(
        moebius_transform(values), n_players, *index_weights(index, max_order, n_players)
    )
    if not (np.isfinite(main).all() and np.isfinite(pairs).all()):
        raise GameOutputError(
            "The game's values are finite but too large for their Moebius transform (its "
            "alternating sums overflow float64); rescale the game."
        )
    empty, full = values[0].copy(), values[-1].copy()
    if checked.squeeze:
        main, pairs, empty, full = main[:, 0], pairs[:, :, 0], empty[0], full[0]
    return InteractionValues(
        main=main, pairs=pairs, main_std_errors=np.zeros_like(main),
        pair_std_errors=np.zeros_like(pairs), index=index, max_order=max_order,
        n_evals=n_coalitions, method="exact", empty_value=empty, full_value=full,
    )  # fmt: skip


def _proxy(
    checked: CheckedGame,
    n_players: int,
    index: str,
    max_order: int,
    budget: int | None,
    tol: float | None,
    seed: Any,
) -> InteractionValues:
    """Kriging rounds (:mod:`~shapkit.interactions.proxy`): one round at the budget
    without ``tol``; with it, from ``10 d`` evaluations growing 1.25 to 2 times per
    round toward what the errors predict
    (:func:`~shapkit.estimators.base.round_growth`) until the largest standard error is
    below ``tol`` times the spread of the terms or the budget is spent."""
    d = n_players
    if tol is None and budget is None:
        tol = DEFAULT_TOL
    cap = min(budget if budget is not None else default_budget(d), PROXY_MAX_EVALUATIONS,
              1 << d)  # fmt: skip
    size = cap if tol is None else min(cap, max(proxy_min_budget(d), 10 * d))
    sampler = CoalitionSampler(d, np.random.default_rng(seed))
    single_w, pair_w = index_weights(index, max_order, d)
    inside = sampler.borders()
    every = size >= 1 << d  # nothing to choose: every coalition
    drawn = size - inside.shape[0] if every else int(DRAWN_SHARE * (size - inside.shape[0]))
    inside = np.concatenate([inside, sampler.draw(max(2, drawn // 2 * 2))])
    values = checked(inside)
    # the rest of the first round in stages, each chosen under a fit of the values so far
    for stage in range(0 if every else DESIGN_STAGES):
        count = (size - inside.shape[0]) // (DESIGN_STAGES - stage)
        if count <= 0:
            continue
        more = _more(sampler, count, inside, _design_eta(inside, values, single_w, pair_w),
                     single_w, pair_w)  # fmt: skip
        if more.shape[0] == 0:
            break
        inside = np.concatenate([inside, more])
        values = np.concatenate([values, checked(more)])
    iu = np.triu_indices(d, 1)
    while True:
        fits = [fit_proxy(inside, np.ascontiguousarray(values[:, o]), single_w, pair_w)
                for o in range(values.shape[1])]  # fmt: skip
        main = np.stack([f.main for f in fits], axis=-1)
        main_se = np.stack([f.main_std_errors for f in fits], axis=-1)
        pair_terms = np.stack([f.pairs for f in fits], axis=-1)
        pair_se = np.stack([f.pair_std_errors for f in fits], axis=-1)
        terms = np.concatenate([main, pair_terms])
        errors = np.concatenate([main_se, pair_se])
        spread = terms.max(axis=0) - terms.min(axis=0)
        converged = None if tol is None else bool(
            np.all(errors.max(axis=0) <= tol * np.maximum(spread, 1e-300))
        )
        growth = round_growth(achieved_tolerance(terms, errors), tol)
        room = min(cap, math.ceil(growth * inside.shape[0])) - inside.shape[0]
        if converged is not False or room < 2:
            break
        # this round's fits choose the next one's coalitions
        eta = np.mean([f.eta for f in fits], axis=0)
        more = _more(sampler, room, inside, eta, single_w, pair_w)
        if more.shape[0] == 0:
            break
        inside = np.concatenate([inside, more])
        values = np.concatenate([values, checked(more)])
    if index in EFFICIENT_INDICES:
        main, pair_terms = _make_efficient(main, pair_terms, main_se, pair_se,
                                           values[1] - values[0])  # fmt: skip
    pairs = np.zeros((d, d, values.shape[1]))
    pairs[iu] = pair_terms
    pairs[iu[1], iu[0]] = pair_terms
    pairs_se = np.zeros_like(pairs)
    pairs_se[iu] = pair_se
    pairs_se[iu[1], iu[0]] = pair_se
    empty, full = values[0].copy(), values[1].copy()
    if checked.squeeze:
        main, main_se, pairs, pairs_se = main[:, 0], main_se[:, 0], pairs[..., 0], pairs_se[..., 0]
        empty, full = empty[0], full[0]
    return InteractionValues(
        main=main, pairs=pairs, main_std_errors=main_se, pair_std_errors=pairs_se,
        index=index, max_order=max_order, n_evals=int(inside.shape[0]), method="proxy",
        empty_value=empty, full_value=full, converged=converged,
    )  # fmt: skip


def _design_eta(
    inside: np.ndarray, values: np.ndarray, single_w: np.ndarray, pair_w: np.ndarray
) -> np.ndarray | None:
    """The prior's ``eta`` fitted to the values so far (the mean over outputs), for the
    first round's design stages; None where no fit is usable (they are then drawn).
    The values are rounded to 10 significant digits first: a fit on a small design can
    turn rounding differences (the same game through the model or its compiled trees)
    into different coalitions."""
    scale = np.abs(values).max(axis=0, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    rounded = np.round(values / scale, 10) * scale
    try:
        fits = [fit_proxy(inside, np.ascontiguousarray(rounded[:, o]), single_w, pair_w)
                for o in range(values.shape[1])]  # fmt: skip
    except ValueError:
        return None
    return np.mean([f.eta for f in fits], axis=0)


def _more(
    sampler: CoalitionSampler,
    count: int,
    inside: np.ndarray,
    eta: np.ndarray | None,
    single_w: np.ndarray,
    pair_w: np.ndarray,
) -> np.ndarray:
    """``count`` more coalitions: chosen for the index terms under ``eta``
    (:meth:`~shapkit.interactions.design.CoalitionSampler.choose`), drawn without it."""
    if eta is None:
        return sampler.draw(count)
    return sampler.choose(count, inside, eta, single_w, pair_w)


def _make_efficient(
    main: np.ndarray,
    pair_terms: np.ndarray,
    main_se: np.ndarray,
    pair_se: np.ndarray,
    total: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The terms moved onto ``sum = total`` per output, each by a share of the gap
    proportional to its variance (uniform where no variance is finite and positive).
    The kriging interpolates the empty and full coalitions up to its jitter, so the gap
    is at rounding level; this closes it exactly."""
    terms = np.concatenate([main, pair_terms])
    variance = np.concatenate([main_se, pair_se]) ** 2
    usable = np.isfinite(variance) & (variance > 0)
    share = np.where(usable, variance, 0.0)
    sums = share.sum(axis=0)
    share = np.where(sums > 0, share / np.where(sums > 0, sums, 1.0), 1.0 / terms.shape[0])
    terms = terms + share * (total - terms.sum(axis=0))
    return terms[: main.shape[0]], terms[main.shape[0] :]
