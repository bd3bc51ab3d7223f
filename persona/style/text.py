"""Text primitives shared by cleaning (ingest) and stylometry (profile, scorer).

One set of patterns, so that a post is measured the same way when it is ingested and when a
generated candidate reply is scored.
"""

from __future__ import annotations

import regex

# A link ends before trailing punctuation: "(see https://x.org/a)." keeps ")." as text.
URL_RE = regex.compile(
    r"(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]"
    r"|\bpic\.twitter\.com/\w+|\b[a-z0-9-]+\.(?:ly|gl|co)/\w+",
    regex.IGNORECASE,
)
# A handle: not glued to a word or an e-mail address before it; TikTok handles allow dots.
MENTION_RE = regex.compile(r"(?<![\w@.])@(\w(?:[\w.]*\w)?)")
# One or more handles at the very start: the addressees of a reply ("@a @b, thanks!").
LEADING_MENTIONS_RE = regex.compile(r"^(?:\s*@\w(?:[\w.]*\w)?[,:]?)+(?=\s|$|[^\w.])\s*")
HASHTAG_RE = regex.compile(r"(?<![\w#&])#(\w*\p{L}\w*)")
WORD_RE = regex.compile(r"[\p{L}\p{N}_]+(?:['’][\p{L}]+)*")
# Grapheme clusters keep skin tones, ZWJ families and flags as one emoji.
GRAPHEME_RE = regex.compile(r"\X")
_EMOJI_CANDIDATE_RE = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
_EMOJI_PRESENTATION_RE = regex.compile(r"\p{Emoji_Presentation}")
MULTI_EXCLAMATION_RE = regex.compile(r"!{2,}")
ELLIPSIS_RE = regex.compile(r"\.{3,}|…")
# "sooooo", "Okkkkuuuurrrr": letters repeated 3+ times are a habit, not spelling.
ELONGATION_RE = regex.compile(r"(\p{L})\1{2,}")
STOP_TOKEN_RE = regex.compile(r"^\d+$")


def is_emoji_cluster(cluster: str) -> bool:
    """True for a grapheme cluster that renders as an emoji (not ©, ™ or arrows as text)."""
    if not _EMOJI_CANDIDATE_RE.search(cluster):
        return False
    if "\ufe0f" in cluster or _EMOJI_PRESENTATION_RE.search(cluster):
        return True
    if len(cluster) >= 2 and all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in cluster[:2]):
        return True  # a flag: a pair of regional indicators
    # Text-default pictographs below U+2600 (©, ™, ↔, ⌛ without VS16) are rarely meant as emoji.
    return ord(cluster[0]) >= 0x2600


def find_emoji(text: str) -> list[str]:
    """Emoji of `text` in order, one entry per rendered emoji."""
    if text.isascii():
        return []
    return [g for g in GRAPHEME_RE.findall(text) if is_emoji_cluster(g)]


def words(text: str) -> list[str]:
    """Word tokens (letters/digits, inner apostrophes kept), without @handles, #tags or URLs."""
    text = URL_RE.sub(" ", text)
    text = MENTION_RE.sub(" ", text)
    text = HASHTAG_RE.sub(" ", text)
    return WORD_RE.findall(text)


def word_count(text: str) -> int:
    """Words a reader would count: handles and hashtags count, URLs and emoji do not."""
    return len(WORD_RE.findall(URL_RE.sub(" ", text)))


def hashtags(text: str) -> list[str]:
    return HASHTAG_RE.findall(text)


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


def squeeze_elongations(text: str) -> str:
    """'Okkkkuuuurrrr' -> 'Okkuurr': keeps the word recognisable for language id and n-grams."""
    return ELONGATION_RE.sub(r"\1\1", text)
