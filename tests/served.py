"""``trax serve`` in its own process, the way an operator runs it (and can kill it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import free_port


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]


def serve_env(data_dir: Path, model_cache: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any ``TRAX_`` setting, plus an embedded data directory
    and the session's model cache (``tiny.en`` by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    values = {
        "data_dir": str(data_dir),
        "model_cache_dir": str(model_cache),
        "default_model": "tiny.en",
        "cpu_threads": "2",
        **settings,
    }
    env.update({f"TRAX_{k.upper()}": v for k, v in values.items()})
    return env


@contextmanager
def trax_serve(
    env: dict[str, str], log: Path, timeout: float = 180, args: tuple[str, ...] = ()
) -> Iterator[Served]:
    """Start ``trax serve`` (with ``args``) on a free port and wait until it answers /health;
    stopped on exit (if it still runs)."""
    port = free_port()
    cmd = [sys.executable, "-c", "from trax.cli import main; main()", "serve", "--port", str(port)]
    cmd += args
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", port, proc)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"trax serve exited with {proc.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{served.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"trax serve did not answer in {timeout} s: {log.read_text()}")
            time.sleep(0.1)
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
