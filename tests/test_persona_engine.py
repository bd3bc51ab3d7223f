"""The reply engine: unit behaviour with the scripted model, then the real model over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.demo import DEMO_CREATOR_ID
from persona.engine import Channel, ReplyAction, ReplyRequest, ReplyResult
from persona.engine.copyguard import CopyGuard, EchoGuard
from persona.engine.postprocess import (
    clean_completion,
    drop_assistant_closers,
    fit_length,
    sounds_like_assistant,
)
from persona.llm import LLMConfig
from persona.store import Creator, Message
from persona.store.posts import load_post_records
from tests.doubles import ScriptedBackend
from tests.persona_support import Library, build_demo_library, copy_data_dir, open_library


@pytest.fixture(scope="module")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo creator ingested once, through persona and ingest alone (no channels/)."""
    return build_demo_library(tmp_path_factory.mktemp("persona-demo"))


@pytest.fixture
def library(library_template: Path, tmp_path: Path) -> Iterator[Library]:
    built = open_library(copy_data_dir(library_template, tmp_path / "data"))
    yield built
    built.close()
    ScriptedBackend.script = []


def reply(library, message: str, **kwargs) -> ReplyResult:
    return asyncio.run(library.engine.reply(ReplyRequest(DEMO_CREATOR_ID, message, **kwargs)))


def test_copy_guard_flags_eight_shared_words_only():
    guard = CopyGuard(["on fait des crêpes dimanche soir en live avec vous tous"])
    assert guard.copies("Hey! on fait des crêpes dimanche soir en live avec vous")
    assert not guard.copies("on fait des crêpes dimanche soir, viens !")


def test_postprocess_strips_prefixes_and_run_on_dialogue():
    raw = 'Camille: "merci beaucoup 💛"\nFan: and then?'
    assert clean_completion(raw, "Camille") == "merci beaucoup 💛"
    # The fan's "Coucou Camille !" echoed back: the double does not greet itself.
    assert (
        clean_completion("Hey Camille ! je fais une tatin", "Camille Roux")
        == "Hey! je fais une tatin"
    )
    assert clean_completion("Hey Camille how are you", "Camille Roux") == "Hey Camille how are you"
    assert fit_length("One. Two two. Three three three.", 16) == "One. Two two."
    assert sounds_like_assistant("Feel free to ask me anything!")
    assert not sounds_like_assistant("ask me anything on sunday's live!")


def test_copying_and_assistant_candidates_are_rejected(library):
    posts = [r.clean_text for r in load_post_records(library.db, DEMO_CREATOR_ID)]
    copied = max(posts, key=len)
    ScriptedBackend.script = [copied, "As an AI language model I cannot", "merci, trop gentil 🍋"]
    result = reply(library, "Tu es la meilleure !", candidates=3, record=False)
    assert result.action == ReplyAction.SEND
    assert result.text == "merci, trop gentil 🍋"
    reasons = sorted(c.rejected for c in result.candidates)
    assert reasons == ["", "assistant voice", "copies a post (8+ words)"]


def test_a_help_desk_closer_is_dropped_and_the_reply_kept(library):
    # The small model's habit: a fine reply, then "feel free to ask". The closer goes, the
    # reply stays; a draft that is nothing but a closer is still rejected.
    ScriptedBackend.script = [
        "Feel free to ask me anything!",
        "Avec plaisir, ravie que ça ait marché ! N'hésite pas à me demander si besoin.",
    ]
    result = reply(library, "merci pour ta réponse, ça a marché !", candidates=2, record=False)
    assert result.action == ReplyAction.SEND
    assert result.text == "Avec plaisir, ravie que ça ait marché !"
    assert sorted(c.rejected for c in result.candidates) == ["", "assistant voice"]
    assert drop_assistant_closers("Feel free to ask me anything!") == ""
    assert drop_assistant_closers("Try it with butter. Let me know if you need more") == (
        "Try it with butter."
    )


