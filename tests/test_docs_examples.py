"""The guides' Python blocks run, top to bottom, as a reader would run them: every
```python block of docs/coming_from_shap.md, howto.md, interactions.md and sage.md, in one
namespace per page."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = [
    pytest.param("coming_from_shap.md", marks=pytest.mark.slow),  # ~5 s; CI runs it
    "howto.md",
    "interactions.md",
    "sage.md",
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_guide_blocks_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    blocks = python_blocks(page)
    assert len(blocks) >= 3, f"{page} lost its examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.removesuffix('.md')}"}
    printed = io.StringIO()
    for number, block in enumerate(blocks, start=1):
        with contextlib.redirect_stdout(printed):
            try:
                exec(compile(block, f"{page}, block {number}", "exec"), namespace)
            except Exception as error:  # noqa: BLE001 - name the block that failed
                raise AssertionError(f"{page}, Python block {number} failed: {error!r}") from error
    assert printed.getvalue().strip(), f"{page}: the examples printed nothing"
