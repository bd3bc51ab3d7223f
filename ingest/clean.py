"""Cleaning: from a post as written to the text we model and index.

The original is kept (`PostRecord.text`); `clean_text` drops what says nothing about the voice
or leaks other people's handles: links, the @addressees that open a reply, other handles
(normalised to "@user"), HTML entities and runs of whitespace. Emoji, hashtags, casing and
punctuation are the voice, so they stay.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass

import regex

from persona.style.text import LEADING_MENTIONS_RE, MENTION_RE, URL_RE

MENTION_PLACEHOLDER = "@user"
# Brackets left empty once their link is gone: "style guide (https://...)" -> "style guide ()".
# Not after a word character, so code such as `identity()` keeps its parentheses.
_EMPTY_BRACKETS_RE = regex.compile(r"(?<!\w)(?:\(\s*\)|\[\s*\])")
_INVISIBLE_RE = regex.compile(r"[\u200b\u200e\u200f\u2060\ufeff]")
_SPACES_RE = regex.compile(r"[^\S\n]+")
_BLANK_LINES_RE = regex.compile(r"\n\s*\n+")


@dataclass(frozen=True, slots=True)
class CleanedText:
    text: str
    # Handles that opened the post ("@a @b thanks" -> ("a", "b")): the post is a reply to them.
    addressees: tuple[str, ...]

    @property
    def starts_with_mention(self) -> bool:
        return bool(self.addressees)


def unescape_html(text: str) -> str:
    """'&amp;amp;' shows up in scraped data: unescape until nothing changes (at most 3 times)."""
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text


def collapse_whitespace(text: str) -> str:
    """One space between words; line breaks kept (lists are a habit), blank lines dropped."""
    text = _SPACES_RE.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def clean_post(text: str) -> CleanedText:
    """Clean one post; `addressees` tells whether it opened with @handles (a reply)."""
    text = unicodedata.normalize("NFC", unescape_html(text))
    text = _INVISIBLE_RE.sub("", text)
    text = URL_RE.sub(" ", text)
    text = _EMPTY_BRACKETS_RE.sub(" ", text)
    addressees: tuple[str, ...] = ()
    leading = LEADING_MENTIONS_RE.match(text)
    if leading:
        addressees = tuple(m.group(1) for m in MENTION_RE.finditer(leading.group(0)))
        text = text[leading.end() :]
    text = MENTION_RE.sub(MENTION_PLACEHOLDER, text)
    text = collapse_whitespace(text)
    return CleanedText(text=text.strip(), addressees=addressees)


def clean_text(text: str) -> str:
    return clean_post(text).text


def is_reply_text(text: str) -> bool:
    """Twitter's convention: a post that opens with @handle is a reply to that account."""
    return LEADING_MENTIONS_RE.match(text.lstrip("\ufeff")) is not None
