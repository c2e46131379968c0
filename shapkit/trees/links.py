"""Outputs that are a fixed function of a tree ensemble's margins: the link.

A boosted classifier's probabilities are the sigmoid (binary) or softmax (multi-class) of
its trees' margins; a poisson, gamma or tweedie regressor predicts their exp; log-odds
outputs apply ``log(q / (1 - q))`` on top (forests too, whose trees average the
probabilities). None of these is additive over trees, so TreeSHAP does not apply, but the
marginal game can still be evaluated on the compiled trees instead of through the model
(:class:`shapkit.trees.game.LinkedTreeGame`), which is far cheaper per coalition.

:func:`read_linked_trees` finds the link by checking each candidate against the model's
own output on real rows; a model whose output none of them reproduces gets None (and is
explained through the model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._kernels.tree_games import (
    LINK_EXP,
    LINK_IDENTITY,
    LINK_SIGMOID,
    LINK_SIGMOID_PAIR,
    LINK_SOFTMAX,
    MAX_PLAYERS,
    link_rows,
)
from .readers import TreeModel, read_tree_model

__all__ = ["MAX_PLAYERS", "LinkedTrees", "additive_trees", "read_linked_trees", "read_or_none"]

#: Clip of probabilities before log-odds (as :class:`shapkit.models.sklearn.SklearnModel`).
LOG_ODDS_EPS = 1e-15
#: Rows on which a candidate link must reproduce the model's output.
CHECKED_ROWS = 64

_LINK_NAMES = {
    LINK_SIGMOID_PAIR: "sigmoid",
    LINK_SIGMOID: "sigmoid",
    LINK_SOFTMAX: "softmax",
    LINK_EXP: "exp",
    LINK_IDENTITY: "identity",
}


@dataclass(frozen=True)
class LinkedTrees:
    """A tree model whose explained output is ``link(margins)`` of its trees.

    Attributes
    ----------
    model : TreeModel
        The trees as read (``model.ensemble.predict`` gives the margins).
    link : int
        A ``LINK_*`` code of :mod:`shapkit._kernels.tree_games`.
    log_odds : bool
        ``log(q / (1 - q))`` is applied to each output ``q`` of the link.
    width : int
        Outputs of the link (two class probabilities from one binary margin).
    """

    model: TreeModel
    link: int
    log_odds: bool
    width: int

    def describe(self) -> str:
        """What the game evaluates, in words (recorded in ``Explanation.settings``)."""
        of = "margin" if self.model.ensemble.n_outputs == 1 else "margins"
        how = f"the {_LINK_NAMES[self.link]} of the trees' {of}"
        if self.link == LINK_IDENTITY:
            how = {"probability": "the trees' averaged probabilities",
                   "raw": "the trees' sum"}.get(self.model.space, f"the trees' {of}")  # fmt: skip
        return f"{how}, then log-odds" if self.log_odds else how

    def outputs(self, margins: np.ndarray) -> np.ndarray:
        """``link(margins)`` for ``(n, k)`` margins (base offset included): ``(n, width)``."""
        return link_rows(self.link, self.log_odds, LOG_ODDS_EPS, margins, self.width)

    def reproduces(self, adapter: Any, rows: Any) -> bool:
        """Whether ``link(margins)`` gives ``adapter.predict`` on the first
        :data:`CHECKED_ROWS` of ``rows`` (user rows), within ``1e-6 + 1e-5 x`` the largest
        output (XGBoost computes in float32). No rows: True."""
        if len(rows) == 0:
            return True
        first = _first_outputs(self.model, adapter, rows)
        return first is not None and self._matches(*first)

    def _matches(self, own: np.ndarray, margins: np.ndarray) -> bool:
        if own.shape[1] != self.width:
            return False
        tol = 1e-6 + 1e-5 * float(np.max(np.abs(own), initial=0.0))
        return bool(np.max(np.abs(self.outputs(margins) - own)) <= tol)


def _first_outputs(tm: TreeModel, adapter: Any, rows: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The adapter's outputs and the trees' margins on the first :data:`CHECKED_ROWS`
    of ``rows`` (at least one), or None when either fails."""
    n = min(CHECKED_ROWS, len(rows))
    sample = rows.iloc[:n] if hasattr(rows, "iloc") else rows[:n]
    try:
        own = np.asarray(adapter.predict(sample), dtype=np.float64).reshape(n, -1)
        return own, tm.ensemble.predict(tm.features(sample))
    except Exception:  # noqa: BLE001 - the model path reports its own errors
        return None


def additive_trees(tm: TreeModel) -> LinkedTrees:
    """The trees of ``tm`` in the space where they add up (the identity link), so that
    games of their own output run on them too (interaction values of tree models)."""
    return LinkedTrees(tm, LINK_IDENTITY, False, tm.ensemble.n_outputs)


def read_or_none(model: Any) -> TreeModel | None:
    """:func:`~shapkit.trees.read_tree_model`, or None for a model it cannot read."""
    try:
        return read_tree_model(model)
    except Exception:  # noqa: BLE001 - whoever insists on the trees reads again and raises
        return None


def _candidates(tm: TreeModel, output: str, width: int) -> list[tuple[int, bool]]:
    """The links that could give ``width`` outputs of ``output`` from ``tm``'s margins."""
    k = tm.ensemble.n_outputs
    log_odds = output == "log_odds"
    if tm.space == "probability":  # forests: log-odds of the averaged probabilities
        return [(LINK_IDENTITY, True)] if log_odds and width == k else []
    if tm.space == "raw":
        return []  # an identity link: the tree closed form applies
    if tm.is_classifier:
        if k == 1 and width == 2:
            return [(LINK_SIGMOID_PAIR, log_odds)]
        if k == 1 and width == 1:
            return [(LINK_SIGMOID, log_odds)]
        return [(LINK_SOFTMAX, log_odds)] if width == k else []
    if width != k:
        return []
    found = [(LINK_EXP, False)]
    if k == 1:
        found.append((LINK_SIGMOID, False))  # e.g. XGBoost reg:logistic
    return found


def read_linked_trees(
    model: Any, adapter: Any, output: str, rows: Any, tm: TreeModel | None = None
) -> LinkedTrees | None:
    """The trees of ``model`` (``tm``: as read already, if they were) with the link that
    gives ``adapter``'s output, or None.

    ``adapter`` is the model adapter the explainer would call (``predict(rows) -> (n,
    width)``); ``rows`` are real rows of the user's data (e.g. the background), of which
    the first :data:`CHECKED_ROWS` must be reproduced by ``link(margins)`` within
    ``1e-6 + 1e-5 x`` the largest output (XGBoost computes in float32). None when the
    model has no readable trees, when the output is the margin itself (the tree closed
    form's case), or when no candidate link reproduces the output: then the model is
    called as usual.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import GradientBoostingClassifier
    >>> from shapkit.models import as_model
    >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    >>> model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> read_linked_trees(model, as_model(model), "auto", X).describe()
    "the sigmoid of the trees' margin"
    """
    tm = read_or_none(model) if tm is None else tm
    first = None if tm is None or len(rows) == 0 else _first_outputs(tm, adapter, rows)
    if tm is None or first is None:
        return None
    for link, log_odds in _candidates(tm, output, first[0].shape[1]):
        linked = LinkedTrees(tm, link, log_odds, first[0].shape[1])
        if linked._matches(*first):
            return linked
    return None
