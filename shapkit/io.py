"""Save and load explanations: ``.npz`` (numpy, always available) or ``.parquet`` (pyarrow).

Both formats keep the values, standard errors, base values, predictions, evaluations,
feature and output names, method, player columns, settings, the explained rows and the
background, with their column labels, index and dtypes (numbers, bool, datetimes,
categoricals, strings, pandas' nullable dtypes; object columns of str, int, float, bool
and None). Settings are stored as JSON: numbers, strings, None, lists and dicts come
back as they were, other objects (an Estimator instance) as their ``repr``.

Labels (column labels, feature and output names, player columns) keep their type: str,
int, float, bool, None, tuples of them, and numpy scalars (``np.int64(1)`` comes back as
``np.int64(1)``, not ``1`` or ``"1"``).

Loading checks what it reads: a missing file, a directory, random bytes, a cut-off file,
an archive or table without shapkit's metadata, metadata that is not shapkit's, and
arrays whose shapes disagree with the metadata or the names each raise an
:class:`~shapkit.exceptions.ExplanationFileError` (a ``ValueError``) that names the file
and says what is wrong; saving checks the same shapes before writing and that the
folder exists.

``.npz`` files hold no pickles and load with ``allow_pickle=False``. A ``.parquet`` file
is one table, one row per explained row: the data columns as ``data:<column>`` and the
values as ``shap_value:<feature>[:<output>]``, ``std_error:...``, ``base_value``,
``prediction`` and ``n_evals`` columns, so any parquet reader can use it; names,
settings and the background ride in the file's metadata.
"""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._labels import preview
from .columns import labelled_names, value_names
from .exceptions import (
    ExplanationFileError,
    ExplanationFileNotFoundError,
    ExplanationIsADirectoryError,
)

if TYPE_CHECKING:  # io reads and writes the fields; explanation.py builds the object
    from .explanation import Explanation

FORMAT = "shapkit.explanation"
#: 2: labels may be tagged numpy scalars (``{"numpy": "<i8", "value": 1}``); version 1
#: files (plain labels) read the same.
VERSION = 2
_PARQUET_SUFFIXES = (".parquet", ".pq")
_ARRAYS = ("values", "base_values", "std_errors", "n_evals", "predictions")


def save_explanation(explanation: Explanation, path: str | Path) -> Path:
    """Write ``explanation`` to ``path``; the suffix picks the format (``.npz`` or
    ``.parquet``). Returns the path.

    Examples
    --------
    >>> import numpy as np, shapkit, tempfile, pathlib
    >>> expl = shapkit.explain(lambda Z: Z.sum(1), np.eye(2), background=np.zeros((1, 2)))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "expl.npz"
    >>> shapkit.load_explanation(expl.save(path)).values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".npz" and suffix not in _PARQUET_SUFFIXES:
        raise ExplanationFileError(
            f"Cannot tell the format of {str(path)!r} from its suffix: use .npz (numpy, "
            "always available) or .parquet (needs pyarrow)."
        )
    if path.is_dir():
        raise ExplanationIsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a directory; pass a file path such as "
            f"{str(path / ('explanation' + suffix))!r}."
        )
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ExplanationFileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(folder)!r} {what}. Create it "
            f"first, e.g. pathlib.Path({str(folder)!r}).mkdir(parents=True)."
        )
    problem = _shape_problem(
        {name: np.shape(getattr(explanation, name)) for name in _ARRAYS},
        len(explanation.feature_names),
        len(explanation.output_names),
        len(explanation.data),
    )
    if problem:
        raise ExplanationFileError(
            f"Cannot save this explanation to {str(path)!r}: {problem}. It was changed "
            "after it was made; rebuild it or fix the field."
        )
    if suffix == ".npz":
        _save_npz(explanation, path)
    else:
        _save_parquet(explanation, path)
    return path


def read_explanation_fields(path: str | Path) -> dict[str, Any]:
    """The fields of an explanation written by :func:`save_explanation` (``.npz`` or
    ``.parquet``): the keyword arguments of :class:`~shapkit.Explanation`, which
    :meth:`shapkit.Explanation.load` and :func:`shapkit.load_explanation` build it from.

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
    >>> import shapkit
    >>> shapkit.load_explanation("no/such/file.npz")
    Traceback (most recent call last):
    ...
    shapkit.exceptions.ExplanationFileNotFoundError: No explanation file at 'no/such/file.npz' ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix != ".npz" and suffix not in _PARQUET_SUFFIXES:
        raise ExplanationFileError(
            f"Cannot tell the format of {str(path)!r} from its suffix: shapkit writes .npz "
            "and .parquet files."
        )
    if path.is_dir():
        raise ExplanationIsADirectoryError(
            f"{str(path)!r} is a directory, not an explanation file; pass the path of a "
            f"{suffix} file written by Explanation.save."
        )
    if not path.exists():
        raise ExplanationFileNotFoundError(
            f"No explanation file at {str(path)!r} (looked in {str(path.absolute().parent)!r})."
        )
    try:
        return _load_npz(path) if suffix == ".npz" else _load_parquet(path)
    except (ExplanationFileError, ImportError, PermissionError, MemoryError):
        raise
    except Exception as error:  # whatever a damaged file makes numpy, zipfile or arrow raise
        raise ExplanationFileError(
            f"Cannot read {str(path)!r} as a shapkit explanation: the file is damaged, cut "
            f"off or not a {suffix} file written by Explanation.save "
            f"({type(error).__name__}: {error})."
        ) from error


