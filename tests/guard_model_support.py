"""A stub guard model (an OpenAI-compatible endpoint on loopback that answers in Llama Guard's
form), for the guard model's tests in persona and in channels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

from tests.http_stub import serve_on_loopback

# The stub's policy: a word in the last turn -> its verdict.
VERDICTS = {"knead": "unsafe\nS12", "spoon": "unsafe\nS11", "garbage": "unsafe\nS10"}


class StubGuard(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubGuard.seen.append({"path": self.path, "auth": self.headers["Authorization"], **body})
        last = body["messages"][-1]["content"].rsplit("<END CONVERSATION>", 1)[0]
        last = last.rsplit("User:", 1)[-1].rsplit("Agent:", 1)[-1].lower()
        content = next((v for k, v in VERDICTS.items() if k in last), "safe")
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, *args: object) -> None:
        pass


def serve_stub_guard() -> Iterator[str]:
    """The stub on a free loopback port, for as long as the generator runs: its /v1 URL."""
    with serve_on_loopback(StubGuard) as url:
        yield f"{url}/v1"
