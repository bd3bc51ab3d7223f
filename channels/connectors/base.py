"""The connector interface: a bridge between a chat network and one of the platform's
channels. Each kind (twitch, matrix, youtube) has a stored spec (what to connect
to, never a secret) and a class that starts, stops and reports its health."""

from __future__ import annotations

import logging
import random
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from channels.live.manager import LiveManager

log = logging.getLogger(__name__)

STREAM_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"  # the live router's stream id pattern


class ConnectorSpec(BaseModel):
    """What a creator asked to connect (stored in the creator's settings: no credentials)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    # The platform channel(s) it feeds, for people and the health report.
    feeds: ClassVar[str] = "live"

    kind: str
    # The platform channel it feeds: the live stream `stream_id` of the creator.
    stream_id: str = Field(pattern=STREAM_ID)

    @property
    def id(self) -> str:
        """Unique per creator: one connector per remote room."""
        raise NotImplementedError

    def remote(self) -> str:
        """Where it connects, for people (no secrets)."""
        raise NotImplementedError


class State(StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    WAITING = "waiting"  # stored, not running in this process (yet)


class Health(BaseModel):
    id: str
    kind: str
    creator_id: str
    channel: str = "live"
    stream_id: str
    remote: str
    state: State
    since: float
    reconnects: int = 0
    last_error: str = ""
    received: int = 0  # chat events read from the network
    taken: int = 0  # accepted by the live intake (the rest: its drop reasons)
    sent: int = 0  # answers written back to the network
    not_sent: dict[str, int] = Field(default_factory=dict)  # answers not sent, by reason
    # API quota units spent today and the daily budget (YouTube; None: a kind without one).
    quota_used: int | None = None
    quota_budget: int | None = None


@dataclass(slots=True)
class Counters:
    """Mutable health of a running connector (`Connector.health()` snapshots it)."""

    state: State = State.STARTING
    since: float = field(default_factory=time.time)
    reconnects: int = 0
    last_error: str = ""
    received: int = 0
    taken: int = 0
    sent: int = 0
    not_sent: dict[str, int] = field(default_factory=dict)

    def move(self, state: State) -> None:
        if state is not self.state:
            self.state, self.since = state, time.time()

    def skip(self, reason: str) -> None:
        self.not_sent[reason] = self.not_sent.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class Context:
    """What every connector gets from the platform."""

    live: LiveManager
    settings: Any  # channels.settings.Settings (credentials, rates, backoff)
    metrics: Any = None  # channels.observability.Metrics, when the app has one


class Connector(ABC):
    kind: ClassVar[str]
    spec_model: ClassVar[type[ConnectorSpec]]

    def __init__(self, creator_id: str, spec: ConnectorSpec, ctx: Context) -> None:
        self.creator_id = creator_id
        self.spec = spec
        self.ctx = ctx
        self.counters = Counters()

    @property
    def id(self) -> str:
        return self.spec.id

    @abstractmethod
    async def start(self) -> None:
        """Start in the background (returns at once; connection problems show in health)."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect and end every task of the connector."""

    def _connection_lost(
        self,
        attempt: int,
        component: str,
        base_s: float,
        max_s: float,
        *,
        kind: str = "disconnect",
        message: str | None = None,
        longest: bool = False,
    ) -> float:
        """Count a lost connection (health, /metrics under `kind`, a log line: `message`, by
        default "<component> connection lost") and return the wait before reconnection
        `attempt` (from 1): exponential backoff between `base_s` and `max_s`, with jitter so
        that the bots of one server do not reconnect together; `max_s` itself when `longest`
        (the service said retrying soon is pointless)."""
        if longest:
            delay = max_s
        else:
            delay = min(max_s, base_s * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        self.counters.reconnects += 1
        self.counters.move(State.RECONNECTING)
        if self.ctx.metrics is not None:
            self.ctx.metrics.dependency_error(component, kind)
        log.warning(
            message or f"{component} connection lost; reconnecting",
            extra={
                "connector": self.id,
                "creator": self.creator_id,
                "delay_s": round(delay, 2),
                "attempt": attempt,
                "error": self.counters.last_error,
            },
        )
        return delay

    def failure(self) -> BaseException | None:
        """The error that ended one of the connector's background tasks (`_tasks`), if any.

        A loop that ends on an error it did not expect leaves a connector that looks
        connected and reads nothing (the Matrix sync did, before its fix): the manager asks
        this on every round and restarts such a connector, whatever its kind."""
        for task in getattr(self, "_tasks", ()):
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    def health(self) -> Health:
        c = self.counters
        return Health(
            id=self.id,
            kind=self.kind,
            creator_id=self.creator_id,
            channel=self.spec.feeds,
            stream_id=self.spec.stream_id,
            remote=self.spec.remote(),
            state=c.state,
            since=c.since,
            reconnects=c.reconnects,
            last_error=c.last_error,
            received=c.received,
            taken=c.taken,
            sent=c.sent,
            not_sent=dict(c.not_sent),
        )


def redact(text: str, *secrets: str) -> str:
    """An error message without any of the secrets in it (library errors may echo lines)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"oauth:[A-Za-z0-9]+", "oauth:***", text)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


def waiting_health(creator_id: str, spec: ConnectorSpec, why: str, kind: str) -> Health:
    return Health(
        id=spec.id,
        kind=kind,
        creator_id=creator_id,
        channel=spec.feeds,
        stream_id=spec.stream_id,
        remote=spec.remote(),
        state=State.WAITING,
        since=time.time(),
        last_error=why,
    )
