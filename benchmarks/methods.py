"""Shapley-value estimators under benchmark: shapkit itself plus external anchors.

Each method is a :class:`Method` with ``fn(game, budget, seed) -> values (d,)`` and
``applies(game, budget) -> bool``. ``budget`` is the number of coalition evaluations the
method may spend. Anchors (shap, shapiq, captum) are optional: when their import fails they
are skipped and the reason is reported.

The anchors explain a model over 0/1 inputs, ``f(z) = v({i: z_i = 1})``, with the all-zeros
row as the only background/baseline and the all-ones row as the explicand; the interventional
Shapley values of that model are exactly the Shapley values of the game.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.games import BenchmarkGame

MethodFn = Callable[[BenchmarkGame, int, int], np.ndarray]
AppliesFn = Callable[[BenchmarkGame, int], bool]


@dataclass(frozen=True)
class Method:
    """A Shapley-value estimator.

    Attributes:
        name: Label used in tables.
        fn: ``fn(game, budget, seed)`` returning estimated values of shape ``(d,)``.
        applies: ``applies(game, budget)``; whether the method runs at that budget.
    """

    name: str
    fn: MethodFn
    applies: AppliesFn


# --------------------------------------------------------------------------------------
# Applicability helpers
# --------------------------------------------------------------------------------------


def needs_full_enumeration(game: BenchmarkGame, budget: int) -> bool:
    """True when the budget covers all ``2**d`` coalitions."""
    return 2**game.n_players <= budget


def at_least(evals: Callable[[int], int]) -> AppliesFn:
    """Applicability rule ``budget >= evals(d)``."""

    def applies(game: BenchmarkGame, budget: int) -> bool:
        return budget >= evals(game.n_players)

    return applies


def zero_one_model(game: BenchmarkGame) -> Callable[[np.ndarray], np.ndarray]:
    """Express a game as a model over 0/1 inputs: ``f(Z) = game(Z > 0.5)``."""

    def model(z: np.ndarray) -> np.ndarray:
        return game.game(np.asarray(z) > 0.5)

    return model


# --------------------------------------------------------------------------------------
# shapkit
# --------------------------------------------------------------------------------------


def shapkit_permutation_min_budget(n_players: int) -> int:
    """shapkit's permutation sampler needs v(empty), v(full) and 2 antithetic pairs."""
    return 2**n_players if n_players <= 2 else 2 + 4 * (n_players - 1)


def _kernel_sizes_estimator():
    from shapkit.estimators import KernelEstimator

    return KernelEstimator(size_distribution="kernel")


def _kernel_unbalanced_estimator():
    from shapkit.estimators import KernelEstimator

    return KernelEstimator(balanced=False)


#: label -> (``method=`` for shapkit.shapley_values, or a factory of an Estimator,
#: applicability rule). Adding a shapkit method is one line here; tables show
#: ``"shapkit " + label``.
SHAPKIT_METHODS: dict[str, tuple[str | Callable[[], object], AppliesFn]] = {
    "exact": ("exact", needs_full_enumeration),
    "kernel": ("kernel", at_least(lambda d: d + 2)),
    "kernel (kernel sizes)": (_kernel_sizes_estimator, at_least(lambda d: d + 2)),
    "kernel (unbalanced)": (_kernel_unbalanced_estimator, at_least(lambda d: d + 2)),
    "permutation": ("permutation", at_least(shapkit_permutation_min_budget)),
}


