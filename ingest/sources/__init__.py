"""Sources: a file of a creator's posts -> `PostRecord`s, parsed, cleaned, typed and
language-tagged in one pass.

Formats (picked from the extension, or forced with `fmt`):
- csv / tsv: a header row; columns mapped by name (`text_column`, `creator_column`...);
- json: a list of objects, or {"posts": [...]}; a TikTok data export is recognised by its
  layout (also inside the export's .zip);
- jsonl: one object a line (the demo format {"id","created","text","reply_to","fan"});
- text (.txt/.md): one post per paragraph, blank-line separated.

Every problem raises `IngestFormatError` naming the file, the line and the fix. Empty posts
(empty text, or nothing left once links and handles are removed) are skipped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.clean import clean_post, clean_text
from ingest.language import LanguageDetector, default_detector
from ingest.sources.errors import IngestFormatError
from ingest.sources.jsonfile import find_post_list, load_json_document, read_json_posts, read_jsonl
from ingest.sources.plaintext import read_paragraphs
from ingest.sources.raw import FieldMapping, RawPost
from ingest.sources.reading import MAX_FILE_BYTES, read_json_from_zip, read_text
from ingest.sources.tabular import read_table
from ingest.sources.tiktok import looks_like_tiktok, read_tiktok
from persona.domain import PostKind, PostRecord, slugify_creator

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "MAX_FILE_BYTES",
    "FieldMapping",
    "IngestFormatError",
    "LoadStats",
    "RawPost",
    "detect_format",
    "iter_raw_posts",
    "load_posts",
    "to_record",
]

EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
    ".md": "text",
    ".zip": "tiktok",
}
FORMATS = ("csv", "tsv", "json", "jsonl", "text", "tiktok")


@dataclass(slots=True)
class LoadStats:
    """Filled while `load_posts` runs: what was read and what was kept."""

    rows: int = 0  # rows/objects/paragraphs read
    posts: int = 0  # records yielded
    replies: int = 0
    skipped_empty: int = 0  # empty text, or nothing left after cleaning
    rows_by_creator: Counter[str] = field(default_factory=Counter)  # non-empty rows


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise IngestFormatError(
                path, None, f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}"
            )
        return fmt
    suffix = path.suffix.lower()
    try:
        return EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(EXTENSIONS)
        raise IngestFormatError(
            path,
            None,
            f"unknown file type {suffix or '(no extension)'!r}; supported: {known} "
            f"(or name the format: {', '.join(FORMATS)})",
        ) from None


def iter_raw_posts(
    path: Path | str,
    *,
    fmt: str | None = None,
    mapping: FieldMapping | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> Iterator[RawPost]:
    """Raw posts as found in the file, before cleaning (the building block of load_posts)."""
    path = Path(path)
    mapping = mapping or FieldMapping()
    kind = detect_format(path, fmt)
    if path.suffix.lower() == ".zip":
        document = load_json_document(path, read_json_from_zip(path, max_bytes))
        if not looks_like_tiktok(document):
            raise IngestFormatError(
                path, None, "the JSON in this archive is not a TikTok data export"
            )
        yield from read_tiktok(path, document)
        return
    text = read_text(path, max_bytes)
    if kind in ("csv", "tsv"):
        yield from read_table(path, text, mapping, delimiter="," if kind == "csv" else "\t")
    elif kind == "jsonl":
        yield from read_jsonl(path, text, mapping)
    elif kind == "text":
        yield from read_paragraphs(text)
    else:
        document = load_json_document(path, text)
        if kind == "tiktok" or looks_like_tiktok(document):
            yield from read_tiktok(path, document)
            return
        found = find_post_list(document)
        if found is None:
            keys = list(document)[:10] if isinstance(document, dict) else []
            raise IngestFormatError(
                path,
                None,
                'expected a list of post objects, an object with a "posts" list, or a '
                f"TikTok data export; found {type(document).__name__}"
                + (f" with keys {keys}" if keys else ""),
            )
        items, key = found
        yield from read_json_posts(path, text, items, mapping, key)


def to_record(
    raw: RawPost,
    *,
    creator_id: str,
    source: str = "",
    detector: LanguageDetector | None = None,
) -> PostRecord | None:
    """Clean, type and tag one raw post. A post with nothing left after cleaning (a reply
    that was only @mentions, a bare link) is still the creator's post: it is kept with an
    empty `clean_text`, stored, and left out of the index and the profile."""
    cleaned = clean_post(raw.text)
    reply_to = clean_text(raw.reply_to_text) if raw.reply_to_text else ""
    if raw.kind is not None:
        kind = raw.kind
    elif reply_to or cleaned.starts_with_mention:
        kind = PostKind.REPLY
    else:
        kind = PostKind.POST
    return PostRecord(
        creator=creator_id,
        text=raw.text,
        clean_text=cleaned.text,
        kind=kind,
        lang=(detector or default_detector()).detect(cleaned.text) if cleaned.text else "und",
        external_id=raw.external_id,
        created_at=raw.created_at,
        reply_to_text=reply_to or None,
        source=source,
        extra=dict(raw.extra),
    )


def load_posts(
    path: Path | str,
    *,
    fmt: str | None = None,
    creator: str | None = None,
    creator_column: str | None = None,
    text_column: str = "text",
    id_column: str | None = "id",
    time_column: str | None = "created",
    reply_to_column: str | None = None,
    stats: LoadStats | None = None,
    detector: LanguageDetector | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> Iterator[PostRecord]:
    """Parse + clean + language + kind, one record per non-empty post.

    The creator is `creator_column`'s value on each row (several creators in one file), else
    `creator`, else (TikTok) the export's user name. Creator ids are slugified handles; the
    name as written is kept in `record.extra["display_name"]`. Lazy: iterate (or `list()`) it;
    pass a `LoadStats` to learn how many rows were read and skipped.
    """
    path = Path(path)
    stats = stats if stats is not None else LoadStats()
    mapping = FieldMapping(
        text=text_column,
        id=id_column,
        time=time_column,
        creator=creator_column,
        reply_to=reply_to_column,
    )
    detector = detector or default_detector()
    fixed_creator = creator.strip() if creator and creator.strip() else None
    for raw in iter_raw_posts(path, fmt=fmt, mapping=mapping, max_bytes=max_bytes):
        stats.rows += 1
        if not raw.text.strip():
            stats.skipped_empty += 1
            continue
        name = (raw.creator if creator_column else None) or fixed_creator or raw.creator
        if name is None:
            raise IngestFormatError(
                path,
                raw.line,
                "whose posts are these? pass creator='handle' (--creator) for a file of one "
                "creator, or creator_column='name' (--creator-column) for a column naming them",
            )
        creator_id = slugify_creator(name)
        stats.rows_by_creator[creator_id] += 1
        source = f"{path.name}:{raw.line}" if raw.line is not None else path.name
        record = to_record(raw, creator_id=creator_id, source=source, detector=detector)
        if record is None:
            stats.skipped_empty += 1
            continue
        record.extra.setdefault("display_name", name.strip().lstrip("@"))
        stats.posts += 1
        stats.replies += record.kind == PostKind.REPLY
        yield record
