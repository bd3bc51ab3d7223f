"""An inbound event that is decided from the start: the row an outbox reply hangs on when no
webhook brought the message (a space reply held for review, the creator's own reply in a
conversation they took over)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from channels.inbox.comments import text_hash
from channels.inbox.models import EventStatus, InboxEvent


def settled_event(
    *,
    platform: str,
    source: str,
    creator_id: str,
    channel: str,
    thread_key: str,
    fan_id: str,
    text: str,
    payload: dict[str, Any],
    reason: str,
    now: datetime,
) -> InboxEvent:
    """`source` prefixes the event's unique message id ("space", "creator")."""
    return InboxEvent(
        platform=platform,
        message_id=f"{source}:{uuid.uuid4().hex}",
        creator_id=creator_id,
        channel=channel,
        thread_key=thread_key,
        fan_id=fan_id,
        fan_handle=None,
        fan_name=None,
        text=text,
        text_hash=text_hash(text),
        payload=payload,
        callback_url=None,
        status=EventStatus.DONE,
        reason=reason,
        not_before=now,
        attempts=0,
        received_at=now,
        decided_at=now,
    )
