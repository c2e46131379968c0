"""Plots of global importances (SAGE values) with their intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from .plots import new_axes


def global_bar(expl: Any, ax: Any = None, *, level: float = 0.95, max_features: int = 20) -> Any:
    """Horizontal bars of ``expl.values`` (a
    :class:`~shapkit.global_importance.GlobalExplanation`), largest on top, with
    ``level`` intervals as error bars; returns the axes.

    Examples
    --------
    >>> import numpy as np
    >>> from shapkit.global_importance import GlobalExplanation
    >>> g = GlobalExplanation(np.array([0.3, 0.1]), np.array([0.02, 0.01]), ["a", "b"],
    ...                       1.0, 0.6, "mse", 1000, "permutation", 100)
    >>> ax = global_bar(g)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['b', 'a']
    """
    frame = expl.to_frame(level).head(max_features).iloc[::-1]
    ax = new_axes(ax, 6.0, 0.35 * len(frame) + 1.2)
    y = np.arange(len(frame))
    low = (frame["value"] - frame["ci_low"]).to_numpy()
    high = (frame["ci_high"] - frame["value"]).to_numpy()
    finite = np.isfinite(low) & np.isfinite(high)
    ax.barh(y, frame["value"], color="#1E88E5", height=0.7)
    if finite.any():
        ax.errorbar(frame["value"].to_numpy()[finite], y[finite],
                    xerr=[low[finite], high[finite]], fmt="none", ecolor="black",
                    capsize=3, linewidth=1)  # fmt: skip
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in frame.index])
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"SAGE value: reduction of the mean {expl.loss} ({level:.0%} interval)")
    return ax
