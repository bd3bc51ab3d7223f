"""Cheap text features for the intake path (thousands of messages a second on one core).

Near-duplicate questions are grouped by the Jaccard similarity of small feature sets: words
are folded (case, accents, repeated letters, chat abbreviations), stop words dropped, and long
words reduced to a consonant skeleton so that spelling variants meet ("favourite"/"favorite",
"recipes"/"recipe", "sooo"/"so")."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_COMBINING = re.compile(r"[\u0300-\u036f]")
_WORDS = re.compile(r"[^\W_]+")
_REPEATS = re.compile(r"(.)\1{2,}")
_DOUBLES = re.compile(r"(.)\1+")
_VOWELS = str.maketrans("", "", "aeiouy")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Chat spellings that carry no meaning of their own once expanded.
_ABBREVIATIONS = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "y": "why",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "wat": "what",
    "wut": "what",
    "whats": "what",
    "hows": "how",
    "wheres": "where",
    "whos": "who",
    "im": "i",
    "dont": "do",
    "cant": "can",
    "wanna": "want",
    "gonna": "going",
}

QUESTION_WORDS = _wordset(
    "what where when who whom whose why how which "
    "quoi quel quelle quels quelles comment pourquoi quand qui combien "
    "que qué cómo como cuando cuándo donde dónde por"
)
_QUESTION_OPENERS = QUESTION_WORDS | _wordset(
    "do does did are is was were can could will would should have has any anyone "
    "est peux pouvez as avez"
)

STOP_WORDS = _wordset(
    """a an the and or but if of to in on at for from with by about as into than then so
    i me my mine you your yours yourself we our us he him his she her it its they them their
    this that these those there here is are was were be been being am do does did doing
    have has had having can could will would should shall may might must s t d ll re ve m
    please just really very too also ever even still any some ok okay oh ah hey hi hello
    le la les un une des de du et ou tu te ton ta tes vous votre vos je mon ma mes est
    el los las y o tu su sus es"""
)

GREETING_WORDS = _wordset(
    """hi hii hello helo hey heya hiya yo sup hallo hola ola ciao salut coucou bonjour bonsoir
    greetings morning evening afternoon good everyone everybody all guys chat fam
    from here finally just joined back again"""
)
_GREETING_OPENERS = _wordset(
    "hi hii hello helo hey heya hiya yo hallo hola ola ciao salut coucou bonjour bonsoir greetings"
)


def fold(text: str) -> str:
    """Lower case, accents removed, runs of one letter squeezed to one ("sooo" -> "so")."""
    text = text.casefold()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _REPEATS.sub(r"\1", text)


def tokens(folded: str) -> list[str]:
    """Words of folded text. Apostrophes join ("what's" -> "whats") so that contractions map
    through the abbreviations."""
    return _WORDS.findall(folded.replace("'", "").replace("\u2019", ""))


def words(text: str) -> list[str]:
    return tokens(fold(text))


@lru_cache(maxsize=8192)
def _key(word: str) -> str:
    """Spelling-tolerant key: plural "s" dropped, long latin words reduced to their consonant
    skeleton (short words keep their vowels: "live" and "love" must stay apart)."""
    if not word.isascii() or not word.isalpha():
        return word
    if len(word) >= 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) < 5:
        return word
    skeleton = word[0] + word[1:].translate(_VOWELS)
    return _DOUBLES.sub(r"\1", skeleton)


def features(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(all features, content features): question words count for similarity but only
    content words are indexed, so "how ...?" does not make every question a candidate."""
    return features_of(words(text))


def features_of(word_list: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    feats: set[str] = set()
    content: set[str] = set()
    for raw in word_list:
        word = _ABBREVIATIONS.get(raw, raw)
        if word in STOP_WORDS or word in _GREETING_OPENERS:
            continue
        if word in QUESTION_WORDS:
            feats.add(word)
            continue
        key = _key(word)
        feats.add(key)
        content.add(key)
    # "how are you?": only question words; they are all there is to index.
    return frozenset(feats), frozenset(content or feats)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def is_question(text: str, word_list: list[str] | None = None) -> bool:
    if "?" in text or "？" in text:
        return True
    # "hey, how are you": look past a greeting for the opening word.
    for word in (word_list if word_list is not None else words(text[:60]))[:3]:
        if word not in _GREETING_OPENERS:
            return _ABBREVIATIONS.get(word, word) in _QUESTION_OPENERS
    return False


def is_greeting(text: str, word_list: list[str] | None = None) -> bool:
    """A short hello ("hi from Lyon!", "hey everyone"), not a question."""
    found = word_list if word_list is not None else words(text[:120])
    if not found or len(found) > 6 or "?" in text:
        return False
    if found[0] not in _GREETING_OPENERS:
        return False
    # "hi from Lyon": a place or a name may follow; more than two other words is a message.
    return sum(1 for t in found if t not in GREETING_WORDS) <= 2


def clean_text(text: str, limit: int) -> str:
    """One line of at most `limit` characters, without control or invisible characters."""
    # Whitespace (newlines too) becomes one space before the other controls go.
    text = _CONTROL.sub("", _SPACES.sub(" ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_name(name: str, fallback: str) -> str:
    return clean_text(name, 40) or clean_text(fallback, 24) or "someone"
