"""The proxy estimator: Shapley values from paired samples through a Gaussian process on
the game's odd part, with the odd interactions a tree proxy finds.

:class:`ProxyEstimator` is the one public name; its components are documented modules:
:mod:`.gp` (the Gaussian process), :mod:`.regression` (the kernel-weighted regression on
players and interactions), :mod:`.design` (which units to evaluate), :mod:`.interactions`
(trees and their odd Fourier terms) and :mod:`.tuning` (every measured setting).
"""

from __future__ import annotations

from .estimator import ProxyEstimator

__all__ = ["ProxyEstimator"]
