"""One list of methods (shapkit.methods) feeds the estimators registry, the command line,
the docstrings and the docs."""

from __future__ import annotations

from pathlib import Path

import shapkit
from shapkit.cli import build_parser
from shapkit.estimators import ESTIMATORS, METHODS
from shapkit.methods import ALL_METHODS, GAME_METHODS, MODEL_METHODS

ROOT = Path(__file__).resolve().parents[1]


def test_the_registry_and_the_list_agree():
    assert set(GAME_METHODS) == {"auto", *ESTIMATORS} and tuple(METHODS) == GAME_METHODS
    assert ALL_METHODS == (*GAME_METHODS, *MODEL_METHODS)


def test_the_command_line_offers_every_method():
    explain = build_parser()._subparsers._group_actions[0].choices["explain"]
    method = next(a for a in explain._actions if "--method" in a.option_strings)
    assert list(method.choices) == list(ALL_METHODS)


def test_docstrings_and_docs_name_every_method():
    for name in ALL_METHODS:
        assert f'"{name}"' in shapkit.Explainer.__doc__, name
        assert f"`{name}`" in (ROOT / "docs" / "api.md").read_text() or (
            f'"{name}"' in (ROOT / "docs" / "api.md").read_text()
        ), name
    for name in GAME_METHODS:
        assert f'"{name}"' in shapkit.shapley_values.__doc__, name