def shapkit_method(method: str | Callable[[], object]) -> MethodFn:
    """Wrap ``shapkit.shapley_values(..., method=method)`` as a benchmark method.

    ``method`` is a ``method=`` name or a zero-argument factory of an Estimator instance
    (e.g. ``KernelEstimator(size_distribution="kernel")``). No ``tol``: the sampler spends
    the whole budget.
    """

    def fn(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        import shapkit

        spec = method if isinstance(method, str) else method()
        result = shapkit.shapley_values(
            game.game,
            game.n_players,
            method=spec,
            budget=None if spec == "exact" else budget,
            seed=seed,
        )
        return np.asarray(result.values, dtype=np.float64)

    return fn


# --------------------------------------------------------------------------------------
# shap
# --------------------------------------------------------------------------------------


def shap_kernel(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """shap.KernelExplainer without l1 regularisation.

    shap evaluates the background (empty coalition) and the explicand (grand coalition)
    separately from its ``nsamples`` coalitions, hence ``nsamples = budget - 2``.
    """
    import shap

    d = game.n_players
    explainer = shap.KernelExplainer(zero_one_model(game), np.zeros((1, d)))
    np.random.seed(seed)  # noqa: NPY002 - KernelExplainer samples with the global RNG
    values = explainer.shap_values(np.ones((1, d)), nsamples=budget - 2, l1_reg=False, silent=True)
    return np.asarray(values, dtype=np.float64).reshape(d)


def shap_permutation(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """shap.PermutationExplainer (antithetic permutations, ``2d + 1`` evals each)."""
    import shap

    d = game.n_players
    explainer = shap.PermutationExplainer(zero_one_model(game), np.zeros((1, d)), seed=seed)
    explanation = explainer(np.ones((1, d)), max_evals=budget, silent=True)
    return np.asarray(explanation.values, dtype=np.float64).reshape(d)


# --------------------------------------------------------------------------------------
# shapiq
# --------------------------------------------------------------------------------------


def shapiq_kernel(uniform_sizes: bool) -> MethodFn:
    """shapiq KernelSHAP with the pairing trick.

    Args:
        uniform_sizes: Give every coalition size the same sampling probability (the size
            distribution of Leverage SHAP's leverage scores) instead of the Shapley-kernel
            size weights; shapiq reweights the regression by the sampling probabilities.
    """

    def fn(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        import shapiq

        d = game.n_players
        weights = np.ones(d + 1) if uniform_sizes else None
        approx = shapiq.KernelSHAP(
            n=d, pairing_trick=True, sampling_weights=weights, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = approx.approximate(min(budget, 2**d), game.game)
        return np.asarray(result.get_n_order_values(1), dtype=np.float64)

    return fn


def shapiq_permutation(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """shapiq PermutationSamplingSV."""
    import shapiq

    approx = shapiq.PermutationSamplingSV(n=game.n_players, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = approx.approximate(budget, game.game)
    return np.asarray(result.get_n_order_values(1), dtype=np.float64)


def shapiq_approximator(name: str, **options: object) -> MethodFn:
    """Any shapiq Shapley-value approximator by class name (LeverageSHAP, PolySHAP,
    OddSHAP, RegressionMSR, ProxySHAP, ShaplEIG: shapiq >= 1.8) with its defaults plus
    ``options``; ``approximate(min(budget, 2^d))``."""

    def fn(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
        import shapiq

        d = game.n_players
        approx = getattr(shapiq, name)(n=d, random_state=seed, **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = approx.approximate(min(budget, 2**d), game.game)
        return np.asarray(result.get_n_order_values(1), dtype=np.float64)

    return fn


def shap_exact(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """shap.ExactExplainer: all ``2^d`` coalitions (budget and seed unused)."""
    import shap

    d = game.n_players
    explainer = shap.ExactExplainer(zero_one_model(game), np.zeros((1, d)))
    explanation = explainer(np.ones((1, d)), max_evals=2**d + 1, silent=True)
    return np.asarray(explanation.values, dtype=np.float64).reshape(d)


# --------------------------------------------------------------------------------------
# captum
# --------------------------------------------------------------------------------------


def _captum_forward(game: BenchmarkGame) -> Callable:
    """Torch forward function ``(k, d) -> (k,)`` evaluating the game on ``z > 0.5``."""
    import torch

    def forward(z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(game.game(z.detach().cpu().numpy() > 0.5))

    return forward


def captum_kernel(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """captum KernelShap, ``n_samples = budget`` (includes the empty and grand coalitions)."""
    import torch
    from captum.attr import KernelShap

    d = game.n_players
    inputs = torch.ones(1, d, dtype=torch.float64)
    torch.manual_seed(seed)
    attr = KernelShap(_captum_forward(game)).attribute(
        inputs,
        baselines=torch.zeros_like(inputs),
        n_samples=budget,
        perturbations_per_eval=min(budget, 1024),
    )
    return attr.detach().numpy().reshape(d).astype(np.float64)


def captum_permutation(game: BenchmarkGame, budget: int, seed: int) -> np.ndarray:
    """captum ShapleyValueSampling; one permutation costs ``d`` evals plus one shared."""
    import torch
    from captum.attr import ShapleyValueSampling

    d = game.n_players
    inputs = torch.ones(1, d, dtype=torch.float64)
    torch.manual_seed(seed)
    attr = ShapleyValueSampling(_captum_forward(game)).attribute(
        inputs,
        baselines=torch.zeros_like(inputs),
        n_samples=max(1, (budget - 1) // d),
        perturbations_per_eval=d,
    )
    return attr.detach().numpy().reshape(d).astype(np.float64)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------

def _enumerable(game: BenchmarkGame, budget: int) -> bool:
    return game.n_players <= 16 and needs_full_enumeration(game, budget)


#: (method, what must import: a module or ``module.attribute``). Adding an anchor is one
#: line here; the approximators new in shapiq 1.8 are skipped under older releases.
ANCHORS: list[tuple[Method, str]] = [
    (Method("shap Kernel", shap_kernel, at_least(lambda d: d + 2)), "shap"),
    (Method("shap Permutation", shap_permutation, at_least(lambda d: 2 * d + 1)), "shap"),
    (Method("shapiq KernelSHAP", shapiq_kernel(False), at_least(lambda d: d + 2)), "shapiq"),
    (
        Method("shapiq KernelSHAP unif-size", shapiq_kernel(True), at_least(lambda d: d + 2)),
        "shapiq",
    ),
    (Method("shapiq Permutation", shapiq_permutation, at_least(lambda d: d + 2)), "shapiq"),
    (Method("shap Exact", shap_exact, _enumerable), "shap.ExactExplainer"),
    *[
        (Method(f"shapiq {name}", shapiq_approximator(name, **options),
                at_least(lambda d: d + 2)), f"shapiq.{name}")
        for name, options in [
            ("LeverageSHAP", {}), ("PolySHAP", {}), ("OddSHAP", {}),
            ("RegressionMSR", {"index": "SV"}), ("ProxySHAP", {"index": "SV", "max_order": 1}),
        ]
    ],  # fmt: skip
    (Method("captum KernelShap", captum_kernel, at_least(lambda d: d + 2)), "captum"),
    (
        Method("captum ShapleyValueSampling", captum_permutation, at_least(lambda d: d + 1)),
        "captum",
    ),
]


def _import_error(requirement: str) -> str | None:
    """Return ``None`` if ``requirement`` (``module`` or ``module.attribute``) imports,
    else a short reason."""
    module, _, attribute = requirement.partition(".")
    try:
        imported = __import__(module)
    except Exception as exc:  # noqa: BLE001 - any failure means "skip this anchor"
        return f"{type(exc).__name__}: {exc}"
    if attribute and not hasattr(imported, attribute):
        version = getattr(imported, "__version__", "?")
        return f"{module} {version} has no {attribute}"
    return None


def build_methods(include_anchors: bool = True) -> tuple[list[Method], dict[str, str]]:
    """Return the available methods and a ``name -> reason`` map of skipped ones."""
    methods: list[Method] = []
    skipped: dict[str, str] = {}
    shapkit_error = _import_error("shapkit")
    if shapkit_error is None and not hasattr(__import__("shapkit"), "shapley_values"):
        shapkit_error = "shapkit.shapley_values not available yet"
    for name, (spec, applies) in SHAPKIT_METHODS.items():
        if shapkit_error is None:
            methods.append(Method(f"shapkit {name}", shapkit_method(spec), applies))
        else:
            skipped[f"shapkit {name}"] = shapkit_error
    if not include_anchors:
        return methods, skipped
    errors: dict[str, str | None] = {}
    for method, module in ANCHORS:
        if module not in errors:
            errors[module] = _import_error(module)
        if errors[module] is None:
            methods.append(method)
        else:
            skipped[method.name] = str(errors[module])
    return methods, skipped
