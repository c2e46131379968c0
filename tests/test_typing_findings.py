"""Run-time bugs the type checker (mypy, issue #19) found in shapkit/."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

import shapkit  # noqa: E402
from shapkit import plots  # noqa: E402
from shapkit.reports.plots import NEUTRAL  # noqa: E402


def test_dependence_colour_column_without_values_draws_grey():
    # plots.dependence(color=<numeric column whose values are all missing>) iterated over
    # the None that _scale returns for such a column: TypeError 'NoneType' object is not
    # iterable. Now every point is grey, as beeswarm draws missing values.
    X = pd.DataFrame({"a": [1.0, 0.0, 2.0, 3.0], "b": [2.0, 1.0, 0.0, 1.0], "c": [np.nan] * 4})
    expl = shapkit.explain(
        lambda Z: np.asarray(Z, dtype=float)[:, :2] @ np.array([1.0, 3.0]), X, seed=0
    )
    ax = plots.dependence(expl, "a", color="c")
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    grey = matplotlib.colors.to_rgba(NEUTRAL, alpha=0.9)
    assert np.allclose(points.get_facecolors(), grey)
    plt.close(ax.figure)
