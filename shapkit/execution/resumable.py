"""Resumable runs: values written chunk by chunk to a Parquet dataset.

:func:`explain_to_dataset` explains the rows of X in chunks of ``chunk_size`` rows and
writes each finished chunk as ``part-NNNNNN.parquet`` in the output directory (a Parquet
dataset: ``pandas.read_parquet(directory)`` reads it, or :func:`read_dataset`, which
also checks it is complete). Rerunning with the same arguments skips chunks already
written, so an interrupted run (Ctrl-C, SIGKILL, a crash) loses at most the chunks in
flight.

Safety:

* One run at a time per directory: a run holds an exclusive lock on ``_shapkit.lock``
  (see :class:`RunLock`) while it reads or writes the directory; a second run refuses at
  once, naming the first (pid, host, start time, command). The operating system
  releases the lock when its process dies, so a killed run never blocks the next one.
* ``_manifest.json`` holds a SHA-256 key of the arguments (settings, seed, model
  fingerprint), the data, the background and the chunk size. A directory holding another
  run is never mixed with this one: that is an error unless ``overwrite=True``, which
  deletes only the files shapkit wrote (its parts, temporaries and manifest, by exact
  name, never a directory tree). A directory holding anything else is refused, with or
  without ``overwrite``. A damaged manifest is an error naming the file.
* Each part is written to a hidden temporary name, flushed to disk and atomically renamed;
  a reader or a resume never sees a half-written ``part-*.parquet``. Temporaries left by a
  killed run are deleted on resume.
* On resume every existing part is verified before it is trusted: readable with page
  checksums, the run key and chunk number in its metadata, the expected row count and
  columns. A part that fails is deleted and explained again. A run reports success only
  after re-reading its manifest and every part and checking them the same way.

Rows get their random streams from their content and the seed, so the values do not
depend on the chunking, the number of workers, or how often the run was interrupted.
Files whose names start with ``_`` or ``.`` are ignored by Parquet dataset readers.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import os
import re
import shlex
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_budget, check_positive_int, check_tol
from ..columns import flat_frame
from ..estimators.auto import ESTIMATORS_BY_NAME, AutoChoice
from ..io import pyarrow_modules
from ..rows import RowJob, RowValues, explain_rows
from ..tabular import check_tabular
from .local import chunk_bounds, dumps, iter_chunks, resolve_n_jobs, ship_job, take_rows
from .progress import progress_bar

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

MANIFEST = "_manifest.json"
LOCK = "_shapkit.lock"
PART = "part-{:06d}.parquet"
FORMAT_VERSION = 1
DEFAULT_CHUNK_SIZE = 1000

_PART_NAME = re.compile(r"part-\d{6,}\.parquet\Z")
_TEMPORARY_NAME = re.compile(r"\.(?:part-\d{6,}\.parquet|_manifest\.json)\.tmp-\d+\Z")
#: Byte locked by ``msvcrt.locking`` (Windows): far past the holder's details, which
#: other processes must still be able to read.
_MSVCRT_LOCK_OFFSET = 1 << 30
_FIX = (
    "delete the output directory (or the shapkit files in it), or rerun with --overwrite "
    "(overwrite=True) to start the run again"
)


class RunMismatchError(ValueError):
    """The output directory holds a different run (other arguments or data)."""


class ForeignFilesError(ValueError):
    """The output directory holds files or directories shapkit did not write."""


class ManifestError(ValueError):
    """``_manifest.json`` is damaged, truncated or of another format."""


class RunLockedError(RuntimeError):
    """Another run is using the output directory (it holds the directory's lock)."""


class VerificationError(RuntimeError):
    """A part or the manifest did not verify after the run wrote it."""


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
    try:
        return hashlib.sha256(dumps(model)).hexdigest()
    except Exception as error:  # noqa: BLE001 - pickling fails in many ways
        detail = " ".join(str(error).split())
        raise TypeError(
            "a resumable run fingerprints the model by pickling it, and this model cannot "
            f"be pickled ({type(error).__name__}: {detail}); pass fingerprint={{'model': "
            "'<a name and version that changes whenever the model does>'}."
        ) from error


def _pyarrow() -> tuple[Any, Any]:
    return pyarrow_modules()


# --------------------------------------------------------------------------- locking


class RunLock:
    """An exclusive lock on a run's output directory (the file ``_shapkit.lock`` in it).

    ``with RunLock(directory):`` holds it; a second holder, in this process or another,
    gets :class:`RunLockedError` at once, with the holder's pid, host, start time and
    command (which the lock file holds). On release the lock file is deleted.

    Mechanisms: ``fcntl.flock`` (POSIX; also on most network file systems), else
    ``msvcrt.locking`` (Windows): the operating system releases both when the process
    dies, so a killed run never blocks a later one and a stale lock file is simply taken
    over. Where neither exists, the lock file is created exclusively (``O_EXCL``); a lock
    file left by a dead process of this host is taken over, one left by another host must
    be deleted by hand.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunLockedError` naming the run holding it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock.")
        if fcntl is not None:
            fd = self._acquire_flock()
        elif msvcrt is not None:  # pragma: no cover - Windows
            fd = self._acquire_msvcrt()
        else:
            fd = self._acquire_exclusive()
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(_holder_details()).encode())
        except BaseException:
            self._fd = fd
            self.release()
            raise
        self._fd = fd

    def release(self) -> None:
        """Release the lock and delete the lock file (no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if fcntl is not None or msvcrt is None:
            # flock: delete while still holding it, so no one locks a file about to vanish
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(fd)
            return
        with contextlib.suppress(OSError):  # pragma: no cover - Windows
            os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # pragma: no cover - Windows
        with contextlib.suppress(OSError):  # pragma: no cover - another run opened it
            os.unlink(self.path)

    def _refuse(self, details: dict[str, Any] | None) -> RunLockedError:
        return RunLockedError(
            f"{self.directory} is in use by another shapkit run ({_describe(details)}); "
            "wait for it to finish or stop it, or choose another output path."
        )

    def _acquire_flock(self) -> int:
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                details = _read_details(fd)
                os.close(fd)
                if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._refuse(details) from None
                raise
            try:  # the holder may have released and deleted the file meanwhile
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)
        raise self._refuse(None)  # pragma: no cover - endless contention

    def _acquire_msvcrt(self) -> int:  # pragma: no cover - Windows
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
            # typeshed declares msvcrt's functions for win32 only (a checker on Windows
            # needs no ignore, hence unused-ignore); this runs on Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            details = _read_details(fd)
            os.close(fd)
            raise self._refuse(details) from None
        return fd

    def _acquire_exclusive(self) -> int:
        for _ in range(3):
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                details = _read_details_path(self.path)
                if details is not None and _is_dead(details):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)
                    continue
                raise self._refuse(details) from None
        raise self._refuse(_read_details_path(self.path))


