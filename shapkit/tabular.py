"""Tabular data: validate X and background, map columns to players, build masked rows.

Masking copies whole cells, from the explained row where the coalition holds a column's
player and from a background row elsewhere, so the model receives exactly the type,
column names, column order and dtypes of ``X``: numeric, bool, categorical, string,
object and NaN cells all travel unchanged.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._kernels.masking import fill_masked_index, fill_masked_rows

#: Default number of background rows sampled from X when none is given.
DEFAULT_BACKGROUND_SIZE = 100

_NUMERIC_KINDS = "biuf"
#: Numeric dtypes Numba has no type for, and the same-size unsigned ints the masking
#: kernels copy their bits as (cells are copied, never computed, so this is exact).
_BIT_VIEWS = {np.dtype(np.float16): np.dtype(np.uint16)}


def _is_maskable_number(dtype: Any) -> bool:
    """Numbers and bools the Numba masking kernels copy (directly or as bits)."""
    return isinstance(dtype, np.dtype) and dtype.kind in _NUMERIC_KINDS and dtype.itemsize <= 8


def _kernel_view(array: np.ndarray) -> np.ndarray:
    """``array`` as the kernels read it: float16 cells as their uint16 bits."""
    bits = _BIT_VIEWS.get(array.dtype)
    return array if bits is None else array.view(bits)


def _type_name(X: Any) -> str:
    """``package.Class`` of X (``polars.DataFrame``, ``pyarrow.Table``)."""
    package = (type(X).__module__ or "").split(".")[0]
    return f"{package}.{type(X).__name__}" if package else type(X).__name__


def check_tabular(X: Any, name: str = "X", *, min_rows: int = 1) -> np.ndarray | pd.DataFrame:
    """Return ``X`` as a 2-D ndarray or DataFrame with at least ``min_rows`` rows (and
    a column), or raise a clear error.

    Accepted: a pandas DataFrame, or anything numpy reads as a 2-D array (an ndarray,
    a list of rows). Refused with what to do instead (``TypeError``): a Series, a dict of
    columns or a list of dicts (``pandas.DataFrame(X)``), a Dask DataFrame
    (``.compute()``), other data frames (``.to_pandas()``), scipy sparse matrices,
    structured arrays, numpy masked arrays (``X.filled(np.nan)``) and object cells
    holding containers.
    """
    if isinstance(X, pd.Series):
        raise TypeError(
            f"{name} is a pandas Series; pass a DataFrame with one row per instance, "
            f"e.g. df.iloc[[i]] instead of df.iloc[i]."
        )
    if isinstance(X, pd.DataFrame):
        if X.columns.has_duplicates:
            dupes = list(X.columns[X.columns.duplicated()].unique())
            raise ValueError(f"{name} has duplicated column names {dupes}; make them unique.")
        frame = X
    else:
        _refuse_containers(X, name)
        if hasattr(X, "tocsr") and hasattr(X, "nnz"):  # scipy.sparse, without importing it
            raise TypeError(
                f"{name} is a scipy sparse matrix; shapkit masks cells of dense rows: pass "
                f"{name}.toarray() (or a DataFrame). If the model needs sparse input, "
                f"explain a wrapper: lambda Z: model.predict(scipy.sparse.csr_matrix(Z))."
            )
        try:
            frame = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} could not be read as a 2-D array: {exc}") from exc
        if frame.dtype.names is not None:
            raise TypeError(
                f"{name} is a structured (record) array with fields {list(frame.dtype.names)}; "
                f"convert it with pandas.DataFrame({name}) so each field is a column."
            )
        if frame.ndim == 1:
            raise ValueError(
                f"{name} is 1-D with shape {frame.shape}; pass a 2-D array with one row per "
                f"instance, e.g. x.reshape(1, -1) for a single row."
            )
        if frame.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows, columns); got shape {frame.shape}.")
    if frame.shape[0] < min_rows:
        raise ValueError(f"{name} is empty (0 rows); pass at least one row.")
    if frame.shape[1] == 0:
        raise ValueError(f"{name} has no columns; pass at least one feature column.")
    _check_scalar_cells(frame, name)
    return frame


def refuse_dask(X: Any, name: str = "X") -> None:
    """A TypeError saying to ``.compute()`` (or ``.head(n)``) a Dask collection given
    where shapkit needs the rows in memory (never imports dask)."""
    if (type(X).__module__ or "").startswith("dask"):
        raise TypeError(
            f"{name} is a Dask {type(X).__name__} ({_type_name(X)}); shapkit needs these "
            f"rows in memory here: pass {name}.compute(), or a sample of it, e.g. "
            f"{name}.head(100) (only Explainer(...)(X) and explain(model, X, ...) take a "
            f"Dask X, explained partition by partition)."
        )


def _refuse_containers(X: Any, name: str) -> None:
    """Raise a TypeError, saying how to convert it, for data that is not an ndarray or a
    list of rows: dicts and records, Dask and other data frames, masked arrays."""
    if isinstance(X, Mapping):
        raise TypeError(
            f"{name} is a {type(X).__name__} (columns by key); pass pandas.DataFrame({name}) "
            f"so each key is a column."
        )
    if isinstance(X, (list, tuple)) and X and all(isinstance(row, Mapping) for row in X):
        raise TypeError(
            f"{name} is a {type(X).__name__} of dicts (one record per row); pass "
            f"pandas.DataFrame({name}) so each key is a column."
        )
    refuse_dask(X, name)
    if hasattr(X, "__dataframe__") or hasattr(X, "to_pandas"):
        raise TypeError(f"{name} is a {_type_name(X)}; convert it with .to_pandas() first.")
    if isinstance(X, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; shapkit would read the values under its mask "
            f"as data. Fill the masked cells first, e.g. {name}.filled(np.nan) for missing "
            f"values the model handles, and pass that."
        )


def _check_scalar_cells(frame: np.ndarray | pd.DataFrame, name: str) -> None:
    """Raise a TypeError naming the first object cell that holds a container (list, dict,
    set, array): a cell must be one value to be masked, hashed and compared."""
    if isinstance(frame, pd.DataFrame):
        columns = [(label, frame[label])
                   for label, dtype in zip(frame.columns, frame.dtypes, strict=True)
                   if pd.api.types.is_object_dtype(dtype)]
    elif frame.dtype == object:
        columns = [(j, pd.Series(frame[:, j])) for j in range(frame.shape[1])]
    else:
        return
    for label, column in columns:
        bad = column.map(lambda v: isinstance(v, (list, dict, set, np.ndarray))).to_numpy(bool)
        if bad.any():
            row = int(np.argmax(bad))
            value = column.iloc[row]
            raise TypeError(
                f"{name}'s column {label!r} holds a {type(value).__name__} in row {row} "
                f"({_short(value)}); each cell must be one value (number, string, bool, "
                f"category or NaN). Expand such columns into one column per item first."
            )


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def align_background(
    X: np.ndarray | pd.DataFrame, background: np.ndarray | pd.DataFrame
) -> np.ndarray | pd.DataFrame:
    """Check ``background`` (validated by :func:`check_tabular`) against ``X`` and return
    it with X's columns, order and dtypes.

    DataFrame columns are matched by name; missing or extra columns raise a
    ``ValueError`` naming them, and so do columns whose dtype differs from X's (with
    advice that works: cast X to the background's dtypes, naming any category levels
    of X the background's categories lack). Text columns that differ only in how they
    store strings (``object`` vs pandas' ``string`` dtypes, e.g. from ``dd.from_pandas``)
    are not an error: see :func:`align_text_columns`.
    """
    if isinstance(X, pd.DataFrame):
        if not isinstance(background, pd.DataFrame):
            if background.shape[1] != X.shape[1]:
                raise ValueError(
                    f"background has {background.shape[1]} columns but X has {X.shape[1]}."
                )
            background = _frame_like(X, background)
        missing = [c for c in X.columns if c not in background.columns]
        extra = [c for c in background.columns if c not in X.columns]
        if missing or extra:
            raise ValueError(
                "background's columns do not match X's: "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"extra {extra}" if extra else "")
                + ". Pass background rows with exactly the columns of X."
            )
        background = background[list(X.columns)]
        mismatched = [c for c, a, b in zip(X.columns, X.dtypes, background.dtypes, strict=True)
                      if a != b]
        if mismatched:
            raise ValueError(_dtype_advice(X, background, mismatched))
        return background.reset_index(drop=True)
    if isinstance(background, pd.DataFrame):
        background = background.to_numpy()
    if background.shape[1] != X.shape[1]:
        raise ValueError(f"background has {background.shape[1]} columns but X has {X.shape[1]}.")
    if background.dtype != X.dtype:
        lossless = np.result_type(X.dtype, background.dtype) == X.dtype
        both_float = X.dtype.kind == "f" and background.dtype.kind == "f"
        if not (lossless or both_float):
            raise ValueError(
                f"background's dtype {background.dtype} does not fit X's dtype {X.dtype}; "
                f"pass both with the same dtype, e.g. X = X.astype(background.dtype)."
            )
        background = background.astype(X.dtype)  # floats are rounded to X's precision
    return background


def align_text_columns(X: Any, background: Any) -> Any:
    """X with each text column stored as the background's (``object`` vs pandas'
    ``string`` dtypes), so the model receives strings the way it was fitted on them;
    X unchanged when nothing differs or either is not a DataFrame. The strings and
    missing values themselves are kept."""
    if not (isinstance(X, pd.DataFrame) and isinstance(background, pd.DataFrame)):
        return X
    bg_types = dict(zip(background.columns, background.dtypes, strict=True))
    casts = {
        c: bg_types[c]
        for c, dtype in zip(X.columns, X.dtypes, strict=True)
        if c in bg_types
        and dtype != bg_types[c]
        and is_text_column(X[c])
        and is_text_column(background[c])
    }
    return X.astype(casts) if casts else X


def is_text_column(column: pd.Series) -> bool:
    """A column of strings (and missing values): pandas' string dtype, or object cells."""
    if isinstance(column.dtype, pd.StringDtype):
        return True
    if column.dtype != object:
        return False
    present = column.dropna()
    return bool(present.map(lambda v: isinstance(v, str)).all())