def test_a_stream_never_shows_a_help_desk_closer(library):
    ScriptedBackend.script = [
        "Avec plaisir, ravie que ça ait marché pour toi et ta famille ce soir ! "
        "N'hésite pas à me demander si tu as besoin d'autre chose pour la suite."
    ]

    async def collect() -> list:
        request = ReplyRequest(DEMO_CREATOR_ID, "merci, ça a marché !", Channel.SPACE, record=False)
        return [item async for item in library.engine.stream(request)]

    items = asyncio.run(collect())
    shown = "".join(i for i in items if isinstance(i, str))
    assert "hésite" not in shown
    assert (
        items[-1].text == "Avec plaisir, ravie que ça ait marché pour toi et ta famille ce soir !"
    )


def test_all_candidates_rejected_gives_the_no_answer_message(library):
    posts = [r.clean_text for r in load_post_records(library.db, DEMO_CREATOR_ID)]
    ScriptedBackend.script = [max(posts, key=len)]
    result = reply(library, "Raconte-moi ta journée", candidates=2, record=False)
    assert result.action == ReplyAction.NO_ANSWER
    assert "copies a post" in result.reason


def test_reply_fits_the_channel_length(library):
    ScriptedBackend.script = ["yes! " * 100]
    result = reply(library, "are you going live tonight?", channel=Channel.LIVE, record=False)
    assert len(result.text) <= 160


def test_kill_switch_stops_replies_at_once(library):
    with library.db.session() as session:
        creator = session.get(Creator, DEMO_CREATOR_ID)
        creator.settings = {**creator.settings, "paused": True}
    result = reply(library, "hello!")
    assert result.action == ReplyAction.PAUSED
    assert result.text == ""


def test_conversation_is_recorded_with_ai_label_and_memory(library):
    ScriptedBackend.script = ["coucou toi 🥐"]
    first = reply(library, "Salut Camille, je m'appelle Zoé", fan_handle="zoe")
    second = reply(library, "tu te souviens de moi ?", fan_handle="zoe")
    assert first.conversation_id == second.conversation_id
    with library.db.session() as session:
        rows = session.scalars(
            select(Message).where(Message.conversation_id == first.conversation_id)
        ).all()
    assert [m.role for m in rows] == ["fan", "ai", "fan", "ai"]
    assert rows[1].meta["ai_generated"] is True and rows[1].meta["label"]
    # the second prompt carried the first exchange
    chat = library.engine.chat_model
    last_prompt = str(chat.calls[-1][-1].content)
    assert "je m'appelle Zoé" in last_prompt


def test_prompt_starts_with_the_same_creator_constant_prefix(library):
    reply(library, "first message", record=False, candidates=1)
    reply(library, "a completely different second message", record=False, candidates=1)
    calls = library.engine.chat_model.calls
    assert calls[-1][:-1] == calls[-2][:-1]  # system + examples identical
    assert calls[-1][-1].content != calls[-2][-1].content


def test_streaming_yields_deltas_then_the_checked_result(library):
    # "tu fais un live ?" is a factual question: the same line serves as the words the
    # reader step extracts from the posts (verified there) and as the streamed reply.
    ScriptedBackend.script = ["oui, live ce soir 18h 🍋"]

    async def collect() -> list:
        request = ReplyRequest(DEMO_CREATOR_ID, "tu fais un live ?", Channel.SPACE, record=False)
        return [item async for item in library.engine.stream(request)]

    items = asyncio.run(collect())
    assert all(isinstance(i, str) for i in items[:-1])
    final = items[-1]
    assert isinstance(final, ReplyResult)
    assert "".join(items[:-1]) == final.text


def test_factual_question_without_a_verified_fact_gets_the_no_answer_message(library):
    # The reader step invents a time that no retrieved post contains: no reply is drafted.
    ScriptedBackend.script = ["every day at 47667 o'clock"]
    calls = library.engine.chat_model.calls
    calls.clear()
    result = reply(library, "tu fais un live ?", record=False)
    assert result.action == ReplyAction.NO_ANSWER
    assert result.category == "ungrounded"
    assert "verified" in result.reason
    assert "generate" not in result.timings_ms
    assert len(calls) == 1  # the reader call only


