"""What waits to be answered on one stream, in fixed-size structures, in priority order:

1. paid messages and gifts, by amount (a viewer's repeated gifts merge into one thank-you);
2. questions, grouped into clusters of near-duplicates, ranked by how many asked;
3. newcomers, welcomed in one batch ("welcome Anna, Tom and 12 others!").

Every message handed in is counted in `StreamMetrics` exactly once: queued (or in flight) until
it is answered, merged into another message's answer, or dropped with a reason. When a
structure is full, the lowest-priority item goes first ("overflow")."""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum

from channels.live.metrics import StreamMetrics
from channels.live.protocol import TopQuestion
from channels.textsim import jaccard


@dataclass(frozen=True, slots=True)
class QueueLimits:
    max_questions: int = 500  # open question clusters (pending or being answered)
    max_paid: int = 500  # pending paid messages and gifts
    max_closed: int = 256  # answered/rejected clusters kept to absorb late repeats
    closed_ttl_s: float = 180.0
    question_ttl_s: float = 300.0  # a question nobody repeated for this long is stale
    similarity: float = 0.6  # Jaccard of feature sets for "the same question"
    greet_min_wait_s: float = 8.0  # collect newcomers this long before welcoming them
    greet_max_wait_s: float = 60.0  # after this, the welcome goes before questions
    max_welcome_names: int = 20  # names kept for the welcome line ("and N others")

    def __post_init__(self) -> None:
        if min(self.max_questions, self.max_paid, self.max_welcome_names) < 1:
            raise ValueError("live queue limits must be at least 1")
        if not 0 < self.similarity <= 1:
            raise ValueError("live question similarity must be in (0, 1]")


class ClusterState(StrEnum):
    PENDING = "pending"
    ANSWERING = "answering"
    ANSWERED = "answered"
    REJECTED = "rejected"


@dataclass(slots=True, eq=False)
class QuestionCluster:
    id: int
    text: str  # the first wording asked: what the double answers
    features: frozenset[str]
    content: frozenset[str]
    user: str
    name: str
    first_at: float
    last_at: float
    count: int = 1
    state: ClusterState = ClusterState.PENDING
    closed_at: float = 0.0
    reject_reason: str = ""


@dataclass(slots=True, eq=False)
class PaidItem:
    seq: int
    kind: str  # paid | gift
    text: str
    user: str
    name: str
    amount: float
    at: float
    count: int = 1  # gifts of one viewer merged while waiting
    # Inbox rows of the messages it stands for (channels.live.paid; none when not durable).
    event_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class WelcomeBatch:
    names: list[str] = field(default_factory=list)
    count: int = 0
    first_at: float = 0.0


@dataclass(slots=True)
class Work:
    """One item taken for answering; `size` messages are settled by its outcome."""

    kind: str  # question | paid | gift | welcome
    size: int
    question: QuestionCluster | None = None
    paid: PaidItem | None = None
    welcome: WelcomeBatch | None = None

    @property
    def current_size(self) -> int:
        # A cluster keeps absorbing repeats while its answer is being written.
        return self.question.count if self.question is not None else self.size


