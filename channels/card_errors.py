"""The error of a card that cannot be imported, raised by `channels.card_import` and
`channels.card_png` (its own module, so that neither of them imports the other for it)."""

from __future__ import annotations


class CardError(ValueError):
    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}")
        self.source, self.where, self.problem = source, where, problem
