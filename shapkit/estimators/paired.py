"""Paired samples of coalitions and the constrained regression on them: the component
the kernel and proxy estimators share.

A *unit* is a coalition S with its complement N - S (drawn by
:class:`~shapkit.estimators.coalition_design.CoalitionSampler`). :class:`PairedSample`
holds the evaluated units with their strata and solves the kernel-weighted least-squares
problem with the efficiency constraint exactly (:func:`solve_constrained`), with
linearised, design-based standard errors (:func:`linearised_errors`): values the sample
does not determine, or that fewer than 15 residual degrees of freedom stand behind, get
``inf`` (docs/reliability.md).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._kernels.regression import helmert_design, stratified_variance
from .base import Game, honest_errors
from .coalition_design import CoalitionSampler, UnitChooser

#: Coalitions per game call, so memory stays bounded for large budgets.
COALITIONS_PER_CALL = 1 << 15


def kernel_state_bytes(n_players: int, evaluations: int, n_outputs: int) -> int:
    """Peak memory of the kernel estimator's state after ``evaluations``: per unit its
    masks, values and float rows in the solve (measured ~30 bytes per unit and player
    with one output), the d x d matrices of the solve, and one game call's masks."""
    d, k = n_players, n_outputs
    units = max(evaluations - 2, 0) // 2
    return units * d * (32 + 8 * k) + units * 16 * k + 40 * d * d + COALITIONS_PER_CALL * d


def draw_units(
    game: Game,
    sampler: CoalitionSampler,
    state: PairedSample | None,
    units: int,
    rng: np.random.Generator,
    choose: UnitChooser | None = None,
    pool: float = 1.0,
) -> tuple[PairedSample, np.ndarray, np.ndarray, int]:
    """Draw ``units`` more units, evaluate them and add them to ``state`` (created on the
    first call, whose game call also evaluates the empty and full coalitions). Returns
    the state, the new coalitions and their values (unit j in rows 2j, 2j+1) and the
    number of units drawn. ``choose`` and ``pool``: see :meth:`CoalitionSampler.draw`."""
    masks, stratum, enumerated, expected = sampler.draw(units, rng, choose, pool)
    if state is None:
        d = sampler.strata.n_players
        ends = np.array([np.zeros(d, bool), np.ones(d, bool)])
        values = evaluate(game, np.concatenate([ends, masks]))
        state = PairedSample(d, values[0], values[1], sampler)
        values = values[2:]
    else:
        values = evaluate(game, masks)
    state.add(masks, values, stratum, enumerated, expected)
    return state, masks, values, len(stratum)


def evaluate(game: Game, masks: np.ndarray) -> np.ndarray:
    """The game on ``masks`` in calls of at most :data:`COALITIONS_PER_CALL` coalitions."""
    parts = [
        game(masks[i : i + COALITIONS_PER_CALL]) for i in range(0, len(masks), COALITIONS_PER_CALL)
    ]
    return np.concatenate(parts, axis=0)


