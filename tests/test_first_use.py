"""First use of the embedded database by several processes at once (a batch and a `trax jobs`
started together): every one of them works, and the schema is migrated once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_processes_opening_a_new_embedded_database_together_all_work(
    tmp_path: Path, model_cache: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAX_")}
    env.update(TRAX_DATA_DIR=str(tmp_path / "data"), TRAX_MODEL_CACHE_DIR=str(model_cache))
    cmd = [sys.executable, "-c", "from trax.cli import main; main()", "list", "--json"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    failed = [err for p, (_out, err) in zip(procs, results, strict=True) if p.returncode != 0]
    assert failed == [], failed[0][-2000:] if failed else ""
    assert all(out.strip() == "[]" for out, _err in results)