def test_factual_answer_must_carry_the_verified_fact(library):
    # The reader finds the live's time in the retrieved posts; the draft forgets it, so the
    # fan gets a reply built from the verified words instead.
    ScriptedBackend.script = ["live ce soir 18h", "trop hâte de vous voir 🍋"]
    calls = library.engine.chat_model.calls
    calls.clear()
    result = reply(library, "tu fais un live ?", record=False, candidates=1)
    assert result.action in (ReplyAction.SEND, ReplyAction.HOLD)
    assert "18h" in result.text
    reader, draft = calls
    assert "NONE" in str(reader[0].content)
    assert "live ce soir 18h" in str(draft[-1].content)


@pytest.mark.slow
def test_real_model_answers_in_the_creators_voice(library_template, tmp_path, real_llm):
    config = LLMConfig(
        backend="openai", base_url=real_llm.url, api_key=real_llm.api_key, model=real_llm.model
    )
    library = open_library(copy_data_dir(library_template, tmp_path / "data"), config)
    try:
        result = asyncio.run(
            library.engine.reply(
                ReplyRequest(
                    DEMO_CREATOR_ID,
                    "Coucou Camille ! Tu cuisines quoi ce soir ?",
                    candidates=2,
                    record=False,
                )
            )
        )
    finally:
        library.close()
    assert result.action in (ReplyAction.SEND, ReplyAction.NO_ANSWER)
    assert result.text
    assert result.timings_ms["generate"] > 0
    if result.action == ReplyAction.SEND:
        assert not sounds_like_assistant(result.text)
        posts = [r.clean_text for r in load_post_records(library.db, DEMO_CREATOR_ID)]
        assert not CopyGuard(posts).copies(result.text)


def test_echo_guard_rejects_restatements_not_answers_that_reuse_words():
    message = "what's your favourite easy dinner for a weeknight?"
    guard = EchoGuard([message], instructions=["keep it about the recipe of the week"])
    # Restating the question (most words are the fan's) is an echo...
    assert guard.copies("my favourite easy dinner for a weeknight?")
    # ...answering with a few of its words is not.
    assert not guard.copies("easy dinner? pasta al limone, 15 minutes and done 🍋")
    # Reciting the request's instructions leaks them: six words are enough.
    assert guard.copies("ok so keep it about the recipe of the week then")


def test_every_draft_rejected_gets_a_second_strategy_before_the_fallback(library):
    posts = [r.clean_text for r in load_post_records(library.db, DEMO_CREATOR_ID)]
    copied = max(posts, key=len)
    ScriptedBackend.script = [
        copied,
        copied,
        "haha la pâte brisée, beurre bien froid et zéro stress",
    ]
    result = reply(library, "une astuce pour la pâte brisée ?", candidates=2, record=False)
    assert result.action == ReplyAction.SEND
    assert result.text.startswith("haha la pâte brisée")
    assert "rescue prompt" in result.reason
    rounds = [(c.round, bool(c.rejected)) for c in result.candidates]
    assert rounds[:2] == [(1, True), (1, True)] and (2, False) in rounds


def test_no_answer_follows_the_fans_language(library):
    posts = [r.clean_text for r in load_post_records(library.db, DEMO_CREATOR_ID)]
    ScriptedBackend.script = [max(posts, key=len)]
    french = reply(library, "Raconte-moi ta journée", candidates=1, record=False)
    english = reply(library, "Tell me about your day", candidates=1, record=False)
    assert french.action == english.action == ReplyAction.NO_ANSWER
    assert french.text != english.text
    assert "désolé" in french.text.casefold() or "préfère" in french.text.casefold()


def test_the_models_own_refusal_of_an_ordinary_message_is_not_sent(library):
    ScriptedBackend.script = [
        "désolé, je ne peux pas vous aider avec ça.",
        "beurre bien froid, on travaille vite et au frigo 30 minutes 🍋",
    ]
    result = reply(library, "une astuce pour la pâte brisée ?", candidates=2, record=False)
    assert result.action == ReplyAction.SEND
    assert result.text.startswith("beurre bien froid")
    assert "refuses an ordinary message" in [c.rejected for c in result.candidates]


