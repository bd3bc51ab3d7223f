"""Getting a file's text: size guard, encodings (UTF-8 with or without BOM, UTF-16 with BOM),
and the one JSON file inside a TikTok export .zip."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from ingest.sources.errors import IngestFormatError

MAX_FILE_BYTES = 200 * 1024 * 1024


def _check_size(path: Path, size: int, max_bytes: int, what: str = "the file") -> None:
    if size > max_bytes:
        raise IngestFormatError(
            path,
            None,
            f"{what} is {size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit for one "
            "ingest: split it into smaller files (for example `split -l 100000 posts.jsonl "
            "part-` for JSONL/CSV) and ingest them one after another",
        )


def check_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
    if not path.exists():
        raise IngestFormatError(path, None, "no such file; check the path")
    if not path.is_file():
        raise IngestFormatError(path, None, "not a regular file; pass the path of one file")
    _check_size(path, path.stat().st_size, max_bytes)


def decode(path: Path, data: bytes) -> str:
    """UTF-8 (a BOM is tolerated) or BOM-marked UTF-16 (Excel's "Unicode text")."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestFormatError(
                path, None, f"broken UTF-16 text ({exc.reason}); save the file as UTF-8"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise IngestFormatError(
            path,
            line,
            f"byte(s) {bad} at column {column} are not UTF-8; save the file as UTF-8 "
            "(for example `iconv -f latin1 -t utf-8 in.csv > out.csv`, or 'CSV UTF-8' in Excel)",
        ) from None


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    check_file(path, max_bytes)
    return decode(path, path.read_bytes())


def read_json_from_zip(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The JSON inside a data-export archive (TikTok: `user_data_tiktok.json`)."""
    check_file(path, max_bytes)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if i.filename.lower().endswith(".json")]
            if len(members) > 1:
                preferred = [i for i in members if Path(i.filename).name.startswith("user_data")]
                members = preferred or members
            if len(members) != 1:
                names = ", ".join(i.filename for i in members) or "none"
                raise IngestFormatError(
                    path,
                    None,
                    f"expected one .json file in the archive, found: {names}; unzip it and "
                    "ingest the JSON file you mean",
                )
            member = members[0]
            _check_size(path, member.file_size, max_bytes, what=f"{member.filename} (unzipped)")
            data = archive.read(member)
    except zipfile.BadZipFile:
        raise IngestFormatError(path, None, "not a valid .zip archive; re-download it") from None
    return decode(Path(f"{path}!{member.filename}"), data)
