"""Both log formats keep the fields a record carries and the traceback of a failure."""

from __future__ import annotations

import json
import logging

from channels.logs import ConsoleFormatter, JsonFormatter


def _failed_record() -> logging.LogRecord:
    try:
        raise ValueError("bad input")
    except ValueError:
        import sys

        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "reply failed", (), sys.exc_info(), extra={"fan": "f1"}
        )
    return record


def test_console_line_keeps_extras_and_traceback() -> None:
    text = ConsoleFormatter().format(_failed_record())
    first, *rest = text.splitlines()
    assert first == "error   t: reply failed fan=f1"
    assert "Traceback" in rest[0] and rest[-1] == "ValueError: bad input"


def test_json_line_keeps_extras_and_traceback() -> None:
    payload = json.loads(JsonFormatter().format(_failed_record()))
    assert payload["event"] == "reply failed" and payload["fan"] == "f1"
    assert payload["exc"].endswith("ValueError: bad input")


def test_console_line_has_no_colour_codes_and_no_python_dicts() -> None:
    record = logging.getLogger("uvicorn.error").makeRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Started server process [%d]",
        (42,),
        None,
        extra={
            "color_message": "Started server process [\x1b[36m%d\x1b[0m]",
            "safety": {"kind": "injection", "score": 0.9},
            "note": "two words",
        },
    )
    line = ConsoleFormatter().format(record)
    assert "\x1b" not in line and "color_message" not in line
    assert line == (
        "info    uvicorn.error: Started server process [42] safety.kind=injection "
        'safety.score=0.9 note="two words"'
    )
    assert "color_message" not in JsonFormatter().format(record)