def _holder_details() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": [str(word) for word in sys.argv],
    }


def _read_details(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 1 << 16, 0) if hasattr(os, "pread") else _read_from_start(fd)
        details = json.loads(data)
    except (OSError, ValueError):
        return None
    return details if isinstance(details, dict) else None


def _read_from_start(fd: int) -> bytes:  # pragma: no cover - Windows
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 1 << 16)


def _read_details_path(path: Path) -> dict[str, Any] | None:
    try:
        details = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return details if isinstance(details, dict) else None


def _is_dead(details: dict[str, Any]) -> bool:
    """Whether the lock holder was a process of this host that no longer exists."""
    pid = details.get("pid")
    if details.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _describe(details: dict[str, Any] | None) -> str:
    if not details:
        return "its details are not readable yet"
    command = details.get("command")
    if isinstance(command, list):
        command = shlex.join(str(word) for word in command)
    command = str(command)
    if len(command) > 200:
        command = command[:197] + "..."
    return (
        f"pid {details.get('pid')} on {details.get('host')}, started "
        f"{details.get('started')}, command: {command}"
    )


# --------------------------------------------------------------------------- files


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
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


def write_part(path: Path, frame: pd.DataFrame, key: str, index: int) -> None:
    """Write one part under a temporary name, flush it, rename it into place (the
    temporary is deleted if this is interrupted)."""
    pa, pq = _pyarrow()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[b"shapkit_run"] = key.encode()
    metadata[b"shapkit_chunk"] = str(index).encode()
    table = table.replace_schema_metadata(metadata)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, write_page_checksum=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _read_part(
    path: Path, key: str, index: int, n_rows: int, columns: list[str]
) -> tuple[Any, str]:
    """``(table, "")`` when the part is complete and belongs to this run and chunk, else
    ``(None, why not)``."""
    _, pq = _pyarrow()
    if not path.is_file():
        return None, "missing"
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is redone
        return None, f"unreadable ({type(error).__name__})"
    metadata = table.schema.metadata or {}
    if metadata.get(b"shapkit_run") != key.encode():
        return None, "written by another run"
    if metadata.get(b"shapkit_chunk") != str(index).encode():
        return None, "holding another chunk"
    if table.num_rows != n_rows:
        return None, f"holding {table.num_rows} rows instead of {n_rows}"
    if table.column_names != columns:
        return None, "holding other columns"
    return table, ""


