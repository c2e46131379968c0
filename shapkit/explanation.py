"""``Explanation``: Shapley values of many rows, with their names and settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._labels import check_position, output_label_position, preview
from .io import read_explanation_fields, save_explanation


@dataclass
class Explanation:
    """Shapley values of explained rows.

    Attributes
    ----------
    values : ndarray of shape (n, d) or (n, d, k)
        Shapley value of each player (feature or group) for each row, per output for
        multi-output models.
    base_values : ndarray of shape (n,) or (n, k)
        ``v(empty set)``: the mean model output over the background (path-dependent
        TreeSHAP: the trees' cover-weighted mean).
    std_errors : ndarray, same shape as ``values``
        Standard errors of ``values``; zeros for exact methods.
    data : DataFrame
        The explained rows, with their original columns.
    feature_names : list
        Player names (column names, or group names for grouped columns).
    output_names : list
        Labels of the model outputs: a classifier's ``classes_`` with their type (ints
        stay ints, bools stay bools), ``"prediction"`` for one output. Select outputs by
        these labels (``expl[:, :, label]``) or by position (:meth:`output_at`).
    method : str
        The estimator used.
    n_evals : ndarray of shape (n,)
        Game evaluations (coalitions) used per row.
    predictions : ndarray of shape (n,) or (n, k)
        The model output for each row; ``base_values + values.sum(1) == predictions``.
    player_columns : dict
        The data columns of each player.
    settings : dict
        Estimator and data settings (method, budget, background size, ...).
    background : DataFrame or None
        The background rows the values are relative to (None for path-dependent
        TreeSHAP, which reads none).
    """

    values: np.ndarray
    base_values: np.ndarray
    std_errors: np.ndarray
    data: pd.DataFrame
    feature_names: list[Any]
    output_names: list[Any]
    method: str
    n_evals: np.ndarray
    predictions: np.ndarray
    player_columns: dict[str, list[Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    background: pd.DataFrame | None = None

    def __len__(self) -> int:
        return self.values.shape[0]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.values.shape)
        return (
            f"Explanation(method={self.method!r}, values {shape}, "
            f"features={preview(self.feature_names, 5)}, outputs={preview(self.output_names, 5)})"
        )

    @property
    def value_function(self) -> str:
        """The game explained: ``"interventional"`` (``v(S) = mean_b f(x_S, b_notS)`` over
        the background rows) or ``"tree_path_dependent"`` (the trees' cover-weighted
        conditional expectation; no background). Read from ``settings``; explanations
        saved before it was recorded are interventional."""
        return str(self.settings.get("value_function", "interventional"))

    @property
    def achieved_tol(self) -> np.ndarray:
        """Per row ``(n,)``, the stopping rule's statistic: the largest standard error over
        the spread of the row's values (the worst output's), over the players the
        estimator saw (a player whose cells equal every background row's is a dummy with
        an exact zero, left out as the estimator left it out); 0 for exact rows,
        ``inf`` where a value is undetermined.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(20, 3))
        >>> shapkit.explain(lambda Z: Z.sum(1), X[:5], X).achieved_tol.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0]
        """
        from .estimators.base import achieved_tolerance

        return np.array([achieved_tolerance(v, e) for v, e in self._estimated_players()])

    @property
    def converged(self) -> np.ndarray | None:
        """Per row ``(n,)``, whether the tolerance the values were computed with
        (``settings["tol"]``) was reached within the budget, by the estimator's own rule
        over the players it saw (False: the budget ran out first; :attr:`achieved_tol`
        says how far it got); None without a tolerance."""
        from .estimators.base import has_converged

        tol = self.settings.get("tol")
        if tol is None:
            return None
        return np.array(
            [has_converged(v, e, float(tol)) for v, e in self._estimated_players()], dtype=bool
        )

    def _estimated_players(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per row, the values and standard errors ``(players, k)`` of the players the
        estimator saw: all but the exact zeros of dummies (zero value and error in
        every output)."""
        values = self.values if self.is_multi_output else self.values[..., None]
        errors = self.std_errors if self.is_multi_output else self.std_errors[..., None]
        rows = []
        for v, e in zip(values, errors, strict=True):
            seen = ((v != 0) | (e != 0)).any(axis=1)
            rows.append((v[seen], e[seen]) if seen.any() else (np.zeros((1, v.shape[1])),) * 2)
        return rows

    @property
    def is_multi_output(self) -> bool:
        """True when ``values`` has an output axis: shape ``(n, d, k)``."""
        return self.values.ndim == 3

    def _feature_values(self) -> list[list[Any]]:
        """Per row, the value of each player: its cell, or ``col=value; ...`` for groups."""
        rows = []
        for _, record in self.data.iterrows():
            row = []
            for name in self.feature_names:
                columns = self.player_columns.get(name, [name])
                if len(columns) == 1:
                    row.append(record[columns[0]])
                else:
                    row.append("; ".join(f"{c}={record[c]}" for c in columns))
            rows.append(row)
        return rows

    def __getitem__(self, key: Any) -> Explanation:
        """Select rows, players and outputs: ``expl[rows]``, ``expl[rows, features]``,
        ``expl[rows, features, output]``.

        Rows are selected by position: an int (the row axis is kept, so ``expl[0]`` has
        one row), a slice, a list of ints or a boolean mask. Features by name or
        position: a str, an int, a slice, a list or a boolean mask.

        Outputs are selected **by label only**: one label drops the output axis, a list
        (or array) of labels keeps it; ``:`` keeps all. An int is a label, never a
        position, whatever the labels' types: with classes ``[1, 2, 3]``,
        ``expl[:, :, 1]`` is class 1, and ``expl[:, :, 0]`` is a KeyError, as it is with
        string classes. A bool matches only a bool (``True`` is not the class ``1``), a
        number matches a number of equal value (``2`` selects the class ``2.0``), a
        tuple is one label. Select by position with :meth:`output_at`.

        Data and background keep the selected players' columns; base values and
        predictions are the model's, so with a subset of players
        ``base_values + values.sum(1)`` no longer equals ``predictions``.

        Raises
        ------
        IndexError
            More than 3 axes, positions out of range, an output selector on a
            single-output explanation, or a slice other than ``:`` on the output axis.
        KeyError
            Unknown feature or output label (the message says how to select by position).

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, 0.0]])
        >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), X)
        >>> expl[0].values.round(6).tolist(), expl[1:, "x1"].values.round(6).tolist()
        ([[0.0, 3.0]], [[0.0], [-3.0]])
        """
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > 3:
            raise IndexError(
                f"An Explanation has 3 axes at most (rows, features, outputs); got {len(key)}."
            )
        rows = _positions(_aligned_row_mask(key[0], self.data.index), len(self), "row")
        values = self.values[rows]
        errors = self.std_errors[rows]
        base = self.base_values[rows]
        predictions = self.predictions[rows]
        data = self.data.iloc[rows]
        background = self.background
        feature_names = list(self.feature_names)
        player_columns = dict(self.player_columns)
        if len(key) > 1 and not _is_full_slice(key[1]):
            features = _positions(key[1], len(feature_names), "feature", feature_names)
            values, errors = values[:, features], errors[:, features]
            feature_names = [feature_names[j] for j in features]
            player_columns = {
                name: list(self.player_columns[name])
                for name in feature_names
                if name in self.player_columns
            }
            kept = set()
            for name in feature_names:
                kept.update(player_columns.get(name, [name]))
            columns = [c for c in self.data.columns if c in kept]
            data = data[columns]
            if background is not None:
                background = background[[c for c in background.columns if c in kept]]
        output_names = list(self.output_names)
        if len(key) > 2 and not _is_full_slice(key[2]):
            if not self.is_multi_output:
                raise IndexError(
                    "This explanation has one output; index it as expl[rows, features]."
                )
            outputs, single = _output_selection(key[2], output_names)
            values, errors, base, predictions, output_names = _take_outputs(
                values, errors, base, predictions, output_names, outputs, single
            )
        settings = dict(self.settings)
        settings["n_rows"] = len(rows)
        return replace(
            self,
            values=values,
            base_values=base,
            std_errors=errors,
            data=data,
            feature_names=feature_names,
            output_names=output_names,
            n_evals=self.n_evals[rows],
            predictions=predictions,
            player_columns=player_columns,
            settings=settings,
            background=background,
        )

    def output_at(self, position: Any) -> Explanation:
        """Select outputs by position: the explicit positional counterpart of
        ``expl[:, :, label]``.

        Parameters
        ----------
        position : int, slice, list of int or boolean mask
            An int (negative from the end) selects one output and drops the output
            axis; a slice, a list of ints or a boolean mask of length ``k`` keeps it.
            A single-output explanation accepts ``0`` and ``-1`` (and returns itself).

        Returns
        -------
        Explanation
            Every row and player of the selected outputs.

        Raises
        ------
        TypeError
            ``position`` is a bool, a float or a label.
        IndexError
            A position out of range, or a mask of the wrong length.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> expl = shapkit.explain(lambda Z: np.column_stack([Z.sum(1), -Z.sum(1)]),
        ...                        np.eye(2), background=np.zeros((1, 2)))
        >>> expl.output_names, expl.output_at(-1).values.tolist()
        (['output_0', 'output_1'], [[-1.0, 0.0], [0.0, -1.0]])
        """
        k = self.values.shape[2] if self.is_multi_output else 1
        if isinstance(position, (int, np.integer)) and not isinstance(position, (bool, np.bool_)):
            index = check_position(position, k)
            if not self.is_multi_output:
                return self
            outputs, single = np.array([index]), True
        else:
            if isinstance(position, (bool, np.bool_, str, float, np.floating, tuple)):
                raise TypeError(
                    f"output_at({position!r}): pass an int, a slice, a list of ints or a "
                    f"boolean mask; select outputs by label with expl[:, :, label]."
                )
            if not self.is_multi_output:
                raise IndexError("This explanation has one output; output_at takes 0 or -1 only.")
            outputs, single = _positions(position, k, "output"), False
        values, errors, base, predictions, output_names = _take_outputs(
            self.values, self.std_errors, self.base_values, self.predictions,
            list(self.output_names), outputs, single,
        )  # fmt: skip
        return replace(
            self,
            values=values,
            std_errors=errors,
            base_values=base,
            predictions=predictions,
            output_names=output_names,
        )

    @property
    def abs(self) -> Explanation:
        """The explanation with every value replaced by its magnitude (standard errors,
        base values and predictions unchanged), as shap's ``.abs``: for rankings such as
        ``expl.abs.mean(0)``. Its values no longer sum to the prediction.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.array([[1.0, 2.0], [0.0, 1.0]])
        >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, -3.0]), X)
        >>> expl.abs.values.round(6).tolist()
        [[0.5, 1.5], [0.5, 1.5]]
        """
        return replace(self, values=np.abs(self.values))

    def mean(self, axis: int = 0) -> pd.Series | pd.DataFrame:
        """Mean values over one axis, as pandas.

        ``axis=0``: over rows, one number per player (a Series indexed by player; a
        DataFrame of players x outputs for several outputs). ``axis=1``: over players,
        one number per row (indexed like ``data``; rows x outputs for several outputs).
        ``axis=2`` (several outputs only): over outputs, a DataFrame of rows x players.
        ``expl.abs.mean(0)`` is the mean |value| per player (:func:`shapkit.summary`
        adds its interval).

        Raises ``ValueError`` for another axis (or ``axis=2`` with one output) and for an
        explanation without rows.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.array([[1.0, 2.0], [0.0, 1.0]])
        >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, -3.0]), X)
        >>> expl.abs.mean(0).round(6).to_dict()
        {'x0': 0.5, 'x1': 1.5}
        """
        if isinstance(axis, (bool, np.bool_)) or axis not in (0, 1, 2):
            raise ValueError(f"axis={axis!r}: 0 (rows), 1 (players) or 2 (outputs).")
        if axis == 2 and not self.is_multi_output:
            raise ValueError("axis=2 averages over outputs; this explanation has one output.")
        if len(self) == 0:
            raise ValueError("The explanation has no rows to average.")
        players = pd.Index(list(self.feature_names), name="feature")
        outputs = pd.Index(list(self.output_names), name="output")
        rows = self.data.index.copy()
        means = self.values.mean(axis=axis)
        if axis == 2:
            return pd.DataFrame(means, index=rows, columns=players)
        index = players if axis == 0 else rows
        if self.is_multi_output:
            return pd.DataFrame(means, index=index, columns=outputs)
        return pd.Series(means, index=index, name="mean")

    def cohorts(self, by: Any, *, max_cohorts: int = 10) -> Any:
        """The rows split into cohorts, each an Explanation
        (:class:`shapkit.cohorts.Cohorts`: a mapping of cohort name to Explanation, with
        ``.sizes()``); ``shapkit.summary(cohorts)`` summarises every cohort.

        Parameters
        ----------
        by : column name, int or labels
            A column of ``data``: one cohort per value (``"col = value"``), numeric
            columns with more than ``max_cohorts`` values cut into quartiles
            (``"col in (a, b]"``); missing cells form the cohort ``"missing"``. An int
            ``n``: up to ``n`` cohorts found by a regression tree that splits the rows on
            their numeric feature values to explain their Shapley values, each named by
            its conditions (``"bmi <= 0.05 & bp > 0.1"``). A list, array or Series of one
            label per row: those cohorts.
        max_cohorts : int
            Most distinct values of a numeric column kept as cohorts of their own.

        Raises
        ------
        KeyError
            ``by`` names no column (or a group of several columns).
        ValueError
            Labels of another length than the rows; ``n`` below 1.

        Examples
        --------
        >>> import numpy as np, pandas as pd, shapkit
        >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "g": ["u", "v", "u", "v"]})
        >>> expl = shapkit.explain(lambda Z: Z["a"] * (Z["g"] == "u"), X, seed=0)
        >>> groups = expl.cohorts("g")
        >>> groups.sizes().to_dict()
        {'g = u': 2, 'g = v': 2}
        >>> table = shapkit.summary(groups, rows="fixed")  # one block per cohort
        >>> table.index.names, table["rows"].tolist()
        (FrozenList(['cohort', 'feature']), [2, 2, 2, 2])
        """
        from .cohorts import make_cohorts

        return make_cohorts(self, by, max_cohorts)

    def columns_of(self, name: Any) -> list[Any]:
        """The data columns of player ``name`` (a group's members, or the column itself).

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.random.default_rng(0).normal(size=(4, 3))
        >>> expl = shapkit.explain(lambda Z: Z.sum(1), X, groups={"g": ["x0", "x2"]})
        >>> expl.columns_of("g"), expl.columns_of("x1")
        (['x0', 'x2'], ['x1'])
        """
        if name in self.player_columns:
            return list(self.player_columns[name])
        return [name] if name in self.data.columns else []

    def numeric_values(self, name: Any) -> np.ndarray | None:
        """The float values ``(n,)`` of player ``name``'s single numeric column (NaN for
        missing cells), else None (a group, or a non-numeric column)."""
        columns = self.columns_of(name)
        if len(columns) != 1:
            return None
        column = self.data[columns[0]]
        if not pd.api.types.is_numeric_dtype(column.dtype):
            return None
        return column.to_numpy(dtype=float, na_value=np.nan)

    def to_frame(self, kind: str = "long") -> pd.DataFrame:
        """The values as a DataFrame.

        ``kind="long"`` (default): one row per (row, feature, output), with columns
        ``row`` (X's index label), ``feature``, ``output``, ``feature_value``,
        ``shap_value``, ``std_error``.

        ``kind="wide"``: one row per explained row (X's index), one column of values per
        feature; for multi-output explanations the columns are a MultiIndex
        ``(output, feature)``.

        Examples
        --------
        >>> import numpy as np, shapkit
        >>> X = np.array([[1.0, 2.0], [0.0, 1.0]])
        >>> expl = shapkit.explain(lambda Z: Z @ np.array([1.0, 3.0]), X)
        >>> expl.to_frame()[["row", "feature", "shap_value"]].round(2).values.tolist()
        [[0, 'x0', 0.5], [0, 'x1', 1.5], [1, 'x0', -0.5], [1, 'x1', -1.5]]
        >>> expl.to_frame("wide").round(2).values.tolist()
        [[0.5, 1.5], [-0.5, -1.5]]
        """
        if kind == "wide":
            return self._wide_frame()
        if kind != "long":
            raise ValueError(f"kind={kind!r}: choose 'long' or 'wide'.")
        values = self.values if self.is_multi_output else self.values[:, :, None]
        errors = self.std_errors if self.is_multi_output else self.std_errors[:, :, None]
        n, d, k = values.shape
        features = self._feature_values()
        return pd.DataFrame(
            {
                "row": np.repeat(_object_array(self.data.index), d * k),
                "feature": np.tile(np.repeat(_object_array(self.feature_names), k), n),
                "output": np.tile(_object_array(self.output_names), n * d),
                "feature_value": pd.Series(
                    [features[i][j] for i in range(n) for j in range(d) for _ in range(k)],
                    dtype=object,
                ),
                "shap_value": values.reshape(-1),
                "std_error": errors.reshape(-1),
            }
        )

    def _wide_frame(self) -> pd.DataFrame:
        """One row per explained row, one column per feature (per output)."""
        if not self.is_multi_output:
            columns = pd.Index(list(self.feature_names), name="feature")
            return pd.DataFrame(self.values, index=self.data.index.copy(), columns=columns)
        n, d, k = self.values.shape
        columns = pd.MultiIndex.from_product(
            [list(self.output_names), list(self.feature_names)], names=["output", "feature"]
        )
        flat = self.values.transpose(0, 2, 1).reshape(n, k * d)
        return pd.DataFrame(flat, index=self.data.index.copy(), columns=columns)

    def to_shap(self) -> Any:
        """A ``shap.Explanation`` with the same values, so shap's plots can draw it.

        ``data`` holds each player's numeric value (NaN for groups and non-numeric
        columns, which shap's plots draw in grey), ``display_data`` the cells as they
        are (``col=value; ...`` for groups), ``error_std`` the standard errors.
        Raises ImportError when shap is not installed.
        """
        try:
            import shap
        except ImportError as error:
            raise ImportError(
                "Explanation.to_shap() needs the shap package: pip install shap "
                "(or shapkit[bench])."
            ) from error
        n, d = self.values.shape[:2]
        numeric = np.full((n, d), np.nan)
        for j, name in enumerate(self.feature_names):
            column = self.numeric_values(name)
            if column is not None:
                numeric[:, j] = column
        display = np.empty((n, d), dtype=object)
        for i, row in enumerate(self._feature_values()):
            display[i, :] = row
        return shap.Explanation(
            values=np.array(self.values, dtype=float),
            base_values=np.array(self.base_values, dtype=float),
            data=numeric,
            display_data=display,
            feature_names=[str(name) for name in self.feature_names],
            output_names=[str(name) for name in self.output_names]
            if self.is_multi_output
            else None,
            error_std=np.array(self.std_errors, dtype=float),
        )

    def save(self, path: str | Path) -> Path:
        """Write the explanation to ``path``: ``.npz`` (always available) or
        ``.parquet`` (needs pyarrow), chosen by the suffix. Values, names, data,
        background and settings come back with :meth:`load`
        (:func:`shapkit.io.save_explanation`)."""
        return save_explanation(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Explanation:
        """Read an explanation written by :meth:`save` (the errors of
        :func:`shapkit.io.read_explanation_fields`)."""
        return cls(**read_explanation_fields(path))


def _is_full_slice(key: Any) -> bool:
    return isinstance(key, slice) and key == slice(None)


def _object_array(labels: Any) -> np.ndarray:
    """A 1-D object array of ``labels``, tuples kept whole (MultiIndex rows, tuple labels:
    ``np.asarray`` would make a 2-D array of their items)."""
    out = np.empty(len(labels), dtype=object)
    for position, label in enumerate(labels):
        out[position] = label
    return out


def _aligned_row_mask(key: Any, index: pd.Index) -> Any:
    """A boolean Series as a row mask aligned on the explained rows' ``index`` by label,
    as pandas' ``df[mask]`` does; other keys unchanged. A Series whose index does not
    hold exactly the rows' labels raises IndexError."""
    if not (isinstance(key, pd.Series) and pd.api.types.is_bool_dtype(key.dtype)):
        return key
    if key.index.equals(index):
        return key.to_numpy(dtype=bool)
    same_labels = (
        len(key.index) == len(index)
        and key.index.is_unique
        and index.is_unique
        and key.index.isin(index).all()
    )
    if not same_labels:
        raise IndexError(
            "The boolean Series' index does not match the explained rows' index "
            "(expl.data.index), so its labels cannot be aligned; pass "
            "mask.reindex(expl.data.index), or mask.to_numpy() to select by position."
        )
    return key.reindex(index).to_numpy(dtype=bool)


def _positions(key: Any, size: int, what: str, names: list[Any] | None = None) -> np.ndarray:
    """Positions selected by ``key`` on an axis of ``size``: int, slice, bool mask,
    list of ints, or (with ``names``) names."""
    if isinstance(key, slice):
        return np.arange(size)[key]
    if names is not None and _is_name(key, names):
        return np.array([_name_position(key, names, what)])
    if isinstance(key, (bool, np.bool_)):
        raise IndexError(f"Use a boolean mask of length {size} to select {what}s, not a bool.")
    if isinstance(key, (int, np.integer)):
        position = int(key)
        if not -size <= position < size:
            raise IndexError(f"{what} {position} is out of range for {size} {what}s.")
        return np.array([position % size])
    if isinstance(key, str):
        hint = " (select features as expl[:, name])" if what == "row" else ""
        raise KeyError(f"Cannot select {what}s by the string {key!r}{hint}.")
    if isinstance(key, pd.Series):
        key = key.to_numpy()
    try:
        items = list(key) if not isinstance(key, np.ndarray) else key
    except TypeError:
        raise IndexError(
            f"Select {what}s with an int, a slice, a list or a boolean mask; got {key!r}."
        ) from None
    array = np.asarray(items)
    if array.ndim != 1:
        raise IndexError(f"Select {what}s with a 1-D list, array or mask.")
    if array.dtype == bool:
        if array.shape[0] != size:
            raise IndexError(
                f"Boolean mask of length {array.shape[0]} for {size} {what}s; lengths must match."
            )
        return np.flatnonzero(array)
    if array.size == 0:
        return np.array([], dtype=np.int64)
    if names is not None and any(_is_name(item, names) or isinstance(item, str) for item in items):
        return np.array([_name_position(item, names, what) for item in items])
    if array.dtype.kind not in "iu":
        raise IndexError(f"Select {what}s with ints, a slice or a boolean mask; got {key!r}.")
    if np.any((array < -size) | (array >= size)):
        raise IndexError(f"A {what} position in {key!r} is out of range for {size} {what}s.")
    return array % size


def _is_name(key: Any, names: list[Any]) -> bool:
    """True for a str, or a non-int scalar label found in ``names``."""
    if isinstance(key, str):
        return True
    if isinstance(key, (int, np.integer, slice, list, np.ndarray, pd.Index, pd.Series)):
        return False
    try:
        return any(bool(key == name) for name in names)
    except (TypeError, ValueError):
        return False


def _name_position(key: Any, names: list[Any], what: str) -> int:
    for position, name in enumerate(names):
        if name == key:
            return position
    if isinstance(key, (int, np.integer)) and -len(names) <= int(key) < len(names):
        return int(key) % len(names)
    raise KeyError(f"Unknown {what} {key!r}; the {what}s are {names}.")


def _output_selection(selector: Any, output_names: list[Any]) -> tuple[np.ndarray, bool]:
    """The output positions ``expl[:, :, selector]`` selects by label, and whether the
    output axis is dropped (one label)."""
    if isinstance(selector, slice):
        raise IndexError(
            f"expl[:, :, {selector!r}]: outputs are selected by label; select them by "
            f"position with expl.output_at(slice({selector.start}, {selector.stop}, "
            f"{selector.step}))."
        )
    if isinstance(selector, (list, np.ndarray, pd.Index, pd.Series)):
        if isinstance(selector, (np.ndarray, pd.Index, pd.Series)) and selector.ndim != 1:
            raise IndexError("Select outputs with a 1-D list of labels.")
        labels = selector.tolist() if hasattr(selector, "tolist") else list(selector)
        positions = [output_label_position(output_names, label) for label in labels]
        return np.array(positions, dtype=np.int64), False
    return np.array([output_label_position(output_names, selector)]), True


def _take_outputs(
    values: np.ndarray,
    errors: np.ndarray,
    base: np.ndarray,
    predictions: np.ndarray,
    output_names: list[Any],
    outputs: np.ndarray,
    single: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """The arrays and names of the outputs at ``outputs``; one output drops the axis."""
    names = [output_names[k] for k in outputs]
    if single:
        k = int(outputs[0])
        return values[:, :, k], errors[:, :, k], base[:, k], predictions[:, k], names
    return (
        values[:, :, outputs],
        errors[:, :, outputs],
        base[:, outputs],
        predictions[:, outputs],
        names,
    )


def load_explanation(path: str | Path) -> Explanation:
    """Read an explanation written by :meth:`Explanation.save` (``.npz`` or
    ``.parquet``).

    Raises
    ------
    ExplanationFileError
        The file is not a shapkit explanation, is damaged or cut off, or its arrays
        disagree with its metadata; the message names the file and what is wrong. A
        missing file raises its subclass ``ExplanationFileNotFoundError`` (also a
        ``FileNotFoundError``), a directory ``ExplanationIsADirectoryError`` (also an
        ``IsADirectoryError``).
    ImportError
        A ``.parquet`` file without pyarrow installed.

    Examples
    --------
    >>> import numpy as np, shapkit, tempfile, pathlib
    >>> expl = shapkit.explain(lambda Z: Z.sum(1), np.eye(2), background=np.zeros((1, 2)))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "expl.npz"
    >>> load_explanation(expl.save(path)).values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return Explanation.load(path)
