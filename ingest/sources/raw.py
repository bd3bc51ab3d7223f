"""What every reader yields (a raw post: fields as found, before cleaning) and the shared
field conversions (which column holds what, dates, kinds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest.sources.errors import IngestFormatError
from persona.domain import PostKind

# When the caller keeps a default field name and the file does not have it, these common
# names are tried in order (exports name the same thing differently).
TEXT_ALIASES = ("text", "full_text", "content", "body", "caption", "message")
ID_ALIASES = ("id", "id_str", "post_id", "tweet_id")
TIME_ALIASES = ("created", "created_at", "date", "timestamp", "time")
REPLY_TO_ALIASES = ("reply_to",)
DEFAULT_TEXT, DEFAULT_ID, DEFAULT_TIME = "text", "id", "created"


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Which column/key holds what. `None` for id/time ignores them; `creator=None` means the
    creator is given by the caller; `reply_to=None` still picks up a "reply_to" field."""

    text: str = DEFAULT_TEXT
    id: str | None = DEFAULT_ID
    time: str | None = DEFAULT_TIME
    creator: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedFields:
    """Field names as found in one file (aliases applied); None: the file has no such field."""

    text: str
    id: str | None
    time: str | None
    creator: str | None
    reply_to: str | None
    kind: str | None
    fan: str | None


@dataclass(slots=True)
class RawPost:
    line: int | None
    text: str
    creator: str | None = None
    external_id: str | None = None
    created_at: datetime | None = None
    reply_to_text: str | None = None
    # Set when the source itself knows (TikTok: videos are posts, comments are replies).
    kind: PostKind | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _pick(
    wanted: str | None, default: str | None, aliases: Sequence[str], names: Sequence[str]
) -> str | None:
    if wanted is None:
        return None
    if wanted in names:
        return wanted
    if wanted == default:
        return next((a for a in aliases if a in names), None)
    return None


def resolve_fields(
    mapping: FieldMapping,
    names: Sequence[str],
    *,
    path: Path,
    line: int | None,
    what: str,
    hint: str,
) -> ResolvedFields:
    """Match a mapping to the fields of a file. Fields the caller named explicitly must exist;
    defaults fall back to common aliases and are optional, except the text."""
    names = list(names)
    found = ", ".join(repr(n) for n in names) or "none"

    def missing(role: str, name: str, option: str) -> IngestFormatError:
        return IngestFormatError(
            path,
            line,
            f"no {what} {name!r} for the {role} ({what}s found: {found}); {hint} "
            f"set {option} to the {what} that holds it",
        )

    text = _pick(mapping.text, DEFAULT_TEXT, TEXT_ALIASES, names)
    if text is None:
        raise missing("post text", mapping.text, "text_column (--text-column)")
    post_id = _pick(mapping.id, DEFAULT_ID, ID_ALIASES, names)
    if mapping.id not in (None, DEFAULT_ID) and post_id is None:
        raise missing("post id", mapping.id, "id_column (--id-column)")
    time = _pick(mapping.time, DEFAULT_TIME, TIME_ALIASES, names)
    if mapping.time not in (None, DEFAULT_TIME) and time is None:
        raise missing("date", mapping.time, "time_column (--time-column)")
    creator = None
    if mapping.creator is not None:
        if mapping.creator not in names:
            raise missing("creator", mapping.creator, "creator_column (--creator-column)")
        creator = mapping.creator
    reply_to = mapping.reply_to
    if reply_to is not None and reply_to not in names:
        raise missing("fan message answered", reply_to, "reply_to_column (--reply-to-column)")
    if reply_to is None:
        reply_to = next((a for a in REPLY_TO_ALIASES if a in names), None)
    return ResolvedFields(
        text=text,
        id=post_id,
        time=time,
        creator=creator,
        reply_to=reply_to,
        kind="kind" if "kind" in names else None,
        fan="fan" if "fan" in names else None,
    )


def as_text(value: object) -> str | None:
    """A scalar field as text; None/empty as None. Lists and objects are not text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        text = str(value)
        return text if text.strip() else None
    raise TypeError(type(value).__name__)


_TIME_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter archives: "Wed Oct 10 20:19:24 +0000 2018"
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
)


def parse_time(value: object) -> datetime:
    """ISO 8601, Twitter-archive dates or Unix seconds/milliseconds -> aware datetime (UTC
    when the source gives no zone). Raises ValueError when none fits."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        if text.lstrip("-").replace(".", "", 1).isdigit():
            seconds = float(text)
        else:
            parsed: datetime | None = None
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                for fmt in _TIME_FORMATS:
                    try:
                        parsed = datetime.strptime(text, fmt)
                        break
                    except ValueError:
                        continue
            if parsed is None:
                raise ValueError(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if abs(seconds) > 1e11:  # milliseconds since the epoch
        seconds /= 1000.0
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_kind(value: str) -> PostKind:
    return PostKind(value.strip().lower())


def build_raw_post(
    get: Callable[[str], object],
    fields: ResolvedFields,
    *,
    path: Path,
    line: int | None,
    where: str = "",
) -> RawPost:
    """One raw post from a row/object accessor (text "" when empty: counted, then skipped)."""

    def field_text(name: str | None, role: str) -> str | None:
        if name is None:
            return None
        try:
            return as_text(get(name))
        except TypeError as exc:
            raise IngestFormatError(
                path,
                line,
                f"{where}the {role} field {name!r} holds a {exc}, expected text or a number",
            ) from None

    text = field_text(fields.text, "text")
    if text is None:
        return RawPost(line=line, text="")
    raw = RawPost(line=line, text=text)
    raw.creator = field_text(fields.creator, "creator")
    if fields.creator is not None and raw.creator is None:
        raise IngestFormatError(
            path, line, f"{where}the creator field {fields.creator!r} is empty; fill it in"
        )
    raw.external_id = field_text(fields.id, "id")
    stamp = field_text(fields.time, "date")
    if stamp is not None:
        try:
            raw.created_at = parse_time(stamp)
        except (ValueError, OverflowError, OSError):
            raise IngestFormatError(
                path,
                line,
                f"{where}cannot read the date {stamp!r} in {fields.time!r}: write it as ISO 8601 "
                "(2019-02-02T21:11:49Z) or Unix seconds, or ignore dates with time_column=None",
            ) from None
    raw.reply_to_text = field_text(fields.reply_to, "reply_to")
    kind = field_text(fields.kind, "kind")
    if kind is not None:
        try:
            raw.kind = parse_kind(kind)
        except ValueError:
            raise IngestFormatError(
                path, line, f"{where}kind {kind!r} is neither 'post' nor 'reply'"
            ) from None
    fan = field_text(fields.fan, "fan")
    if fan is not None:
        raw.extra["fan"] = fan
    return raw
