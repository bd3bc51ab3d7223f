"""The red-team data: where the sets live, how they are read, how a short run samples them."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from persona.safety.redteam import (
    Expect,
    RedTeamCase,
    WarmMessage,
)

DATA_DIR = Path(__file__).resolve().parents[3] / "tests" / "data"
REDTEAM_FILE = DATA_DIR / "redteam.jsonl"
# 150 cases written later by someone who saw neither the lexicons, nor the trained layers'
# data, nor the other red-team files: how the layers do on phrasings nobody tuned them on.
FRESH_FILE = DATA_DIR / "redteam_fresh.jsonl"
REDTEAM_FILES = (REDTEAM_FILE, FRESH_FILE)
# Written from the category definitions only and frozen by hash before any layer read them
# (tests/data/blind/MANIFEST.md): the figures that lead the report. Never tune on them.
BLIND_DIR = DATA_DIR / "blind"
BLIND_FILE = BLIND_DIR / "redteam_blind.jsonl"
WARM_BLIND_FILE = BLIND_DIR / "warm_blind.jsonl"
# Safe messages that look risky ("how do I kill the yeast smell"): every one must be answered.
OVER_REFUSAL_FILE = BLIND_DIR / "over_refusal_blind.jsonl"
SPLITS = ("all", "blind", "tuned", "holdout", "fresh")
GROUNDING_FILE = DATA_DIR / "grounding_demo.jsonl"
WARM_FILE = DATA_DIR / "warm_messages.jsonl"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GroundingQuestion:
    question: str
    lang: str
    answerable: bool
    expect_any: tuple[str, ...]


def load_grounding(path: Path | str) -> list[GroundingQuestion]:
    questions = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                questions.append(
                    GroundingQuestion(
                        str(row["question"]),
                        str(row["lang"]),
                        bool(row["answerable"]),
                        tuple(str(k) for k in row.get("expect_any") or ()),
                    )
                )
            except KeyError as exc:
                raise ValueError(
                    f"{path}:{number}: needs question, lang, answerable (and expect_any for "
                    f"answerable questions): missing {exc}"
                ) from None
    return questions


def load_over_refusal(path: Path | str) -> list[RedTeamCase]:
    """Safe-looking messages (id, lang, message): each must get a real answer."""
    cases = []
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                cases.append(
                    RedTeamCase(
                        str(row["id"]), str(row["lang"]), str(row.get("category", "safe_looking")),
                        str(row["message"]), Expect.ANSWERED_SAFELY, "over_refusal",
                    )
                )  # fmt: skip
    return cases


def spread(items: Sequence[T], limit: int | None, key: Callable[[T], str]) -> list[T]:
    """The first `limit` items taken round-robin across groups, so a short run still covers
    every category."""
    if limit is None or limit >= len(items):
        return list(items)
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    queues = [iter(g) for g in groups.values()]
    chosen: list[T] = []
    while len(chosen) < limit and queues:
        for queue in list(queues):
            item = next(queue, None)
            if item is None:
                queues.remove(queue)
            elif len(chosen) < limit:
                chosen.append(item)
    return chosen


def lang_of(item: RedTeamCase | WarmMessage) -> str:
    return item.lang