# --- metadata shared by both formats ---------------------------------------------------


def _common_meta(expl: Explanation) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "method": str(expl.method),
        "feature_names": [_encode_label(name) for name in expl.feature_names],
        "output_names": [_encode_label(name) for name in expl.output_names],
        "player_columns": [
            [_encode_label(name), [_encode_label(c) for c in columns]]
            for name, columns in expl.player_columns.items()
        ],
        "settings": {str(key): _encode_setting(value) for key, value in expl.settings.items()},
        "shape": list(expl.values.shape),
    }


def _parse_meta(raw: Any, path: Path, where: str) -> dict[str, Any]:
    """The JSON metadata, checked to be shapkit's: a dict of the expected fields."""
    try:
        meta = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError) as error:
        raise ExplanationFileError(
            f"{str(path)!r} is not a shapkit explanation file: its {where} is not JSON ({error})."
        ) from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ExplanationFileError(
            f"{str(path)!r} is not a shapkit explanation file: its {where} is not shapkit's "
            f'(no "format": {FORMAT!r}).'
        )
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ExplanationFileError(f"{str(path)!r} is damaged: its format version is {version!r}.")
    if version > VERSION:
        raise ExplanationFileError(
            f"{str(path)!r} was written by a newer shapkit (format version {version}); "
            "upgrade shapkit to read it."
        )
    expected = {
        "method": str,
        "feature_names": list,
        "output_names": list,
        "player_columns": list,
        "settings": dict,
        "shape": list,
    }
    for key, kind in expected.items():
        if not isinstance(meta.get(key), kind):
            raise ExplanationFileError(
                f"{str(path)!r} is damaged: its metadata has no {kind.__name__} {key!r}."
            )
    shape = meta["shape"]
    if len(shape) not in (2, 3) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
    ):
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: its metadata gives the shape of the values as {shape}."
        )
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in meta["player_columns"]):
        raise ExplanationFileError(f"{str(path)!r} is damaged: its player columns are malformed.")
    return meta


def _shape_problem(
    shapes: dict[str, tuple[int, ...]], n_features: int, n_outputs: int, n_rows: int
) -> str | None:
    """What is inconsistent between the arrays' shapes, the names and the data, or None."""
    values = shapes["values"]
    if len(values) not in (2, 3):
        return f"values have shape {values}; expected (rows, players) or (rows, players, outputs)"
    n, d = values[0], values[1]
    vector = (n, values[2]) if len(values) == 3 else (n,)
    expected = {"std_errors": values, "base_values": vector, "predictions": vector,
                "n_evals": (n,)}  # fmt: skip
    for name, shape in expected.items():
        if tuple(shapes[name]) != tuple(shape):
            return f"{name} have shape {tuple(shapes[name])} but values have shape {values}"
    if n_features != d:
        return f"values have shape {values} ({d} players) but there are {n_features} feature names"
    if len(values) == 3 and n_outputs != values[2]:
        return (
            f"values have shape {values} ({values[2]} outputs) but there are {n_outputs} "
            "output names"
        )
    if len(values) == 2 and n_outputs > 1:
        return f"values have shape {values} (one output) but there are {n_outputs} output names"
    if n_rows != n:
        return f"values have shape {values} ({n} rows) but the data has {n_rows} rows"
    return None


