"""Writing measured figures into the source checkout's BENCHMARKS.md: one `## title`
section per benchmark, the others left alone. bench/ reuses this; nothing here imports
bench/, so the installed package never needs it."""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_NAME = "BENCHMARKS.md"


class SourceCheckoutNeeded(RuntimeError):
    """BENCHMARKS.md belongs to a source checkout; an installed package has none."""

    def __init__(self) -> None:
        super().__init__("--benchmarks needs a source checkout (bench/ is not installed)")


def _is_checkout(path: Path) -> bool:
    return (path / "bench" / "report.py").is_file()


def benchmarks_file() -> Path:
    """The checkout's BENCHMARKS.md: the one in the working directory when it is a checkout
    (the `persona` script runs from there), else the one beside this package's checkout."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if _is_checkout(root):
            return root / BENCHMARKS_NAME
    raise SourceCheckoutNeeded


def machine_line() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def write_section(title: str, body: str, path: Path) -> None:
    """Replace the `## title` section (up to the next `## `) or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def place_before(path: Path, title: str, anchor: str) -> None:
    """An empty `## title` just before `## anchor` the first time, so that write_section
    replaces it there instead of appending it at the end."""
    text = path.read_text(encoding="utf-8")
    if f"\n## {title}\n" in text or f"## {anchor}\n" not in text:
        return
    path.write_text(text.replace(f"## {anchor}\n", f"## {title}\n\n## {anchor}\n", 1))


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
