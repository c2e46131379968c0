"""One flat array representation for tree ensembles of every supported library.

The nodes of all trees are concatenated: node ``n`` splits on column ``feature[n]``
(``-1`` marks a leaf) and sends a row to ``left[n]`` or ``right[n]`` (absolute indices)
by its decision kind ``decision[n]``:

=====================  =============================================================
``DEC_LE``             ``x <= threshold`` left; NaN the default way (scikit-learn,
                       HistGradientBoosting, LightGBM ``missing_type=NaN``)
``DEC_LT``             ``x < threshold`` left; NaN the default way (XGBoost)
``DEC_LE_NAN_AS_ZERO`` LightGBM ``missing_type=None``: NaN read as 0, then ``<=``
``DEC_LE_ZERO_MISSING`` LightGBM ``missing_type=Zero``: NaN read as 0; 0 the default way
``DEC_CAT_LIGHTGBM``   category ``int(x)`` in the set left, else right; NaN/negative right
``DEC_CAT_HGB``        in the left set left, a known category right; NaN, negative and
                       unknown categories the default (missing) way
``DEC_CAT_XGBOOST``    in the set (``cat_left``) right, any other category left; NaN and
                       negative the default way
=====================  =============================================================

The model output is ``base_offset + sum over trees of the leaf value reached``: forests
have their leaf values divided by the number of trees (an average), boosting models have
the learning rate folded in (leaf values as stored by the library) and are explained in
margin space. Tree ``t`` adds to every output (``tree_output[t] == -1``: forests,
multi-output regression) or to one (``tree_output[t] == c``: one tree per class and
iteration in multi-class boosting).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._kernels.treeshap import (
    DEC_CAT_HGB,
    DEC_CAT_LIGHTGBM,
    DEC_CAT_XGBOOST,
    DEC_LE,
    DEC_LE_NAN_AS_ZERO,
    DEC_LE_ZERO_MISSING,
    DEC_LT,
    ensemble_predict,
    max_tree_depth,
)

__all__ = [
    "DEC_CAT_HGB",
    "DEC_CAT_LIGHTGBM",
    "DEC_CAT_XGBOOST",
    "DEC_LE",
    "DEC_LE_NAN_AS_ZERO",
    "DEC_LE_ZERO_MISSING",
    "DEC_LT",
    "TreeEnsemble",
    "TreeNotSupportedError",
    "concat_trees",
    "run_row_chunks",
]

if TYPE_CHECKING:
    # the 13 node arrays of TreeEnsemble.kernel_arrays: a fixed length, so that a type
    # checker can count the arguments of a kernel call that unpacks them
    _KernelArrays = tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
    ]  # fmt: skip


class TreeNotSupportedError(ValueError):
    """The model, one of its options, or the requested output is not supported by the exact
    tree path; the message names what and what to use instead."""


@dataclass
class TreeEnsemble:
    """Flat arrays of a tree ensemble (see the module docstring).

    Attributes
    ----------
    feature, threshold, left, right, default_left, decision : ndarray (n_nodes,)
        Split column (-1 for leaves), threshold (float64), children (absolute indices, -1
        for leaves), the way of missing values, decision kind (``DEC_*``).
    cat_left, cat_known, cat_nwords : ndarray (n_nodes,)
        Offsets into ``cat_words`` of the categorical bitsets and their length in words.
    cat_words : ndarray of uint32
        Concatenated bitsets of categorical splits (bit ``c`` set: category ``c``).
    values : ndarray (n_nodes, k)
        Leaf values (zero on internal nodes), learning rate / 1/n_trees folded in.
    cover : ndarray (n_nodes,)
        Training weight (or count) reaching each node.
    roots, tree_output : ndarray (n_trees,)
        First node of each tree; the output it adds to (-1: all).
    base_offset : ndarray (k,)
        Constant added to the sum over trees.
    n_features : int
        Columns the trees read.
    combine : {"sum", "average"}
        How the library combines trees (average: forests, already folded into ``values``).
    float32_inputs : bool
        The library rounds inputs to float32 before comparing (scikit-learn trees, XGBoost);
        :meth:`prepare` does the same.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    decision: np.ndarray
    values: np.ndarray
    cover: np.ndarray
    roots: np.ndarray
    tree_output: np.ndarray
    base_offset: np.ndarray
    n_features: int
    combine: str = "sum"
    float32_inputs: bool = False
    cat_left: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cat_known: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cat_nwords: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cat_words: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.uint32))
    _max_depth: int = field(default=-1, repr=False)

    def __post_init__(self) -> None:
        n = self.feature.shape[0]
        self.feature = np.ascontiguousarray(self.feature, dtype=np.int64)
        self.threshold = np.ascontiguousarray(self.threshold, dtype=np.float64)
        self.left = np.ascontiguousarray(self.left, dtype=np.int64)
        self.right = np.ascontiguousarray(self.right, dtype=np.int64)
        self.default_left = np.ascontiguousarray(self.default_left, dtype=np.bool_)
        self.decision = np.ascontiguousarray(self.decision, dtype=np.int8)
        self.values = np.ascontiguousarray(np.asarray(self.values, dtype=np.float64).reshape(n, -1))
        self.cover = np.ascontiguousarray(self.cover, dtype=np.float64)
        self.roots = np.ascontiguousarray(self.roots, dtype=np.int64)
        self.tree_output = np.ascontiguousarray(self.tree_output, dtype=np.int64)
        self.base_offset = np.ascontiguousarray(self.base_offset, dtype=np.float64).reshape(-1)
        for name in ("cat_left", "cat_known", "cat_nwords"):
            arr = getattr(self, name)
            if arr.shape[0] != n:
                arr = np.zeros(n, dtype=np.int64)
            setattr(self, name, np.ascontiguousarray(arr, dtype=np.int64))
        words = np.ascontiguousarray(self.cat_words, dtype=np.uint32)
        self.cat_words = words if words.size else np.zeros(1, dtype=np.uint32)
        if self.base_offset.shape[0] != self.values.shape[1]:
            raise ValueError("base_offset must have one entry per output")

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])

    @property
    def n_trees(self) -> int:
        return int(self.roots.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.values.shape[1])

    @property
    def max_depth(self) -> int:
        """Depth of the deepest leaf (a lone root leaf has depth 0)."""
        if self._max_depth < 0:
            self._max_depth = int(max_tree_depth(self.feature, self.left, self.right, self.roots))
        return self._max_depth

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """``X`` as the float64 C-contiguous matrix the kernels read (float32-rounded if the
        library rounds its inputs)."""
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TreeNotSupportedError(
                f"The tree path needs numeric columns; got dtype {arr.dtype}. Encode them "
                f"(e.g. in a Pipeline with OrdinalEncoder before the model)."
            )
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has shape {arr.shape}, but the trees read {self.n_features} columns."
            )
        if self.float32_inputs:
            arr = arr.astype(np.float32)
        return np.ascontiguousarray(arr, dtype=np.float64)

    def kernel_arrays(self) -> _KernelArrays:
        """The node arrays in the order the Numba kernels take them."""
        return (
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.default_left,
            self.decision,
            self.cat_left,
            self.cat_known,
            self.cat_nwords,
            self.cat_words,
            self.values,
            self.roots,
            self.tree_output,
        )

    def predict(self, X: np.ndarray, *, prepared: bool = False) -> np.ndarray:
        """``base_offset + sum of leaf values`` for the rows of X, float64 ``(n, k)``."""
        data = X if prepared else self.prepare(X)
        out = np.empty((data.shape[0], self.n_outputs))
        arrays = self.kernel_arrays()
        run_row_chunks(
            lambda start, stop: ensemble_predict(data, start, stop, out, *arrays, self.base_offset),
            data.shape[0],
            work_per_row=self.n_trees,
        )
        return out

    def tree_sum(self, X: np.ndarray, *, prepared: bool = False) -> np.ndarray:
        """The sum of leaf values without ``base_offset``."""
        return self.predict(X, prepared=prepared) - self.base_offset


