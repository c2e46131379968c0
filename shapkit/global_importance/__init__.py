"""Global importance with uncertainty: SAGE values (Covert, Lundberg & Lee, 2020).

:func:`sage` returns a :class:`GlobalExplanation`: for each feature (or group) the
reduction of the model's mean loss that knowing it brings, as the Shapley values of the
game ``v(S) = -mean_i loss(f_S(x_i), y_i)`` with marginal imputation over a background.
"""

from .api import sage
from .result import GlobalExplanation

__all__ = ["GlobalExplanation", "sage"]
