"""Callback URLs (issue 14, item 6), through the real app on loopback: signed webhooks in, the
outbox delivering (or not) to loopback stubs. A callback URL may not name an internal
address, nor a name that resolves to one (checked after resolution, and the connection goes
to the checked address); redirects are not followed; and a failure is "callback failed"
whatever its cause, so that `last_error` is no port scanner."""

from __future__ import annotations

import logging
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from channels.outbound import CallbackPolicy, CheckedTransport, callback_client
from tests.app_server import RunningApp, serve_app
from tests.conftest import make_settings
from tests.http_stub import serve_on_loopback
from tests.inbox_support import (
    CREATOR,
    PLATFORM,
    SECRET,
    CallbackSink,
    dm,
    events,
    issue_token,
    post_webhook,
    set_policy,
    wait_until,
)

FAIL_TEXTS = {"callback failed", "gave up after 2 attempts: callback failed"}
REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC = "93.184.215.14"


def _data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("callbacks") / "data"
    shutil.copytree(demo_template, target)
    set_policy(target, "dm", reply_delay={"min_s": 0, "max_s": 0})
    return target


def _settings(data_dir: Path, **overrides: Any) -> Any:
    return make_settings(
        data_dir,
        webhook_secrets={PLATFORM: SECRET},
        reply_candidates=1,
        inbox_poll_s=0.1,
        inbox_retry_base_s=0.1,
        outbox_max_attempts=2,
        outbox_backoff_base_s=0.05,
        outbox_backoff_max_s=0.1,
        **overrides,
    )


@pytest.fixture(scope="module")
def strict(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, httpx.Client]]:
    """The default policy: no internal addresses. On asyncio's loop, whose resolver is
    `socket.getaddrinfo` (uvloop's is libuv's), so that a test can give names addresses."""
    data_dir = _data_dir(demo_template, tmp_path_factory)
    token = issue_token(data_dir)
    with serve_app(_settings(data_dir), loop="asyncio") as running:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=running.url, headers=headers, timeout=30) as api:
            yield running, api


@pytest.fixture(scope="module")
def lenient(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningApp, httpx.Client]]:
    """Loopback allowed (as in the tests that deliver to stubs), and the platform's
    callbacks limited to 127.0.0.1."""
    data_dir = _data_dir(demo_template, tmp_path_factory)
    token = issue_token(data_dir)
    settings = _settings(
        data_dir, callback_allow_private=True, callback_allowed_hosts={PLATFORM: ["127.0.0.1"]}
    )
    with serve_app(settings) as running:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=running.url, headers=headers, timeout=30) as api:
            yield running, api


def _reply(api: httpx.Client, event_id: int, done: bool = True) -> dict[str, Any]:
    """The reply to an event as the creator API shows it, once it is sent or dead."""

    def found() -> dict[str, Any] | None:
        items = api.get(f"/api/creators/{CREATOR}/outbox", params={"limit": 200}).json()["items"]
        for item in items:
            if item["event_id"] == event_id and (not done or item["status"] in ("sent", "dead")):
                return item
        return None

    return wait_until(found, 60)


def _send(api: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    return post_webhook(api, str(api.base_url), event)


@contextmanager
def _resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> Iterator[None]:
    """The system resolver, with `names` answering these addresses (what a hostile DNS
    server would answer); every other name resolves as usual."""

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        key = host.decode() if isinstance(host, bytes) else host
        if key in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, int(port or 0)),
                )
                for a in names[key]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield


# -- the default policy ----------------------------------------------------------------------


def test_callback_urls_naming_internal_addresses_are_refused_at_intake(
    strict: tuple[RunningApp, httpx.Client],
) -> None:
    """The probe's URLs were accepted (202) and the outbox POSTed to them: loopback in its
    spellings, the cloud metadata address, a database port, the platform's own port."""
    running, api = strict
    sink = CallbackSink()
    before = len(events(running.services.settings.data_dir))
    with sink.serving() as url:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        urls = [
            url,
            f"http://0x7f000001:{port}/callback",
            f"http://2130706433:{port}/callback",
            f"http://[::1]:{port}/callback",
            f"http://[::ffff:127.0.0.1]:{port}/callback",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:5432/",
            f"{running.url}/healthz",
            "http://10.0.0.7/hook",
            "http://0.0.0.0:8000/",
            f"ftp://127.0.0.1:{port}/",
        ]
        for callback in urls:
            refused = _send(api, dm("coucou", fan="intake", callback_url=callback))
            assert refused.status_code == 422, (callback, refused.text)
            (problem,) = refused.json()["detail"]
            assert problem["loc"] == ["dm", "callback_url"], problem
    assert len(events(running.services.settings.data_dir)) == before
    assert sink.received == [] and sink.bad_signatures == 0


