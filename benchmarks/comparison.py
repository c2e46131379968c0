"""shapkit's samplers against the anchors: paired differences of errors over runs matched
by explicand and seed, win / tie / loss verdicts, and the best-anchor table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.metrics import mean_and_se
from benchmarks.report import fmt_pm

SHAPKIT_SAMPLERS = ("shapkit kernel", "shapkit kernel (kernel sizes)", "shapkit permutation")

#: Anchor families for like-for-like comparisons (by method-name prefix).
KERNEL_ANCHORS = ("shap Kernel", "shapiq KernelSHAP", "captum KernelShap")
PERMUTATION_ANCHORS = ("shap Permutation", "shapiq Permutation", "captum ShapleyValueSampling")


def paired_difference(raw: pd.DataFrame, a: str, b: str) -> tuple[float, float]:
    """Mean and standard error of ``err_a - err_b`` over runs matched by explicand and seed."""
    keys = ["explicand", "seed"]
    left = raw[raw["method"] == a].set_index(keys)["rel_l2"]
    right = raw[raw["method"] == b].set_index(keys)["rel_l2"]
    diff = (left - right).dropna()
    return mean_and_se(diff.to_numpy())


def verdict(mean_a: float, mean_b: float, diff: float, diff_se: float) -> str:
    """win / tie / loss of a against b: a tie when the paired difference is within 2 SE or
    both are exact to 1e-5; a loss when only b is exact."""
    if max(mean_a, mean_b) < 1e-5:
        return "tie (both exact)"
    if mean_b < 1e-5:
        return "loss (anchor exact)"
    if abs(diff) <= 2 * diff_se:
        return "tie"
    return "win" if diff < 0 else "loss"


def _against(runs: pd.DataFrame, name: str, mean: float, anchors: pd.DataFrame) -> tuple[str, str]:
    """``("anchor: mean ± se", "ratio, verdict")`` of shapkit sampler ``name`` against the
    best of ``anchors`` (empty strings when there is none)."""
    anchors = anchors[anchors["rel_l2"].notna()]
    if anchors.empty:
        return "", ""
    best = anchors.loc[anchors["rel_l2"].idxmin()]
    diff, diff_se = paired_difference(runs, name, best["method"])
    ratio = "-" if best["rel_l2"] < 1e-5 else f"{mean / best['rel_l2']:.2f}x"
    return (
        f"{best['method']}: {fmt_pm(best['rel_l2'], best['rel_l2_se'])}",
        f"{ratio}, {verdict(mean, best['rel_l2'], diff, diff_se)}",
    )


def compare(raw: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Each shapkit sampler against the best anchor of each (game, budget), overall and
    within its family (kernel-type anchors for shapkit's kernel estimators,
    permutation-type anchors for its permutation estimator).

    The best anchor is the one with the lowest mean relative error; ``ratio`` is shapkit's
    mean error over the anchor's, and the verdict comes from the paired difference of
    errors over runs matched by explicand and seed (``tie`` within 2 standard errors).
    """
    rows = []
    for (game, _, budget), sub in table.groupby(["game", "d", "budget"], sort=False):
        runs = raw[(raw["game"] == game) & (raw["budget"] == budget)]
        anchors = sub[~sub["method"].str.startswith("shapkit")]
        for name in SHAPKIT_SAMPLERS:
            mine = sub[sub["method"] == name]
            if mine.empty or np.isnan(mine["rel_l2"].iloc[0]):
                continue
            mean, se = mine["rel_l2"].iloc[0], mine["rel_l2_se"].iloc[0]
            family = PERMUTATION_ANCHORS if "permutation" in name else KERNEL_ANCHORS
            same = anchors[anchors["method"].str.startswith(family)]
            best_any, vs_any = _against(runs, name, mean, anchors)
            best_same, vs_same = _against(runs, name, mean, same)
            rows.append(
                {
                    "game": game,
                    "budget": budget,
                    "shapkit": name.removeprefix("shapkit "),
                    "rel_l2 (mean ± se)": fmt_pm(mean, se),
                    "best anchor": best_any,
                    "vs best": vs_any,
                    "best same-family anchor": best_same,
                    "vs same-family": vs_same,
                }
            )
    return pd.DataFrame(rows)
