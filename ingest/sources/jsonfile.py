"""JSON (a list of post objects, or {"posts": [...]}) and JSONL (one object a line).

The demo format is plain JSON/JSONL too: {"id", "created", "text", "reply_to", "fan"}, where
`reply_to` is the fan message the post answered (so the post is a reply) and `fan` who sent it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ingest.sources.errors import IngestFormatError
from ingest.sources.raw import (
    FieldMapping,
    RawPost,
    ResolvedFields,
    build_raw_post,
    resolve_fields,
)

LIST_KEYS = ("posts", "items", "data", "tweets")
_HINT = "add it to every object or"


class _FieldCache:
    """Objects of one file mostly share their keys: resolve the mapping once per key set."""

    def __init__(self, path: Path, mapping: FieldMapping) -> None:
        self.path = path
        self.mapping = mapping
        self._cache: dict[tuple[str, ...], ResolvedFields] = {}

    def resolve(self, keys: Sequence[str], line: int | None, where: str) -> ResolvedFields:
        key = tuple(keys)
        fields = self._cache.get(key)
        if fields is None:
            try:
                fields = resolve_fields(
                    self.mapping, key, path=self.path, line=line, what="field", hint=_HINT
                )
            except IngestFormatError as exc:
                raise IngestFormatError(self.path, line, where + exc.reason) from None
            self._cache[key] = fields
        return fields


def _object_post(item: object, cache: _FieldCache, *, line: int | None, where: str) -> RawPost:
    if not isinstance(item, dict):
        raise IngestFormatError(
            cache.path,
            line,
            f'{where}expected an object like {{"text": "..."}}, found {type(item).__name__}',
        )
    fields = cache.resolve(list(item), line, where)
    return build_raw_post(item.get, fields, path=cache.path, line=line, where=where)


def read_jsonl(path: Path, text: str, mapping: FieldMapping) -> Iterator[RawPost]:
    cache = _FieldCache(path, mapping)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestFormatError(
                path,
                number,
                f"invalid JSON ({exc.msg} at column {exc.colno}); JSONL needs one complete "
                "object per line, with line breaks inside text written as \\n",
            ) from None
        yield _object_post(item, cache, line=number, where="")


def _looks_like_jsonl(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def load_json_document(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and _looks_like_jsonl(text):
            raise IngestFormatError(
                path,
                exc.lineno,
                "this looks like JSONL (one object per line), not one JSON document: rename "
                "the file to .jsonl or pass fmt='jsonl'",
            ) from None
        raise IngestFormatError(
            path,
            exc.lineno,
            f"invalid JSON ({exc.msg} at column {exc.colno}); fix the file or re-export it",
        ) from None


def _item_line(text: str, array_start: int, index: int) -> int | None:
    """Line where item `index` of the array opening at `array_start` begins (for errors)."""
    decoder = json.JSONDecoder()
    pos = array_start + 1
    for i in range(index + 1):
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if i == index:
            return text.count("\n", 0, pos) + 1
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
    return None


def read_json_posts(
    path: Path, text: str, items: list[object], mapping: FieldMapping, list_key: str | None
) -> Iterator[RawPost]:
    if list_key is None:
        array_start = len(text) - len(text.lstrip())
    else:
        found = re.search(rf'"{re.escape(list_key)}"\s*:\s*\[', text)
        array_start = found.end() - 1 if found else -1
    cache = _FieldCache(path, mapping)
    for index, item in enumerate(items):
        try:
            yield _object_post(item, cache, line=None, where="")
        except IngestFormatError as exc:
            line = _item_line(text, array_start, index) if array_start >= 0 else None
            where = f"item {index + 1} of the {f'{list_key!r} ' if list_key else ''}list: "
            raise IngestFormatError(path, line, where + exc.reason) from None


def find_post_list(document: object) -> tuple[list[object], str | None] | None:
    """The list of posts of a document, and the key that held it (None: the top level)."""
    if isinstance(document, list):
        return document, None
    if isinstance(document, dict):
        for key in LIST_KEYS:
            value = document.get(key)
            if isinstance(value, list):
                return value, key
    return None
