"""The guard model: an LLM safety judge over an OpenAI-compatible endpoint (a local stub here,
the packaged small model as plumbing in the slow test)."""

from __future__ import annotations

import logging

import pytest

from persona.safety import InboundAction, InboundCategory, moderate_inbound
from persona.safety.guard_model import (
    GuardModel,
    GuardModelConfig,
    parse_verdict,
)
from persona.safety.redteam import demo_boundaries
from tests.guard_model_support import StubGuard


def _model(url: str) -> GuardModel:
    return GuardModel(GuardModelConfig(base_url=url, model="guard", api_key="k", timeout_s=5))


def test_verdicts_are_read_in_llama_guard_form() -> None:
    assert parse_verdict("safe").safe
    unsafe = parse_verdict("unsafe\nS1, S10")
    assert not unsafe.safe and unsafe.categories == ("S1", "S10")
    assert "Violent Crimes" in unsafe.reason and "Hate" in unsafe.reason
    assert parse_verdict("Unsafe") is not None and parse_verdict("I cannot say") is None


def test_the_guard_judges_unsure_fan_messages_and_logs_why(stub_url, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="persona.safety")
    model = _model(stub_url)
    decision = model.judge("watching you knead that dough, send me more 😏")
    assert (decision.action, decision.category) == (InboundAction.BLOCK, InboundCategory.SEXUAL)
    request = StubGuard.seen[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert "S15: Prompt Injection" in request["messages"][0]["content"]
    assert model.stats["inbound_consulted"] == 1 and model.stats["inbound_unsafe"] == 1
    assert any("guard model: unsafe: S12" in r.getMessage() for r in caplog.records)
    # Self-harm gets the caring reply and an alert, as from the cheap layers.
    care = model.judge("i keep looking at the spoon drawer")
    assert care.action is InboundAction.ESCALATE and care.alert_creator


def test_a_judge_confirming_a_pass_keeps_the_first_layers_hint(stub_url) -> None:
    # "what's your home address" passes with a hint; a judge saying safe must not drop it.
    first = moderate_inbound("what's your home address?", demo_boundaries(), lang="en")
    judged = moderate_inbound(
        "what's your home address?", demo_boundaries(), lang="en", judge=_model(stub_url),
        judge_policy="all_allowed",
    )  # fmt: skip
    assert judged.layer == "llm_judge" and judged.hint == first.hint
    assert judged.category is first.category is InboundCategory.PERSONAL_DATA_REQUEST


@pytest.mark.slow
def test_the_packaged_model_answers_as_a_guard(real_llm) -> None:
    """Plumbing through a real OpenAI-compatible server (the packaged 0.5B is no guard: its
    verdicts are not graded, only read)."""
    model = GuardModel(
        # A ~600-token policy prompt on a shared 2-core CPU: seconds, not the production 10 s.
        GuardModelConfig(
            base_url=real_llm.url, model=real_llm.model, api_key=real_llm.api_key, timeout_s=120
        )
    )
    verdict = model.classify([("user", "I know where you live and I'm coming tonight.")])
    assert verdict is not None, "the model's answer holds neither 'safe' nor 'unsafe'"
    model.close()