def verify_part(path: Path, key: str, index: int, n_rows: int, columns: list[str]) -> bool:
    """Whether a part file is complete and belongs to this run and chunk."""
    return _read_part(Path(path), key, index, n_rows, columns)[0] is not None


def read_dataset(directory: str | Path, *, key: str | None = None) -> pd.DataFrame:
    """The values of a finished run, parts in order (``row`` is X's index label).

    ``key``: the run key (``explain_to_dataset(...)["key"]``) the directory must hold.
    Raises ``FileNotFoundError`` without a manifest, :class:`ManifestError` for a damaged
    one, :class:`RunMismatchError` for another run's, and ``ValueError`` if a part is
    missing or does not verify."""
    directory = Path(directory)
    manifest = _load_manifest(directory) if directory.is_dir() else None
    if manifest is None:
        raise FileNotFoundError(f"{directory} holds no shapkit run ({MANIFEST} missing).")
    if key is not None and manifest["key"] != key:
        raise RunMismatchError(f"{directory} now holds another run (key {manifest['key']}).")
    frames = []
    for index, (start, stop) in enumerate(manifest["chunks"]):
        path = directory / PART.format(index)
        table, why = _read_part(path, manifest["key"], index, stop - start, manifest["columns"])
        if table is None:
            raise ValueError(
                f"{path} is {why}; rerun the same command to finish the run (or wait for "
                "the run in progress to finish)."
            )
        frames.append(table.to_pandas())
    return pd.concat(frames, ignore_index=True)


