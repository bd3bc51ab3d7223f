"""The ingest pipeline: parse everything first, then write the database and the index as one
unit, so a malformed file or a failure half-way leaves nothing behind."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from persona.domain import PostKind, PostRecord
from persona.retrieval.index import IndexEntry, PostIndex
from persona.store import Creator, Database, Post
from persona.store.posts import load_post_records
from persona.style import build_profile

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
EMBED_BATCH = 256


@dataclass(slots=True)
class CreatorStats:
    parsed: int = 0
    added: int = 0
    duplicates: int = 0


@dataclass(slots=True)
class IngestReport:
    source: str
    creators: dict[str, CreatorStats] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def added(self) -> int:
        return sum(s.added for s in self.creators.values())

    @property
    def parsed(self) -> int:
        return sum(s.parsed for s in self.creators.values())


def _noop(_stage: str, _done: int, _total: int) -> None:
    return None


def index_entries(post_id: int, record: PostRecord | Post) -> list[IndexEntry]:
    """A post, plus (for a reply whose fan message is known) that fan message."""
    kind = str(record.kind)
    if not record.clean_text:
        return []  # nothing left to search after cleaning (only @mentions or a link)
    entries = [
        IndexEntry(
            id=record.content_hash,
            text=record.clean_text,
            kind=kind,
            metadata={"post_id": post_id, "lang": record.lang},
        )
    ]
    if kind == PostKind.REPLY and record.reply_to_text:
        entries.append(
            IndexEntry(
                id=f"q{record.content_hash}",
                text=record.reply_to_text,
                kind="fan_msg",
                metadata={"post_id": post_id, "lang": record.lang, "reply": record.clean_text},
            )
        )
    return entries


class Ingestor:
    def __init__(self, db: Database, index: PostIndex) -> None:
        self.db = db
        self.index = index

    def ingest_records(
        self,
        records: Iterable[PostRecord],
        *,
        source: str,
        display_names: dict[str, str] | None = None,
        progress: Progress = _noop,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport(source=source)
        by_creator: dict[str, dict[str, PostRecord]] = defaultdict(dict)
        for record in records:
            stats = report.creators.setdefault(record.creator, CreatorStats())
            stats.parsed += 1
            if record.content_hash in by_creator[record.creator]:
                stats.duplicates += 1
            else:
                by_creator[record.creator][record.content_hash] = record
        total = sum(len(v) for v in by_creator.values())
        progress("store", 0, total)
        done = 0
        for creator_id, unique in by_creator.items():
            first = next(iter(unique.values()))
            name = (display_names or {}).get(creator_id) or first.extra.get(
                "display_name", creator_id
            )
            added = self._ingest_creator(creator_id, name, unique, source, progress, done, total)
            stats = report.creators[creator_id]
            stats.added = added
            stats.duplicates += len(unique) - added
            done += len(unique)
        progress("store", total, total)
        for i, creator_id in enumerate(by_creator):
            progress("profile", i, len(by_creator))
            if report.creators[creator_id].added or not self._has_profile(creator_id):
                self.rebuild_profile(creator_id)
        progress("profile", len(by_creator), len(by_creator))
        report.seconds = time.perf_counter() - started
        log.info(
            "ingested",
            extra={"source": source, "parsed": report.parsed, "added": report.added},
        )
        return report

    def _ingest_creator(
        self,
        creator_id: str,
        display_name: str,
        unique: dict[str, PostRecord],
        source: str,
        progress: Progress,
        done_before: int,
        total: int,
    ) -> int:
        written: list[str] = []
        try:
            with self.db.session() as session:
                if session.get(Creator, creator_id) is None:
                    session.add(Creator(id=creator_id, display_name=display_name, settings={}))
                    session.flush()
                existing = set(
                    session.scalars(select(Post.content_hash).where(Post.creator_id == creator_id))
                )
                fresh = [r for h, r in unique.items() if h not in existing]
                rows = [
                    Post(
                        creator_id=creator_id,
                        external_id=r.external_id,
                        content_hash=r.content_hash,
                        text=r.text,
                        clean_text=r.clean_text,
                        kind=str(r.kind),
                        lang=r.lang,
                        reply_to_text=r.reply_to_text,
                        created_at=r.created_at,
                        source=source[:500],
                    )
                    for r in fresh
                ]
                session.add_all(rows)
                session.flush()
                by_length = _by_length(rows)
                for start in range(0, len(by_length), EMBED_BATCH):
                    batch = by_length[start : start + EMBED_BATCH]
                    entries = [e for row in batch for e in index_entries(row.id, row)]
                    written.extend(e.id for e in entries)
                    self.index.upsert(creator_id, entries)
                    progress("embed", done_before + start + len(batch), total)
                # The commit happens when the block exits; the index already holds the rows.
            return len(rows)
        except BaseException:
            # Undo the index writes of this creator: the DB transaction rolled back.
            try:
                self.index.delete(creator_id, written)
            except Exception:  # noqa: BLE001 - report the original error, not the cleanup one
                log.exception("could not undo index writes", extra={"creator": creator_id})
            raise

    def _has_profile(self, creator_id: str) -> bool:
        with self.db.session() as session:
            creator = session.get(Creator, creator_id)
            return bool(creator and creator.profile)

    def rebuild_profile(self, creator_id: str) -> None:
        records = [r for r in load_post_records(self.db, creator_id) if r.clean_text]
        profile = build_profile(creator_id, records)
        with self.db.session() as session:
            creator = session.get(Creator, creator_id)
            if creator is None:
                raise LookupError(f"unknown creator {creator_id!r}")
            creator.profile = profile.to_dict()
            creator.profile_updated_at = datetime.now(UTC)

    def reindex(self, creator_id: str, progress: Progress = _noop) -> int:
        """Rebuild a creator's index from the database (after a crash or a model change)."""
        self.index.drop(creator_id)
        with self.db.session() as session:
            rows = session.scalars(select(Post).where(Post.creator_id == creator_id)).all()
        rows = _by_length(rows)
        for start in range(0, len(rows), EMBED_BATCH):
            batch = rows[start : start + EMBED_BATCH]
            self.index.upsert(creator_id, [e for row in batch for e in index_entries(row.id, row)])
            progress("embed", start + len(batch), len(rows))
        return len(rows)


def _by_length(rows: list[Post]) -> list[Post]:
    """Posts of similar length embed together: the model pads a batch to its longest text,
    so batches cut from a length-sorted list waste far less work (ids are content hashes:
    the order of the writes does not matter)."""
    return sorted(rows, key=lambda row: len(row.clean_text or ""))


def ingest_file(
    ingestor: Ingestor,
    path: Path,
    *,
    creator: str | None = None,
    creator_column: str | None = None,
    fmt: str | None = None,
    display_name: str | None = None,
    progress: Progress = _noop,
    **columns: str,
) -> IngestReport:
    """Parse the whole file (a format error raises before anything is written), then store."""
    from ingest.sources import load_posts

    progress("parse", 0, 0)
    records = list(
        load_posts(path, fmt=fmt, creator=creator, creator_column=creator_column, **columns)
    )
    progress("parse", len(records), len(records))
    names = {creator: display_name} if creator and display_name else None
    return ingestor.ingest_records(
        records, source=str(path), display_names=names, progress=progress
    )