def _check_arrays(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], n_rows: int, path: Path
) -> None:
    """The arrays agree with the metadata's shape, names and rows, and are numbers."""
    missing = [name for name in _ARRAYS if name not in arrays]
    if missing:
        raise ExplanationFileError(f"{str(path)!r} is damaged: the arrays {missing} are missing.")
    for name in _ARRAYS:
        if arrays[name].dtype.kind not in "biuf":
            raise ExplanationFileError(
                f"{str(path)!r} is damaged: {name} hold {arrays[name].dtype}, not numbers."
            )
    if tuple(arrays["values"].shape) != tuple(meta["shape"]):
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: values have shape {tuple(arrays['values'].shape)} but "
            f"its metadata says {tuple(meta['shape'])}."
        )
    problem = _shape_problem(
        {name: tuple(arrays[name].shape) for name in _ARRAYS},
        len(meta["feature_names"]),
        len(meta["output_names"]),
        n_rows,
    )
    if problem:
        raise ExplanationFileError(f"{str(path)!r} is damaged: {problem}.")


def _explanation(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], data: Any, background: Any
) -> dict[str, Any]:
    return dict(
        values=arrays["values"],
        base_values=arrays["base_values"],
        std_errors=arrays["std_errors"],
        data=data,
        feature_names=[_decode_label(name) for name in meta["feature_names"]],
        output_names=[_decode_label(name) for name in meta["output_names"]],
        method=meta["method"],
        n_evals=arrays["n_evals"],
        predictions=arrays["predictions"],
        player_columns={
            _decode_label(name): [_decode_label(c) for c in columns]
            for name, columns in meta["player_columns"]
        },
        settings=dict(meta["settings"]),
        background=background,
    )


def _encode_label(label: Any) -> Any:
    """A column, feature or output label as JSON: str, int, float, bool and None as they
    are, tuples and numpy scalars tagged so they come back with their type."""
    if isinstance(label, np.generic):
        if label.dtype.kind in "biufU":
            return {"numpy": label.dtype.str, "value": label.item()}
        label = label.item()
    if label is None or isinstance(label, (str, bool, int, float)):
        return label
    if isinstance(label, tuple):
        return {"tuple": [_encode_label(item) for item in label]}
    raise TypeError(
        f"Cannot save the label {label!r} of type {type(label).__name__}: labels must be "
        "str, int, float, bool, None, numpy scalars or tuples of them."
    )


def _decode_label(label: Any) -> Any:
    """The label :func:`_encode_label` wrote; a ValueError for anything else."""
    if label is None or isinstance(label, (str, bool, int, float)):
        return label
    if isinstance(label, dict):
        if set(label) == {"tuple"} and isinstance(label["tuple"], list):
            return tuple(_decode_label(item) for item in label["tuple"])
        if set(label) == {"numpy", "value"} and isinstance(label["numpy"], str):
            dtype = np.dtype(label["numpy"])
            if dtype.kind in "biufU" and isinstance(label["value"], (str, bool, int, float)):
                return dtype.type(label["value"])
    raise ValueError(f"the label {label!r} is not one shapkit writes")


