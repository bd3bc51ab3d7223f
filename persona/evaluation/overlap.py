"""Near-duplicates between the evaluation sets and what the system learns from or matches.

A figure measured on a message the layers were trained or written on says nothing about the
next fan. This check folds every text (case, accents, punctuation, leetspeak, stretched
letters) into word tokens and calls two texts near-duplicates when

- their token sets have a Jaccard similarity >= 0.8 (both of 3 words or more), or
- they share a run of 5 words, or a text of 3-4 words is a run of the other and at least 60%
  of it ("Tu gagnes combien ?" inside "Tu gagnes combien par mois ?"; not for a lexicon's
  phrase, a piece of a pattern such as "do you like").

Evaluation items: the red-team splits, warm messages, grounding questions, the fan set and the
blind split (`tests/data/blind/`). References: the intent and distress training data, the
lexicons (regexes expanded into the literal phrases someone wrote; long word lists stay open
slots that match nothing), the prompts' few-shot examples and the demo creator's posts.

Written apart from `persona.safety.normalize` on purpose: the check must not share the
folding of the layers it audits.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JACCARD = 0.8
RUN = 5
# A text of 3-4 words is also a near-duplicate of a text that holds it whole, as a run, when
# it is most of that text ("tu gagnes combien" in "tu gagnes combien par mois"), not a common
# opening ("c'est quoi", "tu penses quoi") of a longer message.
MIN_CONTAINED = 3
CONTAINED_SHARE = 0.6
# One or two words ("merci", "happy birthday") are in every set by chance: Jaccard needs both
# texts to have at least this many words.
MIN_JACCARD_WORDS = 3

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "€": "e"})  # fmt: skip
_LEET_WORD = re.compile(r"[a-z0-9@$€]*[a-z][a-z0-9@$€]*")
_STRETCH = re.compile(r"([a-z])\1{2,}")
_TOKEN = re.compile(r"[a-z0-9]+|\x00")  # \x00: an open slot of a regex (below)


def tokens(text: str) -> tuple[str, ...]:
    """Folded word tokens: 'Tu GAGNES combien ?!' and 'tu gagnes combien' are the same."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    # One word for a contraction: "I'm coming to your" is four words, not five.
    text = re.sub(r"['’ʼ`´]", "", text)
    # Leet only inside words that also hold a letter, so "2021" stays a number.
    text = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)
    text = _STRETCH.sub(r"\1", text)
    return tuple(_TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class Item:
    source: str  # the set it belongs to, e.g. "redteam:holdout" or "intent_train"
    id: str
    text: str
    # A piece of a pattern ("do you like", "what do you think"), not a message: only a shared
    # 5-word run or a Jaccard match counts, not a short piece inside a message.
    fragment: bool = False


@dataclass(frozen=True, slots=True)
class Overlap:
    item: Item  # the evaluation item
    match: Item  # what it duplicates
    jaccard: float
    run: int  # longest shared run of words

    def to_dict(self) -> dict[str, Any]:
        return {
            "set": self.item.source, "id": self.item.id, "text": self.item.text,
            "matches": self.match.source, "match_id": self.match.id,
            "match_text": self.match.text, "jaccard": round(self.jaccard, 3), "run": self.run,
        }  # fmt: skip


@dataclass
class OverlapReport:
    evaluation: dict[str, int]  # set -> items checked
    references: dict[str, int]  # reference source -> texts
    overlaps: list[Overlap] = field(default_factory=list)

    def contaminated(self) -> dict[str, set[str]]:
        """Set -> ids of the items with at least one near-duplicate."""
        found: dict[str, set[str]] = defaultdict(set)
        for o in self.overlaps:
            found[o.item.source].add(o.item.id)
        return dict(found)

    def rows(self) -> list[tuple[str, int, int, str]]:
        """(set, items, contaminated, by reference source) per evaluation set."""
        dirty = self.contaminated()
        rows = []
        for name, total in self.evaluation.items():
            by_ref: dict[str, set[str]] = defaultdict(set)
            for o in self.overlaps:
                if o.item.source == name:
                    by_ref[o.match.source].add(o.item.id)
            refs = ", ".join(f"{k} {len(v)}" for k, v in sorted(by_ref.items()))
            rows.append((name, total, len(dirty.get(name, ())), refs))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": {
                "jaccard": JACCARD,
                "jaccard_min_words": MIN_JACCARD_WORDS,
                "run": RUN,
                "contained_words": MIN_CONTAINED,
                "contained_share": CONTAINED_SHARE,
            },  # fmt: skip
            "evaluation": self.evaluation,
            "references": self.references,
            "sets": [
                {"set": s, "items": n, "contaminated": c, "by_reference": r}
                for s, n, c, r in self.rows()
            ],
            "overlaps": [o.to_dict() for o in self.overlaps],
        }


