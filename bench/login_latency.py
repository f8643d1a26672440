"""Another user's latency while logins hash passwords: ``/api/v1/users/me`` median and p99, idle
and while ``--logins`` connections log in with fresh emails as fast as they can.

Starts ``trax serve`` as a child process on a fresh embedded data directory, registers one account
and times its ``/users/me`` sequentially, first with nothing else going on, then while the login
threads run. Logins for unknown emails still cost one Argon2id hash each (no timing hint that the
account does not exist), so they load the server with hashing only. The per-address login limit
is lifted for the run (it would otherwise answer most of these logins with 429 and hide the cost).

``--src DIR`` runs the server from another checkout's ``src`` (e.g. ``git archive`` of an older
commit unpacked into ``/tmp``), to compare before and after a change.

Usage: ``uv run python bench/login_latency.py [--logins 12] [--seconds 10] [--src DIR]``.
Not a test; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def trax_serve(src: Path | None) -> Iterator[str]:
    """``trax serve`` on a fresh data directory; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="trax-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
        env |= {"TRAX_DATA_DIR": tmp, "TRAX_LOGIN_ADDRESS_RATE_LIMIT": "1000000/minute"}
        if src is not None:
            env["PYTHONPATH"] = str(src)
        port = _free_port()
        cmd = [sys.executable, "-c", "from trax.cli import main; main()", "serve"]
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"trax serve did not start (exit code {proc.returncode})")
                try:
                    httpx.get(f"{url}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _me_latencies(http: httpx.Client, token: str, seconds: float) -> list[float]:
    """Sequential ``/users/me`` requests for ``seconds``; their latencies in milliseconds."""
    headers = {"Authorization": f"Bearer {token}"}
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        answer = http.get("/api/v1/users/me", headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text
    return out


def _login_loop(url: str, worker: int, stop: threading.Event, counts: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        i = 0
        while not stop.is_set():
            form = {"username": f"fresh-{worker}-{i}@example.com", "password": PASSWORD}
            answer = http.post("/api/v1/auth/token", data=form)
            assert answer.status_code == 401, answer.text
            counts[worker] += 1
            i += 1


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(ordered), "median_ms": statistics.median(ordered), "p99_ms": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=12, help="concurrent login connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--src", type=Path, help="run the server from this src directory")
    args = parser.parse_args()
    with trax_serve(args.src) as url, httpx.Client(base_url=url, timeout=60) as http:
        account = {"email": "ada@example.com", "password": PASSWORD}
        assert http.post("/api/v1/auth/register", json=account).status_code == 201
        form = {"username": account["email"], "password": PASSWORD}
        token = http.post("/api/v1/auth/token", data=form).json()["access_token"]
        _me_latencies(http, token, 1.0)  # warm-up
        idle = _me_latencies(http, token, args.seconds)
        stop, counts = threading.Event(), [0] * args.logins
        threads = [
            threading.Thread(target=_login_loop, args=(url, i, stop, counts))
            for i in range(args.logins)
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)  # let the logins queue up
            loaded = _me_latencies(http, token, args.seconds)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    result = {
        "idle": _summary(idle),
        "during_logins": _summary(loaded),
        "logins_per_second": sum(counts) / (args.seconds + 1.0),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
