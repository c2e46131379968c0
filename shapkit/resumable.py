"""Resumable runs: values written chunk by chunk to a Parquet dataset.

:func:`explain_to_dataset` explains the rows of X in chunks of ``chunk_size`` rows and
writes each finished chunk as ``part-NNNNNN.parquet`` in the output directory (a Parquet
dataset: ``pandas.read_parquet(directory)`` reads it, or :func:`read_dataset`, which
also checks it is complete). Rerunning with the same arguments skips chunks already
written, so an interrupted run (Ctrl-C, SIGKILL, a crash) loses at most the chunks in
flight.

Safety:

* ``_manifest.json`` holds a SHA-256 key of the arguments (settings, seed, model
  fingerprint), the data, the background and the chunk size. A directory holding another
  run is never mixed with this one: that is an error unless ``overwrite=True``.
* Each part is written to a hidden temporary name, flushed to disk and atomically renamed;
  a reader or a resume never sees a half-written ``part-*.parquet``. Temporaries left by a
  killed run are deleted on resume.
* On resume every existing part is verified before it is trusted: readable with page
  checksums, the run key and chunk number in its metadata, the expected row count and
  columns. A part that fails is deleted and explained again.

Rows get their random streams from their content and the seed, so the values do not
depend on the chunking, the number of workers, or how often the run was interrupted.
Files whose names start with ``_`` or ``.`` are ignored by Parquet dataset readers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MANIFEST = "_manifest.json"
PART = "part-{:06d}.parquet"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1000


class RunMismatchError(ValueError):
    """The output directory holds a different run (other arguments or data)."""


def frame_digest(frame: Any) -> str:
    """SHA-256 of a table's values, index, column names and dtypes."""
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(np.asarray(frame))
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_digest(model: Any) -> str:
    from .parallel import _dumps

    return hashlib.sha256(_dumps(model)).hexdigest()


def _pyarrow() -> tuple[Any, Any]:
    from .io import _pyarrow as load

    return load()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_part(path: Path, frame: pd.DataFrame, key: str, index: int) -> None:
    """Write one part under a temporary name, flush it, rename it into place."""
    pa, pq = _pyarrow()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[b"shapkit_run"] = key.encode()
    metadata[b"shapkit_chunk"] = str(index).encode()
    table = table.replace_schema_metadata(metadata)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle, write_page_checksum=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def verify_part(path: Path, key: str, index: int, n_rows: int, columns: list[str]) -> bool:
    """Whether a part file is complete and belongs to this run and chunk."""
    _, pq = _pyarrow()
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except Exception:  # noqa: BLE001 - any unreadable file is simply redone
        return False
    metadata = table.schema.metadata or {}
    return (
        metadata.get(b"shapkit_run") == key.encode()
        and metadata.get(b"shapkit_chunk") == str(index).encode()
        and table.num_rows == n_rows
        and table.column_names == columns
    )


