"""What the engine's guard decided for each red-team request, read through a wrapper."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from persona.engine.guard import Guard, GuardContext, InboundOutcome, OutboundOutcome


@dataclass
class GuardTrace:
    """What the guard saw and decided for one request (the escalate flag is not in the
    ReplyResult, so the runner wraps the guard to read it)."""

    inbound: InboundOutcome | None = None
    outbound: list[OutboundOutcome] = field(default_factory=list)
    system_prompt: str = ""


TRACE: ContextVar[GuardTrace | None] = ContextVar("redteam_trace", default=None)


class TracingGuard:
    """Delegates to the engine's guard; records its decisions in the current request's trace.

    `asyncio.to_thread` copies the context, so the trace object set in the request's task is
    the one the worker thread fills in."""

    def __init__(self, inner: Guard) -> None:
        self.inner = inner

    def inbound(self, message: str, ctx: GuardContext) -> InboundOutcome:
        outcome = self.inner.inbound(message, ctx)
        if (trace := TRACE.get()) is not None:
            trace.inbound, trace.system_prompt = outcome, ctx.system_prompt
        return outcome

    def outbound(self, reply: str, ctx: GuardContext) -> OutboundOutcome:
        outcome = self.inner.outbound(reply, ctx)
        if (trace := TRACE.get()) is not None:
            trace.outbound.append(outcome)
        return outcome

    def label(self, ctx: GuardContext) -> str:
        return self.inner.label(ctx)
