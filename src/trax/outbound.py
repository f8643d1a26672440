"""Outbound HTTP with a guard against server-side request forgery (URL ingest and webhooks).

Two checks, both refusing private, loopback (unless allowed), link-local, multicast, reserved,
unspecified, shared (100.64/10), unique-local and site-local addresses, and IPv6 addresses that
embed such an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64):

1. :func:`check_url`, pure and cheap: scheme, host, no credentials, and the host itself when it
   is an address literal (including legacy forms such as ``2130706433``) or a ``localhost`` name.
2. :class:`GuardedBackend`, at connection time: the host is resolved once, every address it
   resolves to is checked, and the socket is opened to exactly that checked address. A DNS answer
   that changes between a check and the connection (rebinding) cannot slip through, because there
   is no second lookup. TLS still verifies the certificate against the host *name*: httpcore
   passes ``server_hostname`` to ``start_tls`` from the request's origin, not the socket address.

No proxies are taken from the environment, and the client never follows redirects on its own;
:func:`download` follows them itself, checking every ``Location`` again.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Final

import anyio
import anyio.to_thread
import httpcore
import httpx

from trax import errors
from trax.filenames import safe_filename

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
_CHUNK = 1 << 16
#: 100.64.0.0/10, carrier-grade NAT (RFC 6598); not "private" to every Python version.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: IPv4 in the low 32 bits
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # local-use translation (RFC 8215)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
#: What ``inet_aton`` would take for an IPv4 address: ``127.1``, ``0x7f.1``, ``2130706433`` …
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
#: Answers worth trying again later; every other non-2xx answer is final.
RETRYABLE_STATUS: Final = frozenset({408, 425, 429})
#: The ``detail`` of a timeout error when the whole exchange, not one step, took too long.
DEADLINE_PASSED = "overall deadline"


# --- addresses ---------------------------------------------------------------------------------


def address_problem(ip: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why outbound requests must not connect to ``ip`` (``"private"``, ``"loopback"``…), or
    None when they may."""
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        for v4 in embedded:
            problem = address_problem(v4, allow_loopback=allow_loopback)
            if problem is not None:
                return f"{problem}, embedded IPv4 {v4}"
        if embedded and _carries_ipv4(ip):
            return None  # IPv4 in IPv6 clothing: the IPv4 address is where the packets go
    checks = (
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (ip in _UNIQUE_LOCAL, "unique-local"),
        (ip in _LOCAL_NAT64, "local-use NAT64"),
        (ip in _SHARED, "shared address space"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    )
    return next((kind for failed, kind in checks if failed), None)


def is_forbidden(ip: IPAddress, *, allow_loopback: bool) -> bool:
    """Whether outbound requests must not connect to ``ip``."""
    return address_problem(ip, allow_loopback=allow_loopback) is not None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if _carries_ipv4(ip):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def _carries_ipv4(ip: ipaddress.IPv6Address) -> bool:
    """Mapped, compatible and NAT64 addresses: an IPv4 address is the real destination."""
    return ip.ipv4_mapped is not None or ip in _IPV4_COMPATIBLE or ip in _NAT64


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells directly (also legacy IPv4 forms), or None for a name."""
    with suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]"))
    if _LEGACY_IPV4.match(host):
        with suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(host))
    return None


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")  # RFC 6761: always loopback


# --- URLs --------------------------------------------------------------------------------------


def check_url(url: str, *, allow_loopback: bool) -> None:
    """Refuse a URL that must not be fetched, without any network access.

    Raises :class:`~trax.errors.UnsafeUrlError` naming the URL and the reason. A host *name* that
    passes here is checked again, on every address it resolves to, when the connection is made.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise errors.UnsafeUrlError(url, str(exc)) from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise errors.UnsafeUrlError(url, errors.UNSAFE_SCHEME.format(scheme=parsed.scheme))
    if not parsed.host:
        raise errors.UnsafeUrlError(url, errors.UNSAFE_NO_HOST)
    if parsed.userinfo:
        raise errors.UnsafeUrlError(url, errors.UNSAFE_USERINFO)
    host = parsed.host
    ip = literal_address(host)
    if ip is None and _is_localhost_name(host):
        ip = ipaddress.IPv4Address("127.0.0.1")
    problem = None if ip is None else address_problem(ip, allow_loopback=allow_loopback)
    if problem is not None:
        address = host if host == str(ip) else f"{host} ({ip})"
        reason = errors.UNSAFE_ADDRESS.format(address=address, kind=problem)
        raise errors.UnsafeUrlError(url, reason)


# --- connections -------------------------------------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses.

    ``connect_tcp`` resolves the host once, refuses if *any* address is forbidden (a name that
    mixes public and private answers is not trusted), and connects to the checked addresses
    themselves, in order, with httpcore's own backend.
    """

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._backend = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses of ``host``; :class:`~trax.errors.UnsafeUrlError` if any of
        them is forbidden."""
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(errors.UNRESOLVABLE.format(host=host, detail=exc)) from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        for ip in addresses:
            problem = address_problem(ip, allow_loopback=self.allow_loopback)
            if problem is not None:
                reason = errors.UNSAFE_HOST.format(host=host, address=ip, kind=problem)
                raise errors.UnsafeUrlError(host, reason)
        if not addresses:
            detail = "no addresses"
            raise httpcore.ConnectError(errors.UNRESOLVABLE.format(host=host, detail=detail))
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, check, then connect to the first checked address that answers; the
        timeout covers all of it."""
        try:
            with anyio.fail_after(timeout):
                failures: list[httpcore.ConnectError] = []
                for ip in await self.resolve(host, port):
                    try:
                        return await self._backend.connect_tcp(
                            str(ip), port, local_address=local_address,
                            socket_options=socket_options,
                        )  # fmt: skip
                    except httpcore.ConnectError as exc:
                        failures.append(exc)
                raise failures[-1]
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"{path}: unix sockets are not allowed for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (request/response mapping, exception mapping) over a connection pool
    whose network backend is :class:`GuardedBackend`."""

    def __init__(self, *, allow_loopback: bool) -> None:
        super().__init__(trust_env=False)
        # httpx offers no parameter for httpcore's network backend; replacing the pool it built
        # (same defaults, no proxy, certifi CAs) is the one place to plug the guard in.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            network_backend=GuardedBackend(allow_loopback=allow_loopback),
        )