# -- the comparison ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    item: Item
    words: tuple[str, ...]
    vocab: frozenset[str]


def _runs(words: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    return (tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _longest_run(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def _contained(short: Sequence[str], long: Sequence[str]) -> bool:
    n = len(short)
    return (
        MIN_CONTAINED <= n < RUN
        and n >= CONTAINED_SHARE * len(long)
        and any(tuple(long[i : i + n]) == tuple(short) for i in range(len(long) - n + 1))
    )


def find_overlaps(
    evaluation: Iterable[Item], references: Iterable[Item], jaccard: float = JACCARD
) -> list[Overlap]:
    """Near-duplicates: for each evaluation item and reference source, its closest match.

    Candidates come from indexes, not from all pairs: a shared run needs a shared 5-word run
    (or a whole short text); a Jaccard >= t needs a shared token among each side's rarest
    |set| - ceil(t * |set|) + 1 tokens (prefix filtering), so the check takes about a second
    for ~1,500 items against ~10,000 texts."""
    evals = [_prepare(i) for i in evaluation]
    refs = [p for p in (_prepare(i) for i in references) if p.words]
    frequency = Counter(t for p in (*evals, *refs) for t in p.vocab)

    def prefix(vocab: frozenset[str]) -> list[str]:
        ordered = sorted(vocab, key=lambda t: (frequency[t], t))
        return ordered[: len(vocab) - math.ceil(jaccard * len(vocab)) + 1]

    by_run: dict[tuple[str, ...], list[int]] = defaultdict(list)
    by_words: dict[tuple[str, ...], list[int]] = defaultdict(list)  # short texts, whole
    by_short_run: dict[tuple[str, ...], list[int]] = defaultdict(list)  # their 3-4 word runs
    by_token: dict[str, list[int]] = defaultdict(list)
    for index, ref in enumerate(refs):
        for run in set(_runs(ref.words, RUN)):
            by_run[run].append(index)
        if MIN_CONTAINED <= len(ref.words) < RUN:
            by_words[ref.words].append(index)
        for n in range(MIN_CONTAINED, RUN):
            for run in set(_runs(ref.words, n)):
                by_short_run[run].append(index)
        for token in prefix(ref.vocab):
            by_token[token].append(index)

    best: dict[tuple[Item, str], Overlap] = {}  # one per item and reference source
    for ev in evals:
        if not ev.words:
            continue
        candidates: set[int] = set()
        for run in _runs(ev.words, RUN):
            candidates.update(by_run.get(run, ()))
        for n in range(MIN_CONTAINED, min(RUN, len(ev.words) + 1)):  # short refs inside ev
            for run in _runs(ev.words, n):
                candidates.update(by_words.get(run, ()))
        for token in prefix(ev.vocab):
            candidates.update(by_token.get(token, ()))
        candidates.update(by_short_run.get(ev.words, ()))  # a short ev inside a longer ref
        for index in sorted(candidates):
            ref = refs[index]
            union = len(ev.vocab | ref.vocab)
            score = len(ev.vocab & ref.vocab) / union if union else 0.0
            run = _longest_run(ev.words, ref.words)
            if (
                (score >= jaccard and min(len(ev.vocab), len(ref.vocab)) >= MIN_JACCARD_WORDS)
                or run >= RUN
                or (not ref.item.fragment and _contained(ev.words, ref.words))
                or (not ref.item.fragment and _contained(ref.words, ev.words))
            ):
                found = Overlap(ev.item, ref.item, score, run)
                key = (ev.item, ref.item.source)
                if key not in best or (run, score) > (best[key].run, best[key].jaccard):
                    best[key] = found
    return list(best.values())


def _prepare(item: Item) -> _Prepared:
    words = tokens(item.text)
    return _Prepared(item, words, frozenset(words))


# -- regexes as the phrases their writer wrote -----------------------------------------------

_WILD = " \x00 "  # an open slot: never equal to a folded token
_WORD_LIST = 8  # an alternation of more bare words than this is a list, not a phrase
_PER_PHRASE = 256  # expansions kept of one top-level alternative


def regex_phrases(pattern: re.Pattern[str] | str) -> list[str]:
    """Literal phrases a regex spells out: each top-level alternative expanded (optional parts
    with and without, small alternations each way), word lists and wildcards left open."""
    import re._parser as sre  # the stdlib's own regex parser (3.11+)

    source = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    if not isinstance(source, str):
        return []
    try:
        parsed = sre.parse(source)
    except re.error:
        return []
    phrases: list[str] = []
    for branch in _top_branches(list(parsed)):
        for text in _expand(branch)[:_PER_PHRASE]:
            text = re.sub(r"\s+", " ", text).strip()
            if text.replace("\x00", "").strip():
                phrases.append(text)
    return list(dict.fromkeys(phrases))


def _top_branches(items: list[Any]) -> list[list[Any]]:
    """The alternatives of an alternation of phrases (compile_terms joins a whole lexicon
    into one), looking through the groups and lookarounds that wrap each one."""
    from re._constants import ASSERT, ASSERT_NOT, AT, BRANCH, SUBPATTERN

    core = [i for i in items if i[0] not in (ASSERT, ASSERT_NOT, AT)]
    if len(core) == 1 and core[0][0] is SUBPATTERN:
        return _top_branches(list(core[0][1][3]))
    if len(core) == 1 and core[0][0] is BRANCH:
        return [b for alt in core[0][1][1] for b in _top_branches(list(alt))]
    return [items]


def _expand(items: Sequence[Any]) -> list[str]:
    import re._constants as c

    ANY, AT, BRANCH, CATEGORY, IN, LITERAL, SUBPATTERN = (
        c.ANY, c.AT, c.BRANCH, c.CATEGORY, c.IN, c.LITERAL, c.SUBPATTERN
    )  # fmt: skip
    ASSERT, ASSERT_NOT, GROUPREF, NOT_LITERAL = c.ASSERT, c.ASSERT_NOT, c.GROUPREF, c.NOT_LITERAL
    MAX_REPEAT, MIN_REPEAT = c.MAX_REPEAT, c.MIN_REPEAT
    out = [""]
    for op, arg in items:
        if op is LITERAL:
            options = [chr(arg)]
        elif op is IN:
            literals = [chr(v) for o, v in arg if o is LITERAL]
            spaces = any(o is CATEGORY and "SPACE" in str(v) for o, v in arg)
            options = [" "] if spaces else literals[:1] or [_WILD]
        elif op is CATEGORY:
            options = [" "] if "SPACE" in str(arg) else [_WILD]
        elif op in (ANY, NOT_LITERAL, GROUPREF):
            options = [_WILD]
        elif op in (AT, ASSERT, ASSERT_NOT):
            continue
        elif op is SUBPATTERN:
            options = _expand(arg[3])
        elif op is BRANCH:
            alternatives = arg[1]
            if len(alternatives) > _WORD_LIST and all(_is_word(a) for a in alternatives):
                options = [_WILD]
            else:
                options = [t for alt in alternatives for t in _expand(alt)]
        elif op in (MAX_REPEAT, MIN_REPEAT):
            low, high, body = arg
            once = _expand(body)
            if any(_WILD in t for t in once) and high > 1:
                once = [_WILD]  # \w+ and the like
            options = ([""] if low == 0 else []) + once
        else:  # a construct a lexicon does not use: leave the slot open
            options = [_WILD]
        out = [a + b for a, b in itertools.islice(itertools.product(out, options), 4 * _PER_PHRASE)]
    return out


def _is_word(alternative: Any) -> bool:
    from re._constants import LITERAL

    return all(op is LITERAL and chr(arg) != " " for op, arg in alternative)


def module_patterns(module: Any) -> Iterator[tuple[str, re.Pattern[str]]]:
    """(name, pattern) for every compiled regex a module holds at top level, including those
    in tuples, lists and dict values."""
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        if isinstance(value, re.Pattern):
            yield name, value
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                if isinstance(v, re.Pattern):
                    yield f"{name}[{i}]", v
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, re.Pattern):
                    yield f"{name}[{k!r}]", v


# -- loading the sets -------------------------------------------------------------------------

_TEXT_FIELDS = ("message", "text", "question")


def jsonl_items(path: Path, source: str, split_field: str | None = None) -> list[Item]:
    """Items of a JSONL file (the text in message, text or question); with `split_field`,
    the set name gets the row's split (redteam:holdout)."""
    items = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text = next((row[f] for f in _TEXT_FIELDS if isinstance(row.get(f), str)), None)
            if text is None:
                raise ValueError(f"{path}:{number}: no {', '.join(_TEXT_FIELDS)} field")
            name = source
            if split_field:
                name = f"{source}:{row.get(split_field) or 'tuned'}"
            items.append(Item(name, str(row.get("id", f"line-{number}")), text))
    return items
