"""A reply that shares 8 consecutive words with any of the creator's posts is a copy.

Each post contributes the hashes of its word 8-grams to one set, so a check is a handful of
set lookups whatever the number of posts."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


class CopyGuard:
    def __init__(self, texts: Iterable[str], n: int = 8) -> None:
        self.n = n
        self._grams: set[int] = set()
        for text in texts:
            self._grams.update(self._hashes(words(text)))

    def _hashes(self, tokens: list[str]) -> Iterable[int]:
        n = self.n
        return (hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1))

    def copies(self, text: str) -> bool:
        return any(h in self._grams for h in self._hashes(words(text)))

    def __len__(self) -> int:
        return len(self._grams)
