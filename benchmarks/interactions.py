"""Interaction values at equal budget: shapkit's interaction proxy against shapiq.

Games with exact values by enumeration (``shapkit.interaction_values(method="exact")``,
equal to shapiq's ExactComputer): the marginal games (30 background rows) of two
explained rows of an MLP on diabetes (d = 10) and of a random forest on friedman1
(d = 12), and two sums of unanimity games (orders 1-4; d = 12 and 14). For k-SII and SII
at budgets of 10 d and 30 d evaluations, every approximator of shapiq that computes the
index (KernelSHAPIQ, InconsistentKernelSHAPIQ, SVARMIQ, SHAPIQ, PermutationSamplingSII,
ProxySHAP; ProxySPEX with ``--proxyspex``, its default hyperparameter search takes
minutes per call) and ``shapkit.interaction_values(method="proxy")`` run on the same
game, over ``--seeds`` seeds. Error: the relative L2 error over all order-1 and order-2
terms, averaged over seeds and rows; coverage: the share of exact terms inside shapkit's
95% intervals; times are per call, game evaluations included. Needs Python >= 3.12 with
shapiq 1.8 (docs/benchmarks.md says how to build that environment); without shapiq it
measures shapkit alone. The table goes between the INTERACTIONS markers of
docs/benchmarks.md.

Usage: ``python -m benchmarks.interactions [--seeds N] [--proxyspex] [--no-write]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .machine import machine_description
from .report import publish

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- INTERACTIONS:BEGIN -->", "<!-- INTERACTIONS:END -->"
SHAPIQ = ("KernelSHAPIQ", "InconsistentKernelSHAPIQ", "SVARMIQ", "SHAPIQ",
          "PermutationSamplingSII", "ProxySHAP")  # fmt: skip
#: Its default hyperparameter search takes minutes per call: only with --proxyspex.
SLOW = ("ProxySPEX",)
Game = Callable[[np.ndarray], np.ndarray]


def marginal_game(predict: Callable, x: np.ndarray, background: np.ndarray) -> Game:
    d = x.shape[0]

    def game(S: np.ndarray) -> np.ndarray:
        S = np.asarray(S, dtype=bool)
        rows = np.where(S[:, None, :], x[None, None, :], background[None, :, :])
        return predict(rows.reshape(-1, d)).reshape(len(S), len(background)).mean(axis=1)

    return game


def unanimity_game(d: int, n_terms: int, seed: int) -> Game:
    rng = np.random.default_rng(seed)
    terms = [rng.choice(d, int(rng.integers(1, 5)), replace=False) for _ in range(n_terms)]
    coef = rng.normal(size=n_terms)

    def game(S: np.ndarray) -> np.ndarray:
        S = np.asarray(S, dtype=bool)
        return sum(c * S[:, t].all(axis=1) for c, t in zip(coef, terms, strict=True)) * 1.0

    return game


def games() -> list[tuple[str, int, list[Game]]]:
    """(name, d, the games of its explained rows)."""
    from sklearn.datasets import load_diabetes, make_friedman1
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    mlp = MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=600, random_state=0)
    mlp.fit(X, (y - y.mean()) / y.std())
    bg = X[rng.choice(len(X), 30, replace=False)]
    mlp_games = [marginal_game(mlp.predict, X[r], bg) for r in (0, 1)]
    Xf, yf = make_friedman1(400, n_features=12, random_state=0)
    forest = RandomForestRegressor(50, max_depth=8, random_state=0).fit(Xf, yf)
    bgf = Xf[rng.choice(len(Xf), 30, replace=False)]
    forest_games = [marginal_game(forest.predict, Xf[r], bgf) for r in (0, 3)]
    return [
        ("MLP 64x64, diabetes", 10, mlp_games),
        ("random forest, friedman1", 12, forest_games),
        ("unanimity sum, 20 terms", 12, [unanimity_game(12, 20, 0)]),
        ("unanimity sum, 30 terms", 14, [unanimity_game(14, 30, 1)]),
    ]


def flat(main: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(main.shape[0], 1)
    return np.concatenate([main, pairs[i, j]])


def shapiq_terms(name: str, d: int, index: str, budget: int, game: Game, seed: int):
    import shapiq.approximator as A

    cls = getattr(A, name)
    if name in ("ProxySHAP",):
        approx = cls(d, max_order=2, index=index, random_state=seed)
    elif name == "ProxySPEX":
        approx = cls(n=d, max_order=2, index=index, random_state=seed)
    else:
        approx = cls(d, 2, index, random_state=seed)
    iv = approx.approximate(budget, lambda Z: game(np.asarray(Z, dtype=bool)))
    main = np.array([iv[(i,)] for i in range(d)])
    pairs = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            pairs[i, j] = pairs[j, i] = iv[(i, j)]
    return flat(main, pairs)


def run(seeds: int, anchors: tuple[str, ...]) -> list[dict]:
    import shapkit

    results = []
    for name, d, row_games in games():
        for index in ("k-SII", "SII"):
            truths = []
            for g in row_games:
                exact = shapkit.interaction_values(g, d, index=index, method="exact")
                truths.append(flat(exact.main, exact.pairs))
            for mult in (10, 30):
                budget = mult * d
                cell = {"game": name, "d": d, "index": index, "budget": budget}
                errs, cover, secs = [], [], []
                for g, truth in zip(row_games, truths, strict=True):
                    for seed in range(seeds):
                        t = time.perf_counter()
                        r = shapkit.interaction_values(g, d, index=index, method="proxy",
                                                       budget=budget, seed=seed)  # fmt: skip
                        secs.append(time.perf_counter() - t)
                        est = flat(r.main, r.pairs)
                        se = flat(r.main_std_errors, r.pair_std_errors)
                        errs.append(np.linalg.norm(est - truth) / np.linalg.norm(truth))
                        cover.append(np.mean(np.abs(est - truth) <= 1.96 * se + 1e-12))
                cell["shapkit"] = (float(np.mean(errs)), float(np.mean(secs)))
                cell["coverage"] = float(np.mean(cover))
                for approx in anchors:
                    errs, secs = [], []
                    try:
                        for g, truth in zip(row_games, truths, strict=True):
                            for seed in range(seeds):
                                t = time.perf_counter()
                                est = shapiq_terms(approx, d, index, budget, g, seed)
                                secs.append(time.perf_counter() - t)
                                errs.append(np.linalg.norm(est - truth) / np.linalg.norm(truth))
                        cell[approx] = (float(np.mean(errs)), float(np.mean(secs)))
                    except Exception as exc:  # noqa: BLE001 - a failing anchor is reported
                        cell[approx] = (np.nan, np.nan, type(exc).__name__)
                results.append(cell)
                print(cell, flush=True)
    return results


def table(results: list[dict], anchors: tuple[str, ...]) -> str:
    head = "| game | d | index | budget | shapkit proxy | 95% coverage |"
    rule = "|---|---|---|---|---|---|"
    if anchors:
        head += " best shapiq | shapkit / best | " + " | ".join(anchors) + " |"
        rule += "---|---|" + "---|" * len(anchors)
    lines = [head, rule]
    for c in results:
        err, sec = c["shapkit"]
        line = (f"| {c['game']} | {c['d']} | {c['index']} | {c['budget']} | {err:.4f} "
                f"({sec:.2f} s) | {c['coverage']:.2f} |")  # fmt: skip
        if anchors:
            finite = {a: c[a][0] for a in anchors if np.isfinite(c[a][0])}
            best = min(finite, key=finite.get) if finite else None
            if best is None:
                line += " - | - |"
            else:
                line += (f" {best} {finite[best]:.4f} ({c[best][1]:.2f} s) | "
                         f"**{err / finite[best]:.2f}x** |")  # fmt: skip
            for a in anchors:
                line += f" {c[a][0]:.3f} |" if np.isfinite(c[a][0]) else f" failed ({c[a][2]}) |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--proxyspex", action="store_true", help="also run ProxySPEX")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    try:
        import shapiq

        anchors, version = SHAPIQ + (SLOW if args.proxyspex else ()), shapiq.__version__
    except ImportError:
        anchors, version = (), "not installed"
    started = time.perf_counter()
    results = run(args.seeds, anchors)
    machine = machine_description()
    command = " ".join(["python -m benchmarks.interactions", *sys.argv[1:]])
    text = (
        f"`{command}` ({time.perf_counter() - started:.0f} s in all; {machine['CPU']}, "
        f"{machine['cores (usable)']} cores, Python {machine['python']}, shapiq {version}, "
        f"git {machine['git']}). Relative L2 error over all order-1 and order-2 terms, "
        f"mean over {args.seeds} seeds and the explained rows (2 per model game); time per "
        f"call with the game's evaluations; coverage: exact terms inside shapkit's 95% "
        f"intervals; a shapiq approximator that raised is named with its error.\n\n"
        f"{table(results, anchors)}\n"
    )
    publish(text, DOC, BEGIN, END, write=not args.no_write)


if __name__ == "__main__":
    main()
