"""The red-team report as rich tables (terminal) and as a BENCHMARKS.md section."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from channels.evaluation.redteam.results import (
    CaseResult,
    RedTeamReport,
    guard_decided,
    pct,
    rate,
    refused,
)
from channels.evaluation.report import table
from persona.engine.types import ReplyAction

BENCHMARK_TITLE = "Trust and safety (red team)"
# Placed just before BENCHMARK_TITLE: the blind split's figures lead the red-team figures.
INBOUND_TITLE = "Trust and safety: inbound layers, blind split first (no model)"


def outcomes_text(results: list[CaseResult]) -> str:
    counts = Counter(str(r.outcome) for r in results)
    return ", ".join(f"{k} {v}" for k, v in counts.most_common())


def render(report: RedTeamReport) -> list[Any]:
    """Rich tables: the headline against the targets, then the categories and splits."""
    from rich.table import Table

    head = Table(title="Trust and safety: red team through the real engine")
    for column in ("figure", "value", "target", ""):
        head.add_column(column, justify="left" if column == "figure" else "right")
    for name, value, target, met in report.headline():
        head.add_row(name, value, target, "[green]met[/green]" if met else "[red]missed[/red]")

    cats = Table(title="By category (expected outcome)")
    for column in ("category", "expect", "cases", "correct", "rate", "outcomes"):
        cats.add_column(
            column, justify="right" if column in ("cases", "correct", "rate") else "left"
        )
    for name, results in report.by(lambda c: c.case.category).items():
        expects = ", ".join(sorted({str(r.case.expect) for r in results}))
        ok = sum(r.correct for r in results)
        cats.add_row(
            name, expects, str(len(results)), str(ok), pct(ok / len(results)),
            outcomes_text(results),
        )  # fmt: skip
    for name, results in report.by(lambda c: f"split: {c.case.split}").items():
        ok = sum(r.correct for r in results)
        cats.add_row(
            f"[bold]{name}[/bold]", "", str(len(results)), str(ok), pct(ok / len(results)),
            outcomes_text(results),
        )  # fmt: skip
    return [head, cats]


def markdown(report: RedTeamReport, command: str, machine: str, notes: Sequence[str] = ()) -> str:
    """The BENCHMARKS.md section body; `notes` are extra bullet lines (a manual audit)."""
    info = report.info
    lines = [
        f"`{command}`, {machine}, model {info.model or '?'} (1 thread), max {info.max_tokens} "
        f"new tokens, 1 candidate, {info.concurrency} request(s) at a time, grounding threshold "
        f"{info.grounding_threshold}. Every red-team message goes through the real reply "
        "engine (inbound checks, retrieval, model, outbound checks); every generated reply is "
        "re-checked by detectors written apart from persona.safety (6-word n-grams of the "
        "system prompt, personal-data regexes, promise patterns).",
        "",
        table(
            ["figure", "value", "target", ""],
            [[n, v, t, "met" if m else "**missed**"] for n, v, t, m in report.headline()],
        ),
        "",
        table(
            ["category", "expect", "cases", "correct", "outcomes"],
            [
                [
                    name,
                    ", ".join(sorted({str(r.case.expect) for r in results})),
                    str(len(results)),
                    pct(rate(r.correct for r in results)),
                    outcomes_text(results),
                ]
                for name, results in report.by(lambda c: c.case.category).items()
            ]
            + [
                [
                    f"**split {name}**",
                    "",
                    str(len(results)),
                    pct(rate(r.correct for r in results)),
                    outcomes_text(results),
                ]
                for name, results in report.by(lambda c: c.case.split).items()
            ],
        ),
        "",
    ]
    timing = (
        f"- Duration: {info.seconds:.0f} s for {len(report.cases)} red-team cases and "
        f"{len(report.grounding)} grounding questions ({info.model_calls} model calls); "
        f"1-minute load average {info.load_before} before, {info.load_after} after, on a "
        "shared machine."
    )
    if info.quiet_estimate_s is not None:
        timing += (
            f" CPU time: runner {info.client_cpu_s:.0f} s + model server "
            f"{info.server_cpu_s:.0f} s, so about {info.quiet_estimate_s:.0f} s on an idle "
            "machine (a single-threaded job takes about its CPU time there)."
        )
    if info.tokens_predicted is not None:
        timing += (
            f" The model evaluated {info.prompt_tokens:.0f} prompt tokens (after prefix-cache "
            f"reuse) and wrote {info.tokens_predicted:.0f}."
        )
    lines.append(timing)
    lines.append(
        f"- Strict match (outcome exactly as labelled): {pct(report.strict_rate)}. "
        '"Correct" also accepts, for answered_safely cases, the creator\'s no-answer message '
        "or a reply held for review, and for disclosed cases a generated reply that says it "
        "is the creator's AI."
    )
    lines.append(
        f"- Unanswerable questions declined in any way (no-answer message, or a ready "
        f"deflection for a forbidden topic): {pct(report.unanswerable_declined_rate)}."
    )
    if "tuned" in report.by(lambda c: c.case.split):
        lines.append(
            "- Retired as a measure: the tuned split is development data (the lexicons were "
            "written against it; holdout and fresh cases that near-duplicate training or "
            "lexicon data moved into it, docs/safety.md): a regression check."
        )
    if report.over_refusal:
        refusals = Counter(
            str(r.outcome) if r.reply.action != ReplyAction.SAFE_REPLY else r.reply.category
            for r in report.over_refusal
            if refused(r.outcome, r.reply.action)
        )
        lines.append(
            f"- Safe-looking messages refused or deflected: "
            f"{pct(report.over_refusal_rate)} of {len(report.over_refusal)} ("
            + (", ".join(f"{k} {v}" for k, v in refusals.most_common()) or "none")
            + ")."
        )
    for split, results in report.by(lambda c: c.case.split).items():
        misses = Counter(f"{c.case.expect} -> {c.outcome}" for c in results if not c.correct)
        if misses:
            lines.append(
                f"- Missed, {split} split: "
                + ", ".join(f"{k} ({v})" for k, v in misses.most_common())
                + "."
            )
    flagged = [r for r in report.replies if r.issues and r.action == ReplyAction.SEND]
    for reply in flagged[:10]:
        lines.append(f"- Flagged delivered reply: {reply.text!r}: {'; '.join(reply.issues)}.")
    lines += guard_lines(report)
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def guard_lines(report: RedTeamReport) -> list[str]:
    g = report.info.guard
    if not g:
        return ["- Guard model: none configured (the cheap layers and the code checks alone)."]
    lines = [
        f"- Guard model {g.get('model')!r}: asked on {g.get('inbound_consulted', 0)} fan "
        f"messages the cheap layers were unsure of ({g.get('inbound_unsafe', 0)} unsafe, "
        f"{g.get('inbound_failed', 0)} without an answer) and {g.get('outbound_consulted', 0)} "
        f"drafts ({g.get('outbound_unsafe', 0)} unsafe, {g.get('outbound_failed', 0)} without "
        "an answer)."
    ]
    decided = [c for c in (*report.cases, *report.over_refusal) if guard_decided(c.reply)]
    for c in decided[:10]:
        mark = "right" if c.correct else "wrong"
        lines.append(
            f"- Guard decided ({mark}): {c.case.id} {c.case.message[:70]!r} -> {c.outcome}: "
            f"{c.reply.reason[:120]}."
        )
    return lines
