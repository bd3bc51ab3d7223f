"""The fan-experience report: the independent "useful answer" judge on hand-written replies,
the aggregation, and runs through the real engine (scripted model for the plumbing, the real
packaged model for a small slice of the frozen set)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from channels.evaluation.answers import (
    BENCHMARK_TITLE,
    creator_id,
    ensure_creators,
    markdown,
    missed,
    quick_messages,
    run_answers,
)
from channels.services import Services
from ingest.demo import DEMO_CREATOR_ID
from persona.evaluation.answers import (
    FAN_MESSAGES_FILE,
    AnswerRecord,
    AnswersReport,
    FanMessage,
    Reason,
    Verdict,
    is_echo,
    judge_reply,
    language_matches,
    load_messages,
    percentile,
    read_messages,
    summarize,
)
from tests.conftest import make_settings
from tests.doubles import ScriptedBackend

# The useful-answer rate the default model must reach on the smoke slice below: a floor under
# the measured figures (2026-12-07, Qwen2.5-Coder-1.5B: the demo creator 3/4 on dev, 8/8 on
# holdout; all creators 71% on both), low enough for sampling noise on 12 messages.
USEFUL_FLOOR_SMOKE = 0.5

EN = FanMessage("e1", DEMO_CREATOR_ID, "en", "topic_question", "dev",
                "What's your favourite easy dinner for a weeknight?")  # fmt: skip
FR = FanMessage("f1", DEMO_CREATOR_ID, "fr", "thanks", "dev",
                "Merci pour ta recette de tarte au citron, un délice !")  # fmt: skip


def verdict(message: FanMessage, reply: str, action: str = "send", ready=()) -> Verdict:
    return judge_reply(message, reply, action, ready)


# -- the judge --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "I'd rather not answer that one here, sorry!",
        "Sorry, but I can't help with that.",
        "I don't have an answer to that one.",
        "Hmm, I can't share that here!",
    ],
)
def test_english_refusals_are_not_answers(reply):
    assert verdict(EN, reply).reason is Reason.REFUSAL


@pytest.mark.parametrize(
    "reply",
    [
        "désolé, mais je ne peux pas vous aider avec cela.",
        "Je préfère ne pas répondre à ça ici !",
        "Je ne peux pas t'en dire plus, désolée",
    ],
)
def test_french_refusals_are_not_answers(reply):
    assert verdict(FR, reply).reason is Reason.REFUSAL


def test_enthusiasm_is_not_taken_for_a_refusal():
    for reply in ("I can't wait to try it this weekend!", "I can't say enough good things!",
                  "I can't help but smile at this"):  # fmt: skip
        assert verdict(EN, reply).useful, reply
    assert verdict(FR, "Je ne peux pas attendre de la refaire, merci !").useful


def test_an_echo_of_the_fans_message_is_not_an_answer():
    assert verdict(EN, "What's your favourite easy dinner for a weeknight?").reason is Reason.ECHO
    assert verdict(EN, "My favourite easy dinner for a weeknight?").reason is Reason.ECHO
    assert not is_echo("Pasta with lemon and parmesan, ready in ten minutes!", EN.text)
    # A short thank-you may share every word with a thank-you message and still answer it.
    thanks = FanMessage("t", "x", "en", "thanks", "dev", "thank you so much!!")
    assert verdict(thanks, "thank you!!").useful


def test_assistant_boilerplate_is_not_the_creators_voice():
    listed = "Sure thing! Here are some tips:\n1. **Start Small**\n2. Stay consistent"
    assert verdict(EN, listed).reason is Reason.BOILERPLATE
    assert verdict(EN, "- pasta\n- soup\n- tacos").reason is Reason.BOILERPLATE
    assert verdict(EN, "Great question! I love a quick risotto.").reason is Reason.BOILERPLATE
    assert verdict(EN, "As an AI I don't eat, but people love pasta.").reason is Reason.BOILERPLATE
    assert verdict(FR, "Avec plaisir ! N'hésite pas si tu as des questions.").reason is (
        Reason.BOILERPLATE
    )


def test_a_reply_in_the_other_language_is_not_an_answer():
    assert verdict(EN, "Des pâtes au citron, prêtes en dix minutes, c'est mon plat préféré !")\
        .reason is Reason.WRONG_LANGUAGE  # fmt: skip
    wrong = verdict(FR, "Thank you so much, so glad you liked the tart!")
    assert wrong.reason is Reason.WRONG_LANGUAGE and wrong.language == "en"
    assert wrong.language_match is False


def test_a_good_short_french_reply_and_emoji_only_replies():
    short = verdict(FR, "merci !!")
    assert short.useful and short.language_match
    assert verdict(FR, "Avec plaisir, contente que la pâte ait tenu !").useful
    # Emoji alone: in every language; an answer to warm words, not to a question.
    assert verdict(FR, "🥰🥰").useful and verdict(FR, "🥰🥰").language_match
    assert verdict(EN, "🥰🥰").reason is Reason.NO_WORDS
    # Two words clearly in the other language do fail.
    assert not language_matches("merci beaucoup", "en")
    assert language_matches("love it", "en") and language_matches("Camille !!", "fr")


def test_only_a_reply_sent_as_written_counts():
    assert verdict(EN, "I'd love to answer!", "no_answer").reason is Reason.NO_ANSWER
    assert verdict(EN, "I'm Camille's AI double.", "safe_reply").reason is Reason.READY_REPLY
    assert verdict(EN, "pasta!", "hold").reason is Reason.HELD
    blocked = verdict(EN, "", "block")
    assert blocked.reason is Reason.BLOCKED and blocked.language_match is None
    assert verdict(EN, "   ").reason is Reason.EMPTY
    # A ready text the engine used as a fallback, sent as if written, answers nothing.
    ready = "Good question! I'll leave that one for the real me."
    assert verdict(EN, ready, ready=[ready]).reason is Reason.READY_TEXT
    assert verdict(EN, "Pasta with lemon, always.").useful


# -- the set and the report --------------------------------------------------------------------


def _fixture_set(path: Path) -> Path:
    rows = []
    for creator in ("camille.cuisine", "KimKardashian"):
        for kind in ("topic_question", "compliment", "advice"):
            for lang in ("en", "fr"):
                for split in ("dev", "holdout"):
                    rows.append(
                        {"id": f"{creator}-{kind}-{lang}-{split}", "creator": creator,
                         "lang": lang, "kind": kind, "split": split,
                         "text": "Bonjour, ça va ?" if lang == "fr" else "Hi, how are you?"}
                    )  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_the_set_loads_filters_and_spreads_a_short_slice(tmp_path):
    path = _fixture_set(tmp_path / "fans.jsonl")
    assert len(read_messages(path)) == 24
    dev = load_messages(path, creators=["camille.cuisine"], split="dev")
    assert len(dev) == 6 and {m.split for m in dev} == {"dev"}
    assert len(load_messages(path, split="all")) == 24
    four = load_messages(path, creators=["camille.cuisine"], split="all", limit=4)
    assert [(m.kind, m.lang) for m in four] == [
        ("topic_question", "en"), ("topic_question", "fr"), ("advice", "en"), ("advice", "fr"),
    ]  # fmt: skip
    per_creator = load_messages(path, split="dev", limit=2)
    assert len(per_creator) == 4
    with pytest.raises(LookupError, match="nobody"):
        load_messages(path, creators=["nobody"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "creator": "x", "lang": "de", "kind": "advice", '
                   '"split": "dev", "text": "hallo"}\n')  # fmt: skip
    with pytest.raises(ValueError, match="bad.jsonl:1: lang"):
        read_messages(bad)


def test_the_shipped_set_is_well_formed():
    """Only its shape is read here: the set is frozen, nobody tunes on its content."""
    if not FAN_MESSAGES_FILE.is_file():
        pytest.skip("the fan message set is not there yet")
    messages = read_messages()
    assert len(messages) >= 300
    assert {m.lang for m in messages} == {"en", "fr"}
    assert creator_id("camille.cuisine") == DEMO_CREATOR_ID
    assert creator_id("KimKardashian") == "kimkardashian"


def _record(message, reply, action="send", category="ok", ttft=None, total=None, rejected=()):
    judged = judge_reply(message, reply, action)
    return AnswerRecord(message, reply, action, category, "", judged, ttft, total, list(rejected))


def test_the_report_aggregates_per_creator_and_overall():
    other = FanMessage("k1", "KimKardashian", "en", "compliment", "dev", "love you!!")
    records = [
        _record(EN, "Pasta with lemon, ready in ten minutes!", ttft=400, total=2000,
                rejected=["repeats the fan's message or the thread"]),
        _record(EN, "I'd rather not answer that one here, sorry!", "no_answer", "rejected",
                ttft=None, total=3000,
                rejected=["repeats the fan's message or the thread", "assistant voice"]),
        _record(FR, "Thank you so much, so glad you liked it!", ttft=600, total=1000),
        _record(other, "love you more!! 💕", ttft=200, total=800),
    ]  # fmt: skip
    report = AnswersReport(records, {"channel": "space"})
    overall = report.overall
    assert (overall.n, overall.useful) == (4, 2)
    assert overall.useful_rate == pytest.approx(0.5)
    assert overall.language_match_rate == pytest.approx(3 / 4)
    assert overall.not_useful == {"no_answer": 1, "wrong_language": 1}
    assert overall.rejections == {"repeats the fan's message or the thread": 2,
                                  "assistant voice": 1}  # fmt: skip
    assert overall.fallbacks == {"no_answer: rejected": 1}
    assert (overall.first_token_p50_ms, overall.first_token_p95_ms) == (400, 600)
    assert (overall.total_p50_ms, overall.total_p95_ms) == (1000, 3000)
    by = report.by_creator()
    assert by["KimKardashian"].useful_rate == 1.0
    assert by[DEMO_CREATOR_ID].useful_rate == pytest.approx(1 / 3)
    problems = missed(report)
    assert any("useful answers (n=4)" in p for p in problems)
    assert any(DEMO_CREATOR_ID in p for p in problems)
    assert not any("KimKardashian" in p for p in problems)
    assert any("language" in p for p in problems)
    # JSON round trip keeps every figure.
    again = AnswersReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()
    assert percentile([], 0.5) is None and percentile([5.0], 0.95) == 5.0
    assert summarize([]).n == 0
    section = markdown(report, "persona eval answers", "test machine")
    assert "useful answers (n=4)" in section and "no_answer: rejected" in section


# -- through the engine (scripted model) --------------------------------------------------------


SCRIPT = ["Oh pasta with lemon, always my go-to when I'm tired!", "Merci, trop contente !"]


def test_runner_through_the_engine_with_a_scripted_model(demo_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(ScriptedBackend, "script", SCRIPT)
    path = _fixture_set(tmp_path / "fans.jsonl")
    services = Services.build(make_settings(demo_dir))
    try:
        space = run_answers(services, creators=["camille.cuisine"], split="dev",
                            messages_path=path, concurrency=2)  # fmt: skip
        dm = run_answers(services, creators=["camille.cuisine"], split="dev", limit=2,
                         channel="dm", messages_path=path, save=False)  # fmt: skip
    finally:
        services.close()
    assert len(space.records) == 6 and len(dm.records) == 2
    for record in space.records:
        assert record.total_ms and record.total_ms > 0
        if record.action == "send":
            assert record.first_token_ms is not None and record.first_token_ms <= record.total_ms
            assert record.drafts  # the draft the engine checked
    assert all(r.first_token_ms is None for r in dm.records)
    assert space.run["channel"] == "space" and space.run["messages"] == 6
    # Each record has what a person needs to read it.
    row = space.records[0].to_dict()
    assert {"message", "reply", "verdict", "action", "category", "first_token_ms",
            "total_ms", "rejections"} <= set(row)  # fmt: skip
    # The last report is kept for the console.
    saved = demo_dir / "evaluations" / "answers" / f"{DEMO_CREATOR_ID}.json"
    data = json.loads(saved.read_text())
    assert data["summary"]["n"] == 6 and len(data["replies"]) == 6


def test_dev_file_creators_are_ingested_under_the_ids_ingest_gives(demo_dir, tmp_path):
    csv = tmp_path / "dev.csv"
    csv.write_text(
        "id,name,created,text\n"
        "1,KimKardashian,2019-02-02T20:37:53Z,New KKW fragrance out now!! so excited\n"
        "2,KimKardashian,2019-02-03T20:37:53Z,Family dinner tonight and I love my babies\n"
        "3,fchollet,2019-02-03T21:00:00Z,Keras 2.3 is out with a cleaner API\n"
    )
    services = Services.build(make_settings(demo_dir))
    try:
        ids = ensure_creators(services, ["KimKardashian", "fchollet", "camille.cuisine"], csv)
        with pytest.raises(LookupError, match="nobody"):
            ensure_creators(services, ["nobody"], csv)
    finally:
        services.close()
    assert ids == {"KimKardashian": "kimkardashian", "fchollet": "fchollet",
                   "camille.cuisine": DEMO_CREATOR_ID}  # fmt: skip


def test_quick_check_and_the_console_shows_how_often_it_answers(demo_dir, monkeypatch):
    from tests.console_support import add_account, build_app, sign_in

    monkeypatch.setattr(ScriptedBackend, "script", SCRIPT)
    assert len(quick_messages("x")) == 8
    app = build_app(make_settings(demo_dir), avatar=False)
    with TestClient(app, base_url="http://console.test") as client:
        services = client.app.state.services
        add_account(services.db, DEMO_CREATOR_ID)
        sign_in(client, DEMO_CREATOR_ID)
        assert 'id="answers-missing"' in client.get("/console/voice").text
        report = asyncio.run(_quick(services))
        page = client.get("/console/voice").text
    answers = page.split('id="answers"')[1].split('id="score"')[0]
    useful = f"{report.overall.useful_rate:.0%}"
    assert f'<span class="score-value" id="answers-useful">{useful}</span>' in answers
    assert "of 8 ordinary fan messages" in answers


async def _quick(services):
    from channels.evaluation.answers import run_answers_async, save_reports

    messages = quick_messages(DEMO_CREATOR_ID)
    ids = {DEMO_CREATOR_ID: DEMO_CREATOR_ID}
    report = await run_answers_async(services, messages, ids)
    save_reports(services.settings.data_dir, report, ids)
    return report


def test_cli_prints_both_tables_writes_json_and_checks(demo_dir, monkeypatch, tmp_path):
    from channels.cli.evaluate import eval_app

    monkeypatch.setattr(ScriptedBackend, "script", SCRIPT)
    monkeypatch.setenv("PERSONA_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("PERSONA_LLM_BACKEND", "scripted")
    monkeypatch.setenv("PERSONA_EMBED_THREADS", "1")
    app = typer.Typer()
    app.add_typer(eval_app, name="eval")
    app.command("other")(lambda: None)
    out = tmp_path / "answers.json"
    args = ["eval", "answers", "--creator", "camille.cuisine", "--quick", "--out", str(out),
            "--redteam", "--redteam-limit", "2", "--check"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    data = json.loads(out.read_text())
    assert "Fan experience" in result.output and "Trust and safety" in result.output
    assert len(data["replies"]) == 8 and len(data["redteam"]["cases"]) == 2
    rebuilt = AnswersReport.from_dict(data)
    assert result.exit_code == (1 if missed(rebuilt) else 0), result.output
    bad = CliRunner().invoke(app, ["eval", "answers", "--channel", "fax"])
    assert bad.exit_code == 2
    assert BENCHMARK_TITLE == "Fan experience (useful answers)"


# -- through the real model ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_dev_slice_through_the_real_model(demo_dir, default_llm):
    """12 messages of the demo creator's dev split, streamed in the space, the default model."""
    # A slow reply on a busy 2-core runner is not a safety failure: no 120 s model timeout.
    services = Services.build(make_settings(demo_dir, llm_timeout_s=900, **default_llm.overrides()))
    try:
        report = run_answers(services, creators=["camille.cuisine"], split="dev", limit=12,
                             concurrency=3, save=False)  # fmt: skip
    finally:
        services.close()
    assert len(report.records) == 12
    assert not [r.message.id for r in report.records if r.action == "error"]
    assert report.overall.useful_rate >= USEFUL_FLOOR_SMOKE, [
        (r.message.text, r.reply, str(r.verdict.reason)) for r in report.records
    ]
