"""Closed forms: exact Shapley values read from the fitted model itself, no game.

:func:`closed_form_for` is the one dispatcher: it returns a :class:`ClosedForm` when
``method`` is ``"linear"``, ``"tree"`` or ``"auto"`` and the model has a closed form in
the requested output space (``"linear"``/``"tree"`` insist and raise saying why not),
else None, and the explainer uses a game and an estimator.

* :mod:`~shapkit.closed_form.linear`: linear models and scaler Pipelines in a linear
  output space (``w_j a_j (x_j - mean_b b_j)``).
* :mod:`~shapkit.closed_form.tree`: interventional TreeSHAP of tree ensembles in the
  space where their trees add up.
* :mod:`~shapkit.closed_form.tree_path`: path-dependent TreeSHAP (node covers, no
  background), the game of an explainer made without background rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..trees import TreeModel
from .linear import LinearForm, LinearNotApplicableError, linear_coefficients, linear_shapley
from .tree import as_tree_aware_model, tree_model_for, tree_shapley
from .tree_path import tree_path_shapley

__all__ = [
    "INTERVENTIONAL",
    "TREE_PATH_DEPENDENT",
    "ClosedForm",
    "LinearNotApplicableError",
    "as_tree_aware_model",
    "closed_form_for",
    "tree_form_for",
]

#: The value function of every game with background rows: ``mean_b f(x_S, b_notS)``.
INTERVENTIONAL = "interventional"
#: The trees' cover-weighted conditional expectation (no background rows).
TREE_PATH_DEPENDENT = "tree_path_dependent"


@dataclass(frozen=True)
class ClosedForm:
    """A fitted model read into a form whose Shapley values are exact and closed-form.

    Attributes
    ----------
    name : {"linear", "tree"}
        The ``method=`` name.
    form : LinearForm or TreeModel
        What was read from the model.
    output_names : list
        The model's outputs in the explained space.
    value_function : {"interventional", "tree_path_dependent"}
        The game: the background mean, or (trees only) the trees' cover-weighted
        conditional expectation, which reads no background.
    """

    name: str
    form: LinearForm | TreeModel
    output_names: list[Any]
    value_function: str = INTERVENTIONAL

    def shapley(
        self,
        X: np.ndarray | pd.DataFrame,
        background: np.ndarray | pd.DataFrame,
        column_player: np.ndarray,
        n_players: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values ``(n, n_players, k)``, base values and predictions ``(n, k)`` of the
        rows of X against the background (unused by the path-dependent game), players
        given by ``column_player``."""
        if isinstance(self.form, LinearForm):
            return linear_shapley(self.form, X, background, column_player, n_players)
        if self.value_function == TREE_PATH_DEPENDENT:
            return tree_path_shapley(self.form, X, column_player, n_players)
        return tree_shapley(self.form, X, background, column_player, n_players)


def tree_form_for(
    model: Any,
    output: str,
    method: Any,
    value_function: str = INTERVENTIONAL,
    tm: TreeModel | None = None,
) -> ClosedForm | None:
    """The tree closed form (read once, when the explainer is made; ``tm``: the model as
    read already, if it was), or None; raises :class:`~shapkit.trees.TreeNotSupportedError`
    for ``method="tree"`` when the tree path does not apply (see
    :func:`~shapkit.closed_form.tree.tree_model_for`)."""
    tm = tree_model_for(model, output, method, tm)
    if tm is None:
        return None
    return ClosedForm("tree", tm, list(tm.output_names), value_function)


def closed_form_for(
    model: Any,
    output: str,
    method: Any,
    X: np.ndarray | pd.DataFrame,
    tree: ClosedForm | None = None,
) -> ClosedForm | None:
    """The closed form of ``model`` for the rows X (``tree``: the tree form read
    beforehand), or None where a game and an estimator must be used.

    ``method="linear"`` raises :class:`LinearNotApplicableError` saying why the linear
    closed form does not apply (non-numeric columns, a model that is not linear in
    ``output``); ``"auto"`` returns None then.
    """
    if tree is not None:
        return tree
    if not (isinstance(method, str) and method in ("linear", "auto")):
        return None
    dtypes = X.dtypes if isinstance(X, pd.DataFrame) else [X.dtype]
    numeric = all(isinstance(t, np.dtype) and t.kind in "biuf" for t in dtypes)
    try:
        if not numeric:
            raise LinearNotApplicableError(
                "method='linear' needs all-numeric columns; use method='exact' or "
                "'kernel' for data with strings or categories."
            )
        form = linear_coefficients(model, output)
    except LinearNotApplicableError:
        if method == "linear":
            raise
        return None
    return ClosedForm("linear", form, list(form.output_names))
