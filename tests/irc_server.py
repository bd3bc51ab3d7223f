"""A real IRC server (Debian's ngircd) on loopback for connector tests and benchmarks, and a
plain IRC client (raw lines over asyncio streams, no IRC library) that plays a viewer.

ngircd runs in the foreground under its pid (never as a daemon), with a config written to a
temp dir: loopback only, no PAM, no ident, no DNS, no flood penalties."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NGIRCD = shutil.which("ngircd") or "/usr/sbin/ngircd"

CONFIG = """\
[Global]
Name = irc.persona.test
Info = persona connector tests
Listen = 127.0.0.1
Ports = {port}
{password}
MotdPhrase = persona test server
[Limits]
MaxNickLength = 25
MaxJoins = 0
MaxConnectionsIP = 0
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 20
[Options]
Ident = no
PAM = no
DNS = no
"""


def have_ngircd() -> bool:
    return Path(NGIRCD).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IrcServer:
    directory: Path
    port: int
    password: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout_s: float = 20.0) -> IrcServer:
        conf = self.directory / "ngircd.conf"
        line = f"Password = {self.password}" if self.password else ""
        conf.write_text(CONFIG.format(port=self.port, password=line))
        log = (self.directory / "ngircd.log").open("ab")
        self.process = subprocess.Popen(
            [NGIRCD, "--nodaemon", "--config", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ngircd exited: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.5),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"ngircd did not listen in {timeout_s} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL by pid: the server goes away without a word to its clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "ngircd.log").read_text(errors="replace")[-chars:]
        return ""


@dataclass
class Line:
    prefix: str
    command: str
    params: list[str]

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]


def parse(raw: str) -> Line:
    prefix = ""
    if raw.startswith("@"):  # tags: not needed by the viewer
        raw = raw.split(" ", 1)[1]
    if raw.startswith(":"):
        prefix, raw = raw[1:].split(" ", 1)
    head, _, trailing = raw.partition(" :")
    params = head.split()
    if _:
        params.append(trailing)
    return Line(prefix, params[0].upper(), params[1:])


class Viewer:
    """A plain IRC client: registers, joins, talks, and keeps every line it reads."""

    def __init__(self, nick: str, port: int, password: str | None = None) -> None:
        self.nick, self.port, self.password = nick, port, password
        self.lines: asyncio.Queue[Line] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, timeout_s: float = 20.0) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        if self.password:
            self.send(f"PASS {self.password}")
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :{self.nick}")
        self._task = asyncio.create_task(self._read())
        await self.wait_for(lambda line: line.command == "001", timeout_s)

    def send(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode() + b"\r\n")

    async def join(self, channel: str, timeout_s: float = 20.0) -> None:
        self.send(f"JOIN {channel}")
        await self.wait_for(
            lambda line: line.command == "JOIN" and line.nick == self.nick, timeout_s
        )

    def say(self, channel: str, text: str) -> None:
        self.send(f"PRIVMSG {channel} :{text}")

    async def _read(self) -> None:
        assert self._reader is not None
        while raw := await self._reader.readline():
            line = parse(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if line.command == "PING":
                self.send(f"PONG :{line.params[-1] if line.params else ''}")
            await self.lines.put(line)

    async def wait_for(self, matches, timeout_s: float) -> Line:  # noqa: ANN001
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self.lines.get()
                if matches(line):
                    return line

    async def messages_from(self, nick: str, seconds: float, first: bool = True) -> list[str]:
        """PRIVMSG texts from `nick` within `seconds` (the first one ends the wait if `first`)."""
        found: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    line = await self.lines.get()
                    if line.command == "PRIVMSG" and line.nick == nick:
                        found.append(line.params[-1])
                        if first:
                            return found
        return found

    def drain(self) -> list[str]:
        """Drop the lines received so far (already read by the test or not), returning the
        PRIVMSG texts among them."""
        texts = []
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line.command == "PRIVMSG":
                texts.append(line.params[-1])
        return texts

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self.send("QUIT :bye")
                self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
