"""The one policy for HTTP requests to URLs that platforms supply (the inbox's callback URLs):
whom the platform may call, and how.

A callback URL comes from whoever holds a webhook secret, and the server calls it from
inside the deployment: without a policy it reaches the database, the embedded model, the
cloud's metadata service, and its errors tell a caller which ports are open. So:

- http and https only; a platform may have an allow-list of hosts (`allowed_hosts`);
- the host is resolved once and every address it resolves to is checked: loopback, private,
  link-local, multicast, reserved and unspecified addresses are refused (`allow_private`
  lets loopback and private ones through, for tests and a development machine). The
  connection goes to an address that was checked: a DNS answer that changes between the
  check and the connect (rebinding) is never used;
- redirects are not followed, and no proxy from the environment is used;
- callers show `CALLBACK_FAILED` for any failure: the precise reason goes to the server log
  only, so a failure says nothing about what is behind an address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpcore
import httpx

# What clients see of a failed callback, whatever went wrong.
CALLBACK_FAILED = "callback failed"
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # 0.0.0.0 reaches this host on Linux
# Characters of a numeric IPv4 host in the forms inet_aton takes: 0x7f000001, 2130706433,
# 0177.0.0.1, 127.1.
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")


class CallbackRefused(Exception):
    """The policy refuses this URL or address; the message is for the server log."""


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """An allow-list entry: `host`, `host:port`, `*.domain[:port]` or `[ipv6][:port]`."""
    text = entry.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else rest
    else:
        host, sep, port = text.partition(":")
        if sep and not port:
            port = "-"
    if not host or (port and not port.isdigit()) or (port and not 0 < int(port) < 65536):
        raise ValueError(f"callback host {entry!r}: use host, host:port, *.domain or [ipv6]:port")
    return host, int(port) if port else None


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in any form the resolver would accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_problem(address: IPAddress, allow_private: bool) -> str | None:
    """None when the platform may call `address`; else what kind of address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or (address.version == 4 and address in _THIS_NETWORK):
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return None if allow_private else "a private address"
    return None


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Who may be called. `allowed_hosts`: platform -> host entries; a platform without an
    entry may call any host that passes the address checks."""

    allow_private: bool = False
    allowed_hosts: Mapping[str, tuple[tuple[str, int | None], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, allow_private: bool, allowed_hosts: Mapping[str, Iterable[str]]) -> CallbackPolicy:
        parsed = {
            platform: tuple(parse_host_entry(e) for e in entries)
            for platform, entries in allowed_hosts.items()
        }
        return cls(allow_private, parsed)

    def check_url(self, url: str, platform: str) -> httpx.URL:
        """Everything that can be said from the URL alone (no DNS): scheme, allow-list, and
        hosts that are addresses or loopback names. Raises CallbackRefused."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise CallbackRefused(f"not a URL: {exc}") from None
        if parsed.scheme not in SCHEMES:
            raise CallbackRefused(f"scheme {parsed.scheme!r}: only http and https")
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        if not host:
            raise CallbackRefused("no host")
        port = parsed.port or DEFAULT_PORTS[parsed.scheme]
        entries = self.allowed_hosts.get(platform)
        if entries is not None and not any(_matches(e, host, port) for e in entries):
            raise CallbackRefused(f"{host}:{port} is not on the allow-list of {platform!r}")
        literal = _literal_address(host)
        if literal is not None:
            problem = address_problem(literal, self.allow_private)
            if problem:
                raise CallbackRefused(f"{host} is {problem}")
        elif (host == "localhost" or host.endswith(".localhost")) and not self.allow_private:
            raise CallbackRefused(f"{host} is a loopback name")
        return parsed

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`, each checked; raises CallbackRefused if any is refused
        (an answer that mixes a public and an internal address is an attack, not a choice)."""
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise CallbackRefused(f"{host} has no address")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            problem = address_problem(address, self.allow_private)
            if problem:
                raise CallbackRefused(f"{host} resolves to {text}, {problem}")
        return addresses


def _matches(entry: tuple[str, int | None], host: str, port: int) -> bool:
    pattern, wanted_port = entry
    if wanted_port is not None and wanted_port != port:
        return False
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy's resolution: connects to checked
    addresses only (TLS still verifies the certificate against the URL's host name)."""

    def __init__(self, policy: CallbackPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.policy.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise CallbackRefused("a unix socket is not a callback")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `_CheckedNetwork`. httpx takes no network backend, so the
    connection pool it built is replaced by the same pool with ours."""

    def __init__(
        self,
        policy: CallbackPolicy,
        network: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_CheckedNetwork(policy, network),
        )


def callback_client(
    policy: CallbackPolicy, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The client for callbacks: checked connections, no redirects, no environment proxies.
    `transport` replaces the network (tests); the URL checks still apply in the caller."""
    return httpx.AsyncClient(
        transport=transport or CheckedTransport(policy),
        follow_redirects=False,
        trust_env=False,
    )
