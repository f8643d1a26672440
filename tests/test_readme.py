"""The README's HTTP round trip runs as written (curl and jq) against a live ``trax serve``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import srt

from .api.conftest import words_of
from .conftest import PROJECT
from .served import serve_env, trax_serve

README = PROJECT / "README.md"
ROUND_TRIP_START = "API=http://127.0.0.1:8000/api/v1"


def round_trip_block() -> str:
    """The shell block of section "HTTP service" that starts with ``API=…``."""
    section = README.read_text().split("### HTTP service", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith(ROUND_TRIP_START)]
    return block


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="the round trip needs curl and jq"
)
def test_the_readme_http_round_trip_prints_the_captions(
    tmp_path: Path, model_cache: Path, jfk_text: str
) -> None:
    env = serve_env(tmp_path / "data", model_cache)
    with trax_serve(env, tmp_path / "serve.log") as served:
        script = round_trip_block().replace("127.0.0.1:8000", f"127.0.0.1:{served.port}")
        run = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            check=False,
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr
    *_, last_state, captions = re.split(r"^(\{\"status\".*)$", run.stdout, flags=re.MULTILINE)
    assert '"status":"succeeded"' in last_state, run.stdout
    cues = list(srt.parse(captions.strip()))
    assert words_of(" ".join(c.content for c in cues)) == words_of(jfk_text)
    assert all(len(line) <= 32 for c in cues for line in c.content.splitlines())
