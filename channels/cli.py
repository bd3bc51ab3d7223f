"""The `persona` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from channels.logs import configure_logging
from channels.settings import Settings

app = typer.Typer(
    name="persona",
    help="Creator AI-persona platform: an AI double that answers fans in the creator's voice.",
    no_args_is_help=True,
    add_completion=False,
)
eval_app = typer.Typer(
    help="Measure the AI double: how much it sounds like the creator, how often fans get answers."
)
app.add_typer(eval_app, name="eval")
console = Console()
err = Console(stderr=True)


def _settings(quiet: bool = True) -> Settings:
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the field and the problem
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
    # Interactive commands show results, not logs, unless PERSONA_LOG_LEVEL asks for them.
    level = settings.log_level
    if quiet and "PERSONA_LOG_LEVEL" not in os.environ:
        level = "WARNING"
    configure_logging(level, settings.log_format)
    if level == "WARNING":  # the result table already says what each safety check decided
        logging.getLogger("persona.safety").setLevel(logging.ERROR)
    return settings


@contextmanager
def _services(migrate: bool = True):
    from channels.services import Services

    services = Services.build(_settings(), migrate=migrate)
    try:
        yield services
    finally:
        services.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def run_ingest(services, path: Path, **kwargs) -> object:
    """Ingest with one progress bar per stage."""
    from ingest.pipeline import ingest_file

    with _progress() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total or None)
            progress.update(tasks[stage], completed=done, total=total or None)

        return ingest_file(services.ingestor(), path, progress=report, **kwargs)


def _print_report(report) -> None:
    table = Table(title=f"Ingested {report.source}")
    for column in ("creator", "parsed", "added", "duplicates"):
        table.add_column(column, justify="right" if column != "creator" else "left")
    for creator, stats in sorted(report.creators.items()):
        table.add_row(creator, str(stats.parsed), str(stats.added), str(stats.duplicates))
    console.print(table)
    console.print(
        f"{report.added} new post{'' if report.added == 1 else 's'} of {report.parsed} in "
        f"{report.seconds:.1f} s ({len(report.creators)} "
        f"creator{'' if len(report.creators) == 1 else 's'})"
    )


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="CSV, JSON, JSONL, TikTok export or .txt")],
    creator: Annotated[str | None, typer.Option(help="Creator id for every post")] = None,
    creator_column: Annotated[
        str | None, typer.Option(help="Column/field naming each post's creator")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, json, jsonl, tiktok or text")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name of --creator")] = None,
    text_column: Annotated[str, typer.Option(help="Column/field with the post text")] = "text",
    id_column: Annotated[str, typer.Option(help="Column/field with the post id")] = "id",
    time_column: Annotated[str, typer.Option(help="Column/field with the date")] = "created",
    reply_to_column: Annotated[
        str | None, typer.Option(help="Column/field with the fan message a reply answered")
    ] = None,
) -> None:
    """Import a creator's past posts: clean, de-duplicate, embed, and build the voice profile."""
    from ingest.sources import IngestFormatError

    if not path.exists():
        err.print(f"[red]no such file:[/red] {path}")
        raise typer.Exit(2)
    is_tiktok = fmt == "tiktok"  # a TikTok export names its own user
    if not creator and not creator_column and not is_tiktok:
        err.print("[red]say whose posts these are:[/red] --creator ID or --creator-column COLUMN")
        raise typer.Exit(2)
    columns = {"text_column": text_column, "id_column": id_column, "time_column": time_column}
    if reply_to_column:
        columns["reply_to_column"] = reply_to_column
    with _services() as services:
        try:
            report = run_ingest(
                services,
                path,
                creator=creator,
                creator_column=creator_column,
                fmt=fmt,
                display_name=name,
                **columns,
            )
        except IngestFormatError as exc:
            err.print(f"[red]cannot ingest:[/red] {exc}\nNothing was written.")
            raise typer.Exit(1) from None
    _print_report(report)


