"""The trust-and-safety report: every red-team message through the real reply engine.

Steps:
1. load the demo creator and write the suite's boundaries into its settings;
2. send every red-team case and every grounding question through `engine.reply` (the real
   inbound checks, retrieval, model and outbound checks; nothing recorded);
3. classify what the fan would see (blocked, escalated, disclosed, no answer, answered
   safely), re-checking every generated reply with detectors written independently of
   `persona.safety` (prompt n-grams, personal-data regexes, promise patterns);
4. score the warm (ordinary) fan messages through inbound moderation alone;
5. report pass rates by category and the hard counters, as a table, JSON and Markdown.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels.demo_creator import ensure_demo
from channels.evaluation.redteam.data import (
    BLIND_FILE,
    GROUNDING_FILE,
    OVER_REFUSAL_FILE,
    REDTEAM_FILES,
    SPLITS,
    WARM_BLIND_FILE,
    WARM_FILE,
    GroundingQuestion,
    lang_of,
    load_grounding,
    load_over_refusal,
    spread,
)
from channels.evaluation.redteam.detectors import Checker, checker_for, discloses_ai
from channels.evaluation.redteam.grading import classify, grade_grounding
from channels.evaluation.redteam.machine import load_average, server_cpu, server_metrics
from channels.evaluation.redteam.results import (
    DEFAULT_MAX_TOKENS,
    CaseResult,
    Outcome,
    RedTeamReport,
    Reply,
    RunInfo,
    is_correct,
    refused,
)
from channels.evaluation.redteam.tracing import TRACE, GuardTrace, TracingGuard
from persona.engine.types import Channel, ReplyAction, ReplyRequest, ReplyResult
from persona.safety.language import guess_lang
from persona.safety.redteam import (
    RedTeamCase,
    WarmMessage,
    demo_boundaries,
    load_cases,
    load_warm,
    warm_pass_rate,
)
from persona.safety.replies import no_answer_text
from persona.settings import CreatorSettings

if TYPE_CHECKING:
    from channels.services import Platform

Progress = Callable[[str, int, int], None]


def boundary_settings() -> dict[str, Any]:
    """The suite's boundaries as the engine reads them from `Creator.settings`."""
    b = demo_boundaries()
    return {
        "forbidden_topics": list(b.forbidden_topics),
        "forbidden_statements": list(b.forbidden_statements),
        "allowed_commitments": list(b.allowed_commitments),
        "no_answer_message": b.no_answer_message,
    }


def apply_boundaries(
    services: Platform, creator_id: str, extra: dict[str, Any] | None = None
) -> None:
    from persona.store import Creator

    with services.db.session() as session:
        creator = session.get(Creator, creator_id)
        if creator is None:
            raise LookupError(f"unknown creator {creator_id!r}: load the demo creator first")
        current = CreatorSettings.from_stored(creator.settings, lenient=True)
        creator.settings = current.with_changes(**boundary_settings(), **(extra or {})).to_stored()


async def _ask(engine: Any, creator_id: str, message: str, checker: Checker) -> Reply:
    trace = GuardTrace()
    token = TRACE.set(trace)
    started = time.perf_counter()
    try:
        result: ReplyResult = await engine.reply(
            ReplyRequest(creator_id, message, Channel.DM, record=False, candidates=1)
        )
    except Exception as exc:  # noqa: BLE001 - one failing case must not end the run
        return Reply(
            "error", type(exc).__name__, str(exc)[:300], "", False,
            time.perf_counter() - started, False,
        )  # fmt: skip
    finally:
        TRACE.reset(token)
    seconds = time.perf_counter() - started
    generated = result.action in (ReplyAction.SEND, ReplyAction.HOLD)
    reply = Reply(
        str(result.action),
        result.category,
        result.reason,
        result.text,
        bool(trace.inbound and trace.inbound.escalate),
        round(seconds, 3),
        generated,
        model_called="generate" in result.timings_ms,
        hint=trace.inbound.hint if trace.inbound else None,
        sources=[s.text for s in result.sources],
    )
    if generated:
        reply.issues = checker.issues(result.text, message, reply.sources, reply.hint)
    return reply


async def gather_limited(
    jobs: Sequence[Callable[[], Any]], concurrency: int, on_done: Callable[[], None]
) -> list[Any]:
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def run(job: Callable[[], Any]) -> Any:
        async with semaphore:
            value = await job()
        on_done()
        return value

    return await asyncio.gather(*(run(job) for job in jobs))


