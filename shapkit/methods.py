"""The one list of ``method=`` names: the estimators registry, ``Explainer``, the command
line and the docs all read it (a test checks the docs and docstrings name every one).

Kept free of heavy imports so the command line can build its parser from it cheaply.
"""

from __future__ import annotations

#: Methods that evaluate games: ``shapley_values`` and ``Explainer`` take these.
GAME_METHODS = ("auto", "exact", "kernel", "permutation", "proxy")
#: Methods that read a fitted model instead of evaluating a game (``shapkit.closed_form``):
#: ``Explainer`` and ``explain`` only.
MODEL_METHODS = {
    "linear": "the coefficients of a linear model",
    "tree": "the trees of a tree ensemble",
}
#: Every ``method=`` name of ``Explainer``, ``explain`` and ``shapkit explain --method``.
ALL_METHODS = (*GAME_METHODS, *MODEL_METHODS)
