"""Cohorts: the rows of an Explanation split into groups, each an Explanation of its own
(``Explanation.cohorts``); ``shapkit.summary(cohorts)`` summarises every cohort."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._labels import preview

if TYPE_CHECKING:
    from .explanation import Explanation

#: Numeric columns with more distinct values than this are cut into quantile bins.
MAX_LEVELS = 10


class Cohorts(Mapping):
    """Named groups of rows of one explanation: ``cohorts[label]`` is the Explanation of
    that group's rows, in the order of their labels.

    Examples
    --------
    >>> import numpy as np, pandas as pd, shapkit
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "g": ["u", "v", "u", "v"]})
    >>> expl = shapkit.explain(lambda Z: Z["a"] * (Z["g"] == "u"), X, seed=0)
    >>> groups = expl.cohorts("g")
    >>> list(groups), [len(c) for c in groups.values()]
    (['g = u', 'g = v'], [2, 2])
    >>> shapkit.summary(groups, rows="fixed").index.names  # one block per cohort
    FrozenList(['cohort', 'feature'])
    """

    def __init__(self, explanation: Explanation, labels: np.ndarray, order: list[Any]) -> None:
        self._explanation = explanation
        self._labels = labels
        self._order = order

    def __getitem__(self, label: Any) -> Explanation:
        if label not in self._order:
            raise KeyError(f"No cohort {label!r}; the cohorts are {preview(self._order, 10)}.")
        return self._explanation[np.flatnonzero(self._labels == label)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{label!s}: {n}" for label, n in self.sizes().items())
        return f"Cohorts({sizes})"

    def sizes(self) -> pd.Series:
        """Rows per cohort, in cohort order."""
        counts = [int(np.sum(self._labels == label)) for label in self._order]
        return pd.Series(counts, index=pd.Index(self._order, name="cohort"), name="rows")



def make_cohorts(explanation: Explanation, by: Any, max_cohorts: int = MAX_LEVELS) -> Cohorts:
    """The cohorts of :meth:`shapkit.Explanation.cohorts` (see there)."""
    n = len(explanation)
    if isinstance(by, (bool, np.bool_)):
        raise TypeError(f"by={by!r}: pass a column name, a number of cohorts or labels.")
    if isinstance(by, (int, np.integer)):
        labels = _tree_cohorts(explanation, int(by))
    elif isinstance(by, (pd.Series, np.ndarray, list)):
        labels = np.asarray(pd.Series(by).astype(object).to_numpy(), dtype=object)
        if len(labels) != n:
            raise ValueError(f"by= holds {len(labels)} labels for {n} rows; pass one per row.")
        labels = np.array(["missing" if pd.isna(v) else v for v in labels], dtype=object)
    else:
        labels = _column_cohorts(explanation, by, max_cohorts)
    order = list(pd.unique(pd.Series(labels, dtype=object)))
    try:
        order = sorted(order)
    except TypeError:
        pass  # labels of mixed types: first-seen order
    if "missing" in order and not isinstance(by, (pd.Series, np.ndarray, list)):
        order = [o for o in order if o != "missing"] + ["missing"]
    return Cohorts(explanation, labels, order)


def _column_cohorts(explanation: Explanation, name: Any, max_cohorts: int) -> np.ndarray:
    """One cohort per value of column ``name`` (numeric columns with more than
    ``max_cohorts`` values: quantile bins); NaN cells form the cohort ``"missing"``."""
    columns = explanation.columns_of(name)
    if len(columns) != 1:
        known = preview([str(c) for c in explanation.data.columns], 10)
        what = "a group of several columns" if columns else "not a column of the data"
        raise KeyError(f"cohorts({name!r}): {what}; pass one of the data's columns ({known}).")
    column = explanation.data[columns[0]]
    missing = column.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    ):
        present = column[~missing]
        if present.nunique() > max_cohorts:
            bins = pd.qcut(present.astype(float), q=min(4, max_cohorts), duplicates="drop")
            labels = np.full(len(column), "missing", dtype=object)
            labels[~missing] = [f"{name} in {interval}" for interval in bins.astype(str)]
            return labels
    labels = np.array([f"{name} = {value}" for value in column.astype(object)], dtype=object)
    labels[missing] = "missing"
    return labels


def _tree_cohorts(explanation: Explanation, n_cohorts: int) -> np.ndarray:
    """Up to ``n_cohorts`` cohorts from a regression tree that splits the rows on their
    numeric feature values to explain their Shapley values; each is named by its
    path (``"a <= 1.5 & b > 0.2"``)."""
    if n_cohorts < 1:
        raise ValueError(f"cohorts({n_cohorts}): ask for at least 1 cohort.")
    from sklearn.tree import DecisionTreeRegressor

    data = explanation.data
    numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c].dtype)]
    if n_cohorts == 1 or not numeric or len(explanation) < 2:
        return np.full(len(explanation), "all rows", dtype=object)
    x = data[numeric].to_numpy(dtype=float, na_value=np.nan)
    target = explanation.values.reshape(len(explanation), -1)
    tree = DecisionTreeRegressor(max_leaf_nodes=max(n_cohorts, 2), random_state=0)
    tree.fit(x, target)
    paths = _leaf_paths(tree.tree_, [str(c) for c in numeric])
    return np.array([paths[leaf] for leaf in tree.apply(x)], dtype=object)


def _leaf_paths(tree: Any, names: list[str]) -> dict[int, str]:
    """The conditions that lead to each leaf of a fitted sklearn tree structure."""
    paths: dict[int, str] = {}
    stack: list[tuple[int, list[str]]] = [(0, [])]
    while stack:
        node, conditions = stack.pop()
        left, right = tree.children_left[node], tree.children_right[node]
        if left == right:  # a leaf
            paths[node] = " & ".join(conditions) or "all rows"
            continue
        name, threshold = names[tree.feature[node]], float(tree.threshold[node])
        stack.append((left, [*conditions, f"{name} <= {threshold:.4g}"]))
        stack.append((right, [*conditions, f"{name} > {threshold:.4g}"]))
    return paths
