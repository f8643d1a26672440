"""The outbound HTTP guard and downloads, against a real HTTP server on 127.0.0.1.

No test sends traffic to a non-loopback address: forbidden URLs are refused by pure checks before
any connection is made, and every server here listens on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import pytest

from trax import errors
from trax.outbound import (
    GuardedBackend,
    GuardedTransport,
    check_url,
    download,
    guarded_client,
    is_forbidden,
)

from .conftest import free_port, serving

pytestmark = pytest.mark.anyio

FORBIDDEN_URLS = [
    "http://10.0.0.1/a.mp3",
    "http://172.16.5.4/a.mp3",
    "http://192.168.1.1/a.mp3",
    "http://127.0.0.1/a.mp3",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/a.mp3",
    "http://100.64.0.1/a.mp3",
    "http://[::1]/a.mp3",
    "http://[::ffff:127.0.0.1]/a.mp3",
    "http://[::ffff:10.0.0.1]/a.mp3",
    "http://[fe80::1]/a.mp3",
    "http://[fc00::1]/a.mp3",
    "http://224.0.0.1/a.mp3",
    "file:///etc/passwd",
    "ftp://example.com/a.mp3",
    "http://user:pass@example.com/a.mp3",
    "http://localhost/a.mp3",
    "http://2130706433/a.mp3",  # 127.0.0.1 as one number
    "http://0x7f.1/a.mp3",  # 127.0.0.1 in hex shorthand
    "http://[64:ff9b::a00:1]/a.mp3",  # NAT64 of 10.0.0.1
    "http://[2002:a00:1::1]/a.mp3",  # 6to4 of 10.0.0.1
    "gopher://example.com/",
    "http:///a.mp3",
]


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("::", True),
        ("::ffff:10.0.0.1", True),
        ("::10.0.0.1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("fd12:3456::1", True),
        ("fec0::1", True),
        ("ff02::1", True),
        ("64:ff9b::a00:1", True),
        ("64:ff9b:1::1", True),
        ("2002:a00:1::1", True),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::808:808", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert is_forbidden(ip, allow_loopback=False) is forbidden
    assert is_forbidden(ip, allow_loopback=True) is forbidden


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_when_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert is_forbidden(ip, allow_loopback=False)
    assert not is_forbidden(ip, allow_loopback=True)


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_check_url_refuses_without_the_network(url: str) -> None:
    with pytest.raises(errors.UnsafeUrlError) as caught:
        check_url(url, allow_loopback=False)
    assert caught.value.message.startswith(f"{url}: ")
    assert caught.value.http_status == 400
    assert caught.value.permanent


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
async def test_download_refuses_forbidden_urls_before_connecting(url: str, tmp_path: Path) -> None:
    # Were a URL not refused, the attempt would end in a connection or timeout error instead.
    folder = anyio.Path(tmp_path / "in")
    with pytest.raises(errors.UnsafeUrlError):
        await download(
            url, Path(folder), max_bytes=1000, allow_loopback=False, timeout=0.5, deadline=5
        )
    assert not await folder.exists()


def test_public_and_allowed_urls_pass_the_pure_check() -> None:
    check_url("https://example.com/talk.mp3?x=1", allow_loopback=False)
    check_url("http://[2606:4700:4700::1111]:8080/", allow_loopback=False)
    check_url("http://127.0.0.1:8000/a", allow_loopback=True)
    check_url("http://localhost:8000/a", allow_loopback=True)
    check_url("http://[::1]:8000/a", allow_loopback=True)


# --- a real server on 127.0.0.1 -----------------------------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, port: int, routes: dict[str, Callable[[Handler], None]]) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.routes = routes
        self.connections = 0
        self.paths: list[str] = []
        self.stop = threading.Event()

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0], Handler.not_found)
        try:
            route(self)
        except OSError:  # the client hung up, as it should on a refused download
            self.close_connection = True

    def not_found(self) -> None:
        self.reply(404, b"no such thing")

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    with serving(Server(free_port(), {})) as srv:
        try:
            yield srv
        finally:
            srv.stop.set()  # release handlers that hold a slow answer before shutting down


def base(srv: Server, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{srv.server_address[1]}"


async def fetch(url: str, folder: Path, **options: object) -> Path:
    settings: dict[str, object] = {
        "max_bytes": 10_000_000,
        "allow_loopback": True,
        "timeout": 5,
        "deadline": 30,
    }
    return await download(url, folder, **{**settings, **options})  # type: ignore[arg-type]


async def test_download_of_a_real_media_file(server: Server, media: Path, tmp_path: Path) -> None:
    audio = (media / "jfk.flac").read_bytes()
    server.routes["/files/jfk.flac"] = lambda h: h.reply(200, audio)
    path = await fetch(f"{base(server)}/files/jfk.flac", tmp_path / "in")
    assert path == tmp_path / "in" / "jfk.flac"
    assert path.read_bytes() == audio
    by_name = await fetch(f"{base(server, 'localhost')}/files/jfk.flac?x=1", tmp_path / "again")
    assert by_name.read_bytes() == audio


async def test_loopback_is_refused_unless_allowed_and_nothing_connects(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/a.mp3"] = lambda h: h.reply(200, b"data")
    for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]"):
        with pytest.raises(errors.UnsafeUrlError, match="loopback"):
            await fetch(f"{base(server, host)}/a.mp3", tmp_path, allow_loopback=False)
    assert server.connections == 0


async def test_the_connection_time_check_resolves_names(server: Server) -> None:
    """Past the pure check (a client without it), a name is refused on what it resolves to."""
    backend = GuardedBackend(allow_loopback=False)
    with pytest.raises(errors.UnsafeUrlError, match=r"localhost resolves to 127\.0\.0\.1"):
        await backend.connect_tcp("localhost", server.server_address[1], timeout=5)
    async with httpx.AsyncClient(transport=GuardedTransport(allow_loopback=False)) as client:
        with pytest.raises(errors.UnsafeUrlError, match="not a public address"):
            await client.get(f"{base(server, 'localhost')}/a.mp3")
    assert server.connections == 0
    stream = await GuardedBackend(allow_loopback=True).connect_tcp(
        "localhost", server.server_address[1], timeout=5
    )
    await stream.aclose()
    with anyio.fail_after(5):  # the server accepts in its own thread
        while server.connections != 1:
            await anyio.sleep(0.01)


async def test_the_client_checks_every_request_and_never_follows_redirects(
    server: Server,
) -> None:
    server.routes["/moved"] = lambda h: h.reply(302, b"", {"Location": "/elsewhere"})
    async with guarded_client(allow_loopback=True, timeout=5) as client:
        answer = await client.get(f"{base(server)}/moved")
        assert answer.status_code == 302
        with pytest.raises(errors.UnsafeUrlError):
            await client.get("http://169.254.169.254/")
    async with guarded_client(allow_loopback=False, timeout=5) as client:
        with pytest.raises(errors.UnsafeUrlError):
            await client.get(f"{base(server)}/moved")
    assert server.paths == ["/moved"]


async def test_redirects_are_checked_again(server: Server, tmp_path: Path) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/"
    server.routes["/go"] = lambda h: h.reply(302, b"", {"Location": metadata})
    with pytest.raises(errors.UnsafeUrlError, match="link-local") as caught:
        await fetch(f"{base(server)}/go", tmp_path)
    assert f"redirected to {metadata}" in caught.value.message
    server.routes["/via"] = lambda h: h.reply(307, b"", {"Location": "/ok.wav"})
    server.routes["/ok.wav"] = lambda h: h.reply(200, b"RIFF")
    assert (await fetch(f"{base(server)}/via", tmp_path)).read_bytes() == b"RIFF"


async def test_too_many_redirects(server: Server, tmp_path: Path) -> None:
    for i in range(10):
        server.routes[f"/hop/{i}"] = lambda h, i=i: h.reply(302, b"", {"Location": f"/hop/{i + 1}"})
    with pytest.raises(errors.OutboundError, match="more than 3 redirects") as caught:
        await fetch(f"{base(server)}/hop/0", tmp_path, max_redirects=3)
    assert caught.value.permanent
    assert server.paths == ["/hop/0", "/hop/1", "/hop/2", "/hop/3"]


def _declares_too_much(h: Handler) -> None:
    """Declares 50 MB and sends nothing: a client that read the body would time out."""
    h.send_response(200)
    h.send_header("Content-Length", str(50_000_000))
    h.end_headers()
    h.wfile.flush()
    h.server.stop.wait(10)


def _chunked_forever(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    block = b"x" * 65536
    for _ in range(200):  # at most 13 MB, far over the limit
        if h.server.stop.is_set():
            return
        h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
    h.wfile.write(b"0\r\n\r\n")


async def test_oversize_content_length_is_refused_before_the_body(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/big.wav"] = _declares_too_much
    with pytest.raises(errors.MediaTooLargeError, match="Content-Length 50000000 is over"):
        await fetch(f"{base(server)}/big.wav", tmp_path, max_bytes=1_000_000, timeout=3)
    assert not (tmp_path / "big.wav").exists()


async def test_oversize_stream_is_refused_while_streaming(server: Server, tmp_path: Path) -> None:
    server.routes["/stream.wav"] = _chunked_forever
    with pytest.raises(errors.MediaTooLargeError, match="over the 1000000-byte limit") as caught:
        await fetch(f"{base(server)}/stream.wav", tmp_path / "in", max_bytes=1_000_000)
    assert caught.value.http_status == 413
    assert list((tmp_path / "in").iterdir()) == []


async def test_http_errors_are_clear_and_classified(server: Server, tmp_path: Path) -> None:
    url = f"{base(server)}/missing.mp3"
    with pytest.raises(errors.OutboundError) as missing:
        await fetch(url, tmp_path)
    assert missing.value.message == f"{url}: the server answered HTTP 404"
    assert missing.value.permanent
    server.routes["/busy"] = lambda h: h.reply(503, b"later")
    with pytest.raises(errors.OutboundUnavailableError, match="HTTP 503") as busy:
        await fetch(f"{base(server)}/busy", tmp_path)
    assert not busy.value.permanent


async def test_slow_servers_and_closed_ports_are_transient_errors(
    server: Server, tmp_path: Path
) -> None:
    def slow(h: Handler) -> None:
        h.server.stop.wait(5)
        h.reply(200, b"too late")

    server.routes["/slow.mp3"] = slow
    url = f"{base(server)}/slow.mp3"
    with pytest.raises(errors.OutboundUnavailableError, match=r"no answer within 0\.3 s") as slow_e:
        await fetch(url, tmp_path, timeout=0.3)
    assert slow_e.value.message.startswith(url)
    closed = f"http://127.0.0.1:{free_port()}/a.mp3"
    with pytest.raises(errors.OutboundUnavailableError, match="cannot connect") as refused:
        await fetch(closed, tmp_path)
    assert refused.value.message.startswith(closed)
    assert not refused.value.permanent


def _drips(h: Handler) -> None:
    """Promises 100 kB and sends one byte every 0.2 s: no read ever waits long."""
    h.send_response(200)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    while not h.server.stop.wait(0.2):
        h.wfile.write(b".")
        h.wfile.flush()


async def test_a_dripping_server_fails_at_the_deadline(server: Server, tmp_path: Path) -> None:
    server.routes["/drip.mp3"] = _drips
    url = f"{base(server)}/drip.mp3"
    with (
        anyio.fail_after(6),
        pytest.raises(errors.OutboundUnavailableError, match=r"no answer within 1 s") as caught,
    ):
        await fetch(url, tmp_path / "in", timeout=5, deadline=1.0)
    assert caught.value.message.startswith(url)
    assert not caught.value.permanent
    assert list((tmp_path / "in").iterdir()) == []  # the partial file is gone
