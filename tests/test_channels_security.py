"""Defects of the security probe (issue 14), each through the real app on a real server on
loopback (uvicorn in a thread, real HTTP and websocket clients, SQLite): request bodies over
their route's limit, uploads before authentication, the sign-in lockout and password-hashing
load, hostile JSON, integer ids beyond the database's range, and NUL characters in text."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from websockets.sync.client import connect

from channels.app import create_app
from channels.console import auth
from channels.console.auth import AuthConfig, SignInRefused, create_account, sign_in
from channels.console.models import ConsoleLoginFailure, ConsoleUser
from channels.deps import DB_INT_MAX, new_api_token
from channels.inbox.models import InboxEvent
from channels.inbox.signing import signed_headers
from tests.conftest import make_settings

CREATOR = "probe.target"
PASSWORD = "correct horse battery staple"
PLATFORM = "testgram"
SECRET = "security-test-secret-0123456789"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class Server:
    url: str
    port: int
    app: FastAPI
    token: str

    @property
    def db(self) -> Any:
        return self.app.state.services.db


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("security") / "data"
    settings = make_settings(
        data_dir,
        webhook_secrets={PLATFORM: SECRET},
        # The smallest upload limit allowed, so that a test can pass it quickly.
        max_upload_body_bytes=1024 * 1024,
    )
    app = create_app(settings, warm_up=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    services = app.state.services
    create_account(services.db, CREATOR, "Probe Target", PASSWORD, datetime.now(UTC))
    token = new_api_token(services, CREATOR)
    try:
        yield Server(f"http://127.0.0.1:{port}", port, app, token)
    finally:
        uv.should_exit = True
        thread.join(timeout=60)
        sock.close()


@pytest.fixture
def console_auth(server: Server) -> Iterator[None]:
    """Each test starts with the default sign-in limits and no failed sign-ins."""
    original = server.app.state.console_auth
    yield
    server.app.state.console_auth = original
    with server.db.session() as session:
        session.query(ConsoleLoginFailure).delete()
        user = session.get(ConsoleUser, CREATOR)
        user.failed_logins, user.locked_until = 0, None


# -- raw HTTP, to control exactly what is sent and when ------------------------------------------


def _open(server: Server) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return conn


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(conn: socket.socket) -> tuple[int, bytes]:
    """Reads the response head (the server may answer before the body was sent)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data, "the connection closed without an answer"
    return int(data.split(b" ", 2)[1]), data


def _stream_until_answered(conn: socket.socket, total: int, chunk: bytes) -> tuple[int, int]:
    """Sends chunked-encoding chunks until the server answers or `total` bytes are sent;
    returns (bytes sent, status)."""
    sent = 0
    conn.setblocking(False)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        while sent < total:
            try:
                conn.sendall(frame)
            except BlockingIOError:
                pass  # the server is not reading: see whether it answered
            except (BrokenPipeError, ConnectionResetError):
                break
            else:
                sent += len(chunk)
            try:
                if conn.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                time.sleep(0.001)
        else:
            conn.sendall(b"0\r\n\r\n")
    finally:
        conn.setblocking(True)
        conn.settimeout(30)
    return sent, _status(conn)[0]


# -- 1. request bodies ----------------------------------------------------------------------------


def test_an_anonymous_upload_is_refused_before_its_body_is_read(server: Server) -> None:
    """The probe streamed 283 MB into a temp file with no answer: the form was parsed before
    the auth dependency ran. Now the answer comes with nothing of the body sent at all."""
    for path in ("checks", "jobs"):
        conn = _open(server)
        with conn:
            conn.sendall(
                _head(
                    "POST",
                    f"/api/creators/{CREATOR}/avatar/{path}",
                    {
                        "Content-Type": "multipart/form-data; boundary=xyz",
                        "Transfer-Encoding": "chunked",
                    },
                )
            )
            status, head = _status(conn)  # times out (10 s) if the server waits for a body
        assert status == 401, head
        assert b"connection: close" in head.lower()
    # A wrong token is refused up front too.
    conn = _open(server)
    with conn:
        conn.sendall(
            _head(
                "POST",
                f"/api/creators/{CREATOR}/avatar/checks",
                {
                    "Authorization": "Bearer pk_not-the-token",
                    "Content-Type": "multipart/form-data; boundary=xyz",
                    "Content-Length": str(200 * 1024 * 1024),
                },
            )
        )
        assert _status(conn)[0] == 403


@pytest.mark.parametrize("path", ["/console/login", "/console/pause"])
def test_a_declared_body_over_the_limit_is_refused_unread(server: Server, path: str) -> None:
    conn = _open(server)
    with conn:
        conn.sendall(
            _head(
                "POST",
                path,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Content-Length": str(300 * 1024 * 1024),
                },
            )
        )
        status, head = _status(conn)
    assert status == 413, head


