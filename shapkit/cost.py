"""What a request costs before it runs: game evaluations, model rows and peak memory.

:func:`estimate_cost` is the one estimate every entry point uses (``shapley_values``,
``Explainer``, and later ``method="auto"`` and progress messages);
:func:`check_feasible` turns it into a refusal, before any work, of a request that
cannot fit in memory or would run for days, with an error naming the largest budget that
fits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .estimators.base import Estimator
from .exceptions import InfeasibleRequestError

#: More game evaluations per game than this, without ``tol`` to stop early, is days of
#: work for any model (a game evaluation is at least a model call per background row).
MAX_EVALUATIONS_WITHOUT_TOL = 10**9
#: Share of the memory available now that a request may plan to use.
MEMORY_SHARE = 0.9


@dataclass(frozen=True)
class CostEstimate:
    """The cost of explaining ``n_rows`` rows (or one game) with an estimator.

    Attributes
    ----------
    method : str
        The estimator's name.
    n_players : int
        Players per game.
    budget : int or None
        The budget asked for (None: the estimator's default).
    tol : float or None
        The stopping tolerance (None: the budget is spent in full).
    evaluations_per_row : int
        Most game evaluations (coalitions) per explained row (per game).
    n_rows : int
        Explained rows (games).
    n_background : int
        Background rows each game evaluation averages over (1 for a plain game).
    n_outputs : int
        Model or game outputs.
    model_rows : int
        Most rows handed to the model in all: rows x evaluations x background rows.
    peak_bytes : int
        Peak memory of one worker: the estimator's state at the full budget, the
        masked rows and outputs of one model call, and the data.
    n_workers : int
        Worker processes, each holding ``peak_bytes``.
    """

    method: str
    n_players: int
    budget: int | None
    tol: float | None
    evaluations_per_row: int
    n_rows: int
    n_background: int
    n_outputs: int
    model_rows: int
    peak_bytes: int
    n_workers: int = 1
    seconds_per_row: float | None = None
    seconds: float | None = None

    @property
    def total_bytes(self) -> int:
        """Peak memory of all workers together."""
        return self.peak_bytes * self.n_workers

    def describe(self) -> str:
        """One line: rows, method, evaluations and model rows, memory, and (when timed)
        the projected wall time.

        Examples
        --------
        >>> from shapkit.estimators import KernelEstimator
        >>> cost = estimate_cost(KernelEstimator(), 10, 512, None, n_rows=200, n_background=100)
        >>> cost.describe().split(";")[0]
        '200 rows, method kernel: at most 512 evaluations x 100 background rows per row =
        10.2 million model rows'
        """
        rows = f"{self.n_rows:,} row{'s' if self.n_rows != 1 else ''}, method {self.method}"
        if self.evaluations_per_row:
            work = (
                f"at most {self.evaluations_per_row:,} evaluations x {self.n_background:,} "
                f"background rows per row = {_count(self.model_rows)} model rows"
            )
        else:
            work = "a closed form (no game evaluations)"
        text = f"{rows}: {work}; peak memory about {_bytes(self.total_bytes)}"
        if self.seconds is not None and self.seconds_per_row is not None:
            workers = f" on {self.n_workers} workers" if self.n_workers > 1 else ""
            text += (
                f"; about {_duration(self.seconds)}{workers} "
                f"({_duration(self.seconds_per_row)} per row, measured)"
            )
        return text


def estimate_cost(
    estimator: Estimator,
    n_players: int,
    budget: int | None,
    tol: float | None,
    *,
    n_rows: int = 1,
    n_background: int = 1,
    n_columns: int | None = None,
    n_outputs: int = 1,
    rows_per_call: int = 0,
    data_bytes: int = 0,
    n_workers: int = 1,
) -> CostEstimate:
    """The cost of ``estimator`` on ``n_rows`` games of ``n_players`` players.

    Parameters
    ----------
    estimator : Estimator
        A resolved estimator (``get_estimator``), which states its own evaluations and
        memory (:meth:`Estimator.max_evaluations`, :meth:`Estimator.state_bytes`).
    n_players, budget, tol
        As given to the estimator.
    n_rows, n_background, n_columns, n_outputs
        Explained rows, background rows, data columns (default: one per player) and
        model outputs.
    rows_per_call : int
        Masked rows per model call (0 for a plain game).
    data_bytes : int
        Memory of X and the background as the workers hold them.
    n_workers : int
        Worker processes.

    Examples
    --------
    >>> from shapkit.estimators import KernelEstimator
    >>> cost = estimate_cost(KernelEstimator(), 50, 10**12, None)
    >>> cost.evaluations_per_row, cost.peak_bytes > 10**14
    (1000000000000, True)
    """
    columns = n_players if n_columns is None else n_columns
    evaluations = estimator.max_evaluations(n_players, budget)
    call_bytes = rows_per_call * (8 * columns + 8 * n_outputs) * 2
    peak = estimator.state_bytes(n_players, budget, n_outputs) + call_bytes + data_bytes
    return CostEstimate(
        method=estimator.name,
        n_players=n_players,
        budget=budget,
        tol=tol,
        evaluations_per_row=evaluations,
        n_rows=n_rows,
        n_background=n_background,
        n_outputs=n_outputs,
        model_rows=n_rows * evaluations * n_background,
        peak_bytes=int(peak),
        n_workers=n_workers,
    )


def available_memory() -> int:
    """Bytes this process may still use: the smaller of the memory available now
    (``MemAvailable`` on Linux, else the physical memory) and the control group's limit."""
    limits = []
    meminfo = Path("/proc/meminfo")
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (AttributeError, ValueError, OSError):
            pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    return min(limits) if limits else 1 << 62


def check_feasible(
    cost: CostEstimate, estimator: Estimator, available: int | None = None
) -> CostEstimate:
    """``cost`` unchanged, or an :class:`~shapkit.exceptions.InfeasibleRequestError`
    before any work when the request cannot fit in memory (naming the largest budget
    that fits) or, without ``tol``, needs more than
    :data:`MAX_EVALUATIONS_WITHOUT_TOL` game evaluations per game (days of work)."""
    available = available_memory() if available is None else available
    usable = MEMORY_SHARE * available
    if cost.total_bytes > usable:
        state = estimator.state_bytes(cost.n_players, cost.budget, cost.n_outputs)
        fixed = cost.total_bytes - state * cost.n_workers
        largest = _largest_budget(estimator, cost, usable, fixed)
        workers = f" in each of {cost.n_workers} workers" if cost.n_workers > 1 else ""
        advice = (
            f"the largest budget that fits is about {largest:,}"
            if largest
            else "no budget fits: reduce the number of players (feature groups)"
        )
        raise InfeasibleRequestError(
            f"method={cost.method!r} with {cost.n_players} players and budget="
            f"{_show(cost.budget)} needs about {_bytes(cost.peak_bytes)} of memory"
            f"{workers}, but {_bytes(available)} is available; {advice}"
            + (", or use fewer workers (n_jobs)." if cost.n_workers > 1 else ".")
        )
    if cost.tol is None and cost.evaluations_per_row > MAX_EVALUATIONS_WITHOUT_TOL:
        raise InfeasibleRequestError(
            f"budget={_show(cost.budget)} asks for {cost.evaluations_per_row:.2e} game "
            f"evaluations per {'row' if cost.n_background > 1 else 'game'}: days of work "
            f"for any model. Pass tol= (e.g. 0.01) to stop once the standard errors are "
            f"small, or a budget of at most {MAX_EVALUATIONS_WITHOUT_TOL:,}."
        )
    return cost


def _largest_budget(estimator: Estimator, cost: CostEstimate, usable: float, fixed: int) -> int:
    """The largest budget whose state fits ``usable`` bytes beside ``fixed`` (bisection;
    0 when even the smallest does not fit)."""
    d, k, workers = cost.n_players, cost.n_outputs, cost.n_workers

    def fits(budget: int) -> bool:
        return fixed + workers * estimator.state_bytes(d, budget, k) <= usable

    low = max(d + 2, 4)
    if not fits(low):
        return 0
    high = low
    while fits(high * 2) and high < 1 << 62:
        high *= 2
    high *= 2
    while high - low > max(1, low // 1000):
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    magnitude = 10 ** max(len(str(low)) - 3, 0)  # three significant digits, rounded down
    return low // magnitude * magnitude


def _count(n: int) -> str:
    for size, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if n >= size:
            return f"{n / size:.1f} {word}"
    return f"{n:,}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _show(budget: int | None) -> str:
    if budget is None:
        return "None"
    return f"{budget:.0e}" if budget >= 10**7 else f"{budget:,}"


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.0f} EB"
