"""Structured logging: JSON lines for machines, a compact line for people."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# uvicorn's copy of its message with terminal colour codes: noise in a log file.
_NOT_SHOWN = _RESERVED | {"color_message"}

# A credential in a URL's query (`?token=`, `access_token`, `api_key`, ...): websocket
# clients that cannot send headers put the API token there, and uvicorn logs the path with
# its query on every request and websocket handshake.
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:[\w.-]*token|[\w.-]*key|password|secret|signature)=)[^&;#\s\"']*"
)
REDACTED = "[redacted]"
# uvicorn's loggers: its access lines, and the websocket handshakes it logs as errors' logger.
_UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites the record itself (its message, arguments and extras), so that every
    handler after it, ours or another's, sees the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _NOT_SHOWN})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def _fields(key: str, value: Any) -> list[str]:
    """`key=value` for people: a nested dict becomes dotted keys (`safety.kind=...`), not a
    Python repr; a value with spaces or quotes is quoted."""
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in _fields(f"{key}.{k}", v)]
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | set):
        text = ",".join(str(v) for v in value)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        text = json.dumps(text, ensure_ascii=False)
    return [f"{key}={text}"]


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            field
            for key, value in record.__dict__.items()
            if key not in _NOT_SHOWN
            for field in _fields(key, value)
        )
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}".rstrip()
        # Keep the traceback: a failure without its stack cannot be diagnosed from the logs.
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(RedactSecrets())
    # On uvicorn's loggers too: a handler's filter does not run for other handlers (uvicorn's
    # own, when it configures logging itself), a logger's filter runs before all of them.
    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in (
        "httpx",
        "httpx2",
        "httpcore",
        "openai",
        "chromadb",
        "sentence_transformers",
        "urllib3",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