async def run_redteam_async(
    services: Platform,
    creator_id: str,
    cases: Sequence[RedTeamCase],
    grounding: Sequence[GroundingQuestion],
    warm: Sequence[WarmMessage],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    concurrency: int = 1,
    engine_overrides: dict[str, Any] | None = None,
    settings_overrides: dict[str, Any] | None = None,
    progress: Progress | None = None,
    over_refusal: Sequence[RedTeamCase] = (),
    warm_blind: Sequence[WarmMessage] = (),
) -> RedTeamReport:
    """Run the suite against a creator already loaded in `services` (see `run_redteam`).

    `engine_overrides` replace `EngineConfig` fields for this run only (experiments such as a
    different `grounding_threshold`); `settings_overrides` are extra creator settings
    (e.g. `strict_grounding`)."""
    report_progress = progress or (lambda _stage, _done, _total: None)
    apply_boundaries(services, creator_id, settings_overrides)
    engine = services.engine
    saved_guard, saved_config = engine.guard, engine.config
    guard_model = getattr(saved_guard, "model", None)
    guard_before = Counter(getattr(guard_model, "stats", {}))
    engine.guard = TracingGuard(saved_guard)
    engine.config = replace(saved_config, max_tokens=max_tokens, **(engine_overrides or {}))
    info = RunInfo(
        model=getattr(engine, "model_name", ""),
        max_tokens=max_tokens,
        concurrency=concurrency,
        grounding_threshold=engine.config.grounding_threshold,
        engine_overrides=dict(engine_overrides or {}),
        settings_overrides=dict(settings_overrides or {}),
    )
    info.load_before = load_average()
    server_cpu_before = server_cpu(services)
    metrics_before = server_metrics(services)
    cpu_before = time.process_time()
    started = time.perf_counter()
    try:
        checker = await asyncio.to_thread(checker_for, engine, creator_id)
        # The no-answer text follows the fan's language (the question's, or the engine's guess).
        no_answer_settings = {**boundary_settings(), **(settings_overrides or {})}
        total = len(cases) + len(over_refusal) + len(grounding)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            report_progress("replies", done, total)

        report_progress("replies", 0, total)
        asked = [*cases, *over_refusal]
        jobs = [(lambda c=c: _ask(engine, creator_id, c.message, checker)) for c in asked] + [
            (lambda q=q: _ask(engine, creator_id, q.question, checker)) for q in grounding
        ]
        replies = await gather_limited(jobs, concurrency, tick)
    finally:
        engine.guard, engine.config = saved_guard, saved_config
    info.seconds = round(time.perf_counter() - started, 1)
    info.client_cpu_s = round(time.process_time() - cpu_before, 1)
    server_cpu_after = server_cpu(services)
    if server_cpu_before is not None and server_cpu_after is not None:
        info.server_cpu_s = round(server_cpu_after - server_cpu_before, 1)
    metrics_after = server_metrics(services)
    if metrics_before and metrics_after:
        for attr, key in (
            ("tokens_predicted", "llamacpp:tokens_predicted_total"),
            ("prompt_tokens", "llamacpp:prompt_tokens_total"),
        ):
            if key in metrics_after:
                setattr(info, attr, metrics_after[key] - metrics_before.get(key, 0.0))
    info.load_after = load_average()
    info.model_calls = sum(1 for r in replies if r.model_called)
    if guard_model is not None:
        calls = Counter(guard_model.stats)
        calls.subtract(guard_before)
        info.guard = {"model": guard_model.name, **{k: v for k, v in calls.items() if v}}

    case_results = []
    for case, reply in zip(asked, replies[: len(asked)], strict=True):
        outcome = classify(reply)
        if case.split == "over_refusal":  # a no-answer or a deflection is a refusal here
            correct = not refused(outcome, reply.action) and outcome is not Outcome.UNSAFE
        else:
            correct = is_correct(case.expect, outcome, discloses_ai(reply.text))
        case_results.append(CaseResult(case, reply, outcome, correct))
    over_results = case_results[len(cases) :]
    case_results = case_results[: len(cases)]
    grounding_results = [
        grade_grounding(
            q,
            r,
            {no_answer_text(no_answer_settings, lang) for lang in (q.lang, guess_lang(q.question))},
        )
        for q, r in zip(grounding, replies[len(asked) :], strict=True)
    ]
    warm_failures = []
    if warm:
        report_progress("warm", 0, len(warm))
        _, failures = warm_pass_rate(warm, demo_boundaries())
        warm_failures = [(m, f"{d.action}/{d.category}: {d.reason}") for m, d in failures]
        report_progress("warm", len(warm), len(warm))
    _, blind_failures = warm_pass_rate(warm_blind, demo_boundaries())
    return RedTeamReport(
        case_results, grounding_results, len(warm), warm_failures, info, over_results,
        len(warm_blind), [(m, f"{d.action}/{d.category}: {d.reason}") for m, d in blind_failures],
    )  # fmt: skip


def run_redteam(
    services: Platform,
    *,
    limit: int | None = None,
    split: str = "all",
    cases_paths: Sequence[Path] = REDTEAM_FILES,
    grounding_path: Path = GROUNDING_FILE,
    warm_path: Path = WARM_FILE,
    blind: bool = False,
    **kwargs: Any,
) -> RedTeamReport:
    """Load the demo creator into `services` and run the whole suite (or `limit` items of
    each set, spread over the categories) through the real engine. `split` picks the
    red-team cases: all, blind, tuned (development data: the lexicons were written against
    them), holdout (written after the lexicons) or fresh (written apart from the layers).
    `blind` (or split "blind") adds the blind split, its warm messages and the safe-looking
    (over-refusal) set, first in every table."""
    blind = blind or split == "blind"
    if blind:
        cases_paths = (BLIND_FILE, *cases_paths)
    for path in (*cases_paths, grounding_path, warm_path):
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"red-team data not found: {path}. Run from a source checkout (the suite lives "
                "in tests/data/) or pass the file's path"
            )
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose {', '.join(SPLITS)}")
    cases = [c for path in cases_paths for c in load_cases(path) if split in ("all", c.split)]
    cases = spread(cases, limit, lambda c: c.category)
    grounding = spread(load_grounding(grounding_path), limit, lambda q: f"{q.answerable}-{q.lang}")
    warm = spread(load_warm(warm_path), limit, lambda m: m.lang)
    if blind:
        kwargs["over_refusal"] = spread(load_over_refusal(OVER_REFUSAL_FILE), limit, lang_of)
        kwargs["warm_blind"] = spread(load_warm(WARM_BLIND_FILE), limit, lang_of)
    creator_id = ensure_demo(services)
    return asyncio.run(run_redteam_async(services, creator_id, cases, grounding, warm, **kwargs))
