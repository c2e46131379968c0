"""Feature selection on held-out Shapley values: :class:`ShapSelector`,
:func:`select_features` (see ``docs/selection.md``)."""

from ._selector import ShapSelector, rank_cut, select_features
from ._stats import (
    bh_adjust,
    f1_cut,
    loss_tests,
    one_standard_error,
    paired_tests,
    probe_tail_tests,
    storey_pi0,
)

__all__ = [
    "ShapSelector",
    "bh_adjust",
    "f1_cut",
    "loss_tests",
    "one_standard_error",
    "paired_tests",
    "probe_tail_tests",
    "rank_cut",
    "select_features",
    "storey_pi0",
]
