"""Text views that defeat cheap obfuscation before the lexicons run.

A fan can write "1gn0re", "f.u.c.k", "i g n o r e", "fuuuuck", "ѕtupid" (Cyrillic s) or hide
zero-width characters. Each lexicon is matched against several views of the message, so a
pattern written once in plain lower-case ASCII catches all of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

# Look-alike letters from other scripts that survive NFKD.
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y",
        "і": "i", "ј": "j", "ѕ": "s", "к": "k", "м": "m", "т": "t", "в": "b",
        "н": "h", "ԁ": "d", "ɡ": "g", "ο": "o", "α": "a", "ε": "e", "ι": "i",
        "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
        "’": "'", "‘": "'", "ʼ": "'", "´": "'", "`": "'",
        "“": '"', "”": '"', "«": '"', "»": '"', "„": '"',
        "–": "-", "—": "-", "‐": "-", "œ": "oe", "æ": "ae", "ß": "ss", "ø": "o",
    }
)  # fmt: skip
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l", "€": "e"})  # fmt: skip
# A token that mixes letters with leet characters ("1gn0re", "b!tch", "$tupid").
_LEET_TOKEN = re.compile(r"[a-z0-9@$!|€]*[a-z][a-z0-9@$!|€]*")
_REPEATS = re.compile(r"([a-z])\1{2,}")
# Three or more single letters split by a space or punctuation: "i g n o r e", "f.u.c.k".
_SPACED = re.compile(r"(?<![a-z])(?:[a-z][ .\-_*/]){2,}[a-z](?![a-z])")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case ASCII-ish form: accents removed (é->e), homoglyphs mapped, invisibles dropped."""
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_HOMOGLYPHS)
    return _SPACES.sub(" ", text).strip()


def _deleet(folded: str) -> str:
    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        # Trailing "!" is punctuation ("b!tch!" -> "bitch!"), not a leet "i".
        core = token.rstrip("!")
        tail = token[len(core) :]
        # Only tokens that also hold a letter: "100" and "2024" keep their digits.
        if any(c.isdigit() or c in "@$!|€" for c in core):
            core = core.translate(_LEET)
        return core + tail

    return _LEET_TOKEN.sub(fix, folded)


@dataclass(frozen=True)
class TextViews:
    """The original message and the normalised views the lexicons are matched against."""

    original: str

    @cached_property
    def folded(self) -> str:
        return fold(self.original)

    @cached_property
    def variants(self) -> tuple[str, ...]:
        folded = self.folded
        deleet = _deleet(folded)
        squeezed = _REPEATS.sub(r"\1", deleet)
        despaced = _SPACED.sub(lambda m: re.sub(r"[ .\-_*/]", "", m.group(0)), squeezed)
        seen: dict[str, None] = {}
        for view in (folded, deleet, squeezed, despaced):
            seen.setdefault(view, None)
        return tuple(seen)


def word_pattern(body: str) -> str:
    """Wrap a regex body in word boundaries that also work next to apostrophes and digits."""
    return rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])"


def compile_terms(terms: Iterable[str]) -> re.Pattern[str]:
    """One alternation of word-bounded regex bodies, written for folded text."""
    bodies = [t for t in terms if t]
    return re.compile("|".join(f"(?:{word_pattern(b)})" for b in bodies))


def first_match(pattern: re.Pattern[str], views: TextViews) -> str | None:
    """The first text matched in any view, or None."""
    for view in views.variants:
        found = pattern.search(view)
        if found:
            return found.group(0)
    return None