@pytest.mark.parametrize("path", ["/console/login", "/console/pause", "/webhooks/testgram"])
def test_a_chunked_body_is_cut_off_at_the_limit(server: Server, path: str) -> None:
    """No Content-Length: the bytes are counted as they arrive (the probe got 300 MB into
    /console/login and 200 MB into /console/pause before any answer)."""
    limit = server.app.state.services.settings.max_body_bytes
    if path.startswith("/webhooks"):
        limit = server.app.state.services.settings.webhook_max_body_bytes
    conn = _open(server)
    with conn:
        conn.sendall(
            _head(
                "POST",
                path,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Transfer-Encoding": "chunked",
                },
            )
        )
        sent, status = _stream_until_answered(conn, 16 * limit, b"a=" + b"x" * 16382)
    assert status == 413
    # Answered once the limit was passed (what sits in the socket buffers aside).
    assert sent < limit + 8 * 1024 * 1024


def test_uploads_have_the_larger_limit_and_only_for_their_creator(server: Server) -> None:
    from channels.api.bodylimit import multipart_budget
    from channels.app import body_limits

    services = server.app.state.services
    default = body_limits(make_settings(services.settings.data_dir), services)
    photos = services.avatar.config.limits
    assert {r.path.rsplit("/", 1)[-1]: r.max_bytes for r in default[:2]} == {
        "checks": multipart_budget(photos.max_photos, photos.max_bytes),
        "jobs": multipart_budget(photos.max_photos, photos.max_bytes),
    }
    assert default[0].max_bytes >= photos.max_photos * photos.max_bytes
    assert services.settings.max_body_bytes == 1024 * 1024  # the default for everything else

    auth_header = {"Authorization": f"Bearer {server.token}"}
    url = f"{server.url}/api/creators/{CREATOR}/avatar/checks"
    # Under the (test's 1 MiB) upload limit: the route answers (the photo is not a selfie).
    small = httpx.post(url, headers=auth_header, files=[("files", ("a.jpg", b"x" * 900_000))])
    assert small.status_code in (200, 400, 422), small.text
    # The console's signed-in session (the avatar page's script) passes the gate too.
    with _client(server, "127.0.0.8") as console:
        signed = console.post(
            "/console/login",
            data={**_login_form(console), "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        csrf = _csrf(console)
        page_upload = console.post(
            f"/api/creators/{CREATOR}/avatar/checks",
            headers={"X-CSRF-Token": csrf},
            files=[("files", ("a.jpg", b"x" * 1000))],
        )
        assert page_upload.status_code in (200, 400, 422), page_upload.text
        other = console.post(
            "/api/creators/someone.else/avatar/checks",
            headers={"X-CSRF-Token": csrf},
            files=[("files", ("a.jpg", b"x" * 1000))],
        )
        assert other.status_code == 403
    # Over it, streamed without a length: 413.
    conn = _open(server)
    with conn:
        conn.sendall(
            _head(
                "POST",
                f"/api/creators/{CREATOR}/avatar/checks",
                {
                    **auth_header,
                    "Content-Type": "multipart/form-data; boundary=xyz",
                    "Transfer-Encoding": "chunked",
                },
            )
        )
        head = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        sent, status = _stream_until_answered(conn, 64 * 1024 * 1024, head + b"x" * 65000)
    assert status == 413 and sent < 16 * 1024 * 1024


# -- 2. signing in ------------------------------------------------------------------------------


def _login_form(client: httpx.Client) -> dict[str, str]:
    page = client.get("/console/login")
    token = page.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    return {"creator_id": CREATOR, "login_token": token, "next": "/console"}


def _csrf(client: httpx.Client) -> str:
    page = client.get("/console").text
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def _client(server: Server, source: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.url, transport=transport, timeout=60)


def test_parallel_wrong_passwords_are_each_counted_and_lock_only_that_address(
    server: Server, console_auth: None
) -> None:
    """The probe's 12 parallel wrong passwords left `failed_logins` at 1 and the right password
    then signed in. Every attempt is now counted before its check; the address is locked;
    the creator, from another address, still signs in."""
    config = AuthConfig(max_concurrent_hashes=12, hash_wait_s=30)
    server.app.state.console_auth = config
    with _client(server) as attacker:
        form = _login_form(attacker)

        def guess(i: int) -> int:
            data = {**form, "password": f"wrong password {i}"}
            return attacker.post("/console/login", data=data).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(guess, range(12)))
        assert statuses == [401] * 12
        with server.db.session() as session:
            row = session.get(ConsoleLoginFailure, (CREATOR, "127.0.0.1"))
            user = session.get(ConsoleUser, CREATOR)
            assert row is not None and row.failures == 12 and row.locked_until is not None
            # Only the attempts within the allowance were checked, each counted once.
            assert user.failed_logins == config.max_failed_logins
        right = attacker.post(
            "/console/login",
            data={**_login_form(attacker), "password": PASSWORD},
            follow_redirects=False,
        )
        assert right.status_code == 401 and "locked" in right.text
    with _client(server, "127.0.0.2") as creator:
        signed = creator.post(
            "/console/login",
            data={**_login_form(creator), "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text


def test_password_checks_beyond_the_hashing_slots_get_503(
    server: Server, console_auth: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2id takes 64 MiB a check: 24 parallel anonymous sign-ins took the server from
    192 MB to 1 GB. A check waits for one of a few slots, briefly, or is refused (503)."""
    server.app.state.console_auth = AuthConfig(max_concurrent_hashes=1, hash_wait_s=0.2)
    release = threading.Event()
    checking = threading.Event()
    real_verify = auth.verify_password

    def slow_verify(stored: str, password: str) -> bool:
        checking.set()
        release.wait(30)
        return real_verify(stored, password)

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    with _client(server) as first, _client(server, "127.0.0.3") as second:
        form = {**_login_form(first), "password": "wrong password!"}
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(first.post, "/console/login", data=form)
            assert checking.wait(30)
            busy = second.post("/console/login", data={**_login_form(second), "password": "x" * 12})
            release.set()
            assert held.result().status_code == 401
        assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
        assert "busy" in busy.text
    with server.db.session() as session:
        # The refused attempt was not counted against its address.
        assert session.get(ConsoleLoginFailure, (CREATOR, "127.0.0.3")) is None


def test_many_addresses_only_slow_the_account_down_briefly(
    server: Server, console_auth: None
) -> None:
    config = AuthConfig(max_failed_logins=3, account_backoff_after=4, account_backoff_max_s=8)
    db = server.db
    for i in range(6):
        at = NOW + timedelta(seconds=i * 60)
        with pytest.raises(SignInRefused, match="wrong"):
            sign_in(db, CREATOR, "wrong password!", at, config, client=f"10.0.0.{i}")
    # 6 failures, backoff after 4: the 6th set a 2**2 = 4 s wait for everyone ...
    last = NOW + timedelta(seconds=5 * 60)
    with pytest.raises(SignInRefused, match="try again in 3 seconds") as refused:
        sign_in(db, CREATOR, PASSWORD, last + timedelta(seconds=1), config, client="10.9.9.9")
    assert refused.value.locked_until == last + timedelta(seconds=4)
    # ... which ends by itself, short: the creator signs in.
    assert sign_in(db, CREATOR, PASSWORD, last + timedelta(seconds=5), config, "10.9.9.9")
    with db.session() as session:
        assert session.get(ConsoleUser, CREATOR).failed_logins == 0


def test_the_per_address_lock_ends_and_ipv6_counts_by_its_64_block(
    server: Server, console_auth: None
) -> None:
    from channels.console.auth import client_key

    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.1.2.3") == "10.1.2.3" and client_key(None) == "unknown"
    config = AuthConfig(max_failed_logins=2, lockout_s=600)
    for _ in range(2):
        with pytest.raises(SignInRefused, match="wrong"):
            sign_in(server.db, CREATOR, "wrong password!", NOW, config, client="10.1.1.1")
    with pytest.raises(SignInRefused, match="locked"):
        sign_in(server.db, CREATOR, PASSWORD, NOW, config, client="10.1.1.1")
    later = NOW + timedelta(seconds=601)
    assert sign_in(server.db, CREATOR, PASSWORD, later, config, client="10.1.1.1")


# -- 3 and 4. hostile JSON, ids, NUL ------------------------------------------------------------


def _webhook(server: Server, body: bytes, content_type: str | None) -> httpx.Response:
    headers = signed_headers(SECRET, body)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return httpx.post(f"{server.url}/webhooks/{PLATFORM}", content=body, headers=headers)


def _event(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "type": "dm",
        "creator_id": CREATOR,
        "message_id": f"m-{time.monotonic_ns()}",
        "fan": {"id": "fan1"},
        "text": text,
        **extra,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"type": "dm", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested deeper"),
        (json.dumps(_event()).encode()[:-1] + b', "bad": "\xff\xfe"}', "not valid UTF-8"),
        (json.dumps(_event()).encode()[:-1] + b', "n": ' + b"9" * 5000 + b"}", "number longer"),
    ],
    ids=["deep", "utf8", "digits"],
)
def test_hostile_webhook_json_is_a_400_that_says_why(
    server: Server, body: bytes, message: str
) -> None:
    response = _webhook(server, body, "application/json")
    assert response.status_code == 400, response.text
    assert message in response.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/json"])
def test_nul_in_webhook_text_is_refused_whatever_the_content_type(
    server: Server, content_type: str | None
) -> None:
    event = _event("hi\u0000there")
    response = _webhook(server, json.dumps(event).encode(), content_type)
    assert response.status_code == 422, response.text
    assert "NUL" in json.dumps(response.json())
    with server.db.session() as session:
        stored = session.scalars(
            select(InboxEvent).where(InboxEvent.message_id == event["message_id"])
        ).first()
    assert stored is None


def test_a_deeply_nested_body_with_an_escape_is_not_a_500(server: Server) -> None:
    """The storable-text check decoded such a body itself, and hit RecursionError."""
    body = b'{"a": "\\u0000", "b": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = httpx.put(
        f"{server.url}/api/creators/{CREATOR}/channels/dm",
        content=body,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text


def test_a_deeply_nested_live_frame_is_dropped_not_the_socket(server: Server) -> None:
    ws_url = server.url.replace("http", "ws")
    with connect(f"{ws_url}/ws/live/{CREATOR}/s1/in?token={server.token}") as feed:
        feed.send("[" * 50_000 + "]" * 50_000)
        ack = json.loads(feed.recv(timeout=30))
        assert ack["dropped"] == {"invalid": 1} and "nested deeper" in ack["error"]
        feed.send(json.dumps({"id": "m1", "user": "u1", "kind": "chat", "text": "a\u0000b"}))
        ack = json.loads(feed.recv(timeout=30))
        assert ack["dropped"] == {"invalid": 1} and "NUL" in ack["error"]
        # The same socket still takes messages.
        feed.send(json.dumps({"id": "m2", "user": "u2", "kind": "chat", "text": "hi, how?"}))
        ack = json.loads(feed.recv(timeout=30))
        assert ack["ack"] == "m2" and ack["received"] == 1


def test_a_deeply_nested_auth_message_closes_the_replies_socket_cleanly(server: Server) -> None:
    ws_url = server.url.replace("http", "ws")
    with connect(f"{ws_url}/ws/creators/{CREATOR}/replies") as socket_:
        socket_.send("[" * 50_000 + "]" * 50_000)
        with pytest.raises(Exception) as closed:  # noqa: PT011 - websockets' close exception
            socket_.recv(timeout=30)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 1008


def test_console_ids_beyond_the_database_range_are_a_422(server: Server) -> None:
    with _client(server, "127.0.0.9") as client:
        signed = client.post(
            "/console/login",
            data={**_login_form(client), "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        csrf = _csrf(client)
        huge = str(2**63 + 1)
        pages = [
            client.get(f"/console/conversations/{huge}"),
            client.post(f"/console/messages/{huge}/flag", data={"csrf_token": csrf}),
            client.post(f"/console/messages/{huge}/unflag", data={"csrf_token": csrf}),
            client.post(f"/console/approvals/{huge}/approve", data={"csrf_token": csrf}),
            client.post(f"/console/approvals/{huge}/reject", data={"csrf_token": csrf}),
        ]
    assert [p.status_code for p in pages] == [422] * 5, [p.text[:200] for p in pages]


def test_every_integer_path_parameter_is_bounded(server: Server) -> None:
    """One rule for every route, present and future: an int in a path fits the database."""

    def leaves(routes: list[Any]) -> Iterator[Any]:
        # FastAPI keeps included routers as routes of their own: walk into them.
        for route in routes:
            inner = getattr(route, "original_router", None)
            yield from leaves(inner.routes) if inner is not None else [route]

    unbounded, seen = [], 0
    for route in leaves(server.app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        seen += 1
        for param in dependant.path_params:
            if param.field_info.annotation is not int:
                continue
            bounds = {type(m).__name__: m for m in param.field_info.metadata}
            le = getattr(bounds.get("Le"), "le", None)
            if le is None or le > DB_INT_MAX:
                unbounded.append(f"{route.path} {param.name}")
    assert seen > 50 and unbounded == []


def test_auth_config_defaults_are_what_the_docs_say() -> None:
    config = AuthConfig()
    assert (config.max_failed_logins, config.lockout_s) == (5, 900)
    assert config.account_backoff_max_s <= 60 and config.max_concurrent_hashes <= 4
    assert replace(config, max_concurrent_hashes=1).max_concurrent_hashes == 1
