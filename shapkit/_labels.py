"""Labels of players and outputs: one matching rule and one output resolver for every caller.

Labels keep their type (class labels ``0, 1, 2`` stay ints, ``True`` stays a bool), so
matching must not lean on Python's ``==`` alone, where ``True == 1`` and ``1.0 == 1``:

* a bool matches only a bool (``True`` is not the class ``1``);
* a number (int or float, numpy scalars included) matches a number of equal value
  (``2`` selects the float class ``2.0``, as in pandas);
* a str matches only a str (``"1"`` is not ``1``), a tuple only a tuple of matching items.

Outputs are selected by label only; positions go through an explicit argument
(``output_position=``, :meth:`shapkit.Explanation.output_at`), so the same int never
means a label for one model and a position for another.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

#: How many labels an error message lists before "...".
PREVIEW = 10


def label_kind(label: Any) -> str:
    """``"bool"``, ``"number"``, ``"str"``, ``"tuple"`` or ``"other"``: labels match only
    within their kind."""
    if isinstance(label, (bool, np.bool_)):
        return "bool"
    if isinstance(label, numbers.Number):
        return "number"
    if isinstance(label, str):
        return "str"
    if isinstance(label, tuple):
        return "tuple"
    return "other"


def same_label(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` name the same player or output (see the module rule)."""
    kind = label_kind(a)
    if kind != label_kind(b):
        return False
    if kind == "tuple":
        return len(a) == len(b) and all(same_label(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def plain(label: Any) -> Any:
    """A numpy scalar as the Python scalar it holds; other labels unchanged."""
    return label.item() if isinstance(label, np.generic) else label


def preview(labels: Sequence[Any], limit: int = PREVIEW) -> str:
    """``[a, b, c]``, or the first ``limit`` labels and how many there are."""
    labels = [plain(label) for label in labels]
    if len(labels) <= limit:
        return repr(labels)
    shown = ", ".join(repr(label) for label in labels[:limit])
    return f"[{shown}, ...] ({len(labels)} in all)"


def label_positions(labels: Sequence[Any], key: Any) -> list[int]:
    """The positions of the labels that match ``key``."""
    return [position for position, label in enumerate(labels) if same_label(label, key)]


def output_index(
    output_names: Sequence[Any],
    output: Any = None,
    output_position: Any = None,
    n_outputs: int | None = None,
) -> int | None:
    """The position of the output chosen by its label (``output``) or by its position
    (``output_position``); None when neither is given.

    Parameters
    ----------
    output_names : sequence
        The outputs' labels.
    output : label, optional
        Matched by :func:`same_label`: an int is a label, never a position.
    output_position : int, optional
        0 for the first output, -1 for the last.
    n_outputs : int, optional
        How many outputs there are (default: ``len(output_names)``).

    Raises
    ------
    ValueError
        Both ``output`` and ``output_position`` given.
    KeyError
        No label matches ``output``, or several do.
    TypeError, IndexError
        ``output_position`` is not an int, or out of range.

    Examples
    --------
    >>> output_index([1, 2, 3], 2), output_index([1, 2, 3], output_position=0)
    (1, 0)
    """
    if output is not None and output_position is not None:
        raise ValueError(
            f"Pass output= (a label) or output_position= (a position), not both; got "
            f"output={output!r} and output_position={output_position!r}."
        )
    if output_position is not None:
        size = len(output_names) if n_outputs is None else n_outputs
        return check_position(output_position, size)
    if output is None:
        return None
    return output_label_position(output_names, output)


def check_position(position: Any, size: int, what: str = "output") -> int:
    """``position`` (an int, negative from the end) as a position in ``range(size)``."""
    if isinstance(position, (bool, np.bool_)) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"{what}_position={position!r}: pass an int, e.g. 0 for the first {what}.")
    position = int(position)
    if not -size <= position < size:
        raise IndexError(f"The {what} position {position} is out of range for {size} {what}s.")
    return position % size


def output_label_position(output_names: Sequence[Any], output: Any) -> int:
    """The position of the output labelled ``output``; a KeyError that says how to select
    by position when no label (or more than one) matches."""
    matches = label_positions(output_names, output)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise KeyError(
            f"Output {output!r} matches {len(matches)} outputs (positions {matches}: "
            f"{[plain(output_names[k]) for k in matches]}); select one by position with "
            f"output_position= (or expl.output_at(position))."
        )
    message = f"Unknown output {output!r}; the outputs are {preview(output_names)}."
    close = [
        name
        for name in output_names
        if label_kind(name) != label_kind(output) and _loosely_equal(name, output)
    ]
    if close:
        message += (
            f" {output!r} ({label_kind(output)}) is not the label {plain(close[0])!r} "
            f"({label_kind(close[0])}): labels match only within their type."
        )
    if label_kind(output) == "number" and isinstance(output, (int, np.integer)):
        message += (
            f" Outputs are selected by label, never by position: for the output at position "
            f"{int(output)} use expl.output_at({int(output)}), or output_position={int(output)} "
            f"in summary and the plots."
        )
    raise KeyError(message)


def _loosely_equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or str(plain(a)) == str(plain(b))
    except (TypeError, ValueError):
        return False


def first_str_collision(labels: Sequence[Any]) -> tuple[Any, Any] | None:
    """The first two labels that read the same after ``str()`` (``1`` and ``"1"``, or a
    label given twice), else None."""
    seen: dict[str, Any] = {}
    for label in labels:
        text = str(label)
        if text in seen:
            return seen[text], label
        seen[text] = label
    return None