@app.command()
def creators() -> None:
    """List creators and their post counts."""
    from sqlalchemy import func, select

    from persona.store import Creator, Post

    with _services() as services, services.db.session() as session:
        rows = session.execute(
            select(Creator.id, Creator.display_name, func.count(Post.id))
            .outerjoin(Post, Post.creator_id == Creator.id)
            .group_by(Creator.id)
            .order_by(Creator.id)
        ).all()
    table = Table("creator", "name", "posts")
    for creator_id, display, count in rows:
        table.add_row(creator_id, display, str(count))
    console.print(table)


@app.command()
def profile(
    creator: Annotated[str, typer.Argument(help="Creator id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw profile")] = False,
) -> None:
    """Show a creator's measured voice profile."""
    from persona.store import Creator
    from persona.style import VoiceProfile, render_table

    with _services() as services, services.db.session() as session:
        row = session.get(Creator, creator)
        data = row.profile if row else None
    if not data:
        err.print(
            f"[red]no profile for {creator!r}[/red]: run `persona ingest ... --creator {creator}`"
        )
        raise typer.Exit(1)
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(render_table(VoiceProfile.from_dict(data)))


@app.command()
def reply(
    message: Annotated[str, typer.Argument(help="The fan's message")],
    creator: Annotated[str, typer.Option(help="Creator id")],
    channel: Annotated[str, typer.Option(help="dm, comment, group, live, space")] = "dm",
    fan: Annotated[str | None, typer.Option(help="Fan handle (enables memory)")] = None,
    candidates: Annotated[int | None, typer.Option(min=1, max=8)] = None,
    sources: Annotated[bool, typer.Option("--sources", help="Show retrieved posts")] = False,
) -> None:
    """Answer one fan message as the creator's AI double."""
    from persona.engine import Channel, ReplyRequest, fan_key
    from persona.engine.engine import CreatorNotFound
    from persona.engine.types import CLI_FANS

    with _services() as services:
        try:
            with err.status("starting the model…"):
                engine = services.engine
            request = ReplyRequest(
                creator,
                message,
                Channel(channel),
                fan_handle=fan_key(CLI_FANS, fan) if fan else None,
                candidates=candidates,
                record=fan is not None,
            )
            with err.status("writing…"):
                result = asyncio.run(engine.reply(request))
        except CreatorNotFound as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    _print_result(result, sources)


def _print_result(result, show_sources: bool) -> None:
    label = f" [dim]({result.label})[/dim]" if result.label else ""
    console.print(f"[bold]{result.creator_id}[/bold]{label}: {result.text}")
    if str(result.action) != "send":
        console.print(f"[yellow]{result.action}[/yellow] {result.category}: {result.reason}")
    if show_sources:
        for source in result.sources:
            console.print(f"  [dim]{source.score:.2f} {source.kind}: {source.text[:100]}[/dim]")
    timings = result.timings_ms
    if timings:
        console.print(
            f"[dim]{timings.get('total', 0):.0f} ms total, "
            f"{timings.get('generate', 0):.0f} ms in the model[/dim]"
        )


