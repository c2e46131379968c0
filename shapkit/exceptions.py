"""Exceptions raised by shapkit.

Every error names what was wrong and what to do about it. They subclass the
built-in exception a user would expect (``ValueError`` for bad values,
``TypeError`` for bad types), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "BackgroundRequiredError",
    "ExplanationFileError",
    "ExplanationFileNotFoundError",
    "ExplanationIsADirectoryError",
    "GameOutputError",
    "InfeasibleRequestError",
    "ModelCallError",
    "ModelOutputError",
    "TooManyPlayersError",
]


class BackgroundRequiredError(ValueError):
    """An explainer was made without background rows for a model that needs them (only
    tree models on the tree path can go without: path-dependent TreeSHAP)."""


class GameOutputError(ValueError):
    """A game returned values of the wrong shape, type or with non-finite entries."""


class ModelOutputError(ValueError):
    """A model returned the wrong number of rows, a bad shape or non-finite values."""


class ModelCallError(RuntimeError):
    """The model raised an exception on the masked rows shapkit handed it.

    The original exception is chained as ``__cause__``.
    """


class TooManyPlayersError(ValueError):
    """The requested estimator cannot handle this many players (e.g. exact with d > 20)."""


class InfeasibleRequestError(ValueError):
    """A request that cannot run: it needs more memory than is available, or more game
    evaluations than days of work allow. Raised before any work, with the largest budget
    that fits where there is one."""


class ExplanationFileError(ValueError):
    """An explanation file cannot be read or written: not a shapkit file, damaged or cut
    off, metadata that is not shapkit's, arrays whose shapes disagree with the names, a
    suffix other than ``.npz``/``.parquet``. The message names the file and what is
    wrong; the underlying error, if any, is chained as ``__cause__``."""


class ExplanationFileNotFoundError(ExplanationFileError, FileNotFoundError):
    """No file at the path to load, or no folder for the path to save to. Also a
    ``FileNotFoundError``, so both ``except`` clauses catch it."""


class ExplanationIsADirectoryError(ExplanationFileError, IsADirectoryError):
    """A directory was given where an explanation file is expected. Also an
    ``IsADirectoryError``."""