def _load_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest in ``directory``, None when there is none; :class:`ManifestError`
    naming the file when it is not readable JSON of the expected shape."""
    path = directory / MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ManifestError(f"{path} cannot be read ({error}); {_FIX}.") from error
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise ManifestError(
            f"{path} is not valid JSON ({error}): it was damaged or truncated; {_FIX}."
        ) from None
    problem = _manifest_problem(manifest)
    if problem:
        raise ManifestError(f"{path} is not a shapkit manifest: {problem}; {_FIX}.")
    return manifest


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _manifest_problem(manifest: Any) -> str:
    """What is wrong with a parsed manifest ("" when nothing)."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__} instead of an object"
    expected = {
        "format": "an integer", "key": "a string", "description": "an object",
        "n_rows": "an integer", "chunk_size": "an integer", "chunks": "a list",
        "columns": "a list",
    }  # fmt: skip
    missing = [name for name in expected if name not in manifest]
    if missing:
        return f"missing {', '.join(repr(name) for name in missing)}"
    checks = {
        "format": _is_int, "key": lambda v: isinstance(v, str),
        "description": lambda v: isinstance(v, dict), "n_rows": _is_int,
        "chunk_size": _is_int, "chunks": lambda v: isinstance(v, list),
        "columns": lambda v: isinstance(v, list),
    }  # fmt: skip
    for name, check in checks.items():
        if not check(manifest[name]):
            return f"{name!r} is not {expected[name]}"
    if manifest["format"] != FORMAT_VERSION:
        return f"format {manifest['format']}, this shapkit reads format {FORMAT_VERSION}"
    if not re.fullmatch(r"[0-9a-f]{64}", manifest["key"]):
        return "'key' is not a SHA-256 hex digest"
    if manifest["n_rows"] < 1 or manifest["chunk_size"] < 1:
        return "'n_rows' and 'chunk_size' must be positive"
    position = 0
    for bound in manifest["chunks"]:
        if (
            not isinstance(bound, list)
            or len(bound) != 2
            or not all(_is_int(v) for v in bound)
            or bound[0] != position
            or bound[1] <= bound[0]
        ):
            return f"'chunks' does not cover rows 0..{manifest['n_rows']} in order"
        position = bound[1]
    if position != manifest["n_rows"]:
        return f"'chunks' does not cover rows 0..{manifest['n_rows']} in order"
    columns = manifest["columns"]
    if not columns or columns[0] != "row" or not all(isinstance(c, str) for c in columns):
        return "'columns' is not a list of column names starting with 'row'"
    return ""