def _encode_setting(value: Any) -> Any:
    """A setting as JSON; what JSON cannot hold becomes its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_setting(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode_setting(item) for key, item in value.items()}
    return repr(value)


# --- .npz ------------------------------------------------------------------------------


def _save_npz(expl: Explanation, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {name: np.asarray(getattr(expl, name)) for name in _ARRAYS}
    meta = _common_meta(expl)
    meta["data"] = _encode_frame(expl.data, "data", arrays)
    meta["background"] = (
        None if expl.background is None else _encode_frame(expl.background, "background", arrays)
    )
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as handle:
        # numpy's stub: a **dict could hold allow_pickle=; these keys are array names
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]


def _load_npz(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        start = handle.read(6)
    if start.startswith(b"\x93NUMPY"):
        raise ExplanationFileError(
            f"{str(path)!r} holds a single numpy array (.npy), not a shapkit explanation "
            "(a .npz archive written by Explanation.save)."
        )
    if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        what = "is empty" if not start else "does not start like one"
        raise ExplanationFileError(
            f"{str(path)!r} is not a .npz archive (it {what}): the file is damaged or is "
            "another kind of file."
        )
    with np.load(path, allow_pickle=False) as archive:
        try:
            arrays = {name: archive[name] for name in archive.files}
        except ValueError as error:
            if "pickle" not in str(error):
                raise
            raise ExplanationFileError(
                f"{str(path)!r} is not a shapkit explanation file: it holds pickled (object) "
                "arrays, which shapkit never writes nor loads."
            ) from error
    if "meta" not in arrays:
        raise ExplanationFileError(
            f"{str(path)!r} is not a shapkit explanation file: the .npz archive has no "
            f"shapkit metadata (its arrays: {preview(sorted(arrays))})."
        )
    if arrays["meta"].shape != () or arrays["meta"].dtype.kind != "U":
        raise ExplanationFileError(
            f"{str(path)!r} is not a shapkit explanation file: its 'meta' array is not "
            "shapkit's metadata."
        )
    meta = _parse_meta(str(arrays["meta"]), path, "'meta' array")
    for key in ("data", "background"):
        if (
            key not in meta
            or not isinstance(meta[key], (dict, type(None)))
            or (key == "data" and meta[key] is None)
        ):
            raise ExplanationFileError(f"{str(path)!r} is damaged: its metadata has no {key!r}.")
    data = _decode_frame(meta["data"], arrays)
    _check_arrays(meta, arrays, len(data), path)
    background = None if meta["background"] is None else _decode_frame(meta["background"], arrays)
    return _explanation(meta, arrays, data, background)


def _encode_frame(frame: pd.DataFrame, prefix: str, arrays: dict[str, np.ndarray]) -> dict:
    if isinstance(frame.index, pd.MultiIndex):
        raise TypeError("Cannot save rows with a MultiIndex; call reset_index() on X first.")
    columns = [_encode_label(label) for label in frame.columns]
    codecs = [
        _encode_values(frame.iloc[:, j], f"{prefix}/{j}", arrays, frame.columns[j])
        for j in range(frame.shape[1])
    ]
    index = frame.index
    if isinstance(index, pd.RangeIndex):
        index_codec: dict[str, Any] = {
            "kind": "range",
            "range": [index.start, index.stop, index.step],
        }
    else:
        index_codec = _encode_values(pd.Series(index), f"{prefix}/index", arrays, "index")
    return {
        "n_rows": len(frame),
        "columns": columns,
        "columns_dtype": str(frame.columns.dtype),
        "columns_name": _encode_label(frame.columns.name),
        "codecs": codecs,
        "index": index_codec,
        "index_name": _encode_label(index.name),
    }


def _decode_frame(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    series = [_decode_values(codec, arrays) for codec in meta["codecs"]]
    for j, column in enumerate(series):
        if len(column) != meta["n_rows"]:
            raise ValueError(
                f"data column {j} has {len(column)} rows but the table has {meta['n_rows']}"
            )
    frame = (
        pd.DataFrame(dict(enumerate(series)))
        if series
        else pd.DataFrame(index=range(meta["n_rows"]))
    )
    index_codec = meta["index"]
    if index_codec["kind"] == "range":
        index: pd.Index = pd.RangeIndex(*index_codec["range"])
    else:
        values = _decode_values(index_codec, arrays)
        index = pd.Index(values, dtype=values.dtype)
    index.name = _decode_label(meta["index_name"])
    frame.index = index
    frame.columns = _column_index(
        [_decode_label(label) for label in meta["columns"]], meta["columns_dtype"]
    )
    frame.columns.name = _decode_label(meta["columns_name"])
    return frame


def _column_index(labels: list[Any], dtype: str) -> pd.Index:
    if labels and all(isinstance(label, tuple) for label in labels):
        return pd.MultiIndex.from_tuples(labels)
    try:
        return pd.Index(labels, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Index(labels)


def _encode_values(
    values: pd.Series, key: str, arrays: dict[str, np.ndarray], label: Any
) -> dict[str, Any]:
    """Store one column (or index) under ``key``; return how to rebuild it."""
    return {"key": key, **_encode_kind(values, key, arrays, label)}


def _encode_kind(
    values: pd.Series, key: str, arrays: dict[str, np.ndarray], label: Any
) -> dict[str, Any]:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        arrays[key] = np.asarray(values.cat.codes)
        categories = pd.Series(dtype.categories)
        return {
            "kind": "categorical",
            "ordered": bool(dtype.ordered),
            "categories": _encode_values(categories, f"{key}/categories", arrays, label),
        }
    if isinstance(dtype, pd.StringDtype):
        mask = values.isna().to_numpy()
        text = values.astype(object).where(~mask, "").tolist()
        arrays[key] = np.array(text, dtype=str) if text else np.array([], dtype="<U1")
        arrays[f"{key}/mask"] = mask
        na = "nan" if isinstance(dtype.na_value, float) else "NA"
        return {"kind": "string", "storage": dtype.storage, "na": na}
    if isinstance(dtype, pd.DatetimeTZDtype):
        arrays[key] = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return {"kind": "datetimetz", "tz": str(dtype.tz)}
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        arrays[key] = values.to_numpy()
        return {"kind": "numpy"}
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and numpy_dtype is not None:
        if np.dtype(numpy_dtype).kind in "biuf":  # nullable Int64, Float64, boolean
            mask = values.isna().to_numpy()
            fill = False if np.dtype(numpy_dtype).kind == "b" else 0
            arrays[key] = values.to_numpy(dtype=numpy_dtype, na_value=fill)
            arrays[f"{key}/mask"] = mask
            return {"kind": "masked", "dtype": str(dtype)}
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return {"kind": "object", "items": [_encode_item(item, label) for item in values]}
    raise TypeError(
        f"Cannot save column {label!r} of dtype {dtype} to .npz; convert it to a number, "
        "string or categorical column first."
    )


def _decode_values(codec: dict[str, Any], arrays: dict[str, np.ndarray]) -> pd.Series:
    kind = codec["kind"]
    if kind == "object":
        return pd.Series([_decode_item(item) for item in codec["items"]], dtype=object)
    key = codec["key"]
    array = arrays[key]
    if kind == "numpy":
        return pd.Series(array)
    if kind == "datetimetz":
        return pd.Series(array).dt.tz_localize("UTC").dt.tz_convert(codec["tz"])
    if kind == "categorical":
        categories = _decode_values(codec["categories"], arrays)
        return pd.Series(
            pd.Categorical.from_codes(
                array,
                categories=pd.Index(categories, dtype=categories.dtype),
                ordered=codec["ordered"],
            )
        )
    if kind == "string":
        na_value = np.nan if codec["na"] == "nan" else pd.NA
        dtype = pd.StringDtype(storage=codec["storage"], na_value=na_value)
        items = array.astype(object)
        items[arrays[f"{key}/mask"]] = None
        return pd.Series(items, dtype=dtype)
    if kind == "masked":
        result = pd.Series(pd.array(array, dtype=codec["dtype"]))
        result[arrays[f"{key}/mask"]] = pd.NA
        return result
    raise ValueError(f"Unknown column codec {kind!r}; the file may be corrupt.")


def _encode_item(item: Any, label: Any) -> Any:
    """One cell of an object column as JSON."""
    if isinstance(item, np.generic):
        item = item.item()
    if item is None or isinstance(item, (str, bool, int)):
        return item
    if isinstance(item, float):
        return item if math.isfinite(item) else {"float": repr(item)}
    if item is pd.NA:
        return {"na": True}
    if item is pd.NaT:
        return {"nat": True}
    if isinstance(item, tuple):
        return {"tuple": [_encode_item(x, label) for x in item]}
    raise TypeError(
        f"Cannot save column {label!r}: it holds a {type(item).__name__} ({item!r}); object "
        "columns may hold str, int, float, bool and None. Convert the column first."
    )


def _decode_item(item: Any) -> Any:
    if isinstance(item, dict):
        if "float" in item:
            return float(item["float"])
        if "na" in item:
            return pd.NA
        if "nat" in item:
            return pd.NaT
        if "tuple" in item:
            return tuple(_decode_item(x) for x in item["tuple"])
    return item


# --- .parquet --------------------------------------------------------------------------


def pyarrow_modules() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or an ImportError saying how to install pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            "Saving or loading .parquet needs pyarrow: pip install pyarrow. The .npz format "
            "needs nothing beyond numpy: expl.save('explanation.npz')."
        ) from error
    return pa, pq


def _value_names(prefix: str, expl: Explanation) -> list[str]:
    """Arrow column names of ``values[:, j, k]`` in (j, k) order (:mod:`shapkit.columns`)."""
    outputs = list(expl.output_names) if expl.is_multi_output else None
    return value_names(prefix, list(expl.feature_names), outputs)


def _frame_table(frame: pd.DataFrame, names: list[str], pa: Any) -> Any:
    renamed = frame.copy()
    renamed.columns = names
    try:
        return pa.Table.from_pandas(renamed, preserve_index=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise TypeError(
            f"Cannot write these columns to parquet ({error}); parquet needs one type per "
            "column. Convert mixed object columns, or save to .npz instead."
        ) from error


def _save_parquet(expl: Explanation, path: Path) -> None:
    pa, pq = pyarrow_modules()
    n = len(expl)
    data_names = labelled_names("data", list(expl.data.columns))
    shap_names = _value_names("shap_value", expl)
    error_names = _value_names("std_error", expl)
    if expl.is_multi_output:
        base_names = labelled_names("base_value", list(expl.output_names))
        prediction_names = labelled_names("prediction", list(expl.output_names))
    else:
        base_names, prediction_names = ["base_value"], ["prediction"]
    data = expl.data.copy()
    data.columns = data_names
    numbers = np.column_stack(
        [
            expl.values.reshape(n, -1),
            expl.std_errors.reshape(n, -1),
            np.asarray(expl.base_values, dtype=float).reshape(n, -1),
            np.asarray(expl.predictions, dtype=float).reshape(n, -1),
        ]
    )
    number_names = [*shap_names, *error_names, *base_names, *prediction_names]
    numbers_frame = pd.DataFrame(numbers, columns=number_names)
    numbers_frame["n_evals"] = np.asarray(expl.n_evals)
    table = pd.concat([data.reset_index(drop=True), numbers_frame], axis=1)
    table.index = expl.data.index
    arrow = _frame_table(table, list(table.columns), pa)
    meta = _common_meta(expl)
    meta["data_columns"] = {
        "names": data_names,
        "labels": [_encode_label(label) for label in expl.data.columns],
        "dtype": str(expl.data.columns.dtype),
        "name": _encode_label(expl.data.columns.name),
    }
    meta["categoricals"] = {"data": _categorical_dtypes(expl.data, data_names, pa, pq)}
    meta["arrays"] = {
        "values": shap_names,
        "std_errors": error_names,
        "base_values": base_names,
        "predictions": prediction_names,
        "base_values_dtype": str(np.asarray(expl.base_values).dtype),
        "predictions_dtype": str(np.asarray(expl.predictions).dtype),
    }
    extra = {b"shapkit": json.dumps(meta).encode()}
    if expl.background is not None:
        background = expl.background
        background_names = labelled_names("data", list(background.columns))
        background_table = _frame_table(background, background_names, pa)
        buffer = io.BytesIO()
        pq.write_table(background_table, buffer)
        extra[b"shapkit.background"] = base64.b64encode(buffer.getvalue())
        meta["categoricals"]["background"] = _categorical_dtypes(
            background, background_names, pa, pq
        )
        meta["background_columns"] = {
            "labels": [_encode_label(label) for label in background.columns],
            "dtype": str(background.columns.dtype),
            "name": _encode_label(background.columns.name),
        }
        extra[b"shapkit"] = json.dumps(meta).encode()
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **extra})
    pq.write_table(arrow, path)


def _load_parquet(path: Path) -> dict[str, Any]:
    pa, pq = pyarrow_modules()
    arrow = pq.read_table(path)
    metadata = arrow.schema.metadata or {}
    if b"shapkit" not in metadata:
        raise ExplanationFileError(
            f"{str(path)!r} is not a shapkit explanation file: the parquet file has no shapkit "
            "metadata (read a plain table with pandas.read_parquet)."
        )
    meta = _parse_meta(metadata[b"shapkit"], path, "shapkit metadata")
    names = meta.get("arrays")
    columns = meta.get("data_columns")
    if not isinstance(names, dict) or not isinstance(columns, dict):
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: its metadata does not list its columns."
        )
    table = arrow.to_pandas()
    shape = tuple(meta["shape"])
    wanted = [
        *names.get("values", []), *names.get("std_errors", []), *names.get("base_values", []),
        *names.get("predictions", []), "n_evals", *columns.get("names", []),
    ]  # fmt: skip
    missing = [name for name in wanted if name not in table.columns]
    if missing:
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: the columns {preview(missing)} are missing."
        )
    n, per_row = len(table), int(np.prod(shape[1:]))
    if shape[0] != n or len(names["values"]) != per_row or len(names["std_errors"]) != per_row:
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: it has {n} rows and {len(names['values'])} value "
            f"columns, but its metadata gives the values the shape {shape}."
        )
    k = shape[2] if len(shape) == 3 else 1
    if len(names["base_values"]) != k or len(names["predictions"]) != k:
        raise ExplanationFileError(
            f"{str(path)!r} is damaged: it has {len(names['base_values'])} base value "
            f"columns for {k} outputs."
        )
    arrays = {
        "values": table[names["values"]].to_numpy(dtype=float).reshape(shape),
        "std_errors": table[names["std_errors"]].to_numpy(dtype=float).reshape(shape),
        "base_values": _vector(table, names["base_values"], names["base_values_dtype"], shape),
        "predictions": _vector(table, names["predictions"], names["predictions_dtype"], shape),
        "n_evals": table["n_evals"].to_numpy(),
    }
    categoricals = meta.get("categoricals") or {}
    data = _restore_categoricals(table[columns["names"]].copy(), categoricals.get("data"), pa, pq)
    data.columns = _column_index(
        [_decode_label(label) for label in columns["labels"]], columns["dtype"]
    )
    data.columns.name = _decode_label(columns["name"])
    background = None
    if b"shapkit.background" in metadata:
        raw = base64.b64decode(metadata[b"shapkit.background"])
        background = pq.read_table(pa.BufferReader(raw)).to_pandas()
        background = _restore_categoricals(background, categoricals.get("background"), pa, pq)
        labels = meta["background_columns"]
        background.columns = _column_index(
            [_decode_label(label) for label in labels["labels"]], labels["dtype"]
        )
        background.columns.name = _decode_label(labels["name"])
    _check_arrays(meta, arrays, len(data), path)
    return _explanation(meta, arrays, data, background)


def _categorical_dtypes(frame: pd.DataFrame, names: list[str], pa: Any, pq: Any) -> dict:
    """The categories (as a one-column parquet table, base64) and order flag of each
    categorical column, by arrow column name. Parquet stores only string categories as
    dictionaries: int and float categories would come back as plain numbers."""
    dtypes = {}
    for j, name in enumerate(names):
        dtype = frame.iloc[:, j].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categories = pd.DataFrame({"categories": dtype.categories})
            buffer = io.BytesIO()
            pq.write_table(_frame_table(categories, ["categories"], pa), buffer)
            dtypes[name] = {
                "ordered": bool(dtype.ordered),
                "categories": base64.b64encode(buffer.getvalue()).decode("ascii"),
            }
    return dtypes


def _restore_categoricals(frame: pd.DataFrame, dtypes: Any, pa: Any, pq: Any) -> pd.DataFrame:
    """``frame`` (arrow column names) with the categorical dtypes
    :func:`_categorical_dtypes` recorded; unchanged for files written without them."""
    for name, codec in (dtypes or {}).items():
        if name not in frame.columns:
            continue
        raw = base64.b64decode(codec["categories"])
        categories = pq.read_table(pa.BufferReader(raw)).to_pandas()["categories"]
        frame[name] = pd.Categorical(
            frame[name],
            categories=pd.Index(categories.array),
            ordered=bool(codec["ordered"]),
        )
    return frame


def _vector(table: pd.DataFrame, names: list[str], dtype: str, shape: tuple) -> np.ndarray:
    """``base_values`` or ``predictions``: ``(n,)`` for one output, ``(n, k)`` for several."""
    block = table[names].to_numpy(dtype=dtype)
    return block if len(shape) == 3 else block[:, 0]
