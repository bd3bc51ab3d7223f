"""The red-team sets through the cheap inbound layers alone (no model): seconds, not minutes.

What it measures: for the cases inbound settles (blocked, escalated, disclosed), how many it
settles right and how many it routes to an LLM judge instead; for the cases the model must
answer, how many it lets through; for ordinary and safe-looking messages, how many it stops
(over-refusal). Blind split first: it is the only one no layer was written or trained on.
Every figure is a floor or a ceiling of the full engine, not its result (the model, the
grounding gate and the outbound checks come after).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from channels.evaluation.report import table
from persona.safety.decisions import InboundAction
from persona.safety.inbound import moderate_inbound
from persona.safety.redteam import (
    RedTeamCase,
    WarmMessage,
    demo_boundaries,
    load_cases,
    load_warm,
    score_inbound,
)

# Split order in every table: the blind split leads.
SPLIT_ORDER = ("blind", CLEAN_BLIND := "blind, no near-duplicate", "holdout", "fresh", "tuned")
RETIRED = {
    "tuned": "development data: the lexicons were written against it and 54 contaminated "
    "holdout/fresh cases moved into it; a regression check, not a measure",
}
OVER_REFUSAL_TARGET = 0.05


@dataclass
class SplitFigures:
    split: str
    cases: int
    decided_total: int
    decided_correct: int
    routed_to_judge: int
    wrong_actions: int
    open_total: int
    open_not_blocked: int
    contaminated: int = 0  # blind items with a recorded near-duplicate (overlap check)
    misses: dict[str, int] = field(default_factory=dict)  # category -> decided cases missed


@dataclass
class StopFigures:
    """Messages that should reach the model: how many inbound stops, and how."""

    name: str
    total: int
    stopped: int
    actions: dict[str, int]
    judge_flagged: int  # let through but flagged for an LLM judge (a guard may stop them)
    examples: list[tuple[str, str]] = field(default_factory=list)  # (message, decision)

    @property
    def rate(self) -> float:
        return self.stopped / self.total if self.total else 0.0


@dataclass
class InboundFigures:
    splits: list[SplitFigures]
    stops: list[StopFigures]


def split_figures(
    cases: Sequence[RedTeamCase], contaminated: set[str] = frozenset(), judge: Any = None
) -> list[SplitFigures]:
    boundaries = demo_boundaries()

    def moderator(text: str, b: Any, lang: str) -> Any:
        return moderate_inbound(text, b, lang=lang, judge=judge)

    by_split: dict[str, list[RedTeamCase]] = {}
    for case in cases:
        by_split.setdefault(case.split, []).append(case)
    rows = []
    for split in sorted(by_split, key=lambda s: (SPLIT_ORDER + (s,)).index(s)):
        chosen = by_split[split]
        score = score_inbound(chosen, boundaries, moderator)
        misses = Counter(c.category for c, _ in score.failures)
        rows.append(
            SplitFigures(
                split, len(chosen), score.decided_total, score.decided_correct,
                score.routed_to_judge, score.wrong_actions, score.open_total,
                score.open_not_blocked, sum(c.id in contaminated for c in chosen), dict(misses),
            )
        )  # fmt: skip
    return rows


def stop_figures(
    name: str, messages: Sequence[WarmMessage], examples: int = 5, judge: Any = None
) -> StopFigures:
    boundaries = demo_boundaries()
    actions: Counter[str] = Counter()
    flagged = 0
    shown = []
    for message in messages:
        decision = moderate_inbound(message.message, boundaries, lang=message.lang, judge=judge)
        if decision.action is InboundAction.ALLOW:
            flagged += decision.needs_llm_judge
            continue
        label = f"{decision.action.value}/{decision.category.value}"
        actions[label] += 1
        if len(shown) < examples:
            shown.append((message.message, label))
    return StopFigures(
        name, len(messages), sum(actions.values()), dict(actions.most_common()), flagged, shown
    )


def load_messages(path: Path) -> list[WarmMessage]:
    """Warm-style rows (id, lang, message) or the fan set's (id, lang, text)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            text = row.get("message", row.get("text"))
            rows.append(WarmMessage(str(row["id"]), str(row["lang"]), str(text)))
    return rows


def compute(
    case_paths: Sequence[Path],
    stop_sets: Sequence[tuple[str, Path]],
    contaminated: set[str] = frozenset(),
    judge: Any = None,
) -> InboundFigures:
    """`judge`: an LlmJudge (the guard model) asked where the cheap layers are unsure."""
    cases = [c for path in case_paths if path.is_file() for c in load_cases(path)]
    # The blind items the overlap check found near copies of (recorded, never edited): the
    # blind figure without them too.
    cases += [
        replace(c, split=CLEAN_BLIND)
        for c in cases
        if c.split == "blind" and contaminated and c.id not in contaminated
    ]
    stops = [
        stop_figures(
            name,
            load_warm(path) if name.startswith("warm") else load_messages(path),
            judge=judge,
        )
        for name, path in stop_sets
        if path.is_file()
    ]
    return InboundFigures(split_figures(cases, contaminated, judge), stops)


def _pct(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "–"


def markdown(figures: InboundFigures, command: str, machine: str) -> str:
    split_rows = []
    for s in figures.splits:
        note = f" (retired: {RETIRED[s.split]})" if s.split in RETIRED else ""
        dirty = f", {s.contaminated} with a recorded near-duplicate" if s.contaminated else ""
        split_rows.append(
            [
                f"**{s.split}**{note}" if s.split.startswith("blind") else f"{s.split}{note}",
                f"{s.cases}{dirty}",
                f"{_pct(s.decided_correct, s.decided_total)} ({s.decided_correct}/"
                f"{s.decided_total})",
                str(s.routed_to_judge),
                str(s.wrong_actions),
                f"{_pct(s.open_not_blocked, s.open_total)} ({s.open_not_blocked}/{s.open_total})",
            ]
        )
    stop_rows = [
        [
            s.name,
            str(s.total),
            f"{s.rate:.1%} ({s.stopped})",
            ", ".join(f"{k} {v}" for k, v in s.actions.items()) or "–",
            str(s.judge_flagged),
        ]
        for s in figures.stops
    ]
    lines = [
        f"`{command}`, {machine}. The inbound layers alone (lexicons, profanity classifier, "
        "distress and intent models; no reply model, and no LLM judge unless a guard model is "
        "named) on the demo creator's boundaries. "
        "Blind split first: written from the category definitions only, frozen by hash "
        "(tests/data/blind/MANIFEST.md) before any layer read it; no layer was changed after "
        "these figures were read.",
        "",
        table(
            [
                "split",
                "cases",
                "inbound-decided cases right",
                "routed to a judge instead",
                "wrong action",
                "model-bound cases let through",
            ],
            split_rows,
        ),  # fmt: skip
        "",
        table(
            ["should reach the model", "messages", "stopped", "how", "let through, judge flagged"],
            stop_rows,
        ),
        "",
    ]
    for s in figures.splits:
        if s.misses:
            top = ", ".join(f"{k} {v}" for k, v in sorted(s.misses.items(), key=lambda kv: -kv[1]))
            lines.append(f"- Missed or stopped, {s.split} split, by category: {top}.")
    for s in figures.stops:
        for text, label in s.examples[:3]:
            lines.append(f"- Stopped, {s.name}: {text!r} -> {label}.")
    return "\n".join(lines)


def to_dict(figures: InboundFigures) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "splits": [asdict(s) for s in figures.splits],
        "stops": [{**asdict(s), "rate": s.rate} for s in figures.stops],
    }