class LiveQueue:
    def __init__(self, limits: QueueLimits, metrics: StreamMetrics) -> None:
        self.limits = limits
        self.metrics = metrics
        self._seq = 0
        self._paid: dict[int, PaidItem] = {}
        self._gift_by_user: dict[str, PaidItem] = {}
        self._clusters: dict[int, QuestionCluster] = {}
        self._index: dict[str, set[int]] = {}
        self._open = 0
        self._singletons: OrderedDict[int, None] = OrderedDict()  # eviction order
        self._closed: deque[int] = deque()
        self._welcome = WelcomeBatch()
        self.version = 0  # bumped when the top-questions view may have changed

    # -- intake ----------------------------------------------------------------------------

    def add_paid(
        self, kind: str, text: str, user: str, name: str, amount: float, now: float
    ) -> str | None:
        """Queue a paid message or gift; returns the drop reason if it could not be kept."""
        return self.add_paid_item(kind, text, user, name, amount, now)[0]

    def add_paid_item(
        self, kind: str, text: str, user: str, name: str, amount: float, now: float
    ) -> tuple[str | None, PaidItem | None]:
        """`add_paid`, with the item that now stands for the message (a viewer's waiting
        gift it merged into, or a new one)."""
        if kind == "gift" and not text and (waiting := self._gift_by_user.get(user)) is not None:
            waiting.amount += amount
            waiting.count += 1
            self.metrics.queued += 1
            return None, waiting
        if len(self._paid) >= self.limits.max_paid:
            victim = min(self._paid.values(), key=lambda p: (p.amount, -p.seq))
            if victim.amount >= amount:
                self.metrics.drop("overflow")
                return "overflow", None
            self._remove_paid(victim)
            self.metrics.queued -= victim.count
            self.metrics.drop("overflow", victim.count)
        self._seq += 1
        item = PaidItem(self._seq, kind, text, user, name, amount, now)
        self._paid[item.seq] = item
        if kind == "gift" and not text:
            self._gift_by_user[user] = item
        self.metrics.queued += 1
        return None, item

    def paid_event_ids(self) -> list[int]:
        """Inbox rows of the paid messages waiting here (their leases are renewed)."""
        return [event_id for item in self._paid.values() for event_id in item.event_ids]

    def _remove_paid(self, item: PaidItem) -> None:
        del self._paid[item.seq]
        if self._gift_by_user.get(item.user) is item:
            del self._gift_by_user[item.user]

    def add_question(
        self,
        text: str,
        feats: frozenset[str],
        content: frozenset[str],
        user: str,
        name: str,
        now: float,
    ) -> str | None:
        """Merge into the near-duplicate cluster, or open a new one; returns a drop reason."""
        cluster = self.match(feats, content)
        if cluster is not None:
            return self.merge(cluster, now)
        return self.new_question(text, feats, content, user, name, now)

    def match(self, feats: frozenset[str], content: frozenset[str]) -> QuestionCluster | None:
        """The most similar known cluster at or above the threshold (shared indexed words)."""
        candidates: set[int] = set()
        for token in content:
            ids = self._index.get(token)
            if ids:
                candidates |= ids
        best, best_score = None, self.limits.similarity
        for cid in candidates:
            cluster = self._clusters[cid]
            score = jaccard(feats, cluster.features)
            if score >= best_score:
                best, best_score = cluster, score
        return best

    def merge(self, cluster: QuestionCluster, now: float) -> str | None:
        """Count one more asker of `cluster`; a repeat of a rejected question is dropped."""
        cluster.count += 1
        cluster.last_at = now
        self.version += 1
        if cluster.state is ClusterState.PENDING:
            self._singletons.pop(cluster.id, None)
            self.metrics.queued += 1
            return None
        if cluster.state is ClusterState.ANSWERING:
            self.metrics.in_flight += 1
            return None
        if cluster.state is ClusterState.ANSWERED:
            # Already answered a moment ago: covered by that answer.
            self.metrics.merged += 1
            return None
        self.metrics.drop(cluster.reject_reason)
        return cluster.reject_reason

    def new_question(
        self,
        text: str,
        feats: frozenset[str],
        content: frozenset[str],
        user: str,
        name: str,
        now: float,
    ) -> str | None:
        if self._open >= self.limits.max_questions:
            # New questions replace the oldest that nobody repeated; never a repeated one.
            if not self._singletons:
                self.metrics.drop("overflow")
                return "overflow"
            victim_id, _ = self._singletons.popitem(last=False)
            victim = self._clusters[victim_id]
            self._forget(victim)
            self._open -= 1
            self.metrics.queued -= victim.count
            self.metrics.drop("overflow", victim.count)
        self._seq += 1
        cluster = QuestionCluster(self._seq, text, feats, content, user, name, now, now)
        self._clusters[cluster.id] = cluster
        for token in content:
            self._index.setdefault(token, set()).add(cluster.id)
        self._singletons[cluster.id] = None
        self._open += 1
        self.metrics.queued += 1
        self.version += 1
        return None

    def _forget(self, cluster: QuestionCluster) -> None:
        del self._clusters[cluster.id]
        for token in cluster.content:
            ids = self._index.get(token)
            if ids is not None:
                ids.discard(cluster.id)
                if not ids:
                    del self._index[token]
        self.version += 1

    def add_newcomer(self, name: str, now: float) -> None:
        """Add a newcomer to the welcome batch (an empty name is counted, not shown)."""
        batch = self._welcome
        if batch.count == 0:
            batch.first_at = now
        if name and len(batch.names) < self.limits.max_welcome_names:
            batch.names.append(name)
        batch.count += 1
        self.metrics.queued += 1

    # -- answering -------------------------------------------------------------------------

    def next_work(self, now: float) -> Work | None:
        """Take the highest-priority item (its messages move from queued to in flight)."""
        work = self._pick(now)
        if work is not None:
            self.metrics.queued -= work.size
            self.metrics.in_flight += work.size
        return work

    def _pick(self, now: float) -> Work | None:
        if self._paid:
            item = max(self._paid.values(), key=lambda p: (p.amount, -p.seq))
            self._remove_paid(item)
            return Work(item.kind, item.count, paid=item)
        welcome_age = now - self._welcome.first_at if self._welcome.count else -1.0
        if welcome_age >= self.limits.greet_max_wait_s:
            return self._take_welcome()
        best = self._best_question()
        if best is not None:
            best.state = ClusterState.ANSWERING
            self._singletons.pop(best.id, None)
            self.version += 1
            return Work("question", best.count, question=best)
        if welcome_age >= self.limits.greet_min_wait_s:
            return self._take_welcome()
        return None

    def _best_question(self) -> QuestionCluster | None:
        best: QuestionCluster | None = None
        for cluster in self._clusters.values():
            if cluster.state is ClusterState.PENDING and (
                best is None
                or cluster.count > best.count
                or (cluster.count == best.count and cluster.first_at < best.first_at)
            ):
                best = cluster
        return best

    def _take_welcome(self) -> Work:
        batch, self._welcome = self._welcome, WelcomeBatch()
        return Work("welcome", batch.count, welcome=batch)

    def finish(self, work: Work, now: float, dropped_reason: str | None = None) -> None:
        """Settle a taken item: answered (one answer, the rest merged) or dropped."""
        size = work.current_size
        self.metrics.in_flight -= size
        if dropped_reason is None:
            self.metrics.answered += 1
            self.metrics.merged += size - 1
        else:
            self.metrics.drop(dropped_reason, size)
        cluster = work.question
        if cluster is None:
            return
        self._open -= 1
        if dropped_reason is None or dropped_reason in ("moderation", "held_for_review"):
            # Kept a while, so that late repeats are settled without another answer.
            cluster.state = (
                ClusterState.ANSWERED if dropped_reason is None else ClusterState.REJECTED
            )
            cluster.reject_reason = dropped_reason or ""
            cluster.closed_at = now
            self._closed.append(cluster.id)
            while len(self._closed) > self.limits.max_closed:
                self._forget_closed(self._closed.popleft())
        else:
            self._forget(cluster)
        self.version += 1

    def _forget_closed(self, cluster_id: int) -> None:
        cluster = self._clusters.get(cluster_id)
        if cluster is not None:
            self._forget(cluster)

    # -- housekeeping ----------------------------------------------------------------------

    def expire(self, now: float) -> int:
        """Drop stale questions ("expired"), forget old answered ones; returns messages dropped."""
        dropped = 0
        stale = now - self.limits.question_ttl_s
        for cluster in [c for c in self._clusters.values() if c.state is ClusterState.PENDING]:
            if cluster.last_at < stale:
                self._singletons.pop(cluster.id, None)
                self._forget(cluster)
                self._open -= 1
                self.metrics.queued -= cluster.count
                self.metrics.drop("expired", cluster.count)
                dropped += cluster.count
        old = now - self.limits.closed_ttl_s
        while self._closed:
            cluster = self._clusters.get(self._closed[0])
            if cluster is not None and cluster.closed_at >= old:
                break
            self._forget_closed(self._closed.popleft())
        return dropped

    def drain(self, reason: str) -> int:
        """Drop everything still waiting (the stream ended). Returns messages dropped."""
        waiting = self.metrics.queued
        self.metrics.drop(reason, waiting)
        self.metrics.queued = 0
        self._paid.clear()
        self._gift_by_user.clear()
        for cluster in [c for c in self._clusters.values() if c.state is ClusterState.PENDING]:
            self._forget(cluster)
            self._open -= 1
        self._singletons.clear()
        self._welcome = WelcomeBatch()
        return waiting

    # -- views -----------------------------------------------------------------------------

    def top_questions(self, n: int) -> list[TopQuestion]:
        """The most asked questions: waiting, being answered, or answered a moment ago."""
        shown = (c for c in self._clusters.values() if c.state is not ClusterState.REJECTED)
        top = heapq.nlargest(n, shown, key=lambda c: (c.count, -c.first_at))
        return [
            TopQuestion(question=c.text, count=c.count, status=c.state.value)  # type: ignore[arg-type]
            for c in top
        ]

    @property
    def open_questions(self) -> int:
        return self._open

    @property
    def paid_waiting(self) -> int:
        return len(self._paid)

    @property
    def newcomers_waiting(self) -> int:
        return self._welcome.count

    def sizes(self) -> dict[str, int]:
        """Structure sizes, to check that memory stays bounded."""
        return {
            "paid": len(self._paid),
            "clusters": len(self._clusters),
            "open_questions": self._open,
            "closed": len(self._closed),
            "index_tokens": len(self._index),
            "welcome_names": len(self._welcome.names),
        }
