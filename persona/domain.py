"""Plain records shared by ingest, the reply engine and the channels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PostKind(StrEnum):
    POST = "post"  # broadcast post to all followers
    REPLY = "reply"  # the creator answering someone (often a fan)


@dataclass(slots=True)
class PostRecord:
    """One post of a creator as ingested. `text` is the original, `clean_text` what we model."""

    creator: str
    text: str
    clean_text: str
    kind: PostKind = PostKind.POST
    lang: str = "und"
    external_id: str | None = None
    created_at: datetime | None = None
    # The fan message this post answered, when the source knows it.
    reply_to_text: str | None = None
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Identity for de-duplication: the same text (case and spacing aside) by the same
        creator is one post. The original text, not the cleaned one: two posts that differ
        only by their link are two posts."""
        key = f"{self.creator}\x00{' '.join(self.text.casefold().split())}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def slugify_creator(name: str) -> str:
    """Creator ids are the account handle, lower-cased, without a leading @."""
    return name.strip().lstrip("@").lower()
