"""Interaction values of a model's predictions, row by row: :class:`InteractionExplanation`.

:meth:`shapkit.Explainer.interactions` runs :func:`explain_interactions` on the rows of
X: each row's game goes to :func:`shapkit.interaction_values`. With background rows it is
the marginal game ``v(S) = mean_b f(x_S, b_notS)`` (on compiled trees where the model has
them, else through the model, as for Shapley values), and players whose cells equal every
background row's are dummies of it: all their terms are exactly 0, and they are left out.
Without background (a tree model) it is the trees' cover-weighted, path-dependent game.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .interactions import interaction_values
from .interactions.api import PROXY_MIN_PLAYERS
from .interactions.indices import EFFICIENT_INDICES
from .rows import ReducedGame, RowJob, row_games, row_streams
from .tabular import RowMasker, align_text_columns

__all__ = ["InteractionExplanation", "explain_interactions"]


@dataclass
class InteractionExplanation:
    """Interaction values of the rows of X (one output: the last axis is dropped).

    Attributes
    ----------
    main : ndarray of shape (n, d) or (n, d, k)
        Order-1 terms of ``index`` per row (SII: the Shapley values).
    pairs : ndarray of shape (n, d, d) or (n, d, d, k)
        Order-2 terms, symmetric with a zero diagonal per row.
    main_std_errors, pair_std_errors : ndarray
        Their standard errors (zeros: exact enumeration).
    base_values, predictions : ndarray of shape (n,) or (n, k)
        ``v(empty)`` (the mean prediction over the background) and ``v(all players)``.
    data : DataFrame
        The explained rows.
    feature_names : list of str
        The players (features or groups).
    output_names : list
        The model's outputs.
    index : str
    max_order : int
    method : str
        ``"exact"`` (every coalition enumerated), ``"tree"`` (exact, from a tree
        model's leaves), ``"proxy"`` (kriging of sampled coalitions, with standard
        errors) or ``"exact+proxy"`` (rows with fewer than 4 non-dummy players are
        enumerated).
    n_evals : ndarray of shape (n,)
        Game evaluations per row.
    settings : dict
        What was asked for (index, output, budget, background size, value function).
    converged : ndarray of bool, shape (n,), or None
        With ``tol``: whether each row's standard errors reached it within the budget.
    player_columns : dict
        The data columns of each player that is a group of columns.
    """

    main: np.ndarray
    pairs: np.ndarray
    main_std_errors: np.ndarray
    pair_std_errors: np.ndarray
    base_values: np.ndarray
    predictions: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]
    output_names: list[Any]
    index: str
    max_order: int
    method: str
    n_evals: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)
    converged: np.ndarray | None = None
    player_columns: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def efficient(self) -> bool:
        """Whether each row's terms sum to ``predictions - base_values``."""
        return self.max_order == 1 or self.index in EFFICIENT_INDICES

    def to_matrix(self) -> np.ndarray:
        """``(n, d, d[, k])`` in shap's convention: order-1 terms on the diagonal, each
        pair's term split over its two cells (rows sum to ``predictions - base_values``
        for an efficient index)."""
        matrix = self.pairs / 2.0
        d = len(self.feature_names)
        matrix[:, np.arange(d), np.arange(d)] = self.main
        return matrix

    def _with_output_axis(self) -> tuple[np.ndarray, ...]:
        """``main``, ``pairs`` and their standard errors with an output axis, the player
        names and the output labels (positions where the result has none)."""
        main, pairs = self.main, self.pairs
        main_se, pair_se = self.main_std_errors, self.pair_std_errors
        if main.ndim == 2:
            main, pairs = main[..., None], pairs[..., None]
            main_se, pair_se = main_se[..., None], pair_se[..., None]
        k = main.shape[2]
        names = np.asarray(self.feature_names, dtype=object)
        outputs = np.asarray(self.output_names if self.output_names else list(range(k)),
                             dtype=object)  # fmt: skip
        return main, pairs, main_se, pair_se, names, outputs

    def _main_frame(self, offset: int = 0) -> pd.DataFrame:
        """The order-1 terms in :meth:`to_frame`'s format, rows numbered from ``offset``."""
        main, _, main_se, _, names, outputs = self._with_output_axis()
        n, d, k = main.shape
        rows, feats, outs = np.meshgrid(np.arange(n), np.arange(d), np.arange(k), indexing="ij")
        return pd.DataFrame({
            "row": offset + rows.ravel(), "order": 1, "feature_i": names[feats.ravel()],
            "feature_j": None, "output": outputs[outs.ravel()], "value": main.ravel(),
            "std_error": main_se.ravel(),
        })  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """Long format, one line per row, term and output: ``row``, ``order`` (1 or 2),
        ``feature_i``, ``feature_j`` (None for order 1; pairs once, ``i < j``),
        ``output``, ``value``, ``std_error``."""
        main, pairs, _, pair_se, names, outputs = self._with_output_axis()
        n, d, k = main.shape
        first = self._main_frame()
        if self.max_order < 2 or d < 2:
            return first
        i, j = np.triu_indices(d, 1)
        second = pd.DataFrame({
            "row": np.repeat(np.arange(n), i.size * k),
            "order": 2,
            "feature_i": np.tile(np.repeat(names[i], k), n),
            "feature_j": np.tile(np.repeat(names[j], k), n),
            "output": np.tile(outputs, n * i.size),
            "value": pairs[:, i, j, :].ravel(),
            "std_error": pair_se[:, i, j, :].ravel(),
        })  # fmt: skip
        return pd.concat([first, second], ignore_index=True)

    def __repr__(self) -> str:
        return (
            f"InteractionExplanation(index={self.index!r}, rows={self.main.shape[0]}, "
            f"features={len(self.feature_names)}, outputs={self.output_names}, "
            f"method={self.method!r})"
        )


