"""Run one command to its end; write its wall time, CPU time (user + system), peak RSS and exit
code as JSON to a file.

Every measured command goes through this launcher because on Linux a child's ``ru_maxrss`` also
counts the peak RSS of the process that spawned it (exec records the peak of the address space it
replaces, which under vfork/posix_spawn is the parent's). Measured straight from the benchmark
process, a small child would look as large as the benchmark; measured from here, the floor is this
launcher's own few MB. Standard library only, to be run as ``python -S``.

Usage: python -S _measure.py RESULT_JSON COMMAND [ARG...]
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(result: str, cmd: list[str]) -> int:
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as fh:
        # ru_maxrss is in KiB on Linux.
        cpu = usage.ru_utime + usage.ru_stime
        result = {"wall_seconds": wall, "cpu_seconds": cpu, "peak_rss_kb": usage.ru_maxrss}
        json.dump({**result, "returncode": code}, fh)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