def test_a_draft_in_the_other_language_is_rejected_and_the_prompt_names_the_language(library):
    ScriptedBackend.script = [
        "thanks so much, the lemon tart is my favourite too!",
        "merci, la tarte au citron c'est ma préférée aussi !",
    ]
    result = reply(library, "ta tarte au citron est trop bonne", candidates=2, record=False)
    assert result.text == "merci, la tarte au citron c'est ma préférée aussi !"
    assert "not in the fan's language" in [c.rejected for c in result.candidates]
    prepared = library.engine._prepare(ReplyRequest(DEMO_CREATOR_ID, "ta tarte est trop bonne"))
    assert "Reply in French." in str(prepared.messages[-1].content)


def test_warm_up_builds_the_reply_path_before_the_first_fan(library):
    engine = library.engine
    engine.warm_up([DEMO_CREATOR_ID, "nobody-here"])  # an unknown creator is skipped
    assert DEMO_CREATOR_ID in engine._creators
    assert engine._ranker is not None


def test_news_to_come_with_nothing_in_the_posts_gets_nothing_announced(library):
    # The demo's posts say nothing of a third book: no canned refusal, no invented news.
    ScriptedBackend.script = [
        "Oui ! Il sort cet automne 😍",
        "Rien à annoncer pour l'instant, mais vous le saurez ici en premier 🤫",
    ]
    result = reply(
        library,
        "tu prépares un troisième livre sur les fromages du Japon ?",
        candidates=2,
        record=False,
    )
    assert result.action == ReplyAction.SEND, result.reason
    assert result.category == "no_news"
    assert result.text.startswith("Rien à annoncer")
    rejected = [c.rejected for c in result.candidates if c.rejected]
    assert len(rejected) == 1 and rejected[0].startswith("announces what the posts do not hold")


def test_a_server_that_continues_replies_gets_the_honest_opener_to_continue(library, monkeypatch):
    # llama.cpp continues a final assistant message: the reply starts with "nothing to
    # announce", the model writes the rest, and a yes after the opener is still caught.
    from persona.safety.news import no_news_opener

    monkeypatch.setattr(ScriptedBackend, "continues_assistant_prefix", True)
    ScriptedBackend.script = [
        ", mais oui, on y travaille 😍",
        " : vous le saurez ici en premier 🤫",
    ]
    question = "tu prépares un troisième livre sur les fromages du Japon ?"
    result = reply(library, question, candidates=2, record=False)
    opener = no_news_opener("fr")
    assert result.action == ReplyAction.SEND, result.reason
    assert result.text == f"{opener} : vous le saurez ici en premier 🤫"
    rejected = [c.rejected for c in result.candidates if c.rejected]
    assert len(rejected) == 1 and "oui" in rejected[0]
    sent = library.engine.chat_model.calls[-1]
    assert sent[-1].type == "ai" and sent[-1].content == opener

    async def streamed() -> list[str | ReplyResult]:
        return [
            part
            async for part in library.engine.stream(
                ReplyRequest(DEMO_CREATOR_ID, question, channel=Channel.SPACE, record=False)
            )
        ]

    ScriptedBackend.script = [" : vous le saurez ici en premier 🤫"]
    library.engine.chat_model.script[:] = ScriptedBackend.script
    parts = asyncio.run(streamed())
    final = parts[-1]
    assert isinstance(final, ReplyResult) and final.action == ReplyAction.SEND, final.reason
    assert "".join(p for p in parts if isinstance(p, str)) == final.text
    assert final.text.startswith(opener)


def test_a_listicle_becomes_plain_chat_text(library):
    ScriptedBackend.script = [
        "Here are some tips:\n\n1. **Chill the butter**: cold is flaky\n2. Rest the dough\n3."
    ]
    result = reply(library, "any tips for flaky pastry?", candidates=1, record=False)
    assert result.action == ReplyAction.SEND, result.reason
    assert result.text == "Chill the butter: cold is flaky. Rest the dough."
