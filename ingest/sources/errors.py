"""The one error a source raises: which file, which line, what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path


class IngestFormatError(ValueError):
    """A file that cannot be read as posts. The message names the file, the line when known,
    the problem and the fix; `path`, `line` and `reason` are there for programs."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {reason}")
