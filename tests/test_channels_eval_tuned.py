"""The voice-adapter loop of `persona eval voice --tuned`: the same held-out fan messages go
through the base pipeline and through the creator's candidate adapter, one judge scores both,
and only a winning adapter that copies no post is activated (then served to every request).

The model is a scripted double that answers in the creator's register only when a request
selects that creator's adapter (as vLLM does with `model=<adapter>`); store, index, engine,
judge, adapter store and decisions are the real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from persona.llm.backends import LLMBackend, chat_models
from persona.tune.adapters import AdapterManifest, AdapterStatus, AdapterStore
from tests.conftest import make_settings
from tests.doubles import ScriptedChatModel
from tests.test_persona_evaluation import CHEF, PROF

# What each adapter "learned" (by creator): the register of its creator, or a copied post.
LEARNED: dict[str, str] = {}


class AdapterAwareChatModel(ScriptedChatModel):
    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls.append(messages)
        text = LEARNED.get(kw.get("model", ""), "As an assistant, here is some general advice.")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


class AdapterAwareBackend(LLMBackend):
    name = "adapter-aware"

    def start(self) -> str:
        return self.base_url

    def stop(self) -> None:
        return None

    @property
    def base_url(self) -> str:
        return "scripted://"

    def chat_model(self, **overrides: Any) -> AdapterAwareChatModel:
        return AdapterAwareChatModel(calls=[])


chat_models.add(AdapterAwareBackend.name, AdapterAwareBackend)


def candidate(store: AdapterStore, creator: str) -> int:
    version = store.new_version(AdapterManifest(creator, 0, AdapterStatus.TRAINING, "base", "0"))
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (version.path / name).write_text("{}")
    return store.finish(version).version


@pytest.fixture()
def services(tmp_path: Path):
    from channels.services import Services

    built = Services.build(make_settings(tmp_path / "data", llm_backend="adapter-aware"))
    built.ingestor().ingest_records(CHEF + PROF, source="test")
    yield built
    built.close()
    LEARNED.clear()


def test_a_winning_adapter_is_activated_and_served(services) -> None:
    from channels.evaluation.voice import run_tuned_comparison
    from persona.store import VoiceEval

    store = AdapterStore(services.settings.data_dir)
    version = candidate(store, "chef")
    # In the chef's voice and in the fan's language (the held-out messages are English: a
    # French reply to them is rejected as not in the fan's language).
    LEARNED["chef"] = "omg so good 🍋 bisous les gourmands"
    comparisons, accuracy = run_tuned_comparison(services, ["chef"], per_creator=3, candidates=1)
    (comp,) = comparisons
    assert accuracy > 0.9
    assert comp.tuned.attribution > comp.base.attribution
    assert comp.decision == "activated", comp.reason
    assert store.active("chef").version == version
    # From now on every reply for this creator names the adapter; other creators keep the base.
    assert [a.creator for a in services.active_adapters()] == ["chef"]
    assert services.llm.adapter_options("chef") == {"model": "chef"}
    assert services.llm.adapter_options("prof") == {}
    with services.db.session() as session:
        rows = session.query(VoiceEval).filter_by(creator_id="chef").all()
    assert sorted(r.details["variant"] for r in rows) == ["base", "tuned"]


def test_an_adapter_that_copies_posts_is_rejected(services) -> None:
    from channels.evaluation.voice import run_tuned_comparison

    store = AdapterStore(services.settings.data_dir)
    version = candidate(store, "prof")
    from persona.evaluation.voice import split_posts

    # Memorised a held-out post (the double's own copy guard sees only the train part): in
    # voice, but a copy.
    LEARNED["prof"] = split_posts(PROF).test[0].text
    (comp,), _ = run_tuned_comparison(services, ["prof"], per_creator=3, candidates=1)
    assert comp.decision == "rejected" and "copies posts" in comp.reason
    assert store.get("prof", version).manifest.status == AdapterStatus.REJECTED
    assert services.active_adapters() == ()


def test_no_candidate_says_what_to_do(services) -> None:
    from channels.evaluation.voice import run_tuned_comparison

    with pytest.raises(LookupError, match="persona tune"):
        run_tuned_comparison(services, ["chef"])