def _dtype_difference(label: Any, x_dtype: Any, background_dtype: Any) -> str:
    both = (x_dtype, background_dtype)
    if all(isinstance(t, pd.CategoricalDtype) for t in both):
        x_levels, b_levels = (_short(list(t.categories), 60) for t in both)
        return f"{label!r}: X's categories {x_levels} vs the background's {b_levels}"
    return f"{label!r}: X {x_dtype} vs background {background_dtype}"


def _dtype_advice(X: pd.DataFrame, background: pd.DataFrame, columns: list[Any]) -> str:
    """The message for columns whose dtypes differ: what differs, and the cast of X to
    the background's dtypes (the dtypes the model was most likely fitted on), with the
    category levels of X that cast would lose."""
    detail = ", ".join(_dtype_difference(c, X[c].dtype, background[c].dtype) for c in columns)
    lost = []
    for c in columns:
        target = background[c].dtype
        if isinstance(target, pd.CategoricalDtype):
            present = pd.unique(X[c].dropna())
            unseen = [v for v in present if v not in set(target.categories)]
            if unseen:
                lost.append(f"{c!r} holds levels {unseen[:5]} the background's categories lack")
    message = (
        f"background's dtypes differ from X's ({detail}). The model must see one dtype "
        f"per column: cast X to the background's dtypes, "
        f"X = X.astype(background.dtypes.to_dict()), or pass a background with X's dtypes."
    )
    if lost:
        message += (
            " That cast would turn unseen category levels into NaN: "
            + "; ".join(lost)
            + ". Add them to the background's categories (or recode them) first."
        )
    return message