#: :meth:`shapkit.Explainer.strongest_pairs` explains rows in chunks whose dense pairs
#: and standard errors take at most this much memory.
PAIR_CHUNK_BYTES = 256 * 2**20
#: The share of the available memory that dense pairs (and their standard errors) may
#: take before :meth:`shapkit.Explainer.interactions` refuses them.
DENSE_PAIR_SHARE = 0.5


#: Bytes per pair cell and output at the peak of a dense result: its values, its standard
#: errors, and two temporaries of the same size (mirroring, output squeezing).
DENSE_PAIR_BYTES = 32


def check_dense_pairs(n_rows: int, n_players: int, n_outputs: int) -> None:
    """Raise :class:`~shapkit.exceptions.InfeasibleRequestError` when the dense pairs of
    ``n_rows`` rows (``DENSE_PAIR_BYTES n d^2 k`` bytes at their peak) would take more
    than :data:`DENSE_PAIR_SHARE` of the available memory, naming the sparse form."""
    from .cost import _bytes, available_memory
    from .exceptions import InfeasibleRequestError

    per_row = DENSE_PAIR_BYTES * n_players * n_players * n_outputs
    need = n_rows * per_row
    usable = DENSE_PAIR_SHARE * available_memory()
    if need > usable:
        fit = max(int(usable // per_row), 0)
        raise InfeasibleRequestError(
            f"The interaction values of {n_rows:,} rows of {n_players} players as dense "
            f"(n, d, d) arrays would take {_bytes(need)}, more than the "
            f"{_bytes(usable)} this process may use. Use Explainer.strongest_pairs(X, "
            f"top=10) (each row's order-1 terms and strongest pairs, computed in chunks), "
            f"or explain at most {fit:,} rows at a time, or group features into fewer "
            f"players."
        )


def strongest_frame(inter: InteractionExplanation, top: int, offset: int) -> pd.DataFrame:
    """The order-1 terms and each row's and output's ``top`` strongest pairs of
    ``inter`` in long format (:meth:`shapkit.Explainer.strongest_pairs`), rows numbered
    from ``offset``."""
    main, pairs, _, pair_se, names, outputs = inter._with_output_axis()
    n, d, k = main.shape
    first = inter._main_frame(offset).assign(rank=0)
    i, j = np.triu_indices(d, 1)
    keep = min(top, i.size)
    values = pairs[:, i, j, :]  # (n, m, k)
    # strongest first, ties by position: sort by -|value| then pair position
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :keep, :]
    chosen_value = np.take_along_axis(values, order, axis=1)
    chosen_se = np.take_along_axis(pair_se[:, i, j, :], order, axis=1)
    second = pd.DataFrame({
        "row": offset + np.repeat(np.arange(n), keep * k),
        "order": 2,
        "feature_i": names[i[order.ravel()]],
        "feature_j": names[j[order.ravel()]],
        "output": np.tile(outputs, n * keep),
        "value": chosen_value.ravel(),
        "std_error": chosen_se.ravel(),
        "rank": np.tile(np.repeat(np.arange(1, keep + 1), k), n),
    })  # fmt: skip
    return pd.concat([first, second], ignore_index=True)


def explain_interactions(
    job: RowJob,
    X: np.ndarray | pd.DataFrame,
    index: str,
    max_order: int,
    budget: int | None,
    method: str = "exact",
    tol: float | None = None,
) -> dict[str, Any]:
    """Each row's interaction values on its marginal game (``job`` with no closed form);
    returns the arrays of an :class:`InteractionExplanation` with an output axis
    (``main``, ``pairs``, their standard errors, ``base_values``, ``predictions``,
    ``n_evals``, ``converged`` (None without ``tol``), ``method``, ``output_names``).
    ``method`` is ``"exact"`` or ``"proxy"``, chosen and checked with ``index`` and
    ``max_order`` by the caller (:meth:`shapkit.Explainer.interactions`); each row's
    random stream is keyed by its content and the job's seed. A row whose non-dummy
    players are too few for the proxy is enumerated (at most 8 coalitions)."""
    n_players = len(job.player_names)
    X = align_text_columns(X, job.background)
    masker = RowMasker(X, job.background, job.column_player)
    game_of = row_games(job, X, masker, n_players)
    streams = row_streams(X, job.seed)
    n = X.shape[0]
    main = pairs = main_se = pairs_se = base = full = None
    n_evals = np.zeros(n, dtype=np.int64)
    converged = np.ones(n, dtype=bool)
    methods: set[str] = set()
    everyone = np.arange(n_players)
    for row in range(n):
        if job.path_trees is None:
            active = np.flatnonzero(~masker.constant_players(row, n_players))
        else:  # no background: no cell is known to be a dummy
            active = everyone
        game = game_of(row)
        if active.size == 0:
            empty = np.asarray(game(np.zeros((1, n_players), dtype=bool))[0])
            result = None
            row_main, row_main_se = np.zeros((0, empty.shape[0])), np.zeros((0, empty.shape[0]))
            row_pairs = row_pairs_se = np.zeros((0, 0, empty.shape[0]))
            empty_value = full_value = empty
            n_evals[row] = 1
        else:
            row_method = method if active.size >= PROXY_MIN_PLAYERS else "exact"
            result = interaction_values(
                ReducedGame(game, active, n_players), active.size, index=index,
                max_order=min(max_order, active.size), method=row_method,
                budget=budget if row_method == method else None, tol=tol,
                seed=streams[row],
            )  # fmt: skip
            methods.add(result.method)
            row_main, row_pairs = result.main, result.pairs
            row_main_se, row_pairs_se = result.main_std_errors, result.pair_std_errors
            if row_main.ndim == 1:
                row_main, row_pairs = row_main[:, None], row_pairs[..., None]
                row_main_se, row_pairs_se = row_main_se[:, None], row_pairs_se[..., None]
            empty_value = np.atleast_1d(result.empty_value)
            full_value = np.atleast_1d(result.full_value)
            n_evals[row] = result.n_evals
            converged[row] = result.converged is not False
        if main is None:
            k = empty_value.shape[0]
            main, main_se = np.zeros((n, n_players, k)), np.zeros((n, n_players, k))
            pairs = np.zeros((n, n_players, n_players, k))
            pairs_se = np.zeros((n, n_players, n_players, k))
            base, full = np.zeros((n, k)), np.zeros((n, k))
        assert pairs is not None and pairs_se is not None and main_se is not None
        assert base is not None and full is not None
        main[row, active], main_se[row, active] = row_main, row_main_se
        cells = (row, active[:, None], active[None, :])
        pairs[cells], pairs_se[cells] = row_pairs, row_pairs_se
        base[row], full[row] = empty_value, full_value
    if main is None:
        main = main_se = np.zeros((0, n_players, 0))
        pairs = pairs_se = np.zeros((0, n_players, n_players, 0))
        base, full = np.zeros((0, 0)), np.zeros((0, 0))
    return {
        "main": main, "pairs": pairs, "main_std_errors": main_se,
        "pair_std_errors": pairs_se, "base_values": base, "predictions": full,
        "n_evals": n_evals, "converged": None if tol is None else converged,
        "method": "+".join(sorted(methods)) or "exact",
        "output_names": list(job.model.output_names),
    }  # fmt: skip
