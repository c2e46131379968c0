"""Reports on explanations: the summary table, plots and a self-contained HTML report.

- :func:`summary`: global importance per player with intervals (pandas).
- :mod:`shapkit.reports.plots` (also ``shapkit.plots``): bar, beeswarm, waterfall,
  dependence and convergence plots (matplotlib, imported when a plot is drawn).
- :func:`report`: one HTML file with inline images and no external links.
"""

from __future__ import annotations

from . import plots
from .html import report
from .summary import summary

__all__ = ["plots", "report", "summary"]
