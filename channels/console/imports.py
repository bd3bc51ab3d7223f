"""Imports of posts started from the console: the upload is saved, then the ingest pipeline
(`ingest.pipeline.ingest_file`) runs in a background thread, one import at a time (embedding
is CPU-bound). Its state (queued, running, done, failed) is in `console_imports`; its
progress within a stage is kept in memory, because the pipeline holds the database's write
lock while it stores and embeds (SQLite would refuse a progress write from another
connection). The progress bar therefore moves only when polled from the process that runs the
import; another worker process sees "running" until it ends.

Every post of an upload is the signed-in creator's: the pipeline is called with
`creator=<their id>` and no creator column, so a file cannot write another creator's posts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select

from channels.console.models import ConsoleImport

if TYPE_CHECKING:
    from channels.services import Platform

log = logging.getLogger(__name__)

# File types the ingest sources read (ingest.sources.EXTENSIONS).
ALLOWED_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".txt", ".md", ".zip")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# An import whose row was not updated for this long was cut off (a restart, a crash).
STALE_AFTER = timedelta(minutes=30)
_CHUNK = 1024 * 1024


class UploadRejected(ValueError):
    """The upload cannot be imported; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ImportView:
    id: str
    filename: str
    state: str
    stage: str
    done: int
    total: int
    percent: int
    message: str
    report: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "state": self.state,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "message": self.message,
            "report": self.report,
            "finished": self.finished,
        }


# Share of the bar each stage fills: embedding is most of the work.
_STAGE_SPAN = {"parse": (0, 5), "store": (5, 10), "embed": (10, 95), "profile": (95, 100)}


def _percent(state: str, stage: str, done: int, total: int) -> int:
    if state == "done":
        return 100
    low, high = _STAGE_SPAN.get(stage, (0, 0))
    if total:
        return int(low + (high - low) * min(done, total) / total)
    return low


