"""Another user's request latency while one user holds many idle WebSockets (finding B7).

Starts ``trax serve`` as a child process on a fresh embedded data directory, registers two
accounts, and times ``--requests`` sequential ``GET /api/v1/users/me`` of the second account:
first with no socket open, then while the first account holds ``--sockets`` idle sockets on
``/api/v1/ws`` (no job runs: every message the server sends would be noise). Also reports the
server's CPU use while the sockets sit idle, and its database polls are what the difference is
about: before the shared change feed each socket polled four times a second.

``--src DIR`` runs the server from another source tree (e.g. main's, exported with
``git archive main src | tar -x -C /tmp/before``) with this virtual environment, for a before /
after comparison on the same machine.

Usage: ``uv run python bench/ws_idle_sockets.py [--sockets 1000] [--requests 200] [--src DIR]``
Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import psutil
from websockets.asyncio.client import connect

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(tmp: Path, sockets: int, src: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    env.update(
        TRAX_DATA_DIR=str(tmp / "data"),
        TRAX_WS_MAX_CONNECTIONS_PER_USER=str(sockets),
        TRAX_ACCESS_TOKEN_MINUTES="240",
        HF_HUB_OFFLINE="1",
    )
    if src is not None:
        env["PYTHONPATH"] = str(src)
    port = free_port()
    cmd = [sys.executable, "-c", "from trax.cli import main; main()", "serve", "--port", str(port)]
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("trax serve did not become ready:\n" + (tmp / "server.log").read_text())


def register(url: str, email: str) -> str:
    httpx.post(f"{url}/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    login = httpx.post(f"{url}/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    login.raise_for_status()
    return str(login.json()["access_token"])


async def latencies_ms(url: str, token: str, count: int) -> tuple[list[float], int]:
    """The latency of each request (errors included) and the number of non-200 answers."""
    headers = {"Authorization": f"Bearer {token}"}
    found, errors = [], 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        for _ in range(count):
            started = time.perf_counter()
            answer = await http.get("/api/v1/users/me")
            found.append((time.perf_counter() - started) * 1000)
            errors += answer.status_code != 200
    return found, errors


def summary(label: str, measured: tuple[list[float], int]) -> str:
    values, errors = measured
    q = statistics.quantiles(values, n=100)
    return (
        f"{label:<22} p50 {q[49]:8.1f} ms   p95 {q[94]:8.1f} ms   max {max(values):8.1f} ms"
        f"   errors {errors}/{len(values)}"
    )


async def measure(url: str, server: psutil.Process, args: argparse.Namespace) -> None:
    holder, other = register(url, "holder@example.com"), register(url, "other@example.com")
    await latencies_ms(url, other, 20)  # warm-up
    print(summary("no socket open", await latencies_ms(url, other, args.requests)), flush=True)
    ws_url = url.replace("http://", "ws://") + f"/api/v1/ws?token={holder}"
    async with AsyncExitStack() as stack:
        for _ in range(args.sockets):
            await stack.enter_async_context(connect(ws_url, open_timeout=60, ping_timeout=None))
        await asyncio.sleep(args.settle)
        server.cpu_percent(None)
        await asyncio.sleep(5)
        cpu = server.cpu_percent(None)
        label = f"{args.sockets} idle sockets"
        print(summary(label, await latencies_ms(url, other, args.requests)), flush=True)
        print(f"server CPU with {args.sockets} idle sockets: {cpu:.0f} %", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--src", type=Path, help="run the server from this source tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trax-ws-bench-") as tmp:
        proc, url = start_server(Path(tmp), args.sockets, args.src)
        try:
            asyncio.run(measure(url, psutil.Process(proc.pid), args))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