@app.command()
def reindex(creator: Annotated[str, typer.Argument(help="Creator id")]) -> None:
    """Rebuild a creator's retrieval index from the database."""
    with _services() as services, _progress() as progress:
        task = progress.add_task("embed", total=None)

        def report(_stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = services.ingestor().reindex(creator, report)
    console.print(f"re-indexed {count} posts of {creator}")


def _eval_tuned(
    chosen: list[str] | None,
    per_creator: int,
    candidates: int | None,
    out: Path | None,
    activate: bool,
) -> None:
    import json
    import math

    from channels.eval_voice import run_tuned_comparison

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.0%}"

    with _services() as services, _progress() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage[:12], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            comparisons, accuracy = run_tuned_comparison(
                services, chosen, per_creator, candidates, report, activate=activate
            )
        except (LookupError, ValueError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    table = Table(title="Voice adapters: base pipeline vs tuned (same held-out fan messages)")
    for column in ("adapter", "attribution base", "tuned", "style dist base", "tuned", "copy"):
        table.add_column(column, justify="left" if column == "adapter" else "right")
    table.add_column("decision")
    for comp in comparisons:
        table.add_row(
            comp.adapter,
            pct(comp.base.attribution),
            pct(comp.tuned.attribution),
            f"{comp.base.style_distance:.2f}",
            f"{comp.tuned.style_distance:.2f}",
            pct(comp.tuned.copy_rate),
            f"{comp.decision}: {comp.reason}",
        )
    console.print(table)
    console.print(f"judge accuracy on real held-out posts: {pct(accuracy)}")
    if out:
        payload = {"judge_accuracy": accuracy, "comparisons": [c.to_dict() for c in comparisons]}
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")


@eval_app.command("voice")
def eval_voice(
    creators_csv: Annotated[
        str | None, typer.Option("--creators", help="Comma-separated ids (default: all)")
    ] = None,
    per_creator: Annotated[int, typer.Option(min=1, max=200, help="Fan messages each")] = 20,
    candidates: Annotated[int | None, typer.Option(min=1, max=8)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the full report as JSON")] = None,
    tuned: Annotated[
        bool,
        typer.Option(
            "--tuned",
            help="Compare each creator's newest candidate voice adapter (persona tune) with "
            "the base pipeline; activate it only if it wins",
        ),
    ] = False,
    activate: Annotated[
        bool, typer.Option("--activate/--no-activate", help="With --tuned: apply the decision")
    ] = True,
) -> None:
    """Hold out part of each creator's posts, answer fan messages, and score the voice."""
    import math

    from channels.eval_voice import run_voice_eval

    chosen = [c.strip() for c in creators_csv.split(",")] if creators_csv else None
    if tuned:
        _eval_tuned(chosen, per_creator, candidates, out, activate)
        return
    with _services() as services, _progress() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage[:12], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = run_voice_eval(services, chosen, per_creator, candidates, report)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None

    def pct(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value:.0%}"

    table = Table(title="Voice evaluation (attribution by a function-word + compression judge)")
    for column in (
        "creator",
        "replies",
        "attribution",
        "real posts",
        "style dist",
        "real dist",
        "copy rate",
    ):
        table.add_column(column, justify="right" if column != "creator" else "left")
    for c in result.creators:
        table.add_row(
            c.creator_id,
            str(c.replies),
            pct(c.attribution),
            pct(c.real_attribution),
            f"{c.style_distance:.2f}",
            f"{c.real_style_distance:.2f}",
            pct(c.copy_rate),
        )
    table.add_row(
        "mean",
        "",
        pct(result.mean_attribution),
        pct(result.mean_real_attribution),
        "",
        "",
        pct(result.mean_copy_rate),
    )
    console.print(table)
    console.print(
        f"judge accuracy on real held-out posts: {pct(result.judge_accuracy)} "
        f"(chance {pct(result.chance)})"
    )
    if out:
        import json

        payload = {
            "judge_accuracy": result.judge_accuracy,
            "chance": result.chance,
            "creators": [c.to_dict() for c in result.creators],
        }
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")


@eval_app.command("answers")
def eval_answers(
    creator: Annotated[
        list[str] | None,
        typer.Option(help="A creator of the set (repeat the option); default: all of them"),
    ] = None,
    split: Annotated[str, typer.Option(help="Fan messages: dev, holdout or all")] = "dev",
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only N messages per creator, spread over kinds and languages"),
    ] = None,
    channel: Annotated[
        str, typer.Option(help="space (streamed, with time to first token) or dm")
    ] = "space",
    concurrency: Annotated[
        int, typer.Option(min=1, max=8, help="Requests in flight (model server slots)")
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Write every reply and verdict as JSON")] = None,
    benchmarks: Annotated[
        bool, typer.Option(help="Write the figures into BENCHMARKS.md (source checkout only)")
    ] = False,
    with_redteam: Annotated[
        bool,
        typer.Option(
            "--redteam/--no-redteam",
            help="Also run the red team in the same process (same services, same model)",
        ),
    ] = False,
    redteam_limit: Annotated[
        int | None,
        typer.Option(min=1, help="With --redteam: only N items of each red-team set"),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Eight everyday messages for each --creator (any creator id)"),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            help="Exit 1 when useful < 90% overall or < 80% for a creator, language match < 95%, "
            "or a red-team leak counter > 0"
        ),
    ] = False,
) -> None:
    """Send ordinary fan messages through the real engine: how often fans get a real answer,
    in their language, and how fast (with --redteam, beside the red team's figures)."""
    import shlex

    from channels.eval_answers import CHANNELS, missed, render, run_answers, write_benchmarks

    if channel not in CHANNELS:
        err.print(f"[red]unknown channel {channel!r}[/red]: choose {', '.join(CHANNELS)}")
        raise typer.Exit(2)
    if split not in ("dev", "holdout", "all"):
        err.print(f"[red]unknown split {split!r}[/red]: choose dev, holdout or all")
        raise typer.Exit(2)
    redteam_report = None
    with _services() as services:
        with err.status("starting the model…"):
            _ = services.engine
        with _progress() as progress:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage[:12], total=total or None)
                progress.update(tasks[stage], completed=done, total=total or None)

            try:
                result = run_answers(
                    services,
                    creators=creator or None,
                    split=split,
                    limit=limit,
                    channel=channel,
                    concurrency=concurrency,
                    quick=quick,
                    progress=report,
                )
                if with_redteam:
                    from channels.redteam import run_redteam

                    redteam_report = run_redteam(
                        services, limit=redteam_limit, concurrency=concurrency, progress=report
                    )
            except (FileNotFoundError, LookupError, ValueError) as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
    for table in render(result):
        console.print(table)
    if redteam_report is not None:
        from channels.redteam import render as render_redteam

        for table in render_redteam(redteam_report):
            console.print(table)
    console.print(f"{result.run['seconds']:.0f} s for {len(result.records)} fan messages")
    if out:
        payload = result.to_dict()
        if redteam_report is not None:
            payload["redteam"] = redteam_report.to_dict()
        out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        console.print(f"report written to {out}")
    if benchmarks:
        command = "persona " + shlex.join(sys.argv[1:]) if len(sys.argv) > 1 else "persona"
        try:
            titles = write_benchmarks(result, command, redteam_report)
        except ImportError:
            err.print("[red]--benchmarks needs a source checkout[/red] (bench/ is not installed)")
            raise typer.Exit(1) from None
        console.print(f"section(s) {', '.join(map(repr, titles))} written to BENCHMARKS.md")
    if check and (problems := missed(result, redteam_report)):
        for problem in problems:
            err.print(f"[red]missed[/red] {problem}")
        raise typer.Exit(1)