def _frame_like(X: pd.DataFrame, background: np.ndarray) -> pd.DataFrame:
    """An ndarray background as a DataFrame with X's columns and dtypes; lossy casts raise."""
    frame = pd.DataFrame(background, columns=X.columns)
    try:
        cast = frame.astype(X.dtypes.to_dict())
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"background (an ndarray) cannot be cast to X's dtypes ({exc}); pass it as a "
            f"DataFrame with X's columns and dtypes."
        ) from exc
    changed = [str(c) for c in X.columns if not _equal_with_nan(cast[c], frame[c])]
    if changed:
        raise ValueError(
            f"background (an ndarray) changes values when cast to X's dtypes in columns "
            f"{changed}; pass it as a DataFrame with X's columns and dtypes."
        )
    return cast


def _equal_with_nan(a: pd.Series, b: pd.Series) -> bool:
    """Element-wise equality where missing equals missing."""
    both_missing = a.isna().to_numpy() & b.isna().to_numpy()
    same = (a.astype(object).to_numpy() == b.astype(object).to_numpy()) | both_missing
    return bool(np.all(same))


def sample_background(
    X: np.ndarray | pd.DataFrame, size: int = DEFAULT_BACKGROUND_SIZE, seed: Any = None
) -> np.ndarray | pd.DataFrame:
    """A seeded sample of at most ``size`` rows of ``X``, drawn without replacement."""
    n = X.shape[0]
    if n <= size:
        rows = np.arange(n)
    else:
        rng = np.random.default_rng(child_sequence(seed, 0) if seed is not None else None)
        rows = np.sort(rng.choice(n, size=size, replace=False))
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows].reset_index(drop=True)
    return X[rows]


