"""Benchmark games: cooperative games with known (exact) Shapley values.

Every game is a :class:`BenchmarkGame` whose ``game`` callable maps a boolean coalition
matrix of shape ``(m, n_players)`` to an array of worths of shape ``(m,)``.

Two families are provided:

* sum-of-unanimity games, whose Shapley values have a closed form, for any ``d``;
* explanation games of scikit-learn models on bundled datasets,
  ``v(S) = mean_b f(x_S, b_{not S})``, whose exact values are computed by enumerating all
  ``2**d`` coalitions with ``shapkit.shapley_values(..., method="exact")``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GameFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BenchmarkGame:
    """A cooperative game together with its exact Shapley values.

    Attributes:
        name: Short identifier used in tables.
        n_players: Number of players ``d``.
        game: Callable mapping a bool array ``(m, d)`` to a float array ``(m,)``.
        exact_values: Exact Shapley values, shape ``(d,)``.
        description: One-line human-readable description.
    """

    name: str
    n_players: int
    game: GameFn
    exact_values: np.ndarray
    description: str


# --------------------------------------------------------------------------------------
# Sum-of-unanimity games
# --------------------------------------------------------------------------------------


def random_unanimity_terms(
    n_players: int, n_terms: int, max_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw random unanimity coalitions ``T_k`` and coefficients ``c_k``.

    Args:
        n_players: Number of players ``d``.
        n_terms: Number of unanimity terms ``K``.
        max_size: Largest coalition size; sizes are uniform on ``1..max_size``.
        seed: Seed of the random generator.

    Returns:
        ``(indicator, coefs)``: a bool matrix ``(d, K)`` with ``indicator[i, k] = i in T_k``
        and the coefficients ``(K,)``.
    """
    rng = np.random.default_rng(seed)
    indicator = np.zeros((n_players, n_terms), dtype=bool)
    for k in range(n_terms):
        size = int(rng.integers(1, max_size + 1))
        indicator[rng.choice(n_players, size=size, replace=False), k] = True
    coefs = rng.normal(size=n_terms)
    return indicator, coefs


