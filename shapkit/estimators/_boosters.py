"""Gradient-boosted regression trees for the proxy estimators, from whichever library is
installed: LightGBM, XGBoost, or scikit-learn's HistGradientBoostingRegressor."""

from __future__ import annotations

from typing import Any

BOOSTERS = ("auto", "lightgbm", "xgboost", "sklearn")


def boosted_trees(
    booster: str,
    preference: str,
    n_trees: int,
    max_depth: int,
    learning_rate: float,
    seed: int,
    leaves: int = 31,
    min_leaf: int = 20,
) -> Any:
    """An unfitted regressor. ``booster="auto"`` takes ``preference`` ("lightgbm" or
    "xgboost") when it imports, else scikit-learn; a named library must import.
    ``leaves`` and ``min_leaf`` (LightGBM's and scikit-learn's defaults) bound the
    leaf-wise growers; XGBoost grows depth-wise and has no such bounds here."""
    library = preference if booster == "auto" else booster
    if library == "lightgbm":
        try:
            import lightgbm
        except ImportError:
            if booster == "lightgbm":
                raise
        else:
            return lightgbm.LGBMRegressor(
                n_estimators=n_trees,
                max_depth=max_depth,
                num_leaves=leaves,
                min_child_samples=min_leaf,
                learning_rate=learning_rate,
                n_jobs=1,
                verbose=-1,
                random_state=seed,
            )
    if library == "xgboost":
        try:
            import xgboost
        except ImportError:
            if booster == "xgboost":
                raise
        else:
            return xgboost.XGBRegressor(
                n_estimators=n_trees,
                max_depth=max_depth,
                learning_rate=learning_rate,
                tree_method="hist",
                base_score=0.0,
                n_jobs=1,
                random_state=seed,
            )
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=n_trees,
        max_depth=max_depth,
        max_leaf_nodes=leaves,
        min_samples_leaf=min_leaf,
        learning_rate=learning_rate,
        early_stopping=False,
        random_state=seed,
    )
