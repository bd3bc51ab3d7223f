"""Plain text: one post per paragraph, paragraphs separated by blank lines."""

from __future__ import annotations

from collections.abc import Iterator

from ingest.sources.raw import RawPost


def read_paragraphs(text: str) -> Iterator[RawPost]:
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not lines:
                start = number
            lines.append(line.rstrip())
        elif lines:
            yield RawPost(line=start, text="\n".join(lines))
            lines = []
    if lines:
        yield RawPost(line=start, text="\n".join(lines))
