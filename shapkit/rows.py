"""Rows in, values out: the picklable recipe of an explanation and the per-row work.

:class:`RowJob` holds everything a worker needs to explain any chunk of rows (model,
aligned background, players, closed form or estimator, budget, seed); it is made once by
:meth:`shapkit.Explainer.row_job` and shipped to workers, Dask partitions and resumed
runs unchanged. :func:`explain_rows` turns a job and a chunk of rows into
:class:`RowValues`. Each row's random stream is keyed by its content and the seed
(:func:`row_streams`), so a row's values do not depend on the other rows, their order,
the chunking, the worker or the backend: chunks of one job are bit-identical to the
whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .closed_form import ClosedForm
from .estimators import Estimator
from .estimators.base import check_finite
from .games import MarginalGame
from .tabular import RowMasker, align_text_columns
from .trees import TreeModel, TreeNotSupportedError
from .trees.game import (
    LinkedTreeGame,
    PathDependentTreeGame,
    background_directions,
    node_players,
)
from .trees.links import LinkedTrees


@dataclass
class RowJob:
    """A picklable recipe for the values of any chunk of rows (see :func:`explain_rows`).

    Attributes
    ----------
    model : Model
        The model adapter (``predict(data) -> (rows, k)``).
    closed_form : ClosedForm or None
        The exact path, when the model has one; else ``estimator`` runs on games.
    estimator : Estimator or None
        The resolved estimator (None with a closed form).
    background : ndarray or DataFrame
        Background rows aligned with X's columns and dtypes.
    column_names, player_names : list
        Display names of X's columns and of the players.
    column_player : ndarray of int
        Player of each column.
    budget, tol : int or None, float or None
        As resolved for the estimator.
    seed : int or SeedSequence
        The entropy every row's stream is keyed on.
    max_rows : int
        Most masked rows per model call.
    method : str
        What runs: ``"linear"``, ``"tree"`` or the estimator's name.
    trees : LinkedTrees or None
        With an estimator: the model's compiled trees and link, on which the games are
        evaluated instead of calling the model (:class:`~shapkit.trees.game.LinkedTreeGame`).
    path_trees : TreeModel or None
        A tree model whose games are the trees' cover-weighted (path-dependent) ones
        (:class:`~shapkit.trees.game.PathDependentTreeGame`; no background rows).
    reason : str
        Why ``method="auto"`` chose the estimator (empty for a method asked for by name).
    """

    model: Any
    closed_form: ClosedForm | None
    estimator: Estimator | None
    background: np.ndarray | pd.DataFrame
    column_names: list[str]
    player_names: list[str]
    column_player: np.ndarray
    budget: int | None
    tol: float | None
    seed: int | np.random.SeedSequence
    max_rows: int
    method: str
    trees: LinkedTrees | None = None
    path_trees: TreeModel | None = None
    reason: str = ""


@dataclass
class RowValues:
    """The values of a chunk of rows, always with an output axis.

    Attributes
    ----------
    values, std_errors : ndarray of shape (n, d, k)
    base_values, predictions : ndarray of shape (n, k)
    n_evals : ndarray of shape (n,)
        Game evaluations per row (0 for the closed forms).
    output_names : list
        The model's outputs.
    methods : ndarray of shape (n,), object
        What produced each row's values: the estimator's name as it ran (a sampling
        estimator that enumerated every coalition says ``"exact"``, a proxy that kept
        the kernel estimate ``"kernel"``), or the closed form's.
    """

    values: np.ndarray
    std_errors: np.ndarray
    base_values: np.ndarray
    predictions: np.ndarray
    n_evals: np.ndarray
    output_names: list[Any]
    methods: np.ndarray

    def __len__(self) -> int:
        return self.values.shape[0]

    @classmethod
    def concat(cls, parts: Sequence[RowValues]) -> RowValues:
        """The rows of ``parts`` in order (one part: itself, no copy)."""
        if len(parts) == 1:
            return parts[0]
        names = next((p.output_names for p in parts if len(p.output_names)), parts[0].output_names)
        fields = ("values", "std_errors", "base_values", "predictions", "n_evals", "methods")
        arrays = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
        return cls(output_names=list(names), **arrays)

    def method_counts(self) -> dict[str, int]:
        """``{method: rows}`` of what ran, most rows first."""
        return dict(Counter(self.methods.tolist()).most_common())


def explain_rows(
    job: RowJob, X: np.ndarray | pd.DataFrame, on_rows: Callable[[int], None] | None = None
) -> RowValues:
    """The values of the rows of ``X`` (a chunk, validated like the rows the job was made
    for). Each row's values depend only on the row, so any chunking gives the same,
    bit-identical, values. ``on_rows(1)`` is called after each row an estimator explains
    (the closed forms do all rows at once and do not call it)."""
    n_players = len(job.player_names)
    X = align_text_columns(X, job.background)  # e.g. Dask partitions' string columns
    if job.closed_form is not None:
        values, base, full = job.closed_form.shapley(
            X, job.background, job.column_player, n_players
        )
        n = X.shape[0]
        return RowValues(
            values, np.zeros_like(values), base, full, np.zeros(n, dtype=np.int64),
            list(job.closed_form.output_names), np.full(n, job.method, dtype=object),
        )  # fmt: skip
    assert job.estimator is not None
    return _estimated_rows(X, job, n_players, on_rows)


def _estimated_rows(
    X: np.ndarray | pd.DataFrame,
    job: RowJob,
    n_players: int,
    on_rows: Callable[[int], None] | None,
) -> RowValues:
    """One marginal game per row, dummy players left out (their value is exactly 0)."""
    assert job.estimator is not None
    masker = RowMasker(X, job.background, job.column_player)
    game_of = row_games(job, X, masker, n_players)
    streams = row_streams(X, job.seed)
    n_rows = X.shape[0]
    n_evals = np.zeros(n_rows, dtype=np.int64)
    methods = np.empty(n_rows, dtype=object)
    # allocated once the output count is known
    values: np.ndarray | None = None
    errors: np.ndarray | None = None
    base: np.ndarray | None = None
    full: np.ndarray | None = None
    for row in range(n_rows):
        active = np.flatnonzero(~masker.constant_players(row, n_players))
        game = game_of(row)
        if active.size == 0:  # the row equals every background row where it matters
            empty = game(np.zeros((1, n_players), dtype=bool))[0]
            row_values, row_errors = np.zeros((0, empty.shape[0])), np.zeros((0, empty.shape[0]))
            empty_value = full_value = empty
            row_evals, row_method = 1, "exact"
        else:
            rng = np.random.default_rng(streams[row])
            reduced = ReducedGame(game, active, n_players)
            result = check_finite(
                job.estimator.estimate(reduced, active.size, job.budget, job.tol, rng)
            )
            row_values, row_errors = result.values, result.std_errors
            empty_value, full_value = result.empty_value, result.full_value
            row_evals, row_method = result.n_evals, result.method
        if values is None:
            values = np.zeros((n_rows, n_players, empty_value.shape[0]))
            errors = np.zeros_like(values)
            base = np.zeros((n_rows, empty_value.shape[0]))
            full = np.zeros_like(base)
        assert errors is not None and base is not None and full is not None
        values[row, active] = row_values
        errors[row, active] = row_errors
        base[row] = empty_value
        full[row] = full_value
        n_evals[row] = row_evals
        methods[row] = row_method
        if on_rows is not None:
            on_rows(1)
    if values is None:  # no rows
        values, errors = np.zeros((0, n_players, 0)), np.zeros((0, n_players, 0))
        base, full = np.zeros((0, 0)), np.zeros((0, 0))
    assert errors is not None and base is not None and full is not None
    return RowValues(values, errors, base, full, n_evals, list(job.model.output_names), methods)


def row_games(
    job: RowJob, X: np.ndarray | pd.DataFrame, masker: RowMasker, n_players: int
) -> Callable[[int], Callable[[np.ndarray], np.ndarray]]:
    """``row -> the marginal game of that row`` (``v(masks) -> (m, k)``, players given by
    ``job.column_player``): on the job's compiled trees (their features read once for the
    chunk) or through the model.

    Compiled trees must reproduce the model's output on the chunk's first rows, as the
    tree closed form must (:func:`shapkit.closed_form.tree.check_reproduces`): the
    explainer checked the rows it saw, but Dask and Spark partitions it never saw reach
    here directly. Raises :class:`~shapkit.trees.TreeNotSupportedError` otherwise."""
    if job.path_trees is not None:
        tm = job.path_trees
        features, players = tm.features(X), node_players(tm, job.column_player)
        return lambda row: PathDependentTreeGame(tm, features[row], players, n_players)
    trees = job.trees
    if trees is None:
        return lambda row: MarginalGame(job.model, masker, row, job.column_player, job.max_rows)
    if not trees.reproduces(job.model, X):
        raise TreeNotSupportedError(
            f"The trees read from {type(trees.model.estimator).__name__}, through "
            f"{trees.describe()}, do not reproduce the model's own output on these rows, "
            f"so the games evaluated on them would be wrong. Explain through model calls: "
            f"pass the model's method as a callable (e.g. model.predict_proba), and please "
            f"report the model."
        )
    x = trees.model.features(X)
    background = trees.model.features(job.background)
    dirs = background_directions(trees, background)
    players = node_players(trees.model, job.column_player)
    return lambda row: LinkedTreeGame(trees, x[row], background, dirs, players, n_players)


class ReducedGame:
    """The game on the ``active`` players only; every other player is always present.

    Players whose cells equal every background row's are dummies of the marginal game,
    so dropping them leaves the other values unchanged and halves the work per dummy.
    """

    def __init__(
        self, game: Callable[[np.ndarray], np.ndarray], active: np.ndarray, n_players: int
    ) -> None:
        self.game = game
        self.active = active
        self.n_players = n_players

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        full = np.ones((masks.shape[0], self.n_players), dtype=bool)
        full[:, self.active] = masks
        return self.game(full)


def row_streams(
    X: np.ndarray | pd.DataFrame, seed: int | np.random.SeedSequence | None
) -> RowStreams:
    """One random stream per row, keyed by the row's content and the seed.

    A row gets the same stream whatever its position, the other rows or the chunking of
    X, so its values are bit-identical across such runs. Equal rows share a stream.
    ``row_streams(X, seed)[i]`` is row i's ``SeedSequence``, made when asked for (the
    sequence holds one 64-bit hash per row, not one object per row).
    """
    if isinstance(seed, np.random.SeedSequence):
        return RowStreams(seed.entropy, row_hashes(X), tuple(seed.spawn_key))
    entropy = seed if seed is not None else np.random.SeedSequence().entropy
    return RowStreams(entropy, row_hashes(X))


def row_hashes(X: np.ndarray | pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's cells (uint64 ``(n,)``).

    Numeric matrices (an ndarray, or a DataFrame whose columns share one numeric dtype)
    are hashed from their values as float64, so an array and a DataFrame of the same
    numbers hash alike, ``-0.0`` like ``0.0`` and every NaN alike; other data by pandas'
    per-column hashing.
    """
    matrix = None
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        matrix = X
    elif isinstance(X, pd.DataFrame) and X.shape[1] > 0:
        dtypes = set(X.dtypes)
        single = next(iter(dtypes)) if len(dtypes) == 1 else None
        if isinstance(single, np.dtype) and single.kind in "biuf":
            matrix = X.to_numpy()
    if matrix is None:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    values = np.asarray(matrix, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    values[np.isnan(values)] = np.nan  # one NaN bit pattern
    words: np.ndarray = np.ascontiguousarray(values).view(np.uint64).reshape(values.shape)
    # each cell mixed with its column's key, summed (mod 2^64) over the row, mixed again
    keys = np.arange(words.shape[1], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return _mix64(_mix64(words ^ keys).sum(axis=1, dtype=np.uint64))


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective, well-mixing map of 64-bit words."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class RowStreams:
    """Row i's ``SeedSequence(entropy, spawn_key=(*key, hash_i))`` on indexing."""

    def __init__(self, entropy: Any, hashes: np.ndarray, key: tuple[int, ...] = ()) -> None:
        self.entropy = entropy
        self.hashes = hashes
        self.key = key

    def __len__(self) -> int:
        return self.hashes.shape[0]

    def __getitem__(self, row: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=(*self.key, int(self.hashes[row])))
