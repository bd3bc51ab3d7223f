"""Write one benchmark's section into BENCHMARKS.md, leaving the other sections alone.

The writing itself lives in channels/evaluation/report.py (the `persona` evaluations use it
too); bench/ keeps its default file, this checkout's BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path

from channels.evaluation import report as _report
from channels.evaluation.report import machine_line, table

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"

__all__ = ["BENCHMARKS", "machine_line", "table", "write_section"]


def write_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace the `## title` section (up to the next `## `) or append it."""
    _report.write_section(title, body, path)
