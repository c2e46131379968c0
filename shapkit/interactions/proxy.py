"""The interaction proxy: kriging of the game, with interaction indices read from it.

The game is ``v(S) = m_0 + sum_i m_i z_i + sum_{|T| >= 2} m_T 1[T <= S]`` (its Moebius
transform). The constant and linear terms get a flat prior; the coefficients of two or
more players are independent Gaussians with variance ``sigma^2 prod_{j in T} eta_j``, so
the values at two coalitions covary through
``prod_{j in S n S'} (1 + eta_j) - 1 - sum_{j in S n S'} eta_j``. Every index term is a
weighted sum of Moebius coefficients, so its estimate is the posterior mean of that sum
(universal kriging): ``l' beta + c' K^-1 (y - F beta)``, where ``c`` holds the term's
prior covariances with the sampled values (:mod:`shapkit._kernels.interaction_kriging`)
and ``l`` its linear weights. The posterior interpolates every sampled value, so the
empty and full coalitions are reproduced and efficient indices stay efficient.

``eta_j = rho * relevance_j^gamma``: a first fit with one ``eta`` for all players finds
each player's relevance (its order-1 and order-2 terms in absolute value); ``rho`` and
``gamma`` on a grid, chosen by restricted maximum likelihood (``sigma^2`` profiled out):
the data decide how much interaction there is, of which order, and among which players.

Standard errors: the estimate is linear in the sampled values, ``w' y``; with each
value's leave-one-out residual ``r_u`` (the posterior mean without that value, minus
the value), ``sqrt(sum_u w_u^2 r_u^2)``, the sampling-error form of the proxy for
Shapley values. They are ``inf`` when fewer than :data:`MIN_DOF` values are left over
after the flat terms (the residuals then say too little). docs/interactions.md has the
measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_triangular

from .._kernels.interaction_kriging import interaction_covariances

#: Grid of the prior's scale ``rho`` and of the relevance exponent ``gamma``.
RHO_GRID = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5)
GAMMA_GRID = (0.0, 0.5, 1.0, 2.0)
#: Diagonal jitter of the prior covariance, relative to its largest entry.
JITTER = 1e-10
#: Fewest values beyond the flat terms for finite standard errors.
MIN_DOF = 15
#: Relative REML differences below this are ties (the earlier grid point stays).
REML_TIE = 1e-9
#: ``eta`` is kept below this (no covariance overflows for d up to a few hundred).
ETA_MAX = 4.0


@dataclass
class ProxyFit:
    """One output's estimate: order-1 ``main`` ``(d,)``, order-2 ``pairs`` ``(d (d-1)/2,)``
    (``i < j`` row-major), their standard errors, the chosen ``rho`` and ``gamma`` and
    the prior's ``eta`` ``(d,)`` they give (what the design of further coalitions
    uses, :func:`~shapkit.interactions.design.greedy_coalitions`)."""

    main: np.ndarray
    pairs: np.ndarray
    main_std_errors: np.ndarray
    pair_std_errors: np.ndarray
    rho: float
    gamma: float
    eta: np.ndarray


def interaction_prior(a: np.ndarray, b: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Prior covariances ``(len(a), len(b))`` of the game's interaction part (Moebius
    coefficients of two or more players) at the coalitions ``a`` and ``b`` (bool rows):
    ``prod_{j in S n S'} (1 + eta_j) - 1 - sum_{j in S n S'} eta_j``."""
    za, zb = a.astype(np.float64), b.astype(np.float64)
    return np.expm1((za * np.log1p(eta)) @ zb.T) - (za * eta) @ zb.T


def _prior(inside: np.ndarray, eta: np.ndarray) -> np.ndarray:
    K = interaction_prior(inside, inside, eta)
    K[np.diag_indices_from(K)] += JITTER * max(float(K.diagonal().max()), 1e-300)
    return K


