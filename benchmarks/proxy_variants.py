"""Variants of the proxy estimator that the proxy benchmark measures beside the default
(docs/proxy.md, "Design notes"); subclasses that set ProxyEstimator's documented class
attributes, kept here because they measured no better than the default."""

from __future__ import annotations

from shapkit.estimators import ProxyEstimator


class RandomUnitsProxy(ProxyEstimator):
    """Every unit drawn at random (no greedy design)."""

    greedy_design = False


class RegressionProxy(ProxyEstimator):
    """The kernel-weighted regression on the trees' interactions at every budget (no
    Gaussian process), with its additive-share guard."""

    gp_max_units = 0