def child_sequence(seed: int | np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
    """Child ``key`` of ``seed``'s sequence, made without mutating a SeedSequence seed
    (``SeedSequence(seed).spawn(1)[0]`` for an int seed and key 0); several keys name
    a grandchild.

    Examples
    --------
    >>> a = child_sequence(7, 0).generate_state(1)
    >>> bool((a == np.random.SeedSequence(7).spawn(1)[0].generate_state(1)).all())
    True
    """
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *key))
    return np.random.SeedSequence(seed, spawn_key=key)


def column_names_of(X: np.ndarray | pd.DataFrame, feature_names: Sequence[str] | None) -> list[str]:
    """Display names of X's columns: ``feature_names``, the DataFrame's columns, or x0, x1, ...

    Names are ``str()`` of the labels. Labels that read the same after ``str()`` (the
    columns ``1`` and ``"1"``, or a name given twice) raise a ValueError naming both,
    since their values would be reported under one name.
    """
    from ._labels import first_str_collision

    n_columns = X.shape[1]
    if feature_names is not None:
        if isinstance(feature_names, str):
            raise TypeError(
                f"feature_names={feature_names!r} is one string; pass a list of {n_columns} names."
            )
        labels = list(feature_names)
        if len(labels) != n_columns:
            raise ValueError(
                f"feature_names has {len(labels)} names but X has {n_columns} columns."
            )
        what = "feature_names"
    elif isinstance(X, pd.DataFrame):
        labels, what = list(X.columns), "X's columns"
    else:
        return [f"x{j}" for j in range(n_columns)]
    collision = first_str_collision(labels)
    if collision is not None:
        a, b = collision
        if type(a) is type(b) and a == b:
            raise ValueError(f"{what} contains duplicates: {a!r} twice; names must be unique.")
        raise ValueError(
            f"{what} has {a!r} and {b!r}, which both read {str(a)!r} as a feature name; "
            f"rename one so the names differ as strings."
        )
    return [str(label) for label in labels]


