"""Shapley interactions: order-1 and order-2 terms of an interaction index.

:func:`interaction_values` computes SII, k-SII, STII or FSII of any cooperative game
(exact, from the game's Moebius transform, or estimated with standard errors by the
kriging proxy of :mod:`shapkit.interactions.proxy` on coalitions drawn by
:mod:`shapkit.interactions.design`; :mod:`shapkit.interactions.indices` holds the
weights) and returns :class:`InteractionValues`.
"""

from .api import interaction_values
from .result import InteractionValues

__all__ = ["InteractionValues", "interaction_values"]
