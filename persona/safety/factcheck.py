"""Extract-then-verify for factual questions about the creator.

A small model asked a factual question answers it whatever the notes say ("Tu gagnes combien
par mois ?" -> "47667"). So, before the reply is written, the model is asked a narrower
question: copy the words of the creator's posts that answer the fan, or say NONE. Its answer
is trusted only when it is verifiable in code: every number and most content words occur in
the posts given, and it adds something the question did not already contain. Without a
verified answer the fan gets the creator's no-answer message; with one, the reply must carry
it (`carries_fact`), else the engine sends `fact_reply`, built from the verified words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from persona.safety.grounding import _STOPWORDS, is_yes_no_question
from persona.safety.normalize import fold

READER_NOTES = 5
MAX_ANSWER_WORDS = 25
# Share of the extracted content words that must occur in the notes.
MIN_SUPPORT = 0.8

_READER_SYSTEM = (
    "You read a content creator's own posts and find the answer to a fan's question. "
    "Reply with only the words from the posts that answer it, at most 12 words. "
    "If the posts do not say the answer, reply exactly: NONE"
)
_TOKEN = re.compile(r"\d+(?:[.,:h]\d+)?|[a-z][a-z'-]+")
_NUMBER = re.compile(r"\d+(?:[.,:h]\d+)?")
# Words that carry no answer on their own: a bare "yes" or "the book" verifies nothing.
_EMPTY = frozenset(
    """none yes no oui non not pas the a an le la les un une de du des of in on at to et and or
    ou my your mon ma mes ton ta tes il elle it is est c'est it's i je j'ai i'm que qui what
    quoi quel quelle when quand where which who how combien comment do does did done have has
    had was were are can could will would shall should fais fait faisais font sont etait""".split()  # noqa: SIM905
)
# The best retrieval hit need not share a word with the question: the embedding model found
# it (a French post answering an English question shares none).
ANCHOR_FREE_NOTES = 1
_SENTENCE = re.compile(r"(?<=[.!?…;:])\s+|\n+")
_ASKS_NUMBER = re.compile(
    r"(?<![a-z])(?:how (?:much|many|old|tall|long|far|often)|combien|quel age|weigh\w*|pese\w*|"
    r"what (?:size|number)|quelle taille)(?![a-z])"
)
_ASKS_DATE = re.compile(
    r"(?<![a-z])(?:when|what (?:time|date|day|year|month)|which (?:day|year|month|date)|"
    r"since when|quand|quelle (?:heure|date|annee)|quel (?:jour|mois)|depuis quand|"
    r"a quelle heure)(?![a-z])"
)
_NUMBER_WORD = re.compile(
    r"(?<![a-z])(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|dozen|un|une|deux|trois|"
    r"quatre|cinq|sept|huit|neuf|dix|onze|douze|vingt|trente|quarante|cinquante|soixante|cent|"
    r"mille|douzaine)s?(?![a-z])"
)
_DATE_WORD = re.compile(
    r"(?<![a-z])(?:jan\w*|feb\w*|mar(?:ch)?|apr\w*|may|june?|july?|aug\w*|sep\w*|oct\w*|"
    r"nov\w*|dec\w*|janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|"
    r"decembre|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?|lundi|mardi|"
    r"mercredi|jeudi|vendredi|samedi|dimanche|spring|summer|autumn|fall|winter|printemps|ete|"
    r"automne|hiver|christmas|noel|easter|paques|tonight|tomorrow|today|yesterday|ce soir|demain|"
    r"hier|aujourd'hui|morning|evening|noon|midnight|matin|soir|midi|minuit|every|chaque|"
    r"weekly|daily|hebdo\w*|soon|bientot|never|jamais|always|toujours)(?![a-z])"
)
# Requests for advice or ideas are not facts to look up, even when phrased as a question.
_ADVICE = re.compile(
    r"(?<![a-z])(?:tips?|advice|recommend\w*|suggest\w*|ideas?|conseils?|astuces?|idees?|"
    r"recommand\w*|tu me conseilles)(?![a-z])"
)


@dataclass(frozen=True, slots=True)
class VerifiedFact:
    """Words of the creator's posts that answer the question, and the ones the question
    did not already contain (what a reply must carry)."""

    text: str
    new_terms: tuple[str, ...]


def asks_advice(question: str) -> bool:
    return bool(_ADVICE.search(fold(question)))


# Worked examples about another (fictional) creator: a 0.5B reader follows a shown answer
# far better than a described one. Constant, and first, so the server's prefix cache keeps it.
_READER_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "my cat Pixel turned 3 today 🎂\nnew video every sunday at 5pm, see you there",
        "What's your cat called?",
        "Pixel",
    ),
    (
        "my cat Pixel turned 3 today 🎂\nnew video every sunday at 5pm, see you there",
        "Where do you live?",
        "NONE",
    ),
    (
        "mon premier album sort le 4 juin chez Lumen Records !\nje bois trois cafés par jour",
        "Il sort quand, ton album ?",
        "le 4 juin",
    ),
    (
        "mon premier album sort le 4 juin chez Lumen Records !\nje bois trois cafés par jour",
        "Tu gagnes combien ?",
        "NONE",
    ),
)


def _reader_turn(notes: Sequence[str], question: str) -> str:
    listed = "\n".join(f"- {n}" for n in notes)
    return f"Posts:\n{listed}\n\nQuestion: {question}\nAnswer:"


def reader_messages(question: str, notes: Sequence[str]) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(_READER_SYSTEM)]
    for posts, asked, answer in _READER_EXAMPLES:
        messages += [HumanMessage(_reader_turn(posts.split("\n"), asked)), AIMessage(answer)]
    messages.append(HumanMessage(_reader_turn(notes[:READER_NOTES], question)))
    return messages


def _stem(token: str) -> str:
    token = token.strip("'-")
    if "'" in token:  # l'atelier -> atelier, c'est stays a stop word below
        head, _, tail = token.partition("'")
        token = tail if len(tail) > 2 else head
    return token[:5] if len(token) > 5 and not token[0].isdigit() else token


def _terms(text: str) -> list[str]:
    return [
        _stem(t)
        for t in _TOKEN.findall(fold(text))
        if t not in _EMPTY and t not in _STOPWORDS and (t[0].isdigit() or len(t) >= 3)
    ]


def verify_extraction(extracted: str, notes: Sequence[str], question: str) -> VerifiedFact | None:
    """The model's extracted answer, if the notes support it; None when it said NONE,
    invented a number or words, copied a whole post, or only repeated the question."""
    text = extracted.strip().strip("\"'«»“” ").strip()
    first_line = text.splitlines()[0].strip() if text else ""
    if not first_line or fold(first_line).startswith("none"):
        return None
    if len(first_line.split()) > MAX_ANSWER_WORDS:
        return None
    folded_notes = fold(" ".join(notes))
    numbers = {n.replace(",", ".") for n in _NUMBER.findall(folded_notes)}
    for number in _NUMBER.findall(fold(first_line)):
        if number.replace(",", ".") not in numbers:
            return None
    terms = _terms(first_line)
    if not terms:
        return None
    vocab = set(_terms(folded_notes))
    if sum(t in vocab for t in terms) / len(terms) < MIN_SUPPORT:
        return None
    asked = set(_terms(question))
    new = tuple(dict.fromkeys(t for t in terms if t not in asked and t in vocab))
    if not new and is_yes_no_question(question):
        # "tu fais un live ce soir ?" -> "live ce soir": the posts saying the asked words is
        # the answer (yes); the reply must then carry them.
        new = tuple(dict.fromkeys(t for t in terms if t in vocab))
    if not new:
        return None
    if not fits_answer_type(first_line, question):
        return None
    if not _anchored(terms, notes, asked):
        return None
    return VerifiedFact(first_line, new)


def expected_answer_type(question: str) -> str | None:
    """ "number" for how much/many/old, "date" for when/what time; None when any words fit."""
    folded = fold(question)
    if _ASKS_NUMBER.search(folded):
        return "number"
    if _ASKS_DATE.search(folded):
        return "date"
    return None


def fits_answer_type(answer: str, question: str) -> bool:
    """A "how much" answer needs a number, a "when" answer a date, time, day or season:
    "Tu pèses combien ?" -> "Epaisse" is the creator's word, but not an answer."""
    kind = expected_answer_type(question)
    folded = fold(answer)
    if kind == "number":
        return bool(_NUMBER.search(folded) or _NUMBER_WORD.search(folded))
    if kind == "date":
        return bool(_NUMBER.search(folded) or _DATE_WORD.search(folded))
    return True