def run_row_chunks(
    fn: Callable[[int, int], None],
    n_rows: int,
    work_per_row: float = 1.0,
    chunks_per_thread: int = 4,
) -> None:
    """Call ``fn(start, stop)`` on contiguous row chunks, on threads when worthwhile.

    ``fn`` must release the GIL (a ``nogil`` Numba kernel) and write disjoint rows.
    Threads: ``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), at most one per row;
    ``chunks_per_thread`` chunks each (several balance uneven rows; one keeps a kernel's
    per-call caches warm over more rows). A thread pool kept for the process runs them.
    """
    import numba

    n_threads = min(int(numba.get_num_threads()), n_rows)
    if n_threads <= 1 or n_rows * work_per_row < 20_000:
        if n_rows:
            fn(0, n_rows)
        return
    n_chunks = min(n_rows, chunks_per_thread * n_threads)
    bounds = np.linspace(0, n_rows, n_chunks + 1).astype(np.int64)
    chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    pool = _thread_pool(n_threads)
    futures = [pool.submit(fn, a, b) for a, b in chunks]
    for future in futures:
        future.result()


_POOL: tuple[int, int, Any] | None = None  # (process id, workers, executor)
_POOL_LOCK = threading.Lock()


def _thread_pool(n_workers: int) -> Any:
    """A ``ThreadPoolExecutor`` of ``n_workers`` threads kept for this process (made again
    in a forked child, or when the thread count changes)."""
    global _POOL
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] != n_workers:
            if _POOL is not None and _POOL[0] == os.getpid():
                _POOL[2].shutdown(wait=False)
            _POOL = (os.getpid(), n_workers, ThreadPoolExecutor(max_workers=n_workers))
        return _POOL[2]


