"""Queries over a creator's posts shared by ingest and the reply engine."""

from __future__ import annotations

from sqlalchemy import select

from persona.domain import PostKind, PostRecord
from persona.store.db import Database
from persona.store.models import Post


def load_post_records(db: Database, creator_id: str) -> list[PostRecord]:
    with db.session() as session:
        rows = session.scalars(
            select(Post).where(Post.creator_id == creator_id).order_by(Post.id)
        ).all()
        return [
            PostRecord(
                creator=creator_id,
                text=row.text,
                clean_text=row.clean_text,
                kind=PostKind(row.kind),
                lang=row.lang,
                external_id=row.external_id,
                created_at=row.created_at,
                reply_to_text=row.reply_to_text,
                source=row.source,
            )
            for row in rows
        ]
