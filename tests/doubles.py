"""Test doubles, registered through the same registries as the real backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from persona.engine.prompt import FACT_IN_PROMPT
from persona.llm.backends import HealthCheck, LLMBackend, chat_models


class ScriptedChatModel(BaseChatModel):
    """Answers from a script (cycled), or a short deterministic line about the message."""

    script: list[str] = []
    calls: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _answer(self, messages: list[BaseMessage]) -> str:
        self.calls.append(messages)
        if self.script:
            return self.script[(len(self.calls) - 1) % len(self.script)]
        prompt = str(messages[-1].content)
        if prompt.startswith("Posts:\n- "):
            # The fact reader (persona.safety.factcheck): quote the first retrieved post's
            # opening words, as a faithful extractive reader would.
            first = prompt.removeprefix("Posts:\n- ").split("\n", 1)[0]
            return " ".join(first.split()[:6])
        # A faithful drafter follows the prompt's "Reply in French." (persona.engine.prompt).
        french = "Reply in French." in prompt
        fact = FACT_IN_PROMPT.search(prompt)
        if fact:  # a faithful drafter keeps the verified fact in its reply
            if french:
                return f"oh j'adore, {fact.group(1)}, merci pour ton message !"
            return f"oh I love that, {fact.group(1)}, thanks for writing!"
        last = str(messages[-1].content).rsplit(":", 1)[-1].strip()
        if french:
            return f"oh j'adore, merci pour ton message ({len(last.split())} mots) !"
        return f"oh I love that, thanks for writing ({len(last.split())} words)!"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._answer(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(self._answer(messages).split(" ")):
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=("" if i == 0 else " ") + word)
            )


class ScriptedBackend(LLMBackend):
    name = "scripted"
    script: list[str] = []

    def start(self) -> str:
        return self.base_url

    def stop(self) -> None:
        return None

    @property
    def base_url(self) -> str:
        return "scripted://"

    def chat_model(self, **overrides: Any) -> BaseChatModel:
        return ScriptedChatModel(script=list(ScriptedBackend.script), calls=[])

    def health_checks(self, timeout_s: float = 5.0) -> list[HealthCheck]:
        return [HealthCheck("skip", f"backend {self.name!r} (a test double)")]


chat_models.add(ScriptedBackend.name, ScriptedBackend)
