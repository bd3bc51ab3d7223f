"""Streaming a reply without leaking what a guardrail would remove: the release gate, and the
token usage of one request.

The release gate
----------------
The model's raw deltas go in; text comes out only up to a *safe point*:

1. the raw text so far is cleaned exactly like the final reply (`clean_completion`), so role
   prefixes, run-on dialogue ("\\nFan: ...") and stuck loops never show;
2. the last `hold_words` words are held back (8: the copy guard's n-gram, also the prompt-leak
   n-gram; the echo guard's is 6). Every n-gram that contains a released word is then whole
   in the buffer when the checks run, and a word still being written is never released;
3. the release point sits on whitespace, within what `fit_length` keeps whatever comes next:
   up to a third of the channel's length, or up to the last confirmed sentence end within
   the length (when the final text is too long it is cut at its last sentence end, which
   comes at or after that one);
4. the checks run on the whole cleaned buffer and on the prefix to release (the engine gives
   them: copy guard, echo guard, assistant voice, then the outbound guardrails). If one
   fails, the gate stops for good: nothing more is released, the final check decides;
5. a reply opening with a quote is held whole (the final text may lose both quotes).

At the end the final, checked text is authoritative: `remainder()` gives what extends the
released prefix, or None when the final text does not (a guardrail replaced it). The gate is
conservative so that this is rare; the channel then says so (see channels.openai_compat).

Usage
-----
`UsageCounter` is a LangChain callback that adds up the token usage the model server reports
(`usage_metadata`, sent by langchain-openai with `stream_usage=True`) for every chat-model call
made while it is installed: `counter.start(coro)` runs a coroutine in a task that carries it,
`counting_usage()` installs one for a block of code.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import Any, TypeVar

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from persona.engine.postprocess import clean_completion

T = TypeVar("T")

# Words as the copy guard counts them (persona.engine.copyguard).
_WORD = re.compile(r"[\w']+", re.UNICODE)
# A sentence end confirmed by the whitespace after it (postprocess._SENTENCE_END, minus `$`:
# at the end of the buffer the next delta may still continue the token, "3." -> "3.5").
_SENTENCE_END = re.compile(r"[.!?…](?=\s)|[\U0001F300-\U0001FAFF](?=\s)")
_QUOTES = "\"'«“"

# A check returns "" when the text may go out, else why not.
Check = Callable[[str], str]


class ReleaseGate:
    """Receives raw deltas (`feed`), returns the text that may be shown now."""

    def __init__(
        self,
        creator_name: str,
        max_chars: int,
        check: Check,
        *,
        hold_words: int = 8,
        closed: bool = False,
    ) -> None:
        self.creator_name = creator_name
        self.max_chars = max_chars
        self.check = check
        self.hold_words = hold_words
        self.raw = ""
        self.released = ""
        # Why the gate stopped releasing ("" while open). A closed gate releases nothing.
        self.stopped = "closed" if closed else ""
        self.checks_run = 0

    def feed(self, delta: str) -> str:
        """Add a raw delta; returns the newly released text ("" when nothing may go yet)."""
        self.raw += delta
        if self.stopped:
            return ""
        cleaned = clean_completion(self.raw, self.creator_name)
        if cleaned[:1] in _QUOTES and cleaned:
            self.stopped = "the reply opens with a quote"
            return ""
        end = self._safe_end(cleaned)
        if end <= len(self.released):
            return ""
        candidate = cleaned[:end]
        if not candidate.startswith(self.released):
            # Cleaning changed what was already shown (should not happen): stop here.
            self.stopped = "the cleaned text no longer extends the released one"
            return ""
        self.checks_run += 1
        reason = self.check(cleaned) or self.check(candidate)
        if reason:
            self.stopped = reason
            return ""
        new = candidate[len(self.released) :]
        self.released = candidate
        return new

    def _safe_end(self, cleaned: str) -> int:
        words = list(_WORD.finditer(cleaned))
        if len(words) <= self.hold_words:
            return 0
        end = words[len(words) - self.hold_words].start()
        # Within what fit_length keeps whatever comes next (see the module docstring).
        limit = self.max_chars // 3
        for match in _SENTENCE_END.finditer(cleaned, 0, min(len(cleaned), self.max_chars)):
            limit = max(limit, match.end())
        end = min(end, limit + 1)
        # On whitespace, so that the released text ends with a whole token.
        space = max(cleaned.rfind(" ", 0, end), cleaned.rfind("\n", 0, end))
        return len(cleaned[: max(space, 0)].rstrip())

    def remainder(self, final_text: str) -> str | None:
        """What the final text adds to the released one; None if it does not extend it."""
        if final_text.startswith(self.released):
            return final_text[len(self.released) :]
        return None


# -- token usage -----------------------------------------------------------------------------

_COUNTER: ContextVar[UsageCounter | None] = ContextVar("persona_usage_counter", default=None)


class UsageCounter(BaseCallbackHandler):
    """Adds up `usage_metadata` of every chat-model call it sees (OpenAI's names out)."""

    run_inline = True
    raise_error = False

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.calls = 0

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations[:1]:
                if not isinstance(generation, ChatGeneration):
                    continue
                usage = getattr(generation.message, "usage_metadata", None) or {}
                with self._lock:
                    self.calls += 1
                    self.prompt_tokens += int(usage.get("input_tokens") or 0)
                    self.completion_tokens += int(usage.get("output_tokens") or 0)

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            }

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `coro` in a task whose model calls this counter sees."""
        context = copy_context()
        context.run(_COUNTER.set, self)
        return asyncio.get_running_loop().create_task(coro, context=context)


# Registered once: LangChain adds the counter of the current context to every run's callbacks.
register_configure_hook(_COUNTER, inheritable=True)


@contextmanager
def counting_usage() -> Iterator[UsageCounter]:
    """Count the model calls made inside the block (and in tasks it starts)."""
    counter = UsageCounter()
    token = _COUNTER.set(counter)
    try:
        yield counter
    finally:
        _COUNTER.reset(token)
