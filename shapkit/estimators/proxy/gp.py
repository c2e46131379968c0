"""Gaussian-process (kriging) estimate of Shapley values from the game's odd part.

The Shapley value depends only on the game's odd part ``o(S) = (v(S) - v(N-S)) / 2``
(Fumagalli et al. 2026), which a paired unit observes exactly; ``o(N) = (v(N) - v(0)) / 2``
is the efficiency constraint, one more (noiseless) observation. Write the odd part as a
linear part plus interactions, ``o(x) = sum_i a_i x_i + f(x)`` (``x = 2 z - 1``); ``a``
gets a flat prior and ``f`` a Gaussian one, the sum of

* a prior on every interaction, the Moebius prior: the game's Harsanyi dividends ``m_T``
  of coalitions of two or more players, independent with variance ``prod_{j in T}
  eta_j``, where ``eta_j = eta * relevance_j^gamma`` and the relevance is the player's
  share of the kernel estimate (gamma near 0: all players alike). A dividend's odd part
  is ``(1[T in S] - 1[T in N-S]) / 2`` and its Shapley value ``m_T / |T|`` per member, so
  two units covary through ``k(A) = prod_{j in A} (1 + eta_j) - 1 - sum_{j in A} eta_j``
  over the players their coalitions and complements share, and a player's share
  ``sum_{T ni i} m_T / |T|`` through an integral of such a product (exact quadrature);

* the odd interactions a tree proxy found
  (:func:`~shapkit.estimators.proxy.interactions.odd_interactions`), with a common
  variance ``mu`` of their own, which lets a sparse spectrum (tree models) stand out of
  the dense prior.

``eta``, ``gamma`` and ``mu`` are chosen by restricted maximum likelihood, the overall
scale profiled out: the data decide how much interaction there is and of which order.
The estimate is the posterior mean of phi (universal kriging). It interpolates every
sampled unit and the constraint row, so it is the fitted function's exact Shapley values
plus a Monte Carlo correction over the sampled coalitions that is zero (every residual
is), and efficiency holds. The estimate is linear in the units' odd parts;
:func:`fit_odd_gp` returns each unit's weight in it and its leave-one-out residual, from
which the caller computes design-based standard errors (stratified, without
replacement), as for the regression solver, whose jackknife (HC3) residuals are its
leave-one-out ones. A component of :class:`~shapkit.estimators.proxy.ProxyEstimator`;
measurements: docs/proxy.md.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize

from ..._kernels.odd_covariance import odd_mobius_gram
from .regression import interaction_columns, shapley_map
from .tuning import HYPER_UNITS

#: Diagonal jitter of the units' prior covariance (scaled so that the constraint row's
#: variance is 1 + mu): a nugget far below any measured
#: residual, which keeps the Cholesky factor finite.
JITTER = 1e-10
#: The prior's eta is kept below e^(ETA_SPAN / d) - 1, so no covariance overflows.
ETA_SPAN = 300.0
ETA_MIN = 1e-3
#: The search's loss where the likelihood fails (its negative: an exact fit).
FAILED = 1e300


def mobius_eta_bounds(n_players: int) -> tuple[float, float]:
    """Range of the Moebius prior's ``eta``: ``[1e-3, min(2, e^(300/d) - 1)]``."""
    return ETA_MIN, min(2.0, math.expm1(ETA_SPAN / n_players))


def mobius_norm(etas: np.ndarray) -> float:
    """``k(N) = prod_j (1 + eta_j) - 1 - sum_j eta_j``: four times the constraint row's
    prior variance under the Moebius prior, the scale of its covariances."""
    return math.expm1(float(np.log1p(etas).sum())) - float(etas.sum())


#: :func:`mobius_gram` writes three of the four products as ratios of the fourth where
#: ``k(N)`` is at least this share of ``prod_N (1 + eta_j)`` (its round-off is then below
#: 1e-12 of ``k(N)``, far below the jitter).
ONE_EXP_SHARE = 1e-3


def mobius_gram(inside: np.ndarray, etas: np.ndarray) -> np.ndarray:
    """``4 Cov(o(S), o(S'))`` ``(n, n)`` of the odd parts at every pair of coalitions
    (rows of ``inside``, 0/1 floats) under independent Harsanyi dividends ``m_T``
    (``|T| >= 2``) of variance ``prod_{j in T} eta_j``.

    With ``k(A) = prod_{j in A} (1 + eta_j) - 1 - sum_{j in A} eta_j`` (the dividends of
    two or more players inside A) it is ``k(S n S') - k(S - S') - k(S' - S) +
    k(N - S - S')``; the logs and sums over the four sets follow from one product each
    (the Numba kernel :func:`~shapkit._kernels.odd_covariance.odd_mobius_gram`).
    """
    logs = np.log1p(etas)
    total_log, total_lin = float(logs.sum()), float(etas.sum())
    one_exp = mobius_norm(etas) >= ONE_EXP_SHARE * math.exp(min(total_log, 700.0))
    return odd_mobius_gram(
        (inside * logs) @ inside.T, (inside * etas) @ inside.T, inside @ logs,
        inside @ etas, total_log, total_lin, one_exp,
    )  # fmt: skip


