"""The one JSON decoder for bodies and frames that a route or socket parses itself (webhooks,
live chat frames, websocket control messages, and the storable-text check of every body).

`json.loads` alone turns hostile input into server errors: deep nesting raises
RecursionError, a 5,000-digit number raises ValueError (Python's int-digit limit), invalid
UTF-8 raises UnicodeDecodeError, and `\\u0000` decodes to a NUL that PostgreSQL refuses later.
`loads` checks each of these first and raises `JSONInputError`, a ValueError with a message
that is safe to send back and the status that fits (400 unreadable, 422 unstorable).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

# Our wire formats nest a few levels (an event, its fan, its post); 32 leaves room and stays
# far below the interpreter's recursion limit (about 1,000).
MAX_DEPTH = 32
# Characters of one number literal: any 64-bit integer or double fits in 32.
MAX_NUMBER_CHARS = 32

# A JSON string (escapes included), or one bracket: strings are skipped as one token, so that
# brackets inside them do not count.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)

Loc = tuple[str | int, ...]


class JSONInputError(ValueError):
    """Input we do not take as JSON. `str(exc)` is safe to show (it never echoes input)."""

    def __init__(self, message: str, status_code: int = 400, loc: Loc = ()) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.loc = loc


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can. PostgreSQL's text and jsonb refuse
    NUL; a lone surrogate is not Unicode, so no UTF-8 database can hold it. Other control
    characters are valid in both and in SQLite, so they are kept."""
    if "\x00" in text:
        return "text must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (no lone surrogates)"
    return None


def printable(key: str) -> str:
    # An error names the field; a name that is itself unstorable is shown escaped.
    return key if unstorable(key) is None else key.encode("utf-8", "backslashreplace").decode()


def unstorable_strings(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """(where, why) for each string in a decoded value that no store can keep. Recursive: only
    called on values `loads` has bounded to MAX_DEPTH."""
    if isinstance(value, str):
        problem = unstorable(value)
        if problem:
            yield loc, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = unstorable(key)
            if problem:
                yield (*loc, printable(key)), "a key: " + problem
            yield from unstorable_strings(item, (*loc, printable(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_strings(item, (*loc, index))


def _check_depth(text: str, max_depth: int) -> None:
    # A linear scan before parsing: the C parser recurses once per level.
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONInputError(
                    f"JSON nested deeper than {max_depth} levels (at character {match.start()})"
                )
        elif token in "]}":
            depth -= 1


def _number(max_chars: int, convert: type) -> Any:
    def parse(literal: str) -> Any:
        if len(literal) > max_chars:
            raise JSONInputError(f"a JSON number longer than {max_chars} characters")
        return convert(literal)

    return parse


def _no_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON value")


def loads(
    data: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_number_chars: int = MAX_NUMBER_CHARS,
    storable: bool = True,
    what: str = "the body",
) -> Any:
    """Decode `data` (UTF-8 when bytes) within the limits. With `storable`, strings that no
    database can keep are refused too (422). Raises JSONInputError, never anything else."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = data
    _check_depth(text, max_depth)
    try:
        value = json.loads(
            text,
            parse_int=_number(max_number_chars, int),
            parse_float=_number(max_number_chars, float),
            parse_constant=_no_constant,
        )
    except JSONInputError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONInputError(
            f"{what} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError):
        # Not reachable within the limits above; kept so that no input becomes a 500.
        raise JSONInputError(f"{what} is not JSON we can read") from None
    # Without a \u escape, decoded UTF-8 holds neither NUL (raw control characters are not
    # JSON) nor a lone surrogate: the walk is only needed when one is there.
    if storable and ("\\u" in text or not isinstance(data, bytes | bytearray)):
        for loc, problem in unstorable_strings(value):
            raise JSONInputError(problem, 422, loc)
    return value