def read_dataset(directory: str | Path) -> pd.DataFrame:
    """The values of a finished run, parts in order (``row`` is X's index label).

    Raises if the manifest is missing or a part is missing or does not verify."""
    directory = Path(directory)
    manifest = _read_manifest(directory)
    if manifest is None:
        raise FileNotFoundError(f"{directory} holds no shapkit run ({MANIFEST} missing).")
    _, pq = _pyarrow()
    frames = []
    for index, (start, stop) in enumerate(manifest["chunks"]):
        path = directory / PART.format(index)
        if not verify_part(path, manifest["key"], index, stop - start, manifest["columns"]):
            raise ValueError(
                f"{path} is missing or incomplete; rerun the same command to finish the run."
            )
        frames.append(pq.read_table(path).to_pandas())
    return pd.concat(frames, ignore_index=True)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _clear(directory: Path) -> None:
    """Delete this module's files (parts, temporaries, manifest) from ``directory``."""
    for path in directory.iterdir():
        name = path.name
        if (
            name == MANIFEST
            or (name.startswith("part-") and name.endswith(".parquet"))
            or (name.startswith(".") and ".tmp-" in name)
        ):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def explain_to_dataset(
    explainer: Any,
    X: Any,
    out_dir: str | Path,
    *,
    budget: int | None = None,
    tol: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_jobs: int | None = None,
    progress: bool | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Explain the rows of X into a resumable Parquet dataset at ``out_dir``.

    ``explainer`` must have a seed (resumed chunks must use the same random streams).
    ``fingerprint``: extra identity of the run for the manifest key (the command line
    passes the model file's SHA-256); by default the pickled model is hashed. Returns a
    summary: ``n_chunks``, ``reused`` (chunks found complete), ``written``, ``key``.
    """
    from ._validation import check_budget, check_positive_int, check_tol
    from .parallel import chunk_bounds, flat_frame, iter_chunks
    from .progress import progress_bar
    from .tabular import check_tabular

    if explainer.seed is None:
        raise ValueError("a resumable run needs a seed: Explainer(..., seed=0).")
    X = check_tabular(X, "X")
    budget, tol = check_budget(budget), check_tol(tol)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    n_jobs = explainer.n_jobs if n_jobs is None else n_jobs
    plan = explainer._plan(X, budget, tol)
    identity = dict(fingerprint or {})
    if "model" not in identity:
        identity["model"] = _model_digest(explainer._estimator)
    description = {
        "format": FORMAT_VERSION,
        "identity": {str(k): str(v) for k, v in sorted(identity.items())},
        "method": plan.method_name,
        "requested_method": str(explainer.method),
        "output": explainer.output,
        "groups": json.dumps(explainer.groups, sort_keys=True, default=str),
        "budget": budget,
        "tol": tol,
        "seed": str(explainer.seed),
        "max_rows": explainer.max_rows,
        "data": frame_digest(X),
        "background": frame_digest(plan.background),
        "chunk_size": chunk_size,
    }
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    n_rows = X.shape[0]
    bounds = chunk_bounds(n_rows, chunk_size)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory.")
    out.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out)
    if manifest is not None and manifest.get("key") != key:
        if not overwrite:
            raise RunMismatchError(
                f"{out} holds a run with other arguments or data; choose another output "
                "path or pass --overwrite (overwrite=True) to replace it."
            )
        _clear(out)
        manifest = None
    elif manifest is None and any(p.name.startswith("part-") for p in out.iterdir()):
        if not overwrite:
            raise RunMismatchError(
                f"{out} holds part files but no {MANIFEST}; choose another output path "
                "or pass --overwrite."
            )
        _clear(out)
    for stale in out.glob(".*.tmp-*"):  # temporaries of a killed run
        stale.unlink(missing_ok=True)
    index_labels = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n_rows)

    def part_frame(result: tuple, start: int, stop: int) -> pd.DataFrame:
        frame = flat_frame(result, pd.RangeIndex(stop - start), plan.player_names)
        frame.insert(0, "row", np.asarray(index_labels[start:stop]))
        return frame

    if manifest is None:
        # Columns from one cheap row, so every part can be checked against them.
        probe = explain_rows_first(plan, X)
        columns = list(part_frame(probe, 0, 1).columns)
        manifest = {
            "format": FORMAT_VERSION,
            "key": key,
            "description": description,
            "n_rows": n_rows,
            "chunk_size": chunk_size,
            "chunks": bounds,
            "columns": columns,
        }
        _atomic_write_bytes(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    columns = manifest["columns"]
    pending = []
    for index, (start, stop) in enumerate(bounds):
        path = out / PART.format(index)
        if path.exists() and verify_part(path, key, index, stop - start, columns):
            continue
        path.unlink(missing_ok=True)
        pending.append(index)
    done_rows = n_rows - sum(bounds[i][1] - bounds[i][0] for i in pending)
    with progress_bar(n_rows, progress, desc="shapkit explain", initial=done_rows) as bar:
        chunks = iter_chunks(plan, X, [bounds[i] for i in pending], n_jobs, on_rows=bar.update)
        for position, result in chunks:
            index = pending[position]
            start, stop = bounds[index]
            _write_part(out / PART.format(index), part_frame(result, start, stop), key, index)
    return {
        "n_chunks": len(bounds),
        "reused": len(bounds) - len(pending),
        "written": len(pending),
        "key": key,
        "directory": str(out),
    }


def explain_rows_first(plan: Any, X: Any) -> tuple:
    """``explain_rows`` of X's first row (to learn the output columns)."""
    from .explainer import explain_rows
    from .parallel import take_rows

    return explain_rows(plan, take_rows(X, 0, 1))