def _scan(directory: Path, manifest: dict[str, Any] | None) -> tuple[list[Path], list[str]]:
    """Shapkit's files in ``directory`` (parts first, the manifest last, the lock left
    out) and the names of everything else (directories with a trailing ``/``).

    Parts are the manifest's exact part names when there is a manifest, else any
    ``part-NNNNNN.parquet``; only regular files count as shapkit's."""
    names = (
        {PART.format(i) for i in range(len(manifest["chunks"]))} if manifest is not None else None
    )
    parts, temporaries, manifests, foreign = [], [], [], []
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            regular = entry.is_file(follow_symlinks=False)
            if regular and name == LOCK:
                continue
            if regular and name == MANIFEST:
                manifests.append(Path(entry.path))
            elif regular and _TEMPORARY_NAME.match(name):
                temporaries.append(Path(entry.path))
            elif regular and (name in names if names is not None else _PART_NAME.match(name)):
                parts.append(Path(entry.path))
            else:
                foreign.append(name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
    return sorted(parts) + sorted(temporaries) + manifests, sorted(foreign)


def _few(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _prepare(directory: Path, key: str, overwrite: bool) -> dict[str, Any] | None:
    """Check the (locked) output directory for this run: the manifest to resume from,
    or None for a fresh start (after ``overwrite`` removed another run's files)."""
    try:
        manifest = _load_manifest(directory)
        damaged = False
    except ManifestError:
        if not overwrite:
            raise
        manifest, damaged = None, True
    ours, foreign = _scan(directory, manifest)
    if foreign:
        raise ForeignFilesError(
            f"{directory} holds files shapkit did not write ({_few(foreign)}); shapkit "
            "neither mixes its dataset with them nor deletes them: move them away or "
            "choose another output path."
        )
    has_parts = any(_PART_NAME.match(path.name) for path in ours)
    if manifest is not None and manifest["key"] == key:
        remove = [path for path in ours if _TEMPORARY_NAME.match(path.name)]
    elif manifest is None and not has_parts and not damaged:
        remove = ours  # temporaries of a killed run at most
    elif not overwrite:
        if manifest is not None:
            raise RunMismatchError(
                f"{directory} holds a run with other arguments or data; choose another "
                "output path or pass --overwrite (overwrite=True) to replace it."
            )
        raise RunMismatchError(
            f"{directory} holds part files but no {MANIFEST}; choose another output path "
            "or pass --overwrite (overwrite=True) to replace them."
        )
    else:
        remove, manifest = ours, None
    for path in remove:
        path.unlink(missing_ok=True)
    return manifest


def _verify_run(directory: Path, manifest: dict[str, Any]) -> None:
    """Re-read the manifest and every part; :class:`VerificationError` if one fails
    (the failing part is deleted, so rerunning explains its rows again)."""
    expected = json.loads(json.dumps(manifest))
    try:
        on_disk = _load_manifest(directory)
    except ManifestError as error:
        raise VerificationError(f"the run's manifest did not verify: {error}") from error
    if on_disk != expected:
        raise VerificationError(
            f"{directory / MANIFEST} changed during the run (was the directory edited?); "
            "rerun the same command."
        )
    for index, (start, stop) in enumerate(expected["chunks"]):
        path = directory / PART.format(index)
        table, why = _read_part(path, expected["key"], index, stop - start, expected["columns"])
        if table is None:
            if path.is_file():
                path.unlink()
            raise VerificationError(
                f"{path} did not verify after it was written ({why}); rerun the same "
                "command to explain its rows again."
            )


# --------------------------------------------------------------------------- index


_LABEL_TYPES = (str, bool, int, float, np.bool_, np.integer, np.floating, datetime.date)


def remove_run(directory: str | Path) -> list[str]:
    """Delete a finished run's files (its parts, manifest and temporaries, one by one,
    under the run's lock) and then the directory itself; returns the names of the files
    shapkit did not write, which are left in place with the directory (empty when it is
    gone). The command line calls this once a ``.csv`` output has been written from the
    verified parts in ``OUT.parts/``.

    Raises :class:`RunLockedError` while another run holds the directory and
    :class:`ManifestError` for a damaged manifest (nothing is deleted then).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> folder.mkdir()
    >>> remove_run(folder), folder.exists()
    ([], False)
    """
    directory = Path(directory)
    with RunLock(directory):
        manifest = _load_manifest(directory)
        ours, foreign = _scan(directory, manifest)
        for path in ours:
            path.unlink(missing_ok=True)
    if not foreign:
        with contextlib.suppress(OSError):  # a file that appeared meanwhile: keep it all
            directory.rmdir()
    return foreign


def storable_labels(X: Any, name: str = "X") -> np.ndarray:
    """X's index labels (row numbers for an ndarray) as stored in the ``row`` column,
    one type for all chunks; ``ValueError`` saying to use ``reset_index`` when they
    cannot be stored (a MultiIndex, labels other than str, int, float, bool or datetime,
    or labels of mixed types)."""
    if not isinstance(X, pd.DataFrame):
        return np.arange(X.shape[0])
    index = X.index
    fix = (
        f"pass {name}.reset_index(drop=True) (rows are then numbered 0..n-1) and keep "
        f"{name}.index aside to join the labels back"
    )
    if isinstance(index, pd.MultiIndex):
        raise ValueError(
            f"{name} has a MultiIndex ({index.nlevels} levels); a resumable run stores each "
            f"row's index label in one 'row' column and cannot store tuples: {fix}."
        )
    values = index.to_numpy()
    kind = values.dtype.kind
    if kind == "O":
        for label in values:
            if not isinstance(label, _LABEL_TYPES) or isinstance(
                label, (datetime.timedelta, np.timedelta64)
            ):
                raise ValueError(
                    f"{name}'s index holds the label {label!r} of type {type(label).__name__}; "
                    "a resumable run stores str, int, float, bool or datetime labels only: "
                    f"{fix}."
                )
    elif kind not in "biufM":
        raise ValueError(
            f"{name}'s index has labels of dtype {index.dtype}; a resumable run stores str, "
            f"int, float, bool or datetime labels only: {fix}."
        )
    pa, _ = _pyarrow()
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as error:
        kinds = sorted({type(label).__name__ for label in values})
        raise ValueError(
            f"{name}'s index mixes labels of types {', '.join(kinds)}, which one 'row' "
            f"column cannot store ({type(error).__name__}): {fix}."
        ) from None
    return np.asarray(array.to_pandas())


# --------------------------------------------------------------------------- the run


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

    Parameters
    ----------
    explainer : Explainer
        Must have a seed (resumed chunks must use the same random streams).
    X : ndarray or DataFrame
        The rows; a DataFrame's index labels go to the ``row`` column, so they must be
        str, int, float, bool or datetime (not a MultiIndex).
    out_dir : path
        The dataset directory (created if missing). It must hold nothing but shapkit's
        files.
    budget, tol : optional
        As for ``explainer(X, budget, tol)``.
    chunk_size : int
        Rows per part file (the unit of resumption).
    n_jobs : int, optional
        Worker processes (default: the explainer's).
    progress : bool or None
        Progress bar, as for :class:`~shapkit.Explainer`.
    fingerprint : mapping, optional
        Extra identity of the run for the manifest key (the command line passes the
        model file's SHA-256 as ``model``); by default the pickled model is hashed.
    overwrite : bool
        Replace another run found in ``out_dir`` (deleting only shapkit's own files).

    Returns
    -------
    dict
        ``n_chunks``, ``reused`` (chunks found complete), ``written``, ``key`` (pass it to
        :func:`read_dataset`), ``directory``, ``method`` (what ran: ``method="auto"``
        chooses once, records it in the manifest, and a resumed run reuses it) and
        ``method_reason`` (why auto chose it; empty otherwise); returned only after the
        manifest and every part were re-read and verified.

    Raises
    ------
    ValueError
        No seed, bad arguments, an index that cannot be stored; :class:`RunMismatchError`
        (another run, without ``overwrite``), :class:`ForeignFilesError` (files shapkit
        did not write), :class:`ManifestError` (a damaged manifest, without
        ``overwrite``).
    NotADirectoryError
        ``out_dir`` is an existing file.
    RunLockedError
        Another run is using ``out_dir``.
    UnpicklableModelError
        ``n_jobs > 1`` and the model cannot be pickled (a ``TypeError``).
    VerificationError
        A part did not verify after it was written (rerun to redo it).
    """
    if explainer.seed is None:
        raise ValueError("a resumable run needs a seed: Explainer(..., seed=0).")
    X = check_tabular(X, "X")
    labels = storable_labels(X, "X")
    budget, tol = check_budget(budget), check_tol(tol)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    n_jobs = explainer.n_jobs if n_jobs is None else n_jobs
    workers = resolve_n_jobs(n_jobs)
    if progress not in (None, True, False):
        raise ValueError(f"progress must be True, False or None (auto); got {progress!r}.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(
            f"{out} is an existing file, not a directory: a resumable run writes a "
            f"directory (part files and {MANIFEST}); choose another path."
        )
    data_digest = frame_digest(X)
    recorded = _recorded_method(out, explainer, budget, tol, data_digest)
    try:
        job = explainer.row_job(X, budget=budget, tol=tol, auto_choice=recorded)
    except ValueError:
        if recorded is None:
            raise
        job = explainer.row_job(X, budget=budget, tol=tol)  # another run's choice: choose anew
    payload = ship_job(job, n_jobs)  # an unpicklable model fails here, before any work
    identity = dict(fingerprint or {})
    if "model" not in identity:
        identity["model"] = _model_digest(explainer.model)
    description = {
        "format": FORMAT_VERSION,
        "identity": {str(k): str(v) for k, v in sorted(identity.items())},
        "method": job.method,
        **_sized_rounds(job),
        "requested_method": str(explainer.method),
        "output": explainer.output,
        # the resolved players, not the groups as given: a set of columns has no order
        # that survives a new process (PYTHONHASHSEED), the columns' players do
        "players": json.dumps(
            [[str(p) for p in job.player_names], [int(j) for j in job.column_player]]
        ),
        "budget": budget,
        "tol": tol,
        "seed": str(explainer.seed),
        "max_rows": explainer.max_rows,
        "data": data_digest,
        "background": frame_digest(job.background),
        "chunk_size": chunk_size,
    }
    key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
    n_rows = X.shape[0]
    bounds = chunk_bounds(n_rows, chunk_size)
    out.mkdir(parents=True, exist_ok=True)

    def part_frame(rows: RowValues, start: int, stop: int) -> pd.DataFrame:
        frame = flat_frame(
            rows.values, rows.std_errors, rows.base_values, rows.predictions, rows.n_evals,
            rows.output_names, job.player_names, pd.RangeIndex(stop - start),
        )  # fmt: skip
        frame.insert(0, "row", labels[start:stop])
        return frame

    with RunLock(out):
        manifest = _prepare(out, key, overwrite)
        if manifest is None:
            # Columns from one cheap row, so every part can be checked against them.
            probe = explain_rows(job, take_rows(X, 0, 1))  # the output columns
            manifest = {
                "format": FORMAT_VERSION,
                "key": key,
                "description": description,
                "n_rows": n_rows,
                "chunk_size": chunk_size,
                "chunks": [list(bound) for bound in bounds],
                "columns": list(part_frame(probe, 0, 1).columns),
            }
            _atomic_write_bytes(out / MANIFEST, json.dumps(manifest, indent=1).encode())
        elif manifest["chunks"] != [list(bound) for bound in bounds]:
            raise ManifestError(
                f"{out / MANIFEST} does not match its own key (its chunks differ from this "
                f"run's); {_FIX}."
            )
        columns = manifest["columns"]
        pending = []
        for index, (start, stop) in enumerate(bounds):
            path = out / PART.format(index)
            if path.exists() and verify_part(path, key, index, stop - start, columns):
                continue
            path.unlink(missing_ok=True)
            pending.append(index)
        done = n_rows - sum(bounds[i][1] - bounds[i][0] for i in pending)
        with progress_bar(n_rows, progress, desc="shapkit explain", initial=done) as bar:
            chunks = iter_chunks(
                job, X, [bounds[i] for i in pending], workers,
                on_rows=bar.update, payload=payload,
            )  # fmt: skip
            with contextlib.closing(chunks):
                for position, result in chunks:
                    index = pending[position]
                    start, stop = bounds[index]
                    frame = part_frame(result, start, stop)
                    write_part(out / PART.format(index), frame, key, index)
        _verify_run(out, manifest)
    return {
        "n_chunks": len(bounds),
        "reused": len(bounds) - len(pending),
        "written": len(pending),
        "key": key,
        "directory": str(out),
        "method": job.method,
        "method_reason": job.reason,
    }


def _sized_rounds(job: RowJob) -> dict[str, float]:
    """``{"first_round": share}`` where ``method="auto"`` sized the estimator's first
    round (recorded, so a resume repeats it), else nothing (the key of other runs is
    unchanged)."""
    if not job.reason or job.estimator is None:
        return {}
    share = getattr(job.estimator, "first_round", None)
    default = getattr(type(job.estimator)(), "first_round", None)
    return {} if share is None or share == default else {"first_round": float(share)}


def _recorded_method(
    directory: Path, explainer: Any, budget: int | None, tol: float | None, data: str
) -> AutoChoice | None:
    """What ``method="auto"`` chose for the run already in ``directory`` on the same data,
    budget, tol and seed (reused, so that the resumed chunks match the written ones), or
    None (no such run: the choice is made anew)."""
    if str(explainer.method) != "auto":
        return None
    try:
        manifest = _load_manifest(directory) if directory.is_dir() else None
    except ManifestError:
        return None  # _prepare reports it
    description = {} if manifest is None else manifest.get("description", {})
    same = {"requested_method": "auto", "budget": budget, "tol": tol, "data": data,
            "seed": str(explainer.seed), "output": explainer.output}  # fmt: skip
    if any(description.get(name) != value for name, value in same.items()):
        return None
    method, share = description.get("method"), description.get("first_round")
    if not isinstance(method, str) or method not in ESTIMATORS_BY_NAME:
        return None
    first_round = float(share) if isinstance(share, (int, float)) else None
    return AutoChoice(method, "recorded by an earlier run", first_round=first_round)