def _anchored(terms: Sequence[str], notes: Sequence[str], asked: set[str]) -> bool:
    """The words must come from a sentence about what was asked: one that shares a word with
    the question, unless it is in the best retrieval hit (notes come best first; a French post
    answering an English question shares no word with it). Stops "How much does Fonteval pay
    you?" -> "45 €" lifted from a sentence on workshop tickets."""
    for position, note in enumerate(notes):
        for sentence in [note] if position < ANCHOR_FREE_NOTES else _SENTENCE.split(note):
            bag = set(_terms(sentence))
            if not bag or sum(t in bag for t in terms) / len(terms) < MIN_SUPPORT:
                continue
            if position < ANCHOR_FREE_NOTES or bag & asked:
                return True
    return False


def carries_fact(reply: str, fact: VerifiedFact) -> bool:
    """True when the reply contains at least one of the fact's new words."""
    terms = set(_terms(reply))
    return any(t in terms for t in fact.new_terms)


def fact_reply(fact: VerifiedFact, lang: str | None) -> str:
    """A plain reply carrying the verified words (the creator's own, from their posts)."""
    words = fact.text.rstrip(" .!").split()
    # 7 words at most: the double quotes no post at length (the copy guard's 8 words).
    answer = " ".join(words[:7])
    if lang == "fr":
        return f"{answer}, comme je l'ai raconté sur mon compte !"
    return f"{answer}, as I shared on my page!"


@lru_cache(maxsize=8)
def _lexical_index(posts: tuple[str, ...]) -> tuple[list[set[str]], dict[str, float]]:
    bags = [set(_terms(p)) for p in posts]
    counts: dict[str, int] = {}
    for bag in bags:
        for term in bag:
            counts[term] = counts.get(term, 0) + 1
    n = len(bags)
    idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in counts.items()}
    return bags, idf


def lexical_notes(question: str, posts: Sequence[str], k: int = 2) -> list[str]:
    """The `k` posts sharing the rarest words with the question (IDF-weighted overlap).

    The embedding model is English-only; exact words ("Fonteval", "Kerlanic", "coriandre")
    find the post a French question needs when embeddings do not."""
    if not posts or k <= 0:
        return []
    bags, idf = _lexical_index(tuple(posts))
    asked = set(_terms(question))
    scored = []
    for i, bag in enumerate(bags):
        score = sum(idf.get(t, 0.0) for t in asked & bag)
        if score > 0:
            scored.append((score, i))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [posts[i] for _, i in scored[:k]]
