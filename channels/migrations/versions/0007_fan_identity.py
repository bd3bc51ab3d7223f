"""fans: one identity rule, source + the source's immutable id (persona.engine.fan_key)

Fans used to be keyed `platform:(handle or id)` by the inbox and by their raw id on the live
and API channels, so a fan whose handle equalled another fan's id shared that fan's record
(summary, messages). Each record is moved to its new key where the inbox's events say whose
it is; a record that may hold two people's messages, or whose owner cannot be told, is set
apart under a key no fan can have (`legacy?ROW:OLD`): kept for the creator's history, never
read into a reply again.

Revision ID: 0007_fan_identity
Revises: 0006_inbox_creator_key
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0007_fan_identity"
down_revision = "0006_inbox_creator_key"
branch_labels = None
depends_on = None

INBOX_CHANNELS = {"dm", "comment", "group"}
# The platform's own fan sources (persona.engine.types); their old keys were the raw id.
RAW_ID_CHANNELS = {"live": "live", "api": "api"}

fans = sa.table(
    "fans",
    sa.column("id", sa.Integer),
    sa.column("creator_id", sa.String),
    sa.column("handle", sa.String),
    sa.column("summary", sa.Text),
    sa.column("summary_message_id", sa.Integer),
)
conversations = sa.table(
    "conversations",
    sa.column("id", sa.Integer),
    sa.column("fan_id", sa.Integer),
    sa.column("channel", sa.String),
)
messages = sa.table(
    "messages",
    sa.column("id", sa.Integer),
    sa.column("fan_id", sa.Integer),
    sa.column("conversation_id", sa.Integer),
)
inbox_events = sa.table(
    "inbox_events",
    sa.column("creator_id", sa.String),
    sa.column("platform", sa.String),
    sa.column("fan_id", sa.String),
    sa.column("fan_handle", sa.String),
)


def _quarantine_key(row_id: int, old: str) -> str:
    # '?' is in no fan source (persona.engine.types.FAN_SOURCE): no fan_key() is ever this.
    return f"legacy?{row_id}:{old}"[:300]


def _new_key(
    handle: str,
    channels: set[str],
    known: dict[str, tuple[set[str], dict[str, set[str]]]],
) -> str | None:
    """The record's key under the new rule, or None when whose it is cannot be told."""
    if channels and channels <= INBOX_CHANNELS:
        platform, sep, rest = handle.partition(":")
        if not sep or platform not in known:
            return None
        ids, owners_of_handle = known[platform]
        # Fans (ids) whose handle was `rest`: their messages were keyed here too.
        owners = owners_of_handle.get(rest, set()) - {rest}
        if rest in ids and not owners:
            return handle  # already the platform's id
        if rest not in ids and len(owners) == 1:
            return f"{platform}:{next(iter(owners))}"
        return None  # shared by a fan and another one's handle, or a handle passed on
    if channels == {"space"} and handle.startswith("space:"):
        return handle  # visitors were keyed space:ID already
    if len(channels) == 1:
        (channel,) = channels
        if channel in RAW_ID_CHANNELS:
            return f"{RAW_ID_CHANNELS[channel]}:{handle}"
    return None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        # source (32) + ':' + id (200) no longer fits 200; SQLite does not enforce lengths
        # (and rebuilding `fans` there would cascade to its messages).
        op.alter_column(
            "fans", "handle", existing_type=sa.String(200), type_=sa.String(300), nullable=False
        )

    # creator -> platform -> (the fans' ids, handle -> the ids that used it)
    known: dict[str, dict[str, tuple[set[str], dict[str, set[str]]]]] = defaultdict(dict)
    for creator_id, platform, fan_id, fan_handle in bind.execute(
        sa.select(
            inbox_events.c.creator_id,
            inbox_events.c.platform,
            inbox_events.c.fan_id,
            inbox_events.c.fan_handle,
        ).distinct()
    ):
        ids, owners = known[creator_id].setdefault(platform, (set(), defaultdict(set)))
        ids.add(fan_id)
        if fan_handle:
            owners[fan_handle].add(fan_id)

    channels: dict[int, set[str]] = defaultdict(set)
    for fan_id, channel in bind.execute(
        sa.select(conversations.c.fan_id, conversations.c.channel).where(
            conversations.c.fan_id.is_not(None)
        )
    ):
        channels[fan_id].add(channel)
    for fan_id, channel in bind.execute(
        sa.select(messages.c.fan_id, conversations.c.channel)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(messages.c.fan_id.is_not(None))
        .distinct()
    ):
        channels[fan_id].add(channel)

    rows = bind.execute(
        sa.select(fans.c.id, fans.c.creator_id, fans.c.handle, fans.c.summary)
    ).all()
    moves: list[tuple[int, str, str]] = []  # (row, creator, new key)
    for row_id, creator_id, handle, _ in rows:
        new = _new_key(handle, channels.get(row_id, set()), known.get(creator_id, {}))
        if new != handle:
            moves.append((row_id, creator_id, new or _quarantine_key(row_id, handle)))

    # Everything leaves its old key first, so that no move lands on a key about to be freed.
    for row_id, _, _ in moves:
        bind.execute(fans.update().where(fans.c.id == row_id).values(handle=f"?moving:{row_id}"))
    summaries = {row_id: summary for row_id, _, _, summary in rows}
    for row_id, creator_id, new in moves:
        holder = bind.execute(
            sa.select(fans.c.id).where(fans.c.creator_id == creator_id, fans.c.handle == new)
        ).scalar()
        if holder is None:
            bind.execute(fans.update().where(fans.c.id == row_id).values(handle=new))
            continue
        # The same fan under two old keys (before and after they took a handle): one record.
        bind.execute(
            conversations.update().where(conversations.c.fan_id == row_id).values(fan_id=holder)
        )
        bind.execute(messages.update().where(messages.c.fan_id == row_id).values(fan_id=holder))
        if not summaries.get(holder) and summaries.get(row_id):
            bind.execute(
                fans.update()
                .where(fans.c.id == holder)
                .values(summary=summaries[row_id], summary_message_id=None)
            )
        bind.execute(fans.delete().where(fans.c.id == row_id))


def downgrade() -> None:
    # The old keys are not restored: they are what let one fan read another's record.
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column(
            "fans", "handle", existing_type=sa.String(300), type_=sa.String(200), nullable=False
        )
