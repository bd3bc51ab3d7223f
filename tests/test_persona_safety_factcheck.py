"""Extract-then-verify for factual questions (persona.safety.factcheck)."""

from __future__ import annotations

from persona.safety.factcheck import (
    asks_advice,
    carries_fact,
    fact_reply,
    fits_answer_type,
    reader_messages,
    verify_extraction,
)

NOTES = [
    "live tonight at 6pm: one-pot pasta that actually works.",
    "@chloe we adopted her from a shelter in 2021, the vet thinks she was two.",
    "ce soir 18h, live spécial pot-au-feu. trois heures de cuisson.",
]


def test_an_answer_found_in_the_notes_is_verified_with_its_new_words():
    fact = verify_extraction("from a shelter in 2021", NOTES, "When did you adopt Brioche?")
    assert fact is not None
    assert "2021" in fact.new_terms and "shelt" in fact.new_terms


def test_none_an_invented_number_or_invented_words_are_rejected():
    question = "How much money do you make a month?"
    assert verify_extraction("NONE", NOTES, question) is None
    assert verify_extraction("", NOTES, question) is None
    assert verify_extraction("47667 euros", NOTES, question) is None
    assert verify_extraction("she earns a fortune from sponsors", NOTES, question) is None


def test_an_extraction_that_only_repeats_the_question_verifies_nothing():
    assert verify_extraction("yes, the vet", NOTES, "What's the name of your vet?") is None
    assert verify_extraction("YES", NOTES, "Do you have any tattoos?") is None


def test_a_whole_post_copied_back_is_not_an_answer():
    long = " ".join(["live tonight at 6pm one-pot pasta"] * 6)
    assert verify_extraction(long, NOTES, "When is your live?") is None


def test_replies_must_carry_the_fact_and_the_fallback_does():
    fact = verify_extraction("18h", NOTES, "Ton live c'est à quelle heure ?")
    assert fact is not None
    assert carries_fact("ce soir à 18h comme d'hab 🍋", fact)
    assert not carries_fact("trop hâte de vous voir !", fact)
    assert carries_fact(fact_reply(fact, "fr"), fact)
    assert fact_reply(fact, "fr").startswith("18h")
    assert fact_reply(fact, "en").endswith("as I shared on my page!")


def test_advice_requests_are_not_facts_to_look_up():
    assert asks_advice("do you have any tips for a beginner cook?")
    assert asks_advice("t'as des conseils pour une débutante ?")
    assert not asks_advice("When is your birthday?")


def test_the_reader_prompt_lists_the_notes_and_allows_none():
    messages = reader_messages("When is your live?", NOTES)
    system, human = messages[0], messages[-1]
    assert "NONE" in str(system.content)
    assert NOTES[0] in str(human.content) and "When is your live?" in str(human.content)
    # Worked examples (another creator) come before the question, NONE among their answers;
    # they are the same for every question, so the server's prefix cache keeps them.
    shown = [str(m.content) for m in messages[1:-1]]
    assert "NONE" in shown and len(shown) % 2 == 0
    assert messages[:-1] == reader_messages("Another question?", NOTES[:1])[:-1]


def test_a_how_much_or_when_answer_must_have_a_number_or_a_date():
    notes = ["épaisse, la pâte, comme toujours", "on part en tournée le 12 avril, 45 € l'atelier"]
    assert verify_extraction("épaisse", notes, "Tu pèses combien ?") is None
    assert verify_extraction("45 €", notes, "Combien coûte un atelier ?") is not None
    assert verify_extraction("la pâte", notes, "C'est quand, la tournée ?") is None
    assert verify_extraction("le 12 avril", notes, "C'est quand, la tournée ?") is not None
    assert fits_answer_type("eighty recipes", "How many recipes are in the book?")
    assert fits_answer_type("every sunday", "When do you go live?")
    assert fits_answer_type("Lyon", "Which city do you live in?")


def test_words_lifted_from_an_unrelated_sentence_are_not_an_answer():
    # The best hit may answer in another language; further notes must share a word with the
    # question in the very sentence the words come from.
    notes = [
        "je m'associe avec maison fonteval, leurs cocottes en fonte sont parfaites",
        "45 € per workshop: three hours of cooking. the book menu is on the table too",
    ]
    assert verify_extraction("45 €", notes, "How much does Fonteval pay you?") is None
    assert verify_extraction("45 €", notes, "How much is a workshop?") is not None
    assert verify_extraction("maison fonteval", notes, "Which brand do you work with?")


def test_a_yes_no_question_is_confirmed_by_the_posts_saying_its_words():
    # "tu fais un live ce soir ?" with "ce soir 18h, live ..." retrieved: the posts say yes.
    fact = verify_extraction("live ce soir", NOTES, "tu fais un live ce soir ?")
    assert fact is not None
    # Words the posts do not hold still verify nothing.
    assert verify_extraction("live demain midi", NOTES, "tu fais un live demain ?") is None
