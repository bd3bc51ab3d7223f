"""Cheap text features of the live intake: near-duplicate questions meet, others stay apart."""

from __future__ import annotations

import pytest

from channels.textsim import (
    clean_name,
    clean_text,
    features,
    fold,
    is_greeting,
    is_question,
    jaccard,
)


def similarity(a: str, b: str) -> float:
    return jaccard(features(a)[0], features(b)[0])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What's your favourite recipe?", "what is ur favorite recipe??"),
        ("What's your favourite recipe?", "WHAT IS YOUR FAVORITE RECIPE???"),
        ("how do you make croissants", "How do u make your croissant?"),
        ("Where do you live?", "where do you live??"),
        ("how are you?", "how r u"),
        ("Quelle est ta recette préférée ?", "quelle est ta recette preferee"),
        ("do you have a dog?", "Do you have a dooooog?"),
    ],
)
def test_near_duplicates_reach_the_threshold(a: str, b: str) -> None:
    assert similarity(a, b) >= 0.6


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What's your favourite recipe?", "What's your favourite movie?"),
        ("how do you make croissants", "how do you make pancakes"),
        ("where do you live?", "do you love cats?"),
        ("how old are you?", "how are you?"),
    ],
)
def test_different_questions_stay_apart(a: str, b: str) -> None:
    assert similarity(a, b) < 0.6


def test_fold_removes_case_accents_and_letter_runs() -> None:
    assert fold("CRÈME Brûlée sooooo good") == "creme brulee so good"


def test_question_words_are_indexed_only_when_nothing_else_is_left() -> None:
    feats, content = features("How do you make croissants?")
    assert "how" in feats and "how" not in content
    assert content
    feats, content = features("how are you?")
    assert content == feats == frozenset({"how"})


def test_question_detection() -> None:
    assert is_question("when is the next video")
    assert is_question("hey, can you say hi to my mum")
    assert is_question("this is great?")
    assert not is_question("this is great")
    assert not is_question("lol")


def test_greeting_detection() -> None:
    assert is_greeting("hi from Lyon!")
    assert is_greeting("Hello everyone")
    assert is_greeting("bonjour !")
    assert not is_greeting("hi, how do you make croissants?")
    assert not is_greeting("hello I really think your last video about bread was great")
    assert not is_greeting("love this")


def test_cleaning_keeps_one_short_line() -> None:
    assert clean_text("a\u200b b\n\tc", 100) == "a b c"
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"
    assert clean_name("  ", "user_42") == "user_42"
    assert clean_name("Anna\x00", "u1") == "Anna"
