"""News to come with nothing in the posts: "nothing to announce yet", never an announcement."""

from __future__ import annotations

import math

import pytest
from langchain_core.messages import AIMessage

from persona.engine.engine import Draft, _fluency
from persona.engine.postprocess import flatten_markdown, has_markdown
from persona.safety.news import announces, asks_news


@pytest.mark.parametrize(
    "question",
    [
        "will you ever do a meetup in Montreal?",
        "any plans for a podcast?",
        "is your new album out yet?",
        "tu prépares quelque chose pour cet été ?",
        "vous allez refaire des ateliers ?",
        "des projets de collab à venir ?",
        "is the podcast available in spanish yet?",
        "are you coming to Lyon for the festival?",
        "tu viens au salon du livre ?",
    ],
)
def test_questions_about_what_comes_next_ask_for_news(question: str) -> None:
    assert asks_news(question)


@pytest.mark.parametrize(
    "question",
    [
        "what's your dog's name?",
        "c'est quoi ta marque de farine ?",
        "how old were you then?",
        "tu viens d'où ?",
        "did you finish it yet?",
    ],
)
def test_facts_of_the_past_are_not_news(question: str) -> None:
    assert not asks_news(question)


@pytest.mark.parametrize(
    "reply",
    [
        "Nothing I can share yet, but you'll hear it here first!",
        "No news for now 🤫 stay tuned",
        "Rien à annoncer pour l'instant, je vous tiens au courant dès que je peux !",
        "I'll tell you as soon as I can!",
    ],
)
def test_saying_there_is_nothing_to_announce_announces_nothing(reply: str) -> None:
    assert announces(reply, ["is the show coming back?"]) == ""


@pytest.mark.parametrize(
    "reply",
    [
        "Yes! It's coming back",
        "Oui, il sort bientôt 😍",
        "Non, pas de deuxième saison.",
        "Stay tuned, it drops next month",
        "The tour starts in 2025!",
        "We're heading to Berlin and Madrid",
        "Ça arrive cet été !",
    ],
)
def test_a_yes_a_no_a_date_or_a_place_is_an_announcement(reply: str) -> None:
    assert announces(reply, ["is the show coming back?"])


def test_the_fans_own_names_and_numbers_may_be_repeated() -> None:
    assert announces("Nothing planned for Lyon yet!", ["any plans for Lyon?"]) == ""


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Here are some tips:\n\n1. **Start small**", True),
        ("Try this:\n- less flour\n- more rest", True),
        ("**Pro tip**: rest the dough", True),
        ("Rest the dough 30 min, then bake at 200°C. 2 eggs are enough!", False),
        ("merci !! - c", False),
    ],
)
def test_markdown_is_an_assistants_formatting(text: str, expected: bool) -> None:
    assert has_markdown(text) is expected


def test_fluency_is_the_geometric_mean_of_the_token_probabilities() -> None:
    message = AIMessage(
        "hi there",
        response_metadata={"logprobs": {"content": [{"logprob": -0.5}, {"logprob": -1.5}]}},
    )
    assert _fluency(message) == pytest.approx(math.exp(-1.0))
    assert _fluency(AIMessage("no logprobs")) is None
    assert Draft("x", None).fluency is None


def test_a_list_is_flattened_into_sentences_and_plain_text_is_left_alone() -> None:
    assert flatten_markdown("Try this:\n- less flour\n- **more rest**!") == "less flour. more rest!"
    assert flatten_markdown("merci !! 2 oeufs suffisent") == "merci !! 2 oeufs suffisent"


@pytest.mark.parametrize(
    "reply",
    [
        "I don't have any plans to write a 3rd edition",
        "Je vous dis non.",
        "Il n'y aura pas de deuxième saison",
        "it won't come back, sorry",
    ],
)
def test_a_no_in_other_words_is_an_announcement(reply: str) -> None:
    assert announces(reply, ["will there be a 3rd edition?"])
