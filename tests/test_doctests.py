"""The examples in the docstrings of shapkit's modules run and print what they show."""

import doctest
import importlib
import pkgutil
import warnings

import pytest

import shapkit

#: Entry points whose import runs or arms the command line: no docstring examples there.
ENTRY_POINTS = {"shapkit.__main__", "shapkit._console"}


def _modules() -> list[str]:
    names = (m.name for m in pkgutil.walk_packages(shapkit.__path__, "shapkit."))
    return sorted(name for name in names if name not in ENTRY_POINTS)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    if name == "shapkit.models.torch":
        pytest.importorskip("torch")
    if name == "shapkit.models.boosters":
        pytest.importorskip("xgboost")
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False
        )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
