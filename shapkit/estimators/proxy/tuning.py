"""Every measured setting of the proxy estimator, one line each; the measurements behind
them are in docs/proxy.md ("Design notes").
"""

from __future__ import annotations

#: Below this many evaluations per player the proxy returns the kernel estimate (its trees
#: and Gaussian process need the units); ``method="auto"`` picks the proxy from here.
MIN_EVALS_PER_PLAYER = 10
#: With ``tol``: the share of the budget spent before the first convergence check.
FIRST_ROUND = 0.25
#: The interaction trees: LightGBM's leaf bounds, 100 trees of depth 10 (Fumagalli et al.).
PROXY_LEAVES, PROXY_MIN_LEAF, N_TREES, MAX_DEPTH, LEARNING_RATE = 31, 20, 100, 10, 0.1
#: Share of the additive least-squares fit removed before the trees (errors 5-25% lower).
LINEAR_SHARE = 0.8
#: Interactions per evaluation, per player at most, and in all at most (the regression).
TERMS_PER_EVAL, TERMS_PER_PLAYER, MAX_TERMS = 0.2, 10, 1000
#: The Gaussian process runs from 2 d up to this many sampled units (cubic: 8 s, 1.3 GB).
GP_MAX_UNITS = 4000
#: REML fits the process's variances on at most this many units (more added nothing).
HYPER_UNITS = 800
#: Beyond the process's range: ridge penalty on the interactions, relative to the weights.
RIDGE = 0.1
#: Beyond the process's range: interactions only where the additive fit explains this.
MIN_ADDITIVE_SHARE = 0.9
#: The greedy design: candidates per unit, its range of units and share of the game's.
DESIGN_POOL, DESIGN_MAX_UNITS, DESIGN_MAX_SHARE = 4.0, 1000, 0.5
#: The greedy design: share of each round's units drawn at random before the picks.
DESIGN_RANDOM_SHARE = 0.5
#: The greedy design uses the REML prior from this many units per player on.
DESIGN_REML_UNITS = 4
#: The greedy design's default prior: ``eta = DESIGN_ETA / d`` per dividend.
DESIGN_ETA = 1.0
#: The greedy design's default prior: the trees' terms' variance relative to the dividends'.
TERM_VARIANCE = 1.0
#: The greedy design: the terms' weight is capped here (round-off of the linear part).
MAX_TERM_WEIGHT = 100.0
