"""Whether the process that owns something (a job's lease, a working file) still lives."""

from __future__ import annotations

import os
import socket


def process_is_gone(host: str, pid: str) -> bool:
    """True when ``pid`` names a process of this host that no longer exists. A process of
    another host, or one we may not signal, counts as alive."""
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
