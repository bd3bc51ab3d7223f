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


class EchoGuard:
    """A draft that mostly restates the fan's message is an echo, not an answer.

    Restating part of a question is how people answer ("my favourite weeknight dinner? pasta"),
    so a shared run of words is not enough: the draft must add little of its own (most of its
    words are the message's) or repeat a long run of it. Instructions given in the request (a
    hint, a thread note) are held to the strict n-gram rule: reciting them leaks them."""

    def __init__(
        self,
        messages: Iterable[str],
        instructions: Iterable[str] = (),
        contained: float = 0.7,
        run: int = 10,
    ) -> None:
        messages = [m for m in messages if m.strip()]
        self._bags = [set(words(m)) for m in messages]
        self._contained = contained
        self._long_runs = CopyGuard(messages, n=run)
        self._instructions = CopyGuard((t for t in instructions if t.strip()), n=6)

    def copies(self, text: str) -> bool:
        tokens = words(text)
        if not tokens:
            return False
        if self._instructions.copies(text) or self._long_runs.copies(text):
            return True
        for bag in self._bags:
            if len(tokens) >= 3 and sum(t in bag for t in tokens) / len(tokens) >= self._contained:
                return True
        return False
