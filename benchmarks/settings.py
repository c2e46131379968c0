"""What every section of ``python -m benchmarks.run`` is given: the sizes (``Settings``,
shrunk by ``--quick``) and the run's context (``Context``: options, methods, and the
skipped games and methods each section adds to)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from benchmarks.methods import Method


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of every section; ``--quick`` shrinks them."""

    explicands: int
    seeds: int
    speed_rows: int
    speed_repeats: int
    target_explicands: int
    target_seeds: int
    target_grid: tuple[int, ...]
    coldstart_methods: tuple[str, ...]
    quiet_wait: float


@dataclasses.dataclass
class Context:
    """One run of the harness as the sections see it.

    ``games``: only these games in the accuracy section (None: all); ``speed_threads``: the
    ``--speed-threads`` values as given (None: the default, one thread); ``skipped``: games
    and methods left out, with the reason, in the order they were met (sections add theirs).
    """

    settings: Settings
    quick: bool
    games: Sequence[str] | None
    speed_threads: Sequence[str] | None
    methods: list[Method]
    skipped: dict[str, str]
