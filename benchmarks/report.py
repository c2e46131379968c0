"""Writing results: markdown tables, the console tables, and the report file
(``docs/benchmarks.md``) with the sections other benchmark scripts wrote kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Headings the harness (``python -m benchmarks.run``) writes (or wrote before); other "## "
#: sections of the report file, such as those other benchmark scripts append, are kept when
#: the report is rewritten.
OWN_HEADINGS = ("## Machine", "## Methodology", "## Results", "## Skipped", "## 1. ", "## 2. ")
OWN_HEADINGS += ("## 3. ", "## 4. ", "## The published benchmark")
#: Kept sections that lead the page, before the harness's own (the headline tables).
LEAD_HEADINGS = ("## Time to accuracy against",)
PUBLISHED = (
    "## The published benchmark: shap 0.51, shapiq 1.4 and captum 0.9 (Python 3.11)\n\n"
    "Sections 1-4 below, written by `python -m benchmarks.run`.\n"
)


def fmt_pm(mean: float, se: float) -> str:
    """``mean ± se`` with 3 significant digits for the mean and 2 for the SE."""
    if np.isnan(mean):
        return ""
    return f"{mean:.3g} ± {se:.2g}"


def format_cell(value: object) -> str:
    """Render one table cell for markdown."""
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """Minimal markdown table (pandas' ``to_markdown`` would need ``tabulate``)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(format_cell(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def print_frame(frame: pd.DataFrame) -> None:
    """Print a table to the console (3 significant digits, every row)."""
    with pd.option_context(
        "display.width", 250, "display.max_rows", None, "display.float_format", "{:.3g}".format
    ):
        print(frame.to_string(index=False), flush=True)


def skipped_section(skipped: dict[str, str]) -> str:
    """Markdown list of skipped games and methods."""
    if not skipped:
        return ""
    lines = [f"- **{name}** skipped: {reason}" for name, reason in skipped.items()]
    return "## Skipped\n\n" + "\n".join(lines) + "\n"


def foreign_sections(text: str, lead: bool = False) -> str:
    """The "## " sections of ``text`` whose headings the harness does not own: those
    that lead the page (``lead=True``, :data:`LEAD_HEADINGS`) or the others."""
    kept, keep = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            keep = not line.startswith(OWN_HEADINGS) and line.startswith(LEAD_HEADINGS) == lead
        elif line.startswith("# "):
            keep = False
        if keep:
            kept.append(line)
    return "".join(kept)


def render_report(
    command: str, machine: dict[str, str], sections: list[str], wall_s: float, notes: list[str]
) -> str:
    """Full markdown report."""
    machine_lines = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    note_lines = "".join(f"- {note}\n" for note in notes)
    parts = [
        "# Benchmarks\n",
        PUBLISHED,
        f"Produced by (from the repository root, wall time {wall_s / 60:.1f} min):\n\n"
        f"```\n{command}\n```\n",
        note_lines,
        f"## Machine\n\n{machine_lines}\n",
        *sections,
    ]
    return "\n".join(part for part in parts if part)


def write_report(out: Path, report: str) -> None:
    """Write ``report`` to ``out``, keeping the sections other scripts wrote there: the
    headline (:data:`LEAD_HEADINGS`) before it, the others (e.g. "## Trees") after it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        old = out.read_text()
        foreign, lead = foreign_sections(old), foreign_sections(old, lead=True)
        if foreign:
            report = report.rstrip("\n") + "\n\n" + foreign.rstrip("\n") + "\n"
        if lead:
            title, body = report.split("\n", 1)
            report = title + "\n\n" + lead.rstrip("\n") + "\n" + body
    out.write_text(report)


def write_marked_block(page: str | Path, begin: str, end: str, text: str) -> None:
    """Replace what lies between the markers ``begin`` and ``end`` of ``page`` with
    ``text``; a page without both markers stops the script, naming them."""
    doc = Path(page).read_text()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{page} lacks the {begin} ... {end} markers")
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    Path(page).write_text(head + begin + "\n\n" + text + "\n" + end + tail)


def publish(text: str, page: str | Path, begin: str, end: str, write: bool = True) -> None:
    """Print a benchmark's ``text`` and, with ``write``, put it between the markers
    ``begin`` and ``end`` of ``page`` (:func:`write_marked_block`)."""
    print(text)
    if write:
        write_marked_block(page, begin, end, text)
        print(f"wrote {page}")