def _view(
    row: ConsoleImport, now: datetime, live: tuple[str, int, int] | None = None
) -> ImportView:
    """The row as the page shows it (never modified: the caller's session would write it)."""
    state, message = row.state, row.message
    stage, done, total = row.stage, row.done, row.total
    if live is not None and state == "running":
        stage, done, total = live
    elif state in ("queued", "running") and now - row.updated_at > STALE_AFTER:
        state = "failed"
        message = "This import was interrupted (the server restarted). Please start it again."
    return ImportView(
        id=row.id,
        filename=row.filename,
        state=state,
        stage=stage,
        done=done,
        total=total,
        percent=_percent(state, stage, done, total),
        message=message,
        report=dict(row.report or {}),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def safe_filename(name: str | None) -> str:
    """The upload's base name, for display and for the format (never used as a path)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(c for c in base if c.isprintable())[:200] or "upload"


def check_filename(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadRejected(
            f"{name!r} is not a file of posts we can read; upload a "
            f"{', '.join(ALLOWED_SUFFIXES)} file (a TikTok data export is a .zip or .json)"
        )
    return suffix


class ImportRunner:
    """Saves uploads and runs their imports, one at a time, in background threads."""

    def __init__(self, services: Platform, work_dir: Path) -> None:
        self.services = services
        self.work_dir = work_dir
        self._one_at_a_time = threading.Lock()
        self._threads: set[threading.Thread] = set()
        # job id -> (stage, done, total) of the imports running in this process.
        self._live: dict[str, tuple[str, int, int]] = {}

    # -- starting ----------------------------------------------------------------------------

    def save_upload(self, source: BinaryIO, suffix: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"{uuid.uuid4().hex}{suffix}"
        size = 0
        try:
            with path.open("wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise UploadRejected(
                            f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                            "split it into several files"
                        )
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise UploadRejected("the file is empty")
        return path

    def save_text(self, text: str) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / f"{uuid.uuid4().hex}.txt"
        path.write_text(text, encoding="utf-8")
        return path

    def start(self, creator_id: str, filename: str, path: Path, fmt: str | None = None) -> str:
        job_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        with self.services.db.session() as session:
            session.add(
                ConsoleImport(
                    id=job_id,
                    creator_id=creator_id,
                    filename=filename,
                    state="queued",
                    stage="",
                    done=0,
                    total=0,
                    message="",
                    report={},
                    created_at=now,
                    updated_at=now,
                )
            )
        thread = threading.Thread(
            target=self._run,
            args=(job_id, creator_id, filename, path, fmt),
            name=f"console-import-{job_id[:8]}",
            daemon=True,
        )
        self._threads.add(thread)
        thread.start()
        return job_id

    # -- reading -----------------------------------------------------------------------------

    def get(self, creator_id: str, job_id: str) -> ImportView | None:
        """The import, if it is this creator's (another creator's reads as not found)."""
        with self.services.db.session() as session:
            row = session.get(ConsoleImport, job_id)
            if row is None or row.creator_id != creator_id:
                return None
            return _view(row, datetime.now(UTC), self._live.get(job_id))

    def recent(self, creator_id: str, limit: int = 10) -> list[ImportView]:
        now = datetime.now(UTC)
        with self.services.db.session() as session:
            rows = session.scalars(
                select(ConsoleImport)
                .where(ConsoleImport.creator_id == creator_id)
                .order_by(ConsoleImport.created_at.desc())
                .limit(limit)
            ).all()
            return [_view(r, now, self._live.get(r.id)) for r in rows]

    def in_progress(self, creator_id: str) -> bool:
        """True while one of this creator's imports waits or runs (one at a time each)."""
        return any(not v.finished for v in self.recent(creator_id, limit=3))

    def wait(self, timeout: float) -> None:
        """Wait for the imports started by this runner (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- running -----------------------------------------------------------------------------

    def _update(self, job_id: str, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        with self.services.db.session() as session:
            row = session.get(ConsoleImport, job_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    def _progress(self, job_id: str) -> Callable[[str, int, int], None]:
        def report(stage: str, done: int, total: int) -> None:
            # Memory only (see the module's docstring); a dict assignment is atomic.
            self._live[job_id] = (stage[:16], done, total)

        return report

    def _run(
        self, job_id: str, creator_id: str, filename: str, path: Path, fmt: str | None
    ) -> None:
        from ingest.pipeline import ingest_file
        from ingest.sources import IngestFormatError

        try:
            with self._one_at_a_time:
                self._update(job_id, state="running", stage="parse")
                self._live[job_id] = ("parse", 0, 0)
                report = ingest_file(
                    self.services.ingestor(),
                    path,
                    creator=creator_id,
                    fmt=fmt,
                    progress=self._progress(job_id),
                )
            stats = report.creators.get(creator_id)
            others = sorted(set(report.creators) - {creator_id})
            if others:  # cannot happen with creator= set; never trust it silently
                log.error("import wrote other creators", extra={"job": job_id, "others": others})
            summary = {
                "parsed": stats.parsed if stats else 0,
                "added": stats.added if stats else 0,
                "duplicates": stats.duplicates if stats else 0,
                "seconds": round(report.seconds, 1),
            }
            message = "" if summary["parsed"] else "No posts were found in this file."
            self._update(
                job_id,
                state="done",
                stage="profile",
                report=summary,
                message=message,
                finished_at=datetime.now(UTC),
            )
        except IngestFormatError as exc:
            where = f"{filename}, line {exc.line}" if exc.line is not None else filename
            self._update(
                job_id,
                state="failed",
                message=f"{where}: {exc.reason}. Nothing was imported.",
                finished_at=datetime.now(UTC),
            )
        except Exception:  # noqa: BLE001 - the creator gets a sentence, the log the details
            log.exception("console import failed", extra={"job": job_id})
            self._update(
                job_id,
                state="failed",
                message="Something went wrong on our side during this import; nothing was "
                "imported. Please try again later.",
                finished_at=datetime.now(UTC),
            )
        finally:
            self._live.pop(job_id, None)
            path.unlink(missing_ok=True)
            self._threads.discard(threading.current_thread())
