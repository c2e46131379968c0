"""``python -m benchmarks.run --verify``: every method on a d=6 unanimity game with
closed-form values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.games import unanimity_game
from benchmarks.methods import Method
from benchmarks.metrics import relative_l2_error


def verify_methods(methods: Sequence[Method]) -> pd.DataFrame:
    """Check every method on a d=6 unanimity game with closed-form values.

    A method passes when it is exact (rel. error < 1e-6) at budget ``2**6`` or close
    (rel. error < 0.1) at budget 20000.
    """
    game = unanimity_game(6, seed=3, n_terms=12, max_size=5)
    rows = []
    for method in methods:
        errors = {}
        for budget in (2**6, 20_000):
            if not method.applies(game, budget):
                errors[budget] = np.nan
                continue
            estimate = method.fn(game, budget, 0)
            errors[budget] = relative_l2_error(estimate, game.exact_values)
        ok = errors[2**6] < 1e-6 or errors[20_000] < 0.1
        rows.append(
            {
                "method": method.name,
                "rel_l2 @64": errors[2**6],
                "rel_l2 @20000": errors[20_000],
                "ok": bool(ok),
            }
        )
    return pd.DataFrame(rows)