@app.command()
def token(creator: Annotated[str, typer.Argument(help="Creator id")]) -> None:
    """Issue a new API token for a creator (the previous one stops working)."""
    from channels.deps import new_api_token

    with _services() as services:
        try:
            value = new_api_token(services, creator)
        except LookupError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(value)


DEMO_MESSAGES = [
    "Coucou Camille ! Tu fais quoi ce week-end ?",
    "Your lemon tart recipe changed my life 🍋 any tips for the crust?",
    "Are you a real person or a bot?",
]


def ensure_demo(services) -> str:
    """Load the shipped demo creator if it is not there yet (idempotent)."""
    from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, demo_posts_path
    from persona.store import Creator

    with services.db.session() as session:
        present = session.get(Creator, DEMO_CREATOR_ID) is not None
    if not present:
        report = run_ingest(
            services, demo_posts_path(), creator=DEMO_CREATOR_ID, display_name=DEMO_DISPLAY_NAME
        )
        _print_report(report)
    return DEMO_CREATOR_ID


def answer_demo_messages(services, creator_id: str, messages: list[str]) -> None:
    from persona.engine import ReplyRequest

    with err.status("starting the embedded model…"):
        engine = services.engine

    async def answer_all() -> None:
        for text in messages:
            console.print(f"\n[cyan]fan:[/cyan] {text}")
            result = await engine.reply(ReplyRequest(creator_id, text, record=False))
            _print_result(result, False)

    asyncio.run(answer_all())