def unanimity_worth(masks: np.ndarray, indicator: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Evaluate ``v(S) = sum_k c_k [T_k subset S]`` for every row of ``masks``.

    Args:
        masks: Bool coalition matrix ``(m, d)``.
        indicator: Bool membership matrix ``(d, K)`` of the unanimity coalitions.
        coefs: Coefficients ``(K,)``.

    Returns:
        Worths, shape ``(m,)``.
    """
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    hits = masks.astype(np.int32) @ indicator.astype(np.int32)  # |S ∩ T_k|
    contained = hits == indicator.sum(axis=0)
    return contained.astype(np.float64) @ coefs


def unanimity_shapley(indicator: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Closed-form Shapley values ``phi_i = sum_{k: i in T_k} c_k / |T_k|``."""
    sizes = indicator.sum(axis=0)
    return indicator.astype(np.float64) @ (coefs / sizes)


def unanimity_game(
    n_players: int, seed: int = 0, n_terms: int | None = None, max_size: int | None = None
) -> BenchmarkGame:
    """Build a seeded sum-of-unanimity game with closed-form Shapley values.

    Args:
        n_players: Number of players ``d``.
        seed: Seed for the coalitions and coefficients.
        n_terms: Number of terms; defaults to ``2 * d``.
        max_size: Largest coalition size; defaults to ``max(1, d // 3)``.
    """
    n_terms = 2 * n_players if n_terms is None else n_terms
    max_size = max(1, n_players // 3) if max_size is None else max_size
    indicator, coefs = random_unanimity_terms(n_players, n_terms, max_size, seed)

    def game(masks: np.ndarray) -> np.ndarray:
        return unanimity_worth(masks, indicator, coefs)

    return BenchmarkGame(
        name=f"unanimity-d{n_players}",
        n_players=n_players,
        game=game,
        exact_values=unanimity_shapley(indicator, coefs),
        description=(
            f"sum of {n_terms} unanimity games, |T_k| in 1..{max_size}, "
            f"c_k ~ N(0,1), seed {seed}; closed-form values"
        ),
    )


# --------------------------------------------------------------------------------------
# Explanation games of scikit-learn models
# --------------------------------------------------------------------------------------


def interventional_game(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray
) -> GameFn:
    """Return ``v(S) = mean_b predict(x_S, b_{not S})`` as a vectorised game.

    Args:
        predict: Model function mapping ``(n, d)`` inputs to ``(n,)`` outputs.
        x: The explicand, shape ``(d,)``.
        background: Background rows, shape ``(B, d)``.
    """
    x = np.asarray(x, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    n_bg, d = background.shape

    def game(masks: np.ndarray) -> np.ndarray:
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        m = masks.shape[0]
        inputs = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])
        out = np.asarray(predict(inputs.reshape(m * n_bg, d)), dtype=np.float64)
        return out.reshape(m, n_bg).mean(axis=1)

    return game


def exact_shapley_values(game: GameFn, n_players: int) -> np.ndarray:
    """Exact Shapley values by enumeration, delegated to ``shapkit`` (raises ImportError)."""
    import shapkit

    return np.asarray(shapkit.shapley_values(game, n_players, method="exact").values)


def _split_explicand_background(
    X: np.ndarray, seed: int, n_background: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick one explicand row and ``n_background`` other rows, seeded."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(X.shape[0])
    return X[idx[0]], X[idx[1 : 1 + n_background]]


def _standardised(X: np.ndarray) -> np.ndarray:
    """Column-standardise a feature matrix."""
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _model_game(
    name: str,
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    description: str,
    seed: int,
    n_background: int,
) -> BenchmarkGame:
    """Wrap a fitted model into a :class:`BenchmarkGame` with exact values."""
    x, background = _split_explicand_background(X, seed, n_background)
    game = interventional_game(predict, x, background)
    d = X.shape[1]
    return BenchmarkGame(
        name=name,
        n_players=d,
        game=game,
        exact_values=exact_shapley_values(game, d),
        description=f"{description}; explicand + {n_background} background rows, seed {seed}",
    )


def diabetes_mlp_game(seed: int = 0, n_background: int = 50) -> BenchmarkGame:
    """MLPRegressor on standardised diabetes (d=10)."""
    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, y = load_diabetes(return_X_y=True)
    X, y = _standardised(X), (y - y.mean()) / y.std()
    model = MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return _model_game(
        "diabetes-mlp", model.predict, X, "MLPRegressor(32,16) on diabetes", seed, n_background
    )


def diabetes_gbr_game(seed: int = 0, n_background: int = 50) -> BenchmarkGame:
    """GradientBoostingRegressor on standardised diabetes (d=10)."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = load_diabetes(return_X_y=True)
    X, y = _standardised(X), (y - y.mean()) / y.std()
    model = GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(X, y)
    return _model_game(
        "diabetes-gbr",
        model.predict,
        X,
        "GradientBoostingRegressor on diabetes",
        seed,
        n_background,
    )


def wine_logreg_game(seed: int = 0, n_background: int = 50) -> BenchmarkGame:
    """LogisticRegression on the first 12 standardised wine features, P(class 1)."""
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    X, y = load_wine(return_X_y=True)
    X = _standardised(X[:, :12])
    model = LogisticRegression(max_iter=1000).fit(X, y)

    def predict(inputs: np.ndarray) -> np.ndarray:
        return model.predict_proba(inputs)[:, 1]

    return _model_game(
        "wine-logreg",
        predict,
        X,
        "LogisticRegression on wine (12 features), P(class 1)",
        seed,
        n_background,
    )


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------

GameFactory = Callable[[], BenchmarkGame]

#: name -> factory; adding a game is one line. ``quick`` marks the games of ``--quick``.
GAMES: dict[str, tuple[GameFactory, bool]] = {
    "unanimity-d10": (lambda: unanimity_game(10, seed=10), True),
    "unanimity-d50": (lambda: unanimity_game(50, seed=50), True),
    "unanimity-d100": (lambda: unanimity_game(100, seed=100), False),
    "diabetes-mlp": (diabetes_mlp_game, True),
    "diabetes-gbr": (diabetes_gbr_game, False),
    "wine-logreg": (wine_logreg_game, False),
}


def build_games(quick: bool = False) -> tuple[list[BenchmarkGame], dict[str, str]]:
    """Instantiate the registered games.

    Args:
        quick: Only build the games flagged for the quick smoke run.

    Returns:
        ``(games, skipped)`` where ``skipped`` maps a game name to the reason it could not
        be built (e.g. ``shapkit`` not importable for the exact values).
    """
    games: list[BenchmarkGame] = []
    skipped: dict[str, str] = {}
    for name, (factory, in_quick) in GAMES.items():
        if quick and not in_quick:
            continue
        try:
            games.append(factory())
        except (ImportError, AttributeError) as exc:  # shapkit missing or incomplete
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return games, skipped
