"""Packaging: lazy imports, the console script and the demo."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from shapkit.cli import main


def test_import_is_lazy():
    code = (
        "import sys, shapkit; "
        "heavy = [m for m in ('numba', 'pandas', 'sklearn', 'torch', 'matplotlib', 'shap', 'dask')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_and_version(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_writes_values_that_add_up(tmp_path, capsys):
    assert main(["demo", "--rows", "3", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Global importance" in printed and "area" in printed
    frame = pd.read_csv(tmp_path / "values.csv")
    assert set(frame.columns) == {
        "row",
        "feature",
        "output",
        "feature_value",
        "shap_value",
        "std_error",
    }
    assert frame.feature.nunique() == 10 and frame.row.nunique() == 3
    assert set(frame.output) == {"benign", "malignant"}
    # binary probabilities: the two classes' values are opposite
    wide = frame.pivot_table(index=["row", "feature"], columns="output", values="shap_value")
    np.testing.assert_allclose(wide["benign"], -wide["malignant"], atol=1e-12)


def test_demo_rejects_bad_row_count(capsys):
    assert main(["demo", "--rows", "0"]) == 2
    assert "--rows" in capsys.readouterr().err
