"""Statistics of the selector: probe tests, loss tests, FDR control, the one-standard-error
rule."""

from __future__ import annotations

import math

import numpy as np


def paired_tests(
    real: np.ndarray, threshold: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-sided Wilcoxon signed-rank tests of each feature against the probe threshold.

    ``real`` is ``(n_fits, d)``: a feature's held-out importance in each fit;
    ``threshold`` is ``(n_fits,)``: the strongest probe's importance in the same fit.
    Returns ``p_greater`` (feature > probe), ``p_less`` (feature < probe), the hit rate
    (share of fits where the feature beats the probe) and the effect size (matched-pairs
    rank-biserial correlation in [-1, 1]: +1 when it beats the probe in every fit).

    A fit where the feature and the strongest probe both have importance 0 (no model
    split on either) counts as a loss of the feature by the smallest margin: it showed
    nothing beyond the probes. Other zero differences are split between the signs
    (``zero_method="zsplit"``); a feature whose differences are all (nonzero) ties gets
    p = 1 both ways and effect 0.
    """
    from scipy.stats import rankdata, wilcoxon

    n_fits, d = real.shape
    diff = real - threshold[:, None]
    both_zero = (real == 0) & (threshold[:, None] == 0)
    scale = float(np.max(np.abs(real), initial=0.0)) or 1.0
    diff = np.where(both_zero, -1e-12 * scale, diff)
    p_greater = np.ones(d)
    p_less = np.ones(d)
    effect = np.zeros(d)
    hit_rate = (diff > 0).mean(axis=0) if n_fits else np.full(d, np.nan)
    if n_fits == 0:
        return p_greater, p_less, hit_rate, effect
    tested = ~np.all(diff == 0, axis=0)
    # scipy picks its method per sample from its size, ties and zeros (1.17: exact
    # without ties or zeros, else a permutation test up to 13 fits and the normal
    # approximation beyond). Columns are tested together in groups alike in all three,
    # so each gets the p-value a test of the column alone gives, with any scipy
    magnitude = np.sort(np.abs(diff), axis=0)
    ties = np.any(magnitude[1:] == magnitude[:-1], axis=0)
    zeros = np.any(diff == 0, axis=0)
    for has_ties in (False, True):
        for has_zeros in (False, True):
            columns = np.flatnonzero(tested & (ties == has_ties) & (zeros == has_zeros))
            if (has_ties or has_zeros) and n_fits <= 13:  # permutation tests: one by one
                for j in columns:
                    p_greater[j] = float(wilcoxon(diff[:, j], alternative="greater",
                                                  zero_method="zsplit").pvalue)  # fmt: skip
                    p_less[j] = float(wilcoxon(diff[:, j], alternative="less",
                                               zero_method="zsplit").pvalue)  # fmt: skip
            elif columns.size:
                block = diff[:, columns]
                p_greater[columns] = wilcoxon(block, axis=0, alternative="greater",
                                              zero_method="zsplit").pvalue  # fmt: skip
                p_less[columns] = wilcoxon(block, axis=0, alternative="less",
                                           zero_method="zsplit").pvalue  # fmt: skip
    # ranks are halves of integers: their sums are exact in any order
    ranks = rankdata(np.abs(diff), axis=0)
    signed = (ranks * (diff > 0)).sum(axis=0) - (ranks * (diff < 0)).sum(axis=0)
    effect[tested] = signed[tested] / ranks.sum(axis=0)[tested]
    return p_greater, p_less, hit_rate, effect


def probe_tail_tests(real: np.ndarray, probes: np.ndarray, tail: float = 0.1) -> np.ndarray:
    """One-sided test of each feature's mean importance against the pooled probes.

    ``real`` is ``(n_fits, d)``, ``probes`` ``(n_fits, n_probes)``: every probe of every
    fit is one draw of the importance a noise column gets in one fit (a probe is a fresh
    permutation, so its draw includes the chance association with ``y`` that a real
    noise column keeps in every fit). The p-value of a feature is the share of draws at
    least as large as its mean importance over the fits, ``(1 + #) / (1 + N)``; beyond
    the largest ``tail`` share of the draws (at least 10 of them) an exponential tail
    fitted to those draws (peaks over a threshold: ``(k + 1) / (N + 1) exp(-(m - u) / b)``
    with ``u`` the threshold and ``b`` the mean excess) extends it below ``1 / (N + 1)``.

    Under the null a real noise column's importance in one fit is distributed like a
    probe's draw; its mean over fits, which reuse the same rows, is at most as spread
    out as one draw (equal when its chance association dominates), so the test keeps
    its level without assuming the fits independent (the paired test across fits,
    :func:`paired_tests`, does assume it).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> probes = rng.exponential(size=(25, 20))
    >>> p = probe_tail_tests(np.column_stack([np.full(25, 12.0), probes[:, 0]]), probes)
    >>> bool(p[0] < 1e-4), bool(p[1] > 0.1)
    (True, True)
    """
    real = np.asarray(real, dtype=float)
    draws = np.sort(np.asarray(probes, dtype=float).ravel())
    n_draws = draws.size
    mean = real.mean(axis=0) if real.shape[0] else np.zeros(real.shape[1])
    if n_draws == 0:
        return np.ones(mean.shape)
    at_least = n_draws - np.searchsorted(draws, mean, side="left")
    p = (1.0 + at_least) / (1.0 + n_draws)
    k = min(n_draws - 1, max(10, int(tail * n_draws)))
    if k >= 1:
        u = draws[-k - 1]
        excess = float(np.mean(draws[-k:] - u))
        over = mean > u
        if excess > 0 and over.any():
            p[over] = (k + 1.0) / (n_draws + 1.0) * np.exp(-(mean[over] - u) / excess)
    return np.minimum(p, 1.0)


def loss_tests(gains: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided t-tests over rows that a feature's held-out loss gain is positive.

    ``gains`` is ``(n_rows, d)``: per row, the sum over the fits that explained it (on
    their validation fold) of the loss added by removing the feature's Shapley value;
    ``counts`` ``(n_rows,)``: how many fits explained the row. Rows never explained are
    left out; each row's mean gain is one observation (rows are the independent units:
    the fits of a repeated K-fold reuse them). Returns the mean gain per row and the
    p-value of *mean gain > 0*; a feature whose gains are all equal gets p = 1.

    Examples
    --------
    >>> g = np.array([[1.0, 0.0], [2.0, 0.0], [1.5, 0.0], [0.5, 0.0]])
    >>> mean, p = loss_tests(g, np.ones(4))
    >>> mean.tolist(), bool(p[0] < 0.05), p[1].item()
    ([1.25, 0.0], True, 1.0)
    """
    from scipy.stats import t as student_t

    ok = counts > 0
    per_row = gains[ok] / counts[ok, None]
    m = per_row.shape[0]
    d = gains.shape[1]
    if m < 2:
        return np.full(d, np.nan), np.ones(d)
    mean = per_row.mean(axis=0)
    sd = per_row.std(axis=0, ddof=1)
    p = np.ones(d)
    pos = sd > 0
    t = mean[pos] / (sd[pos] / math.sqrt(m))
    p[pos] = student_t.sf(t, df=m - 1)
    return mean, p


def bh_adjust(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="stable")
    scaled = pv[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    q[ok] = out
    return q


F1_LAMBDA = 0.2
# the share of null features is estimated from the features themselves: one feature
# moves it by 1 / (0.8 d), too coarse below this many (and on the benchmark the F1 cut
# gained nothing at d = 20)
F1_MIN_FEATURES = 50
# below this estimated share of null features the F1 cut may also add features that
# the reverse test rejected (below the strongest probe): with many relevant features
# most of those are weak relevant ones, above it most are noise (selection.md)
F1_REJECTED_PI0 = 0.8


def storey_pi0(p_values: np.ndarray, lam: float = F1_LAMBDA, *, min_relevant: float = 0.0) -> float:
    """Storey's estimate of the share of null hypotheses among ``p_values``:
    ``(1 + #{p > lam}) / (d (1 - lam))``, at most 1. It is conservative (too high) when
    the null p-values are valid at level ``lam``, ``P(p <= lam) <= lam``.

    ``min_relevant`` is a lower bound on the number of non-null hypotheses known from
    elsewhere (``ShapSelector`` passes ``(1 - alpha) A`` when a test at false discovery
    rate ``alpha`` accepted ``A`` of them): the estimate is at most
    ``1 - min_relevant / d``. Storey's estimate counts weak non-nulls with ``p > lam``
    as null, and can otherwise fall below what a test already found.

    Examples
    --------
    >>> p = np.array([0.001, 0.002, 0.01, 0.02, 0.03, 0.05, 0.4, 0.6, 0.8, 0.9])
    >>> storey_pi0(p, 0.5), storey_pi0(p, 0.5, min_relevant=3.0)
    (0.8, 0.7)
    """
    if not min_relevant >= 0:
        raise ValueError(f"min_relevant must be a number >= 0, got {min_relevant!r}.")
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return 1.0
    pi0 = min(1.0, (1.0 + np.sum(p > lam)) / (p.size * (1.0 - lam)))
    return float(min(pi0, max(0.0, 1.0 - min_relevant / p.size)))


def f1_cut(
    p_values: np.ndarray, lam: float = F1_LAMBDA, *, min_relevant: float = 0.0
) -> np.ndarray:
    """The smallest p-values whose selection maximises the estimated F1 score.

    With ``pi0`` the estimated share of null features (:func:`storey_pi0`), selecting
    the ``k`` smallest p-values, up to ``t``, keeps about ``FP = min(k, pi0 d t)`` null
    features and ``TP = k - FP`` relevant ones, of ``R = max((1 - pi0) d, TP)`` relevant
    in all: an F1 score of ``2 TP / (k + R)``. The ``k`` that maximises it is kept (the
    smallest on ties); returns the mask.

    ``min_relevant``, a lower bound on the number of relevant features known from
    elsewhere, bounds ``pi0`` (see :func:`storey_pi0`): without it the cut can assume
    fewer relevant features than a test already found, and stop before them.

    F1 weighs a missed relevant feature like a wrongly kept one, so with many weak
    relevant features this keeps far more than a false discovery rate of 5 % would.
    It does not test whether anything is relevant at all (on p-values of null features
    only it may keep the odd smallest one): call it once a test of the global null has
    rejected, as ``ShapSelector`` does (only when Benjamini-Hochberg accepted a feature).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = np.concatenate([rng.uniform(size=60), rng.beta(0.2, 4.0, size=40)])
    >>> keep = f1_cut(p)
    >>> int(keep[60:].sum()), int(keep[:60].sum())  # relevant kept, null kept
    (34, 7)
    """
    p = np.asarray(p_values, dtype=float)
    pi0 = storey_pi0(p, lam, min_relevant=min_relevant)
    d = p.size
    keep = np.zeros(d, dtype=bool)
    if d == 0:
        return keep
    order = np.argsort(p, kind="stable")
    k = np.arange(1, d + 1)
    fp = np.minimum(k, pi0 * d * p[order])
    tp = k - fp
    relevant = np.maximum((1.0 - pi0) * d, tp)
    f1 = 2.0 * tp / (k + relevant)
    best = int(np.argmax(f1))
    if f1[best] <= 0:
        return keep
    keep[p <= p[order[best]]] = True
    return keep


def one_standard_error(
    sizes: np.ndarray, mean_scores: np.ndarray, std_errors: np.ndarray
) -> tuple[int, int]:
    """The one-standard-error rule: the smallest feature-set size whose mean score is at
    least the best mean score minus the best size's standard error (higher is better).

    Returns ``(position of the chosen size, position of the best size)`` in ``sizes``.
    NaN scores are ignored; a NaN standard error counts as 0.

    Examples
    --------
    >>> one_standard_error(np.array([1, 2, 3, 4]), np.array([0.5, 0.78, 0.8, 0.79]),
    ...                    np.array([0.03, 0.02, 0.03, 0.02]))
    (1, 2)
    """
    sizes = np.asarray(sizes)
    means = np.asarray(mean_scores, dtype=float)
    ses = np.nan_to_num(np.asarray(std_errors, dtype=float), nan=0.0)
    if sizes.shape != means.shape or sizes.shape != ses.shape or sizes.size == 0:
        raise ValueError("sizes, mean_scores and std_errors must be non-empty and of one length.")
    valid = ~np.isnan(means)
    if not valid.any():
        raise ValueError("Every score is NaN; the estimator could not be scored.")
    masked = np.where(valid, means, -np.inf)
    best = int(np.argmax(masked))
    bar = means[best] - ses[best]
    candidates = np.flatnonzero(valid & (means >= bar))
    chosen = int(candidates[np.argmin(sizes[candidates])])
    return chosen, best


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval of the mean of each column of ``values`` (n, d); the lower end
    is clipped at 0 (importances are non-negative). NaN bounds for a single row."""
    n = values.shape[0]
    mean = values.mean(axis=0)
    if n < 2:
        return np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.5 + level / 2, df=n - 1)) * values.std(axis=0, ddof=1)
    half = half / math.sqrt(n)
    return np.maximum(mean - half, 0.0), mean + half
