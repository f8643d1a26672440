"""A process's working files under the data directory, and the sweep of those a dead one left.

Partial uploads (``uploads/``), URL downloads (``downloads/``), local copies of remote objects
(``scratch/``) and files on their way into local storage (``incoming/``) live only while a
request or a job runs; each path that makes one removes it when done. A process killed mid-way
leaves them behind, so every process sweeps them when it starts and then periodically.

Several processes, on several hosts, may share one data directory (docs/scaling.md), so an entry
is removed only when it is provably abandoned: its name says it belongs to a process of this
host that no longer exists, or nothing in it changed for ``TRAX_LEFTOVER_SECONDS`` (longer than
any upload or job may take). Stored media (``media/``) is never looked at.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import time
import uuid
from pathlib import Path

import anyio
import anyio.to_thread
import structlog

from trax.config import Settings
from trax.processes import process_is_gone

log = structlog.get_logger(__name__)
#: Our own generator: the global one belongs to the application (and to test frameworks).
_JITTER = random.Random()

UPLOADS, DOWNLOADS, SCRATCH, INCOMING = "uploads", "downloads", "scratch", "incoming"
#: The folders under the data directory that hold working files only.
WORK_DIRS = (UPLOADS, DOWNLOADS, SCRATCH, INCOMING)
#: Separates the owner (``<pid>@<host>``) from the rest of an entry's name.
_OWNER_END = "~"


def owner_prefix() -> str:
    """The start of the name of every working file or folder this process makes."""
    return f"{os.getpid()}@{socket.gethostname()}{_OWNER_END}"


def new_folder(parent: Path) -> Path:
    """Make a fresh private folder for one request's files under ``parent`` (blocks)."""
    folder = parent / f"{owner_prefix()}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def owner_is_gone(name: str) -> bool:
    """True when ``name`` was made by a process of this host that no longer exists."""
    owner, found, _ = name.partition(_OWNER_END)
    pid, _, host = owner.partition("@")
    return bool(found) and process_is_gone(host, pid)


def _last_change(entry: Path) -> float:
    """The newest modification time of ``entry`` and (for a folder) anything inside it."""
    newest = entry.lstat().st_mtime
    if entry.is_dir() and not entry.is_symlink():
        for root, dirs, files in os.walk(entry):
            for name in dirs + files:
                try:
                    newest = max(newest, (Path(root) / name).lstat().st_mtime)
                except FileNotFoundError:
                    continue
    return newest


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def sweep(settings: Settings) -> list[Path]:
    """Remove the abandoned working files of the data directory (blocks); returns them."""
    cutoff = time.time() - settings.leftover_age_seconds
    removed: list[Path] = []
    for kind in WORK_DIRS:
        try:
            entries = list((settings.data_dir / kind).iterdir())
        except (FileNotFoundError, NotADirectoryError):  # nothing there (or not ours to sweep)
            continue
        for entry in entries:
            try:
                abandoned = owner_is_gone(entry.name) or _last_change(entry) < cutoff
            except FileNotFoundError:  # its owner removed it meanwhile
                continue
            if abandoned:
                _remove(entry)
                removed.append(entry)
    if removed:
        log.info("removed leftover working files", count=len(removed))
    return removed


def sweep_safely(settings: Settings) -> None:
    """:func:`sweep` for a periodic loop: a failure is logged, and tried again next time."""
    try:
        sweep(settings)
    except Exception:  # a background loop must outlive any one failure
        log.exception("sweeping leftover working files failed; will try again")


async def keep_swept(settings: Settings) -> None:
    """Sweep every ``TRAX_SWEEP_INTERVAL_SECONDS`` (with jitter) until cancelled."""
    while True:
        await anyio.sleep(settings.sweep_interval_seconds * _JITTER.uniform(0.8, 1.2))
        await anyio.to_thread.run_sync(sweep_safely, settings)
