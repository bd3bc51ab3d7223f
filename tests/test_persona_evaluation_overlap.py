"""The overlap check: evaluation sets hold no near-duplicate of what the layers learn from."""

from __future__ import annotations

import re

import pytest

from persona.evaluation.overlap import Item, find_overlaps, regex_phrases, tokens
from persona.evaluation.overlap_sets import BLIND_DIR, PACKAGE, check, record_blind, unexpected


def test_folding_undoes_case_accents_punctuation_and_leet() -> None:
    assert tokens("Tu GAGNES combien ?!") == ("tu", "gagnes", "combien")
    assert tokens("t'es trooop BELLE, é à") == ("tes", "trop", "belle", "e", "a")
    assert tokens("1gn0re y0ur rul3s in 2021") == ("ignore", "your", "rules", "in", "2021")


def _pairs(evals: list[str], refs: list[str], fragment: bool = False) -> set[tuple[str, str]]:
    found = find_overlaps(
        [Item("eval", str(i), t) for i, t in enumerate(evals)],
        [Item("ref", str(i), t, fragment=fragment) for i, t in enumerate(refs)],
    )
    return {(o.item.text, o.match.text) for o in found}


def test_near_duplicates_by_jaccard_run_and_short_containment() -> None:
    refs = [
        "I wrote letters to my family tonight, just in case",
        "Tu gagnes combien ?",
        "honestly you're the best cook on this app",
    ]
    evals = [
        "i wrote letters to my family just in case",  # 5-word run
        "Tu gagnes combien par mois ?",  # a 3-word text is 60% of it
        "you're honestly the best cook on this app!!",  # Jaccard 1.0
        "what a lovely tart, thank you",  # nothing
        "tu gagnes combien en vendant tes livres de recettes ?",  # a short piece of a long one
    ]
    found = {e for e, _ in _pairs(evals, refs)}
    assert found == set(evals[:3])


def test_lexicon_pieces_count_only_by_run_or_jaccard() -> None:
    # A pattern piece such as "do you like" is in many fair questions.
    assert not _pairs(["Do you like coriander?"], ["do you like"], fragment=True)
    assert _pairs(["what's your home address?"], ["whats your home address"], fragment=True)


def test_one_or_two_words_are_not_near_duplicates() -> None:
    assert not _pairs(["happy birthday!! 🎂"], ["happy birthday"])


def test_regexes_expand_into_the_phrases_written_with_lists_left_open() -> None:
    phrases = regex_phrases(re.compile(r"(?<![a-z])(?:i wrote (?:a |my )?letters? to my family)"))
    assert "i wrote letters to my family" in phrases
    assert "i wrote a letter to my family" in phrases
    word_list = "|".join(f"w{i}" for i in range(20))
    open_slot = regex_phrases(rf"you (?:{word_list}) cook|kys")
    assert "kys" in open_slot
    assert all("w1" not in p for p in open_slot) and len(open_slot) == 2


@pytest.fixture(scope="module")
def report():
    return check()


def test_no_evaluation_item_is_a_near_duplicate_of_training_or_lexicon_data(report) -> None:
    """CI's overlap check (`persona eval overlap`): a contaminated evaluation item fails it.
    Move it to the tuned (development) split or drop it, never paraphrase the training data."""
    assert report.references["intent_train"] > 3000 and report.references["lexicon:lexicons"]
    assert report.references["few_shot:_READER_EXAMPLES"]
    assert {"redteam:holdout", "redteam_fresh", "warm", "grounding"} <= set(report.evaluation)
    found = [o.to_dict() for o in unexpected(report)]
    assert not found, found[:10]


def test_the_blind_splits_overlaps_are_the_recorded_ones(report) -> None:
    """The blind split is frozen by hash: its items that overlap training data are reported
    (tests/data/blind_overlaps.json, docs/safety.md), never edited or dropped. A change of the
    files or of the training data shows here; re-record only after a person has looked
    (`persona eval overlap --record-blind`)."""
    if not any((PACKAGE / BLIND_DIR).glob("*.jsonl")):
        pytest.skip("no blind split yet")
    import json

    recorded = json.loads((PACKAGE / "tests/data/blind_overlaps.json").read_text())
    assert record_blind(report) == recorded