class PairedSample:
    """Evaluated units and their strata; solves the constrained problem on demand."""

    def __init__(
        self, n_players: int, empty: np.ndarray, full: np.ndarray, sampler: CoalitionSampler
    ) -> None:
        self.d = n_players
        self.empty = empty
        self.full = full
        self.delta = full - empty
        self.strata = sampler.strata
        n_strata = len(self.strata.sizes)
        self.expected = np.zeros(n_strata)  # expected sampled units per stratum, all rounds
        self.enumerated = np.zeros(n_strata, dtype=bool)
        self.masks: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.stratum: list[np.ndarray] = []

    def add(
        self,
        masks: np.ndarray,
        values: np.ndarray,
        stratum: np.ndarray,
        enumerated: np.ndarray,
        expected: np.ndarray,
    ) -> None:
        self.enumerated |= enumerated
        self.expected += np.where(enumerated, 0.0, expected)
        self.masks.append(masks[0::2])  # the units' first coalitions; the rest are complements
        self.values.append(values)
        self.stratum.append(stratum)

    def unit_targets(self, values: np.ndarray) -> np.ndarray:
        """``(v(S) - v(N-S) + delta) / 2`` per unit ``(n, k)`` from the values of its two
        coalitions (rows 2j, 2j+1); v(0) cancels."""
        return 0.5 * (values[0::2] - values[1::2] + self.delta)

    def unit_weights(self, stratum: np.ndarray) -> np.ndarray:
        """Kernel weight of a unit's two coalitions over its inclusion expectation."""
        strata = self.strata
        per_unit = np.where(
            self.enumerated,
            strata.kernel_mass / strata.n_units,
            strata.kernel_mass / np.maximum(self.expected, 1e-300),
        )
        return per_unit[stratum]

    def solve(self) -> tuple[np.ndarray, np.ndarray]:
        """Values and standard errors from the units evaluated so far.

        A unit's two rows share one weight ``w`` and, on the constraint, the complement's
        row ``1 - z`` predicts ``delta - z phi``; so its two squared residuals equal
        ``2 w (ybar - z phi)^2`` plus a constant, ``ybar = (y_S + delta - y_notS) / 2``.
        The problem is solved on one row per unit, with the same solution and (the
        complement's row projects onto the zero-sum space as minus the unit's) the same
        sensitivity: half the work.
        """
        d, k = self.d, self.delta.shape[0]
        masks = np.concatenate(self.masks) if self.masks else np.zeros((0, d), bool)
        values = np.concatenate(self.values) if self.values else np.zeros((0, k))
        stratum = np.concatenate(self.stratum) if self.stratum else np.zeros(0, np.int64)
        z = masks.astype(np.float64)
        w = self.unit_weights(stratum)
        y = self.unit_targets(values)
        phi, sensitivity, _, determined = solve_constrained(z, w, y, self.delta)
        errors = self._std_errors(z, w, y, phi, stratum, sensitivity)
        errors[~determined] = np.inf
        return phi, errors

    def _std_errors(
        self,
        z: np.ndarray,
        w: np.ndarray,
        y: np.ndarray,
        phi: np.ndarray,
        stratum: np.ndarray,
        sensitivity: np.ndarray,
    ) -> np.ndarray:
        """Linearised standard errors: each sampled unit moves ``phi`` by
        ``sensitivity @ (w z r)``, with ``r`` its leave-one-out residual (the in-sample
        residual over ``1 - h``, ``h`` the unit's leverage: HC3); strata are sampled
        without replacement. ``inf`` with fewer than :data:`MIN_ERROR_DF` residual
        degrees of freedom among the sampled units (``sum (1 - h)``), else t-corrected
        (:func:`~shapkit.estimators.base.honest_errors`)."""
        sampled = ~self.enumerated[stratum]
        if not sampled.any():
            return np.zeros_like(phi)
        effect_per_residual = (z[sampled] * w[sampled, None]) @ sensitivity
        leverage = (effect_per_residual * z[sampled]).sum(axis=1)
        residual = leave_one_out_residuals(y[sampled] - z[sampled] @ phi, leverage)
        errors = linearised_errors(
            residual, effect_per_residual, stratum[sampled], self.strata.n_units, self.expected
        )
        return honest_errors(errors, float(np.sum(1.0 - leverage)))


def leave_one_out_residuals(residual: np.ndarray, leverage: np.ndarray) -> np.ndarray:
    """``residual / (1 - h)`` ``(n, k)``: a linear fit's leave-one-out (jackknife, HC3)
    residuals from its in-sample ones and the units' leverages ``h`` (``(n,)``)."""
    return residual / np.maximum(1.0 - leverage, 1e-3)[:, None]


def linearised_errors(
    residual: np.ndarray,
    effect_per_residual: np.ndarray,
    labels: np.ndarray,
    n_units: np.ndarray,
    expected: np.ndarray | None = None,
) -> np.ndarray:
    """Standard errors ``(d, k)`` of a solution that sampled unit r moves by
    ``residual[r, c] * effect_per_residual[r]`` (``(n, k)`` and ``(n, d)``), the units
    drawn from strata ``labels`` of ``n_units`` units without replacement.

    Strata with one sampled unit cannot estimate their spread: they are collapsed into
    one group, each stratum's estimated total one observation of it. With ``expected``
    (expected sampled units per stratum), a stratum that expected units but drew none
    joins that group with an estimated total of zero, so the chance of missing it counts.
    """
    n_strata = len(n_units)
    counts = np.bincount(labels, minlength=n_strata)
    group = np.where(counts[labels] >= 2, labels, n_strata)
    fpc = np.append(1.0 - counts / n_units, 1.0)
    effect = (residual[:, :, None] * effect_per_residual[:, None, :]).reshape(len(labels), -1)
    if expected is not None:
        missed = int(np.sum((counts == 0) & (expected > 0)))
        if missed:
            effect = np.concatenate([effect, np.zeros((missed, effect.shape[1]))])
            group = np.concatenate([group, np.full(missed, n_strata)])
    variance = stratified_variance(effect, group, fpc).reshape(residual.shape[1], -1).T
    return np.sqrt(variance)


