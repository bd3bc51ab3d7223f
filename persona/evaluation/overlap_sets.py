"""Which texts the overlap check compares: the evaluation sets against the references.

A new evaluation set or a new thing the layers learn from belongs here, or the check cannot
see it. `persona eval overlap` and tests/test_persona_evaluation_overlap.py both read these.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

from persona.evaluation.overlap import (
    Item,
    Overlap,
    OverlapReport,
    find_overlaps,
    jsonl_items,
    module_patterns,
    regex_phrases,
)

PACKAGE = Path(__file__).resolve().parents[2]
# (file relative to the checkout, set name, the row field that names its split, if any)
EVALUATION_FILES: tuple[tuple[str, str, str | None], ...] = (
    ("tests/data/redteam.jsonl", "redteam", "split"),
    ("tests/data/redteam_fresh.jsonl", "redteam_fresh", None),
    ("tests/data/warm_messages.jsonl", "warm", None),
    ("tests/data/grounding_demo.jsonl", "grounding", None),
    ("persona/evaluation/data/fan_messages.jsonl", "fan_messages", None),
)
# The tuned split is what the lexicons were written against: development data, checked as a
# reference (a holdout case must not be a near copy of it), and its figure is not a measure.
DEVELOPMENT_SETS = frozenset({"redteam:tuned"})
BLIND_DIR = "tests/data/blind"  # frozen by hash: reported, never edited to pass the check
# The blind items found to overlap after the split was frozen: known and reported
# (docs/safety.md), so the check fails only on a new one.
KNOWN_BLIND_FILE = "tests/data/blind_overlaps.json"
TRAINING_FILES: tuple[tuple[str, str], ...] = (
    ("persona/safety/data/intent_train.jsonl", "intent_train"),
    ("persona/safety/data/distress_train.jsonl", "distress_train"),
)
# Modules whose regexes read fan messages (inbound); the outbound checks read drafts.
LEXICON_MODULES = (
    "persona.safety.lexicons",
    "persona.safety.inbound",
    "persona.safety.intent",
    "persona.safety.grounding",
    "persona.safety.factcheck",
    "persona.safety.boundaries",
)
# Few-shot examples shown to a model: (module, attribute); a tuple of tuples of texts.
FEW_SHOT = (
    ("persona.safety.factcheck", "_READER_EXAMPLES"),
    ("persona.safety.guard_model", "POLICY_TEXTS"),  # the guard model's policy prompt
)
DEMO_POSTS = "ingest/demo/camille.jsonl"  # retrieved, and its fan/reply pairs are few-shots


def evaluation_items(root: Path = PACKAGE) -> list[Item]:
    items = []
    for relative, name, split_field in EVALUATION_FILES:
        items += jsonl_items(root / relative, name, split_field)
    for path in sorted((root / BLIND_DIR).glob("*.jsonl")):
        items += jsonl_items(path, f"blind:{path.stem}")
    return [i for i in items if i.source not in DEVELOPMENT_SETS]


def reference_items(root: Path = PACKAGE) -> list[Item]:
    items = []
    for relative, name, split_field in EVALUATION_FILES:
        if split_field:
            rows = jsonl_items(root / relative, name, split_field)
            items += [i for i in rows if i.source in DEVELOPMENT_SETS]
    for relative, name in TRAINING_FILES:
        items += jsonl_items(root / relative, name)
    for module_name in LEXICON_MODULES:
        module = importlib.import_module(module_name)
        short = module_name.rsplit(".", 1)[1]
        for attr, pattern in module_patterns(module):
            items += [
                Item(f"lexicon:{short}", f"{attr}#{n}", phrase, fragment=True)
                for n, phrase in enumerate(regex_phrases(pattern))
            ]
    for module_name, attr in FEW_SHOT:
        examples = getattr(importlib.import_module(module_name), attr)
        for n, example in enumerate(examples):
            texts = example if isinstance(example, (tuple, list)) else (example,)
            items += [Item(f"few_shot:{attr}", f"{n}.{k}", str(t)) for k, t in enumerate(texts)]
    with (root / DEMO_POSTS).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                items.append(Item("demo_posts", row["id"], row["text"]))
                if row.get("fan"):
                    items.append(Item("demo_fan_examples", row["id"], row["fan"]))
    return items


def known_blind(root: Path = PACKAGE) -> set[tuple[str, str]]:
    path = root / KNOWN_BLIND_FILE
    if not path.is_file():
        return set()
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(name, item) for name, ids in data["items"].items() for item in ids}


def unexpected(report: OverlapReport, root: Path = PACKAGE) -> list[Overlap]:
    """Overlaps the check must fail on: all but the recorded ones of the frozen blind split."""
    known = known_blind(root)
    return [o for o in report.overlaps if (o.item.source, o.item.id) not in known]


def record_blind(report: OverlapReport, root: Path = PACKAGE) -> dict[str, Any]:
    """The blind split's overlaps as KNOWN_BLIND_FILE holds them, with the files' hashes."""
    items: dict[str, list[str]] = {}
    for name, ids in sorted(report.contaminated().items()):
        if name.startswith("blind:"):
            items[name] = sorted(ids)
    hashes = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / BLIND_DIR).glob("*.jsonl"))
    }
    return {"sha256": hashes, "items": items}


def check(root: Path = PACKAGE) -> OverlapReport:
    evaluation, references = evaluation_items(root), reference_items(root)
    sets: dict[str, int] = {}
    for item in evaluation:
        sets[item.source] = sets.get(item.source, 0) + 1
    refs: dict[str, int] = {}
    for item in references:
        refs[item.source] = refs.get(item.source, 0) + 1
    return OverlapReport(sets, refs, find_overlaps(evaluation, references))