def mobius_covariance_from_sums(
    both_log: np.ndarray,
    both_lin: np.ndarray,
    log_a: np.ndarray,
    lin_a: np.ndarray,
    log_b: np.ndarray,
    lin_b: np.ndarray,
    etas: np.ndarray,
) -> np.ndarray:
    """``4 Cov(o(S), o(S'))`` ``(n_a, n_b)`` (as :func:`mobius_gram`) from the sums of
    ``log(1 + eta_j)`` and ``eta_j`` over the players both coalitions hold (``both_*``,
    ``(n_a, n_b)``) and over each one's players (``*_a``, ``*_b``): callers that reuse
    rows precompute them."""
    total_log, total_lin = float(np.log1p(etas).sum()), float(etas.sum())

    def k(log_sum: np.ndarray, lin_sum: np.ndarray) -> np.ndarray:
        return np.expm1(log_sum) - lin_sum

    return (
        k(both_log, both_lin)
        - k(log_a[:, None] - both_log, lin_a[:, None] - both_lin)
        - k(log_b[None, :] - both_log, lin_b[None, :] - both_lin)
        + k(total_log - log_a[:, None] - log_b[None, :] + both_log,
            total_lin - lin_a[:, None] - lin_b[None, :] + both_lin)
    )  # fmt: skip