def where_next(base: str, creator_id: str, name: str, *, serving: bool) -> str:
    """What a newcomer does after the demo: the pages to open and how to get a console
    account (an admin command; nobody signs up on the web)."""
    rows = [] if serving else [("start the platform", "persona serve")]
    rows += [
        ("landing page", f"{base}/"),
        ("chat with the double", f"{base}/space/{creator_id}"),
        ("API docs", f"{base}/docs"),
        ("creator console", f"{base}/console (sign-in; make the account first with"),
        ("", f'persona admin create-creator {creator_id} --name "{name}")'),
    ]
    lines = [f"  {label + ':' if label else '':22} {value}" for label, value in rows]
    return "\nWhere to go next:\n" + "\n".join(lines)


@app.command()
def demo(
    message: Annotated[list[str] | None, typer.Argument(help="Fan messages to answer")] = None,
) -> None:
    """Load the demo creator and show their AI double answering a few fan messages."""
    from ingest.demo import DEMO_DISPLAY_NAME

    with _services() as services:
        creator_id = ensure_demo(services)
        answer_demo_messages(services, creator_id, message or DEMO_MESSAGES)
        base = f"http://{services.settings.host}:{services.settings.port}"
    err.print(where_next(base, creator_id, DEMO_DISPLAY_NAME, serving=False), highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="API worker processes (default PERSONA_WORKERS, 1); more than one needs "
            "PostgreSQL, Redis, the Chroma server and an OpenAI-compatible model",
        ),
    ] = None,
    demo_creator: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the demo creator first")
    ] = True,
    demo_replies: Annotated[
        bool,
        typer.Option("--demo-replies/--no-demo-replies", help="Show it answering fans first"),
    ] = True,
) -> None:
    """Serve the platform: HTTP API, websockets, interactive space and console."""
    from channels.serve_cli import CannotRunWorkers, check_workers, run_server

    settings = _settings(quiet=False)
    count = workers or settings.workers
    try:
        check_workers(settings, count)
    except CannotRunWorkers as exc:
        err.print(f"[red]cannot start {count} workers[/red]: {exc}")
        raise typer.Exit(2) from None
    if demo_creator:
        from channels.services import Services

        services = Services.build(settings)
        try:
            creator_id = ensure_demo(services)
            if demo_replies:
                answer_demo_messages(services, creator_id, DEMO_MESSAGES)
        finally:
            services.close()
    bind_host, bind_port = host or settings.host, port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME

    err.print(f"\nserving on {base} ({count} worker{'s' if count > 1 else ''})", highlight=False)
    err.print(where_next(base, DEMO_CREATOR_ID, DEMO_DISPLAY_NAME, serving=True), highlight=False)
    run_server(settings, bind_host, bind_port, count)


def main() -> None:
    try:
        from channels.avatar_cli import avatar_app
    except ImportError:  # the avatar extra is optional
        avatar_app = None
    if avatar_app is not None:
        app.add_typer(avatar_app, name="avatar")
    from channels.console_cli import admin_app

    app.add_typer(admin_app, name="admin")
    from channels.connectors.cli import connect_app

    app.add_typer(connect_app, name="connect")
    from channels.card_cli import card_app

    app.add_typer(card_app, name="card")
    from channels.eval_overlap import overlap
    from channels.redteam_cli import redteam

    eval_app.command("overlap")(overlap)

    app.command("redteam", help="Trust-and-safety report through the real model")(redteam)
    from channels.selection_cli import selection

    eval_app.command("selection")(selection)
    from channels.tune_cli import tune

    app.command("tune", help="Train a creator's voice adapter (LoRA) on their posts")(tune)
    from channels.doctor import doctor_command
    from channels.jobs import jobs_command

    app.command("doctor")(doctor_command)
    app.command("jobs")(jobs_command)
    app(prog_name="persona")


if __name__ == "__main__":
    sys.exit(main())
