"""Tree ensembles: one flat representation read from scikit-learn, XGBoost and LightGBM.

:func:`read_tree_model` reads a fitted model (or a Pipeline ending in one) into a
:class:`TreeModel` holding a :class:`TreeEnsemble`; :mod:`shapkit.closed_form.tree`
computes exact interventional TreeSHAP values from it.
"""

from __future__ import annotations

from .ensemble import TreeEnsemble, TreeNotSupportedError
from .readers import TreeModel, read_tree_model

__all__ = ["TreeEnsemble", "TreeModel", "TreeNotSupportedError", "read_tree_model"]