def mobius_shares(inside: np.ndarray, etas: np.ndarray) -> np.ndarray:
    """``2 Cov(c_i, o(S))`` ``(n, d)`` under the prior of :func:`mobius_gram`, where
    ``c_i = sum_{T ni i, |T| >= 2} m_T / |T|`` is player i's interaction share of phi:
    ``z_i G_i(S) - (1 - z_i) G_i(N - S)`` with ``G_i(A) = sum_{T ni i, T in A, |T| >= 2}
    prod_T eta / |T| = eta_i int_0^1 (prod_{j in A - i} (1 + t eta_j) - 1) dt``, a
    polynomial of degree < d in t: exact by Gauss-Legendre quadrature with ``d / 2 + 1``
    nodes."""
    z = inside
    nodes, weights = np.polynomial.legendre.leggauss(z.shape[1] // 2 + 1)
    t, w = (nodes + 1.0) / 2.0, weights / 2.0
    logs = np.log1p(t[:, None] * etas[None, :])  # (q, d)
    own = 1.0 / (1.0 + t[:, None] * etas[None, :])  # removes player i from the product
    inner = (np.exp(z @ logs.T) * w) @ own - w.sum()
    outer = (np.exp((1.0 - z) @ logs.T) * w) @ own - w.sum()
    return etas * (z * inner - (1.0 - z) * outer)


class OddGaussianProcess:
    """The units of one output, the prior and the chosen terms; REML and the posterior
    for any hyperparameters ``{"eta_mobius", "gamma", "mu"}``.

    ``z`` bool ``(n, d)`` (each unit's first coalition), ``y`` ``(n,)`` the units'
    ``(v(S) - v(N-S) + delta) / 2``, ``delta`` the gap ``v(N) - v(0)``; the overall
    scale is profiled out.
    """

    def __init__(
        self,
        z: np.ndarray,
        y: np.ndarray,
        delta: float,
        terms: list[tuple[int, ...]],
        relevance: np.ndarray | None = None,
    ) -> None:
        n, d = z.shape
        self.d = d
        self.x = np.vstack([2.0 * z - 1.0, np.ones(d)])  # units, then the constraint row
        self.o = np.concatenate([y - 0.5 * delta, [0.5 * delta]])
        self.inside = (self.x > 0).astype(np.float64)
        self.relevance = np.ones(d) if relevance is None else np.asarray(relevance, float)
        self.terms = terms
        rows = np.vstack([z.astype(bool), np.ones(d, bool)])
        self.chi = interaction_columns(rows, terms) / math.sqrt(max(len(terms), 1))
        self.term_gram = self.chi @ self.chi.T if terms else None
        self.jitter = np.full(n + 1, JITTER)
        self.jitter[-1] = 0.0  # the constraint row is interpolated exactly

    def _mobius_etas(self, hyper: dict[str, float]) -> np.ndarray:
        """Per-player ``eta_j = eta * relevance_j^gamma`` of the Moebius prior."""
        return hyper["eta_mobius"] * self.relevance ** hyper.get("gamma", 0.0)

    def _mobius_raw(self, etas: np.ndarray) -> tuple[np.ndarray, float]:
        """``4 Cov(o(S), o(S'))`` for every pair of rows (:func:`mobius_gram`) and
        its value at the constraint row (the normaliser). Single units' variances can be
        far below the constraint row's at large eta, and the nugget then acts as a small
        noise on them: that measured better than normalising it away (the mean unit
        variance as the scale: diabetes MLP 0.55 / 0.33 instead of 0.52 / 0.25 of the
        kernel's error at 20 / 50 d; a nugget chosen by REML: 0.54 / 0.35)."""
        return mobius_gram(self.inside, etas), mobius_norm(etas)

    def _mobius_shares(self, etas: np.ndarray) -> np.ndarray:
        """``2 Cov(c_i, o(S))`` ``(n+1, d)`` (:func:`mobius_shares`)."""
        return mobius_shares(self.inside, etas)

    def covariance(self, hyper: dict[str, float]) -> np.ndarray:
        """Prior covariance of the units' (and the constraint row's) odd parts beyond the
        linear one, over the overall scale."""
        cov = np.zeros((len(self.o), len(self.o)))
        raw, norm = self._mobius_raw(self._mobius_etas(hyper))
        cov += raw * (1.0 / norm)
        if self.term_gram is not None:
            cov += hyper["mu"] * self.term_gram
        cov[np.diag_indices_from(cov)] += self.jitter
        return cov

    def shares(self, hyper: dict[str, float]) -> np.ndarray:
        """Covariances ``(n+1, d)`` of the players' interaction shares of phi with the
        rows' odd parts, over the overall scale."""
        d = self.d
        cross = np.zeros((len(self.o), d))
        # over the same scale as covariance: 4 Cov / norm
        etas = self._mobius_etas(hyper)
        cross += self._mobius_shares(etas) * (2.0 * 1.0 / mobius_norm(etas))
        if self.terms:
            share = shapley_map(d, self.terms)[:, d:] / math.sqrt(len(self.terms))
            cross += hyper["mu"] * self.chi @ share.T
        return cross

    def restricted_loglik(self, hyper: dict[str, float]) -> float:
        """REML log-likelihood with the scale profiled out (-inf where it fails)."""
        try:
            lower = cholesky(self.covariance(hyper), lower=True)
        except np.linalg.LinAlgError:
            return -np.inf
        # whitened generalised least squares: one triangular solve
        white = solve_triangular(lower, np.column_stack([self.x, self.o]), lower=True)
        xw, ow = white[:, :-1], white[:, -1]
        gram = xw.T @ xw
        sign, logdet_gram = np.linalg.slogdet(gram)
        if sign <= 0:
            return -np.inf
        dof = len(ow) - self.d
        if dof <= 0:
            return -np.inf
        resid = ow - xw @ np.linalg.solve(gram, xw.T @ ow)
        scale = float(resid @ resid) / dof
        if scale == 0.0:
            return np.inf  # an exact fit: nothing beats it
        if not scale > 0:
            return -np.inf
        logdet = 2.0 * np.log(np.diag(lower)).sum()
        return -0.5 * (dof * math.log(scale) + logdet + logdet_gram)

    def posterior(self, hyper: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean ``(d,)`` of phi (universal kriging), each unit's weight in it
        ``(n, d)`` (phi = weights.T @ odd parts + the constraint row's share) and the
        units' leave-one-out residuals ``(n,)``."""
        d, x, o = self.d, self.x, self.o
        factor = cho_factor(self.covariance(hyper), lower=True)
        cross = self.shares(hyper)
        ax = cho_solve(factor, x)
        gram_inv = np.linalg.inv(x.T @ ax)
        a = gram_inv @ (ax.T @ o)
        alpha = cho_solve(factor, o - x @ a)
        phi = 2.0 * a + cross.T @ alpha
        # phi = weights.T @ o with weights = A^-1 C + A^-1 X G^-1 (2 I - X^T A^-1 C); a
        # unit's leave-one-out residual is alpha_u / P_uu, P = A^-1 - A^-1 X G^-1 X^T A^-1
        # (universal kriging: Dubrule 1983)
        b = cho_solve(factor, cross)  # (n+1, d)
        weights = b + ax @ gram_inv @ (2.0 * np.eye(d) - x.T @ b)
        inv_lower = solve_triangular(factor[0], np.eye(len(o)), lower=True)
        p_diag = (inv_lower**2).sum(axis=0) - np.einsum("ij,jk,ik->i", ax, gram_inv, ax)
        loo = alpha / np.maximum(p_diag, 1e-300)
        return phi, weights[:-1], loo[:-1]


#: Range of the Moebius prior's relevance exponent gamma (searched on a log scale).
GAMMA_BOUNDS = (0.01, 2.0)


def _free_parameters(
    has_terms: bool, n_players: int, per_player: bool
) -> list[tuple[str, float, float]]:
    """``(name, low, high)`` of the hyperparameters searched, on a log scale."""
    lo, hi = mobius_eta_bounds(n_players)
    out = [("eta_mobius", math.log(lo), math.log(hi))]
    if has_terms:
        out.append(("mu", -20.0, 20.0))
    if per_player:
        out.append(("gamma", math.log(GAMMA_BOUNDS[0]), math.log(GAMMA_BOUNDS[1])))
    return out


def fit_odd_gp(
    z: np.ndarray,
    y: np.ndarray,
    delta: float,
    terms: list[tuple[int, ...]],
    rng: np.random.Generator,
    relevance: np.ndarray | None = None,
    start: dict[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, float], np.ndarray, np.ndarray] | None:
    """Shapley values ``(d,)``, the chosen hyperparameters, each unit's weight in the
    values ``(n, d)`` and the units' leave-one-out residuals ``(n,)`` (for design-based
    standard errors) of one output (see the module docstring); None where no
    hyperparameters give a positive definite covariance (the caller keeps its estimate).

    The hyperparameters maximise the restricted likelihood of at most
    ``max(HYPER_UNITS, 2 d)`` units (a random subset beyond that): a coarse grid over the
    prior's ``eta`` (and ``mu``), then Nelder-Mead over all; with ``start`` (the
    hyperparameters an earlier fit of the same game chose, e.g. on fewer units),
    Nelder-Mead from there, without the grid."""
    n, d = z.shape
    gp = OddGaussianProcess(z, y, delta, terms, relevance)
    tuning = gp
    n_tuning = max(HYPER_UNITS, 2 * d)  # at least d residual degrees of freedom
    if n > n_tuning:
        rows = np.sort(rng.choice(n, n_tuning, replace=False))
        tuning = OddGaussianProcess(z[rows], y[rows], delta, terms, relevance)
    per_player = relevance is not None and np.ptp(relevance) > 0
    free = _free_parameters(bool(terms), d, per_player)
    low = np.array([lo for _, lo, _ in free])
    high = np.array([hi for _, _, hi in free])

    def unpack(p: np.ndarray) -> dict[str, float]:
        p = np.clip(p, low, high)
        return {name: math.exp(v) for (name, _, _), v in zip(free, p, strict=True)}

    def loss(p: np.ndarray) -> float:  # finite, so the simplex's differences are
        return float(np.clip(-tuning.restricted_loglik(unpack(p)), -FAILED, FAILED))

    if start is not None:
        defaults = {"eta_mobius": 0.5 * (low[0] + high[0]), "mu": 0.0, "gamma": low[-1]}
        point = np.array([
            math.log(start[name]) if start.get(name, 0.0) > 0 else defaults[name]
            for name, _, _ in free
        ])  # fmt: skip
        grid = np.clip(point, low, high)[None, :]
    else:
        axes = [
            np.linspace(lo, hi, 4) if name.startswith("eta") else
            np.array([-3.0, 0.0, 3.0]) if name == "mu" else
            np.array([lo, 0.0]) if name == "gamma" else np.array([0.0])
            for name, lo, hi in free
        ]  # fmt: skip
        grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(free), -1).T
    losses = [loss(p) for p in grid]
    if min(losses) >= FAILED:
        if start is not None:  # the earlier fit's point fails here: search afresh
            return fit_odd_gp(z, y, delta, terms, rng, relevance)
        return None  # no hyperparameters gave a finite likelihood
    start_point = grid[int(np.argmin(losses))]
    simplex = np.vstack([start_point, start_point + np.eye(len(free))])
    options = {"xatol": 0.2, "fatol": 0.05, "maxfev": 15 * len(free), "initial_simplex": simplex}
    result = minimize(loss, start_point, method="Nelder-Mead", options=options)
    best = result.x if result.fun <= min(losses) else start_point
    hyper = unpack(best)
    try:
        phi, weights, loo = gp.posterior(hyper)
    except np.linalg.LinAlgError:
        return None
    phi += (delta - phi.sum()) / d  # round-off only: the constraint row is interpolated
    return phi, hyper, weights, loo


def player_relevance(phi: np.ndarray) -> np.ndarray:
    """``|phi_j| / max |phi|`` (at least 1e-3) of the kernel estimate: the Moebius prior's
    per-player weights ``eta_j = eta * relevance_j^gamma`` (gamma by REML) let the
    dividends of coalitions of important players be larger (measured: breast_cancer 10 d
    0.69 / 0.65 of the kernel's error instead of 0.78 / 0.80; docs/proxy.md)."""
    size = np.abs(phi)
    top = float(size.max())
    return np.maximum(size / top, 1e-3) if top > 0 else np.ones_like(size)