@dataclass
class Tree:
    """One tree in local indices, as the readers build it."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    decision: np.ndarray
    values: np.ndarray
    cover: np.ndarray
    output: int = -1
    cat_left: list[np.ndarray | None] | None = None  # per node: bitset words, or None
    cat_known: list[np.ndarray | None] | None = None


def concat_trees(
    trees: list[Tree],
    n_outputs: int,
    n_features: int,
    *,
    combine: str,
    float32_inputs: bool,
) -> TreeEnsemble:
    """Concatenate trees (local indices) into one :class:`TreeEnsemble` (zero base offset)."""
    feats, thrs, lefts, rights, dls, decs, vals, covs = [], [], [], [], [], [], [], []
    roots, outputs = [], []
    cat_left_off, cat_known_off, cat_nwords = [], [], []
    words: list[np.ndarray] = [np.zeros(1, dtype=np.uint32)]
    n_words = 1
    offset = 0
    for tree in trees:
        size = tree.feature.shape[0]
        roots.append(offset)
        outputs.append(tree.output)
        feats.append(tree.feature)
        thrs.append(tree.threshold)
        is_leaf = tree.feature < 0
        lefts.append(np.where(is_leaf, -1, tree.left + offset))
        rights.append(np.where(is_leaf, -1, tree.right + offset))
        dls.append(tree.default_left)
        decs.append(tree.decision)
        v = np.zeros((size, n_outputs))
        v[is_leaf] = np.asarray(tree.values, dtype=np.float64).reshape(size, -1)[is_leaf]
        vals.append(v)
        covs.append(tree.cover)
        lo = np.zeros(size, dtype=np.int64)
        ko = np.zeros(size, dtype=np.int64)
        nw = np.zeros(size, dtype=np.int64)
        if tree.cat_left is not None:
            for node, bits in enumerate(tree.cat_left):
                if bits is None:
                    continue
                known = None if tree.cat_known is None else tree.cat_known[node]
                width = max(bits.size, 0 if known is None else known.size)
                nw[node] = width
                lo[node] = n_words
                words.append(np.pad(bits, (0, width - bits.size)).astype(np.uint32))
                n_words += width
                if known is not None:
                    ko[node] = n_words
                    words.append(np.pad(known, (0, width - known.size)).astype(np.uint32))
                    n_words += width
        cat_left_off.append(lo)
        cat_known_off.append(ko)
        cat_nwords.append(nw)
        offset += size
    return TreeEnsemble(
        feature=np.concatenate(feats),
        threshold=np.concatenate(thrs),
        left=np.concatenate(lefts),
        right=np.concatenate(rights),
        default_left=np.concatenate(dls),
        decision=np.concatenate(decs),
        values=np.concatenate(vals),
        cover=np.concatenate(covs),
        roots=np.asarray(roots),
        tree_output=np.asarray(outputs),
        base_offset=np.zeros(n_outputs),
        n_features=n_features,
        combine=combine,
        float32_inputs=float32_inputs,
        cat_left=np.concatenate(cat_left_off),
        cat_known=np.concatenate(cat_known_off),
        cat_nwords=np.concatenate(cat_nwords),
        cat_words=np.concatenate(words),
    )
