"""Coalitions for the interaction proxy: the borders, then distinct complementary pairs.

The first draw holds the empty and full coalitions and every coalition of one player and
of all players but one (``2 d + 2``: they fix the prior's flat part, the game's linear
terms). Further draws add pairs ``(S, N - S)`` of sizes 2 to d - 2 never drawn before,
sizes weighted as the Shapley kernel weights them (``1 / (s (d - s))``). Games of at
most :data:`ENUMERATED_PLAYERS` players draw from the enumerated pool (without
replacement, so a draw never stalls when the pool runs low); larger ones draw a size,
then its members, and skip repeats.
"""

from __future__ import annotations

import numpy as np

from .._kernels.exact import enumerate_masks

#: Up to this many players the pool of coalitions is enumerated.
ENUMERATED_PLAYERS = 16


def border_count(n_players: int) -> int:
    """Coalitions of the first draw: ``2 d + 2``."""
    return 2 * n_players + 2


class CoalitionSampler:
    """Draws the proxy's coalitions without repeats (module docstring).

    Parameters
    ----------
    n_players : int
        At least 4 (sizes 2 to d - 2 must exist).
    rng : numpy.random.Generator
    """

    def __init__(self, n_players: int, rng: np.random.Generator) -> None:
        self.n_players = n_players
        self.rng = rng
        self._seen: set[bytes] = set()
        self._pool: np.ndarray | None = None
        if n_players <= ENUMERATED_PLAYERS:
            masks = enumerate_masks(n_players, 0, 1 << n_players)
            size = masks.sum(axis=1)
            # one representative per complementary pair: the coalition without player 0
            keep = (size >= 2) & (size <= n_players - 2) & ~masks[:, 0]
            self._pool = masks[keep]
            self._pool_weight = self._size_weight(size[keep])

    def _size_weight(self, size: np.ndarray) -> np.ndarray:
        from scipy.special import comb

        d = self.n_players
        return 1.0 / (size * (d - size) * comb(d, size))

    @property
    def remaining(self) -> int:
        """Coalitions not drawn yet (sizes 2 to d - 2 and the borders)."""
        return (1 << self.n_players) - len(self._seen)

    def borders(self) -> np.ndarray:
        """The ``2 d + 2`` border coalitions ``(2 d + 2, d)``, empty first, full second."""
        d = self.n_players
        eye = np.eye(d, dtype=bool)
        rows = np.concatenate([np.zeros((1, d), bool), np.ones((1, d), bool), eye, ~eye])
        self._seen.update(r.tobytes() for r in rows)
        return rows

    def draw(self, count: int) -> np.ndarray:
        """At most ``count`` new coalitions (pairs, so an even number; fewer when the pool
        runs out), ``(m, d)`` bool."""
        n_pairs = count // 2
        if n_pairs <= 0:
            return np.zeros((0, self.n_players), dtype=bool)
        if self._pool is not None:
            chosen = self._draw_pool(n_pairs)
        else:
            chosen = self._draw_sizes(n_pairs)
        rows = np.empty((2 * len(chosen), self.n_players), dtype=bool)
        rows[0::2], rows[1::2] = chosen, ~chosen
        self._seen.update(r.tobytes() for r in rows)
        return rows

    def _draw_pool(self, n_pairs: int) -> np.ndarray:
        assert self._pool is not None
        fresh = np.array([r.tobytes() not in self._seen for r in self._pool], dtype=bool)
        candidates = np.flatnonzero(fresh)
        if candidates.size == 0:
            return np.zeros((0, self.n_players), dtype=bool)
        # weighted sampling without replacement: the smallest Exp(1) / weight
        keys = self.rng.exponential(size=candidates.size) / self._pool_weight[candidates]
        take = candidates[np.argsort(keys, kind="stable")[:n_pairs]]
        return self._pool[take]

    def _draw_sizes(self, n_pairs: int) -> np.ndarray:
        d = self.n_players
        sizes = np.arange(2, d - 1)
        p = 1.0 / (sizes * (d - sizes))
        p /= p.sum()
        out: list[np.ndarray] = []
        keys: set[bytes] = set()
        while len(out) < n_pairs:
            z = np.zeros(d, dtype=bool)
            z[self.rng.choice(d, int(self.rng.choice(sizes, p=p)), replace=False)] = True
            if z[0]:
                z = ~z
            key = z.tobytes()
            if key in self._seen or key in keys:
                continue
            keys.add(key)
            out.append(z)
        return np.array(out)