def guarded_client(*, allow_loopback: bool, timeout: float) -> httpx.AsyncClient:
    """An HTTP client that only reaches public addresses (and loopback if allowed), never
    follows redirects, and ignores proxy settings in the environment."""

    async def check(request: httpx.Request) -> None:
        check_url(str(request.url), allow_loopback=allow_loopback)

    return httpx.AsyncClient(
        transport=GuardedTransport(allow_loopback=allow_loopback),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        event_hooks={"request": [check]},
    )


def failure_for(url: str, exc: httpx.HTTPError, timeout: float) -> errors.OutboundError:
    """The Trax error for an httpx failure on ``url`` (all of them may work later)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        reason = errors.REMOTE_TIMEOUT.format(seconds=timeout, detail=type(exc).__name__)
        return errors.OutboundUnavailableError(url, reason)
    return errors.OutboundUnavailableError(url, errors.REMOTE_UNREACHABLE.format(detail=detail))


def status_error(url: str, status: int) -> errors.OutboundError:
    """The Trax error for a non-2xx answer: 5xx, 408, 425 and 429 may work later."""
    reason = errors.REMOTE_STATUS.format(status=status)
    if status >= 500 or status in RETRYABLE_STATUS:
        return errors.OutboundUnavailableError(url, reason)
    return errors.OutboundError(url, reason)


# --- downloads ---------------------------------------------------------------------------------


async def download(
    url: str,
    folder: Path,
    *,
    max_bytes: int,
    allow_loopback: bool,
    timeout: float,  # noqa: ASYNC109 (per connect/read/write, not a deadline)
    deadline: float,
    max_redirects: int = 5,
) -> Path:
    """Fetch ``url`` into ``folder/<safe name from the URL path>`` and return that path.

    ``timeout`` bounds each step (connect, each read); ``deadline`` bounds the whole download,
    redirects included: a server dripping a byte just inside every read timeout is still cut off
    at the deadline, with the same timeout error. Redirects are followed by hand, each target
    checked like the first URL. A declared
    ``Content-Length`` over ``max_bytes`` is refused before the body is read; a body that grows
    past it is refused while streaming and the partial file removed. Errors (all
    :class:`~trax.errors.TraxError`) name the URL and the reason: :class:`UnsafeUrlError`,
    :class:`MediaTooLargeError`, :class:`OutboundError` (permanent, e.g. 404) or
    :class:`OutboundUnavailableError` (timeouts, connection errors, 5xx: may work later).
    """
    try:
        with anyio.fail_after(deadline):
            return await _fetch(url, folder, max_bytes, allow_loopback, timeout, max_redirects)
    except TimeoutError as exc:
        reason = errors.REMOTE_TIMEOUT.format(seconds=deadline, detail=DEADLINE_PASSED)
        raise errors.OutboundUnavailableError(url, reason) from exc


async def _fetch(
    url: str,
    folder: Path,
    max_bytes: int,
    allow_loopback: bool,
    timeout: float,  # noqa: ASYNC109 (per connect/read/write)
    max_redirects: int,
) -> Path:
    current = url
    async with guarded_client(allow_loopback=allow_loopback, timeout=timeout) as client:
        for _hop in range(max_redirects + 1):
            label = current if current == url else f"{url} (redirected to {current})"
            try:
                check_url(current, allow_loopback=allow_loopback)
                async with client.stream(
                    "GET", current, headers={"accept-encoding": "identity"}
                ) as response:
                    if response.is_redirect:  # a 3xx with a Location
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    if not response.is_success:
                        raise status_error(label, response.status_code)
                    return await _save(response, folder, label, max_bytes)
            except errors.UnsafeUrlError as exc:
                raise errors.UnsafeUrlError(label, exc.reason) from exc
            except httpx.HTTPError as exc:
                raise failure_for(label, exc, timeout) from exc
    raise errors.OutboundError(url, errors.TOO_MANY_REDIRECTS.format(limit=max_redirects))


async def _save(response: httpx.Response, folder: Path, label: str, max_bytes: int) -> Path:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        reason = errors.DECLARED_TOO_LARGE.format(size=int(declared), limit=max_bytes)
        raise errors.MediaTooLargeError(label, reason)
    await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    target = folder / safe_filename(PurePosixPath(response.url.path).name or None)
    size = 0
    try:
        async with await anyio.open_file(target, "wb") as out:
            async for chunk in response.aiter_bytes(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    reason = errors.DOWNLOAD_TOO_LARGE.format(limit=max_bytes)
                    raise errors.MediaTooLargeError(label, reason)
                await out.write(chunk)
    except BaseException:
        with anyio.CancelScope(shield=True):  # also when the deadline cancelled the download
            await anyio.to_thread.run_sync(lambda: target.unlink(missing_ok=True))
        raise
    return target
