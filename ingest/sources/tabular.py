"""CSV and TSV with a header row; columns mapped with FieldMapping."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from ingest.sources.errors import IngestFormatError
from ingest.sources.raw import FieldMapping, RawPost, build_raw_post, resolve_fields


def read_table(
    path: Path, text: str, mapping: FieldMapping, *, delimiter: str = ","
) -> Iterator[RawPost]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise IngestFormatError(path, 1, f"cannot read the header row: {exc}") from None
    if not header:
        raise IngestFormatError(
            path, 1, "the first line must be a header row naming the columns (id,name,text...)"
        )
    header = [name.strip() for name in header]
    fields = resolve_fields(
        mapping, header, path=path, line=1, what="column", hint="name the columns in the header or"
    )
    index = {name: i for i, name in enumerate(header)}
    last_line = reader.line_num
    while True:
        start = last_line + 1  # a quoted field may span lines: report where the row starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise IngestFormatError(
                path, start, f"malformed CSV row ({exc}); check the quotes on this row"
            ) from None
        last_line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            raise IngestFormatError(
                path,
                start,
                f"this row has {len(row)} fields but the header has {len(header)}; put text "
                'that contains the delimiter or line breaks inside double quotes ("...")',
            )
        values = row

        def get(name: str, values: list[str] = values) -> object:
            return values[index[name]]

        yield build_raw_post(get, fields, path=path, line=start)
