"""``shapkit.plots``: the matplotlib plots of an Explanation.

The functions live in :mod:`shapkit.reports.plots`, (``heatmap``, ``decision``,
``force``) :mod:`shapkit.reports.contribution_plots` and (``interaction_heatmap``,
``interaction_dependence``, of an :class:`~shapkit.InteractionExplanation`)
:mod:`shapkit.reports.interactions`; this
module makes
``import shapkit.plots`` and ``from shapkit.plots import beeswarm`` work as well as
``shapkit.plots.beeswarm``. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

from .reports.contribution_plots import decision, force, heatmap
from .reports.interactions import interaction_dependence, interaction_heatmap
from .reports.plots import (
    bar,
    beeswarm,
    convergence,
    dependence,
    waterfall,
)

__all__ = [
    "bar",
    "beeswarm",
    "convergence",
    "decision",
    "dependence",
    "force",
    "heatmap",
    "interaction_dependence",
    "interaction_heatmap",
    "waterfall",
]
