"""Benchmark games: cooperative games with known (exact) Shapley values.

Every game is a :class:`BenchmarkGame` whose ``game`` callable maps a boolean coalition
matrix of shape ``(m, n_players)`` to an array of worths of shape ``(m,)``.

Two families are provided:

* sum-of-unanimity games, whose Shapley values have a closed form, for any ``d``;
* explanation games of scikit-learn models on bundled datasets,
  ``v(S) = mean_b f(x_S, b_{not S})``, whose exact values are computed by enumerating all
  ``2**d`` coalitions with ``shapkit.shapley_values(..., method="exact")`` (``d <= 12``) or,
  for the tree ensemble on breast_cancer (``d = 30``), by shapkit's exact interventional
  TreeSHAP on the model's margin, checked against the game by :func:`check_tree_game`.

Every registered game has several *explicands*: the model games explain different rows
against one fixed background, the unanimity games draw different terms.
"""

from __future__ import annotations

import dataclasses
import functools
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
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    background: np.ndarray,
    max_rows: int = 1 << 16,
) -> GameFn:
    """Return ``v(S) = mean_b predict(x_S, b_{not S})`` as a vectorised game.

    The model sees at most ``max_rows`` rows per call, so the game's cost per coalition
    does not depend on how many coalitions a method sends at once (one call with 16k
    coalitions x 50 background rows would build ~200 MB temporaries and run ~1.8x slower
    per coalition than calls of a few thousand rows).

    Args:
        predict: Model function mapping ``(n, d)`` inputs to ``(n,)`` outputs.
        x: The explicand, shape ``(d,)``.
        background: Background rows, shape ``(B, d)``.
        max_rows: Most rows per model call.
    """
    x = np.asarray(x, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    n_bg, d = background.shape
    per_chunk = max(1, max_rows // n_bg)

    def game(masks: np.ndarray) -> np.ndarray:
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        out = np.empty(masks.shape[0])
        for start in range(0, masks.shape[0], per_chunk):
            chunk = masks[start : start + per_chunk]
            m = chunk.shape[0]
            inputs = np.where(chunk[:, None, :], x[None, None, :], background[None, :, :])
            values = np.asarray(predict(inputs.reshape(m * n_bg, d)), dtype=np.float64)
            out[start : start + m] = values.reshape(m, n_bg).mean(axis=1)
        return out

    return game


def exact_shapley_values(game: GameFn, n_players: int) -> np.ndarray:
    """Exact Shapley values by enumeration, delegated to ``shapkit`` (raises ImportError)."""
    import shapkit

    return np.asarray(shapkit.shapley_values(game, n_players, method="exact").values)


def _split_explicand_background(
    X: np.ndarray, explicand: int, n_background: int
) -> tuple[np.ndarray, np.ndarray]:
    """Background = the first ``n_background`` rows of a seed-0 permutation of ``X``;
    explicand ``e`` = the row right after them, ``e`` places on (same background for all)."""
    idx = np.random.default_rng(0).permutation(X.shape[0])
    return X[idx[n_background + explicand]], X[idx[:n_background]]


def _standardised(X: np.ndarray) -> np.ndarray:
    """Column-standardise a feature matrix."""
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _model_game(
    name: str,
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    description: str,
    explicand: int,
    n_background: int,
) -> BenchmarkGame:
    """Wrap a fitted model into a :class:`BenchmarkGame` with exact values by enumeration."""
    x, background = _split_explicand_background(X, explicand, n_background)
    game = interventional_game(predict, x, background)
    d = X.shape[1]
    return BenchmarkGame(
        name=name,
        n_players=d,
        game=game,
        exact_values=exact_shapley_values(game, d),
        description=f"{description}; {n_background} fixed background rows",
    )


@functools.cache
def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return _standardised(X), (y - y.mean()) / y.std()


@functools.cache
def _diabetes_mlp():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, y = _diabetes()
    model = MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def diabetes_mlp_game(explicand: int = 0, n_background: int = 50) -> BenchmarkGame:
    """MLPRegressor on standardised diabetes (d=10)."""
    X, _ = _diabetes()
    return _model_game(
        "diabetes-mlp",
        _diabetes_mlp().predict,
        X,
        "MLPRegressor(32,16) on diabetes",
        explicand,
        n_background,
    )


@functools.cache
def _diabetes_gbr():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _diabetes()
    return GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0).fit(X, y)


def diabetes_gbr_game(explicand: int = 0, n_background: int = 50) -> BenchmarkGame:
    """GradientBoostingRegressor on standardised diabetes (d=10)."""
    X, _ = _diabetes()
    return _model_game(
        "diabetes-gbr",
        _diabetes_gbr().predict,
        X,
        "GradientBoostingRegressor on diabetes",
        explicand,
        n_background,
    )


@functools.cache
def _wine_logreg():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    X, y = load_wine(return_X_y=True)
    X = _standardised(X[:, :12])
    return X, LogisticRegression(max_iter=1000).fit(X, y)


def wine_logreg_game(explicand: int = 0, n_background: int = 50) -> BenchmarkGame:
    """LogisticRegression on the first 12 standardised wine features, P(class 1)."""
    X, model = _wine_logreg()

    def predict(inputs: np.ndarray) -> np.ndarray:
        return model.predict_proba(inputs)[:, 1]

    return _model_game(
        "wine-logreg",
        predict,
        X,
        "LogisticRegression on wine (12 features), P(class 1)",
        explicand,
        n_background,
    )


@functools.cache
def breast_cancer_gbc():
    """``(X, model)``: GradientBoostingClassifier(random_state=0) on breast_cancer (d=30),
    fitted to ``malignant = (target == 0)`` so its margin is the log-odds of malignancy."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = load_breast_cancer(return_X_y=True)
    return X, GradientBoostingClassifier(random_state=0).fit(X, (y == 0).astype(int))


def tree_interventional_values(
    model, x: np.ndarray, background: np.ndarray, output: str = "decision"
) -> np.ndarray:
    """Exact interventional Shapley values of the margin game, by shapkit's TreeSHAP.

    ``output="decision"`` is the margin (``decision_function``, log-odds) of a binary
    sklearn GradientBoostingClassifier, the output in which the trees add up, so the tree
    path is exact for any d (tests/test_treeshap.py checks it against enumeration).
    """
    import shapkit

    expl = shapkit.explain(
        model,
        np.asarray(x, dtype=np.float64)[None, :],
        background=np.asarray(background, dtype=np.float64),
        method="tree",
        output=output,
    )
    return np.asarray(expl.values, dtype=np.float64).reshape(-1)


def check_tree_game(game: BenchmarkGame, rtol: float = 1e-7) -> None:
    """Raise if the exact values do not satisfy efficiency for the game handed to samplers:
    ``sum(phi) == v(N) - v(empty)`` where ``v(empty) = mean f(background)``."""
    d = game.n_players
    ends = game.game(np.array([np.zeros(d, bool), np.ones(d, bool)]))
    gap = float(ends[1] - ends[0])
    total = float(game.exact_values.sum())
    if not np.isclose(total, gap, rtol=rtol, atol=rtol * max(1.0, abs(gap))):
        raise AssertionError(
            f"{game.name}: sum of TreeSHAP values {total!r} != v(N) - v(empty) = {gap!r}"
        )


def breast_cancer_gbc_game(explicand: int = 0, n_background: int = 50) -> BenchmarkGame:
    """GradientBoostingClassifier on breast_cancer (d=30), margin (log-odds of malignant).

    Exact values come from shapkit's interventional TreeSHAP over the same background, and
    are checked for efficiency against the game itself.
    """
    X, model = breast_cancer_gbc()
    x, background = _split_explicand_background(X, explicand, n_background)
    bench = BenchmarkGame(
        name="breast-cancer-gbc",
        n_players=X.shape[1],
        game=interventional_game(model.decision_function, x, background),
        exact_values=tree_interventional_values(model, x, background),
        description=(
            "GradientBoostingClassifier(100 trees, depth 3) on breast_cancer, margin "
            "(log-odds of malignant); exact values by shapkit's interventional TreeSHAP, "
            f"efficiency checked; {n_background} fixed background rows"
        ),
    )
    check_tree_game(bench)
    return bench


@functools.cache
def friedman_gbr(n_features: int = 120):
    """``(X, model)``: GradientBoostingRegressor(random_state=0) on make_friedman1 with
    ``n_features`` columns, 5 of which matter."""
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = make_friedman1(n_samples=1000, n_features=n_features, noise=0.5, random_state=0)
    return X, GradientBoostingRegressor(random_state=0).fit(X, y)


def friedman_gbr_game(explicand: int = 0, n_background: int = 50) -> BenchmarkGame:
    """GradientBoostingRegressor on make_friedman1 with 120 features: a tree game of large d
    whose exact values come from shapkit's TreeSHAP."""
    X, model = friedman_gbr()
    x, background = _split_explicand_background(X, explicand, n_background)
    bench = BenchmarkGame(
        name="friedman-gbr-d120",
        n_players=X.shape[1],
        game=interventional_game(model.predict, x, background),
        exact_values=tree_interventional_values(model, x, background, output="auto"),
        description=(
            "GradientBoostingRegressor(100 trees, depth 3) on make_friedman1 with 120 features; "
            f"exact values by shapkit's interventional TreeSHAP; {n_background} background rows"
        ),
    )
    check_tree_game(bench)
    return bench


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------

GameFactory = Callable[[int], BenchmarkGame]


def _unanimity(n_players: int) -> GameFactory:
    """Explicand ``e`` of the d-player unanimity family: the game drawn with seed ``d + e``."""

    def factory(explicand: int) -> BenchmarkGame:
        game = unanimity_game(n_players, seed=n_players + explicand)
        return dataclasses.replace(
            game, description=game.description.rsplit(", seed", 1)[0] + "; closed-form values"
        )

    return factory


#: name -> (factory(explicand), in --quick). Adding a game is one line.
GAMES: dict[str, tuple[GameFactory, bool]] = {
    "unanimity-d10": (_unanimity(10), False),
    "unanimity-d50": (_unanimity(50), True),
    "unanimity-d100": (_unanimity(100), False),
    "diabetes-mlp": (diabetes_mlp_game, True),
    "diabetes-gbr": (diabetes_gbr_game, False),
    "wine-logreg": (wine_logreg_game, False),
    "breast-cancer-gbc": (breast_cancer_gbc_game, True),
    "friedman-gbr-d120": (friedman_gbr_game, False),
}


def build_games(
    quick: bool = False, n_explicands: int = 5, names: list[str] | None = None
) -> tuple[list[list[BenchmarkGame]], dict[str, str]]:
    """Instantiate the registered games, ``n_explicands`` instances each.

    Args:
        quick: Only build the games flagged for the quick smoke run.
        n_explicands: Explicands (rows, or unanimity draws) per game.
        names: Only these game names (default: all, or the quick ones).

    Returns:
        ``(families, skipped)``: one list of ``n_explicands`` games per registered name,
        and ``name -> reason`` for games that could not be built (e.g. shap missing for
        the TreeSHAP reference).
    """
    families: list[list[BenchmarkGame]] = []
    skipped: dict[str, str] = {}
    for name, (factory, in_quick) in GAMES.items():
        if names is not None:
            if name not in names:
                continue
        elif quick and not in_quick:
            continue
        try:
            families.append([factory(e) for e in range(n_explicands)])
        except (ImportError, AttributeError) as exc:  # shapkit or shap missing/incomplete
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return families, skipped