def resolve_players(
    column_names: Sequence[str], groups: Mapping[str, Sequence[str] | str] | None
) -> tuple[list[str], np.ndarray]:
    """Players and the player of each column.

    Each group is one player; columns in no group are players of their own. Players are
    ordered by the position of their first column. Returns ``(player_names,
    column_player)`` with ``column_player[j]`` the player index of column ``j``.
    """
    n_columns = len(column_names)
    if groups is None:
        return list(column_names), np.arange(n_columns, dtype=np.int64)
    if not isinstance(groups, Mapping):
        raise TypeError(
            "groups must be a mapping {group name: [column names]}, e.g. "
            "groups={'size': ['height', 'weight']}."
        )
    from ._labels import first_str_collision

    position = {name: j for j, name in enumerate(column_names)}
    collision = first_str_collision(list(groups))
    if collision is not None:
        a, b = collision
        raise ValueError(
            f"The group names {a!r} and {b!r} both read {str(a)!r}; make the group names "
            f"unique as strings."
        )
    owner: dict[int, str] = {}
    for group, members in groups.items():
        members = _group_members(group, members, position)
        if not members:
            raise ValueError(f"group {group!r} is empty; give it at least one column.")
        for column in members:
            column = str(column)
            if column not in position:
                raise ValueError(
                    f"group {group!r} names column {column!r}, which is not a column of X "
                    f"(columns: {list(column_names)})."
                )
            j = position[column]
            if j in owner:
                raise ValueError(
                    f"column {column!r} is in two groups ({owner[j]!r} and {group!r}); "
                    f"each column may belong to one group only."
                )
            owner[j] = str(group)
    for group in groups:
        if str(group) in position and position[str(group)] not in owner:
            raise ValueError(
                f"group name {group!r} is also the name of an ungrouped column "
                f"({str(group)!r}): both would read {str(group)!r}; rename the group."
            )
    player_names: list[str] = []
    player_index: dict[str, int] = {}
    column_player = np.empty(n_columns, dtype=np.int64)
    for j, name in enumerate(column_names):
        player = owner.get(j, name)
        if player not in player_index:
            player_index[player] = len(player_names)
            player_names.append(player)
        column_player[j] = player_index[player]
    return player_names, column_player


def _group_members(group: Any, members: Any, position: Mapping[str, int]) -> list[Any]:
    """A group's members as a list: a column name alone, or a list (any iterable) of
    them; anything else (None, a number that names no column) raises a ValueError."""
    if isinstance(members, str):
        return [members]
    if members is not None:
        if hasattr(members, "__iter__"):
            return list(members)
        if str(members) in position:  # a non-string label that names a column, e.g. 1
            return [members]
    raise ValueError(
        f"group {group!r} has members {members!r} ({type(members).__name__}); members must "
        f"be a column name or a list of them, e.g. groups={{{group!r}: ['a', 'b']}}."
    )