def test_a_name_that_resolves_inside_is_never_called(
    strict: tuple[RunningApp, httpx.Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A name can point anywhere: the addresses it resolves to are checked, all of them (one
    internal answer among public ones refuses it), and nothing is sent to them."""
    _, api = strict
    sink = CallbackSink()
    names = {"hooks.probe.test": ["127.0.0.1"], "mixed.probe.test": [PUBLIC, "127.0.0.1"]}
    with (
        sink.serving() as url,
        _resolving(monkeypatch, names),
        caplog.at_level(logging.WARNING, "channels.inbox.outbox"),
    ):
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        ids = []
        for name in names:
            event = dm("tu fais quoi ce soir ?", fan=name, callback_url=f"http://{name}:{port}/cb")
            accepted = _send(api, event)
            assert accepted.status_code == 202, accepted.text  # a name says nothing yet
            ids.append(accepted.json()["event_id"])
        replies = [_reply(api, event_id) for event_id in ids]
    assert sink.received == [] and sink.bad_signatures == 0
    for reply in replies:
        assert reply["status"] == "dead" and reply["attempts"] == 2, reply
        assert reply["last_error"] in FAIL_TEXTS, reply
    reasons = " ".join(str(getattr(r, "why", "")) for r in caplog.records)
    assert "hooks.probe.test resolves to 127.0.0.1, a loopback address" in reasons
    assert "mixed.probe.test resolves to 127.0.0.1" in reasons


# -- what a failure tells -------------------------------------------------------------------


class _Answering(BaseHTTPRequestHandler):
    status = 200
    location = ""
    hits: list[str]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).hits.append(self.path)
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def _answering(status: int, location: str = "") -> type[_Answering]:
    return type("Handler", (_Answering,), {"status": status, "location": location, "hits": []})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_callback_failures_look_the_same_whatever_the_cause(
    lenient: tuple[RunningApp, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    """`last_error` said "ConnectError calling the callback URL" for a closed port and "the
    callback answered HTTP 302" for an open one: a port scanner for whoever holds a token.
    Now "callback failed" either way (the reason is in the server log), and a redirect is
    not followed. Loopback delivery still works where the setting allows it."""
    _, api = lenient
    inner, missing, sink = _answering(200), _answering(404), CallbackSink()
    with (
        serve_on_loopback(inner) as inner_url,
        serve_on_loopback(missing) as missing_url,
        sink.serving() as sink_url,
        caplog.at_level(logging.WARNING, "channels.inbox.outbox"),
    ):
        redirecting = _answering(302, f"{inner_url}/internal")
        with serve_on_loopback(redirecting) as redirect_url:
            targets = {
                "closed": f"http://127.0.0.1:{_closed_port()}/cb",
                "redirect": f"{redirect_url}/cb",
                "missing": f"{missing_url}/cb",
                "ok": sink_url,
            }
            ids = {}
            for name, target in targets.items():
                accepted = _send(api, dm("salut !", fan=f"scan-{name}", callback_url=target))
                assert accepted.status_code == 202, accepted.text
                ids[name] = accepted.json()["event_id"]
            replies = {name: _reply(api, event_id) for name, event_id in ids.items()}
    assert replies["ok"]["status"] == "sent" and len(sink.received) == 1
    failed = {name: replies[name] for name in ("closed", "redirect", "missing")}
    for reply in failed.values():
        assert reply["status"] == "dead" and reply["last_error"] in FAIL_TEXTS, reply
    assert redirecting.hits == ["/cb"] and inner.hits == []  # the redirect was not followed
    assert failed["redirect"]["attempts"] == 1
    reasons = " ".join(str(getattr(r, "why", "")) for r in caplog.records)
    assert "ConnectError" in reasons and "redirected (HTTP 302)" in reasons
    assert "HTTP 404" in reasons


def test_a_platforms_allow_list_limits_its_callbacks(
    lenient: tuple[RunningApp, httpx.Client],
) -> None:
    _, api = lenient
    refused = _send(api, dm("hello", fan="elsewhere", callback_url="https://example.com/cb"))
    assert refused.status_code == 422
    assert "allow-list" in refused.json()["detail"][0]["msg"]


# -- the connection goes to the checked address ----------------------------------------------


class _RecordingNetwork(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.hosts.append(host)
        raise httpcore.ConnectError("recorded")


async def test_the_connection_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name answers a public address to the check, then loopback. The
    connection is made to the address the check saw, never to the name again."""
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])
    asked: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        key = host.decode() if isinstance(host, bytes) else host
        if key != "rebind.probe.test":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        asked.append(key)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    network = _RecordingNetwork()
    policy = CallbackPolicy()
    async with callback_client(policy, CheckedTransport(policy, network)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("http://rebind.probe.test:8080/cb", content=b"{}")
    assert asked == ["rebind.probe.test"] and network.hosts == [PUBLIC]
