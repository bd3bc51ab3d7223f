"""TikTok's "Download your data" export (JSON format, `user_data_tiktok.json`).

The layout has moved between versions; what stays is a list of the account's own videos
(`VideoList` under "Videos"/"Posts": "Video" -> "Videos" in older exports, "Post" -> "Posts" in
newer ones) with "Date", "Link", "Likes" and, when the creator wrote one, a caption ("Desc",
"Title" or "Description"), and the account's own comments (`CommentsList` under "Comments":
"Comment" -> "Comments", or "Activity" -> "Comments" in early exports) with "Date"/"date" and
"Comment"/"comment". Captions are broadcast posts; the creator's comments are replies. Keys
are matched without regard to case or spaces, and the lists are found wherever they sit (a
few levels deep), so that next year's shuffle does not break the import. Watch history,
likes and favourites are other people's videos: never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ingest.sources.errors import IngestFormatError
from ingest.sources.raw import RawPost, as_text, parse_time
from persona.domain import PostKind

_VIDEO_PARENTS = {"videos", "posts"}
_COMMENT_PARENTS = {"comments"}
_SECTIONS = {
    "activity", "yourActivity", "video", "post", "comment", "profile", "profileandsettings",
    "directmessages", "directmessage", "ads and data", "appsettings", "tiktoklive",
}  # fmt: skip
_CAPTION_KEYS = ("desc", "title", "description", "caption", "text")
_COMMENT_KEYS = ("comment", "text", "content")
_MAX_DEPTH = 4


def _norm(key: str) -> str:
    return key.replace(" ", "").replace("_", "").lower()


def _get(item: dict[str, object], *names: str) -> object:
    normalised = {_norm(k): v for k, v in item.items()}
    for name in names:
        value = normalised.get(_norm(name))
        if value not in (None, ""):
            return value
    return None


def _find_lists(node: object, depth: int = 0, parent: str = "") -> Iterator[tuple[str, list]]:
    """("videos"|"comments", list) for every VideoList/CommentsList under the right parent."""
    if depth > _MAX_DEPTH or not isinstance(node, dict):
        return
    for key, value in node.items():
        name = _norm(key)
        if isinstance(value, list | type(None)):
            items = value or []
            if name == "videolist" and parent in _VIDEO_PARENTS:
                yield "videos", items
            elif name == "commentslist" and parent in _COMMENT_PARENTS:
                yield "comments", items
        else:
            yield from _find_lists(value, depth + 1, name)


def _find_username(node: object, depth: int = 0) -> str | None:
    if depth > _MAX_DEPTH or not isinstance(node, dict):
        return None
    for key, value in node.items():
        if _norm(key) == "profilemap" and isinstance(value, dict):
            name = _get(value, "userName", "username")
            if isinstance(name, str) and name.strip():
                return name.strip()
        found = _find_username(value, depth + 1)
        if found:
            return found
    return None


def looks_like_tiktok(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    if any(True for _ in _find_lists(document)):
        return True
    sections = {_norm(k) for k in document}
    return len(sections & {_norm(s) for s in _SECTIONS}) >= 2


def read_tiktok(path: Path, document: object) -> Iterator[RawPost]:
    if not isinstance(document, dict):
        raise IngestFormatError(path, None, "a TikTok export is a JSON object; this is not")
    lists = list(_find_lists(document))
    if not lists:
        raise IngestFormatError(
            path,
            None,
            "this TikTok export has neither your videos (Post/Video -> Posts/Videos -> "
            "VideoList) nor your comments (Comment -> Comments -> CommentsList); request "
            "'All data' in JSON format from TikTok and ingest user_data_tiktok.json",
        )
    creator = _find_username(document)
    for kind, items in lists:
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue  # versions differ; a stray entry is not worth failing the import
            where = f"{'VideoList' if kind == 'videos' else 'CommentsList'} item {index + 1}: "
            keys = _CAPTION_KEYS if kind == "videos" else _COMMENT_KEYS
            try:
                text = as_text(_get(item, *keys)) or ""
            except TypeError:
                text = ""
            raw = RawPost(
                line=None,
                text=text,
                creator=creator,
                kind=PostKind.POST if kind == "videos" else PostKind.REPLY,
            )
            stamp = _get(item, "Date", "date", "CreateTime")
            if stamp is not None:
                try:
                    raw.created_at = parse_time(stamp)
                except (ValueError, OverflowError, OSError):
                    raise IngestFormatError(
                        path, None, f"{where}cannot read the date {stamp!r}"
                    ) from None
            for key, extra in (("Link", "link"), ("Likes", "likes"), ("Url", "link")):
                value = _get(item, key)
                if isinstance(value, str | int) and extra not in raw.extra:
                    raw.extra[extra] = str(value)
            if kind == "videos" and "link" in raw.extra:
                raw.external_id = raw.extra["link"].rstrip("/").rsplit("/", 1)[-1] or None
            yield raw