def _codes(X: np.ndarray | pd.DataFrame, background: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Integer codes of every cell of ``[X; background]``, equal codes for equal cells (NaN too)."""
    n_rows = X.shape[0] + background.shape[0]
    codes = np.empty((n_rows, X.shape[1]), dtype=np.int64)
    for j in range(X.shape[1]):
        if isinstance(X, pd.DataFrame):
            assert isinstance(background, pd.DataFrame)  # aligned with X: the same type
            column = pd.concat([X.iloc[:, j], background.iloc[:, j]], ignore_index=True)
        else:
            column = np.concatenate([X[:, j], background[:, j]])
        codes[:, j] = pd.factorize(column, use_na_sentinel=False)[0]
    return codes


_SPARE = threading.local()  # this thread's last row buffer per (columns, dtype)


def row_buffer(n_rows: int, n_columns: int, dtype: np.dtype) -> np.ndarray:
    """A ``(>= n_rows, n_columns)`` buffer for masked rows: this thread's spare one when
    nothing else refers to it and it is large enough, else a new one (kept as the spare).

    Explaining one row per call would otherwise map a fresh multi-MB array from the OS
    for every call (page faults). The spare stays allocated between calls.
    """
    spares = getattr(_SPARE, "buffers", None)
    if spares is None:
        spares = _SPARE.buffers = {}
    key = (n_columns, np.dtype(dtype).str)
    buffer = spares.get(key)
    # 3 references when free: the spare slot, this name and getrefcount's argument
    if buffer is None or buffer.shape[0] < n_rows or sys.getrefcount(buffer) > 3:
        buffer = spares[key] = np.empty((n_rows, n_columns), dtype=dtype)
    return buffer


def _is_spare(buffer: np.ndarray) -> bool:
    return any(b is buffer for b in getattr(_SPARE, "buffers", {}).values())


class RowMasker:
    """Builds masked rows of explained rows against a background, in the type of ``X``.

    Parameters
    ----------
    X, background : ndarray or DataFrame
        Validated and aligned with :func:`check_tabular` and :func:`align_background`.
    column_player : ndarray of int
        Player of each column, from :func:`resolve_players`.
    """

    def __init__(
        self,
        X: np.ndarray | pd.DataFrame,
        background: np.ndarray | pd.DataFrame,
        column_player: np.ndarray,
    ) -> None:
        self.n_rows = X.shape[0]
        self.n_background = background.shape[0]
        self.column_player = np.ascontiguousarray(column_player, dtype=np.int64)
        self._columns = X.columns if isinstance(X, pd.DataFrame) else None
        self._codes: np.ndarray | None = None  # cell codes, for non-numeric data only
        # Numeric masked rows are written into one reused buffer (a fresh multi-MB array
        # per model call costs page faults: ~25% of shapkit's own time with a cheap
        # model). :meth:`release_rows` drops it if the model kept a reference to its input.
        self._buffer: np.ndarray | None = None
        self._numeric: tuple[np.ndarray, np.ndarray] | None = None
        self._pool: list[Any] = []
        if isinstance(X, pd.DataFrame):
            assert isinstance(background, pd.DataFrame)  # aligned with X: the same type
            dtypes = set(X.dtypes)
            single = next(iter(dtypes)) if len(dtypes) == 1 else None
            if _is_maskable_number(single):
                self._numeric = (X.to_numpy(), background.to_numpy())
            else:
                for j in range(X.shape[1]):
                    column = pd.concat([X.iloc[:, j], background.iloc[:, j]], ignore_index=True)
                    values = column.array
                    if isinstance(column.dtype, np.dtype):
                        values = column.to_numpy()
                    self._pool.append(values)
        elif _is_maskable_number(X.dtype):
            self._numeric = (np.ascontiguousarray(X), np.ascontiguousarray(background))
        else:
            self._pool = [np.concatenate([X, background], axis=0)]
        if self._numeric is None:
            self._codes = _codes(X, background)
        self._background_index = np.arange(self.n_rows, self.n_rows + self.n_background)

    def release_rows(self) -> None:
        """Call once the model is done with the rows :meth:`masked_rows` returned (and
        the caller dropped them): if anything still refers to the reused buffer (a model
        that stores its inputs, or returns a view of them), the next call gets a new one,
        so what was handed out is never overwritten."""
        if self._buffer is None:
            return
        # references when nobody else holds it: this attribute, getrefcount's argument
        # and, when it is this thread's spare, the spare slot
        if sys.getrefcount(self._buffer) > 2 + _is_spare(self._buffer):
            self._buffer = None

    def constant_players(self, row: int, n_players: int) -> np.ndarray:
        """Players whose cells in ``row`` equal the same cells of every background row.

        Such players are dummies of the marginal game: their Shapley value is exactly 0.
        """
        if self._numeric is not None:
            X, background = self._numeric
            x = X[row]
            same = (background == x) | (np.isnan(background) & np.isnan(x))
            equal = same.all(axis=0)
        else:
            codes = self._codes
            assert codes is not None  # set for non-numeric data
            equal = (codes[self.n_rows :] == codes[row]).all(axis=0)
        changed = np.zeros(n_players, dtype=bool)
        np.logical_or.at(changed, self.column_player, ~equal)
        return ~changed

    def masked_rows(
        self, row: int, masks: np.ndarray, column_player: np.ndarray, start: int, stop: int
    ) -> np.ndarray | pd.DataFrame:
        """Masked rows ``start..stop-1`` of explained row ``row`` under ``masks``.

        Row ``r`` pairs coalition ``r // n_background`` with background row
        ``r % n_background``. ``column_player`` maps columns to the columns of ``masks``.
        """
        n_out = stop - start
        if self._numeric is not None:
            X, background = self._numeric
            buffer = self._buffer
            if buffer is None or buffer.shape[0] < n_out:
                buffer = self._buffer = row_buffer(n_out, X.shape[1], X.dtype)
            out = buffer[:n_out]
            fill_masked_rows(
                masks,
                column_player,
                _kernel_view(X[row]),
                _kernel_view(background),
                start,
                _kernel_view(out),
            )
            if self._columns is None:
                return out
            return pd.DataFrame(out, columns=self._columns, copy=False)
        index = np.empty((n_out, column_player.shape[0]), dtype=np.int64)
        fill_masked_index(masks, column_player, row, self._background_index, start, index)
        return self._from_index(index)

    def masked_rows_of(
        self, rows: np.ndarray, masks: np.ndarray, column_player: np.ndarray
    ) -> np.ndarray | pd.DataFrame:
        """Every masked row of each explained row in ``rows`` under ``masks``, in one
        new array or DataFrame: row ``i`` of ``rows`` fills rows ``i * m * n_background``
        onwards, in the order of :meth:`masked_rows`. ``masks`` is ``(m, players)`` for
        all rows, or ``(len(rows), m, players)``: each row its own."""
        per_row = masks.shape[-2] * self.n_background
        n_columns = column_player.shape[0]

        def row_masks(i: int) -> np.ndarray:
            return masks if masks.ndim == 2 else np.ascontiguousarray(masks[i])

        if self._numeric is not None:
            X, background = self._numeric
            out = np.empty((len(rows) * per_row, X.shape[1]), dtype=X.dtype)
            for i, row in enumerate(rows):
                fill_masked_rows(row_masks(i), column_player, _kernel_view(X[row]),
                                 _kernel_view(background), 0,
                                 _kernel_view(out[i * per_row : (i + 1) * per_row]))  # fmt: skip
            if self._columns is None:
                return out
            return pd.DataFrame(out, columns=self._columns, copy=False)
        index = np.empty((len(rows) * per_row, n_columns), dtype=np.int64)
        for i, row in enumerate(rows):
            fill_masked_index(row_masks(i), column_player, int(row), self._background_index, 0,
                              index[i * per_row : (i + 1) * per_row])  # fmt: skip
        return self._from_index(index)

    def _from_index(self, index: np.ndarray) -> np.ndarray | pd.DataFrame:
        """The cells that ``index`` points to in the pool, in X's type."""
        if self._columns is None:
            pool = self._pool[0]
            return pool[index, np.arange(pool.shape[1])]
        data = {}
        for j, column in enumerate(self._columns):
            values = self._pool[j]
            if not isinstance(values, np.ndarray):
                data[column] = values.take(index[:, j])
            elif values.dtype == object:  # a Series keeps object: pandas 3 would infer str
                data[column] = pd.Series(np.take(values, index[:, j]), dtype=object, copy=False)
            else:
                data[column] = np.take(values, index[:, j])
        return pd.DataFrame(data, columns=self._columns, copy=False)