#: The solve uses the normal equations when the weighted design's condition number is
#: below ``1 / sqrt(NORMAL_EQUATIONS_RCOND)`` (their error grows with its square: here
#: ~1e6 eps, so ~1e-10 relative). Sampled kernel designs have condition numbers of 1-3.
NORMAL_EQUATIONS_RCOND = 1e-6
#: Otherwise an SVD of the design, unless it is this many multiply-adds (rows x d^2) or
#: more: then the normal equations with a pseudo-inverse (less accurate, much faster).
SVD_WORK_LIMIT = 2e9


def solve_constrained(
    z: np.ndarray, w: np.ndarray, y: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Weighted least squares ``min sum_r w_r (y_r - z_r phi)^2`` subject to ``sum phi = delta``.

    Writes ``phi = delta / d + B psi`` with ``B`` an orthonormal basis of the vectors
    summing to zero, so the constraint holds by construction, and solves for ``psi`` by
    the normal equations when the weighted design is well conditioned (it nearly always
    is), else by an SVD of it (pseudo-inverse where the sample leaves directions
    undetermined). Returns ``phi`` ``(d, k)``, the sensitivity matrix
    ``S = B (A^T A)^+ B^T`` (a change ``g`` of ``Z^T W (y - Z phi)`` moves ``phi`` by
    ``S g``), the rank of the weighted design (the parameters the data determine) and
    which values the data determine (bool ``(d,)``, :func:`determined_players`).
    """
    d = z.shape[1]
    basis = zero_sum_basis(d)
    root = np.sqrt(w)
    design = helmert_design(z, root)
    target = root[:, None] * (y - z.sum(axis=1)[:, None] * (delta / d)[None, :])
    eps = np.finfo(np.float64).eps
    eigenvalues, vectors = np.linalg.eigh(design.T @ design)
    well_conditioned = eigenvalues[0] > eigenvalues[-1] * NORMAL_EQUATIONS_RCOND
    normal_equations = well_conditioned or z.shape[0] * d * d > SVD_WORK_LIMIT
    if normal_equations:
        # normal equations; the threshold keeps every direction of a well-conditioned design
        keep = eigenvalues > eigenvalues[-1:] * d * eps
        inv = np.where(keep, 1.0 / np.where(keep, eigenvalues, 1.0), 0.0)
        reduced = (vectors * inv) @ vectors.T
        psi = reduced @ (design.T @ target)
    else:
        u, singular, vt = np.linalg.svd(design, full_matrices=False)
        keep = singular > singular[:1] * max(design.shape) * eps
        inv = np.where(keep, 1.0 / np.where(keep, singular, 1.0), 0.0)
        psi = vt.T @ (inv[:, None] * (u.T @ target))
        reduced = (vt.T * inv**2) @ vt
    phi = delta[None, :] / d + basis @ psi
    phi += (delta - phi.sum(axis=0)) / d  # round-off only: the basis keeps the sum
    kept = vectors[:, keep] if normal_equations else vt[keep].T
    return phi, basis @ reduced @ basis.T, int(keep.sum()), determined_players(basis, kept)


def determined_players(basis: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Which values ``phi_j = delta / d + basis[j] @ psi`` the data determine: those whose
    row of the zero-sum basis lies in the span of the design's kept directions ``kept``
    ``(d - 1, r)`` (orthonormal columns). Along any other direction the solution is a
    pseudo-inverse's choice, not an estimate."""
    outside = basis - (basis @ kept) @ kept.T
    return np.sqrt((outside**2).sum(axis=1)) <= 1e-8 * np.sqrt((basis**2).sum(axis=1))


@lru_cache(maxsize=8)
def zero_sum_basis(n_players: int) -> np.ndarray:
    """An orthonormal basis ``(d, d-1)`` of the vectors whose entries sum to zero (Helmert)."""
    d = n_players
    basis = np.zeros((d, d - 1))
    for j in range(1, d):
        basis[:j, j - 1] = 1.0 / np.sqrt(j * (j + 1))
        basis[j, j - 1] = -j / np.sqrt(j * (j + 1))
    basis.setflags(write=False)
    return basis
