"""A griffe extension for the API reference (mkdocs.yml): read shapkit's ``Example``
docstring sections as numpydoc ``Examples`` sections.

shapkit's docstrings head their one example ``Example`` / ``-------``; the numpy parser
knows only ``Examples`` and would show the doctest as quoted text (and try to resolve
output such as ``['x1', 'x0']`` as a cross-reference). Renaming the sections in shapkit
makes this file unnecessary.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^Example\n-{7}$", flags=re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename each ``Example`` section heading to ``Examples`` before parsing."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and "Example\n" in docstring.value:
            docstring.value = _EXAMPLE_HEADING.sub("Examples\n--------", docstring.value)