class _Kriging:
    """The factorised system for one ``eta``: REML and the posterior of linear terms."""

    def __init__(self, inside: np.ndarray, y: np.ndarray, eta: np.ndarray) -> None:
        m, d = inside.shape
        self.inside, self.y, self.eta = inside, y, eta
        F = np.hstack([np.ones((m, 1)), inside.astype(np.float64)])
        self.F = F
        self.chol = cho_factor(_prior(inside, eta), lower=True)
        self.Ki_F = cho_solve(self.chol, F)
        G = F.T @ self.Ki_F
        self.G_chol = cho_factor(G, lower=True)
        Ki_y = cho_solve(self.chol, y)
        self.beta = cho_solve(self.G_chol, F.T @ Ki_y)
        self.gamma_vec = Ki_y - self.Ki_F @ self.beta  # K^-1 (y - F beta)
        n_free = m - F.shape[1]
        quad = float((y - F @ self.beta) @ self.gamma_vec)
        log_det_K = 2.0 * float(np.log(np.diag(self.chol[0])).sum())
        log_det_G = 2.0 * float(np.log(np.diag(self.G_chol[0])).sum())
        self.scale = quad / n_free
        self.reml = -0.5 * (n_free * np.log(max(self.scale, 1e-300)) + log_det_K + log_det_G)

    def leave_one_out(self) -> np.ndarray:
        """Each value minus the posterior mean of it from the others."""
        L = self.chol[0]
        L_inv = solve_triangular(L, np.eye(L.shape[0]), lower=True)
        diag_Ki = (L_inv**2).sum(axis=0)
        A = solve_triangular(self.G_chol[0], self.Ki_F.T, lower=True)  # (p, m)
        diag_Q = diag_Ki - (A**2).sum(axis=0)
        return self.gamma_vec / diag_Q

    def terms(
        self, cross: np.ndarray, linear: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For terms with prior covariances ``cross`` ``(m, q)`` with the values and
        flat-term weights ``linear`` ``(p, q)``: their posterior means ``(q,)``, their
        weights on the values ``(m, q)``, and the share of their prior variances the
        values explain ``(q,)`` (at unit scale; the posterior variance is the prior
        variance minus it, times :attr:`scale`)."""
        Ki_C = cho_solve(self.chol, cross)
        u = linear - self.F.T @ Ki_C
        G_u = cho_solve(self.G_chol, u)
        weights = Ki_C + self.Ki_F @ G_u
        explained = (cross * Ki_C).sum(axis=0) - (u * G_u).sum(axis=0)
        return weights.T @ self.y, weights, explained


def _fit(inside: np.ndarray, y: np.ndarray, eta: np.ndarray) -> _Kriging | None:
    try:
        return _Kriging(inside, y, eta)
    except (LinAlgError, ValueError):  # a prior too flat for this design: skip it
        return None


def _best(inside: np.ndarray, y: np.ndarray, etas: list[tuple[np.ndarray, float, float]]):
    """The fit of the largest REML; one beats an earlier one only by more than
    :data:`REML_TIE` (so values equal up to rounding, e.g. a game through its model or
    its compiled trees, choose alike)."""
    best, chosen = None, (np.nan, np.nan)
    for eta, rho, gamma in etas:
        fit = _fit(inside, y, eta)
        if fit is None or not np.isfinite(fit.reml):
            continue
        if best is None or fit.reml > best.reml + REML_TIE * max(1.0, abs(best.reml)):
            best, chosen = fit, (rho, gamma)
    return best, chosen


def _estimate(fit: _Kriging, single_w: np.ndarray, pair_w: np.ndarray, with_errors: bool):
    d = fit.inside.shape[1]
    singles, pairs = interaction_covariances(fit.inside, fit.eta, single_w, pair_w)
    cross = np.hstack([singles, pairs])
    linear = np.zeros((d + 1, cross.shape[1]))
    linear[1 + np.arange(d), np.arange(d)] = single_w[1]
    values, weights, explained = fit.terms(cross, linear)
    if not with_errors:
        return values, np.full(values.shape, np.inf)
    loo = fit.leave_one_out()
    # the prior variances of the terms: the same sums over all players, weights squared
    full = np.ones((1, d), dtype=bool)
    prior_single, prior_pair = interaction_covariances(full, fit.eta, single_w**2, pair_w**2)
    prior = np.concatenate([prior_single[0], prior_pair[0]])
    posterior = np.maximum(prior - explained, 0.0) * fit.scale
    return values, np.sqrt((weights**2).T @ loo**2 + posterior)


def fit_proxy(
    inside: np.ndarray, y: np.ndarray, single_w: np.ndarray, pair_w: np.ndarray
) -> ProxyFit:
    """The proxy's estimate of one output's index terms from the values ``y`` ``(m,)``
    at the coalitions ``inside`` ``(m, d)`` (borders included); ``single_w`` and
    ``pair_w`` are the index's weights (:func:`~shapkit.interactions.indices.index_weights`).

    Raises ``ValueError`` when no prior on the grid gives a usable fit (values that
    overflow, a design without the borders)."""
    d = inside.shape[1]
    scale = float(np.abs(y - y.mean()).max())
    y_scaled = (y - y.mean()) / scale if scale > 0 else y - y.mean()
    flat = [(np.full(d, rho), rho, 0.0) for rho in RHO_GRID]
    best, (rho, gamma) = _best(inside, y_scaled, flat)
    if best is None:
        raise ValueError(
            "The interaction proxy found no usable fit of the game's values; use "
            "method='exact' (d <= 20) or check the game's values."
        )
    if scale > 0 and d > 2:
        values, _ = _estimate(best, single_w, pair_w, with_errors=False)
        main, pair_terms = values[:d], values[d:]
        relevance = np.abs(main) + _pair_sums(np.abs(pair_terms), d)
        mean = relevance.mean()
        if mean > 0:
            relevance = relevance / mean + 1e-3
            shaped = [(np.minimum(r * relevance**g, ETA_MAX), r, g)
                      for g in GAMMA_GRID if g > 0 for r in RHO_GRID]  # fmt: skip
            other, chosen = _best(inside, y_scaled, shaped)
            if other is not None and other.reml > best.reml + REML_TIE * max(1.0, abs(best.reml)):
                best, (rho, gamma) = other, chosen
    with_errors = inside.shape[0] - (d + 1) >= MIN_DOF
    values, errors = _estimate(best, single_w, pair_w, with_errors)
    values = values * scale
    errors = errors * scale
    # the flat part's mean shift is a constant: it adds nothing to any index term
    return ProxyFit(
        main=values[:d], pairs=values[d:], main_std_errors=errors[:d],
        pair_std_errors=errors[d:], rho=rho, gamma=gamma, eta=best.eta,
    )  # fmt: skip


def _pair_sums(pair_terms: np.ndarray, d: int) -> np.ndarray:
    """Each player's sum of its pairs' entries (``i < j`` row-major)."""
    i, j = np.triu_indices(d, 1)
    return np.bincount(i, pair_terms, d) + np.bincount(j, pair_terms, d)
