"""What a 5-minute transcript costs: compute for v1 (CPU seconds) and LLM tokens for v2.

Builds five minutes of real speech from ``../shared/media`` (sample.wav and jfk.flac,
repeated), transcribes it with the ``base`` model measuring the process's CPU seconds, then runs
the enhanced stage against an in-process echo chat server (it answers each chunk with its own
text, the cheapest rewrite that changes nothing) that counts tokens the way DeepSeek documents
them for English (about 0.3 token per character) and records every request. Prints compute cost
at $0.04 per vCPU-hour and LLM cost at DeepSeek's list prices for deepseek-chat.

    uv run python bench/llm_cost.py [--model base] [--minutes 5]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from trax.config import Settings
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import probe
from trax.engine.enhance import EnhanceOptions, enhance
from trax.engine.llm import PRICES, LlmConfig, LlmSession, Meter
from trax.engine.models import LoadOptions
from trax.engine.options import TranscribeOptions

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
TOKENS_PER_CHAR = 0.3  # DeepSeek's documented estimate for English text
CPU_HOUR_USD = 0.04
_TRANSCRIPT = re.compile(r"<transcript>\s*(.*?)\s*</transcript>", re.DOTALL)


class _Echo(BaseHTTPRequestHandler):
    server: Any

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = "".join(m["content"] for m in body["messages"])
        if "response_format" in body:
            content = json.dumps({"summary": "x " * 60, "chapters": [{"start": 0, "title": "t"}],
                                  "keywords": ["k"] * 8})  # fmt: skip
        else:
            match = _TRANSCRIPT.search(prompt)
            content = f"<transcript>\n{match.group(1) if match else ''}\n</transcript>"
        usage = {"prompt_tokens": round(len(prompt) * TOKENS_PER_CHAR),
                 "completion_tokens": round(len(content) * TOKENS_PER_CHAR)}  # fmt: skip
        self.server.requests.append(usage)
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}],
                              "usage": usage}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


def five_minutes(out: Path, minutes: float) -> Path:
    import imageio_ffmpeg

    parts = ["sample.wav", "jfk.flac"] * 8
    inputs = [a for p in parts for a in ("-i", str(MEDIA / p))]
    chain = "".join(f"[{i}:a]aresample=16000,aformat=channel_layouts=mono[a{i}];"
                    for i in range(len(parts)))  # fmt: skip
    concat = "".join(f"[a{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1"
    target = out / "five.flac"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *inputs,
                    "-filter_complex", chain + concat, "-t", str(minutes * 60), str(target)],
                   check=True)  # fmt: skip
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="base")
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = five_minutes(Path(tmp), args.minutes)
        media = probe(audio, max_bytes=10**10, max_duration=10**6)
        transcriber = Transcriber(EngineConfig(model_cache_dir=Settings().model_cache_dir,
                                               load=LoadOptions(cpu_threads=2)))  # fmt: skip
        cpu, wall = time.process_time(), time.monotonic()
        doc = transcriber.transcribe(media, TranscribeOptions(model=args.model))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.requests = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        config = LlmConfig(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                           api_key="x", model="deepseek-chat")  # fmt: skip
        llm = LlmSession(config, Meter(config, None))
        enhanced = enhance(doc, EnhanceOptions(), llm)
        server.shutdown()
    prompt_price, completion_price = PRICES["deepseek-chat"]
    result = {
        "audio_seconds": round(media.duration or 0, 1),
        "model": args.model,
        "words": len(doc.words),
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(wall, 1),
        "compute_usd": round(cpu * CPU_HOUR_USD / 3600, 6),
        "llm_calls": llm.meter.calls,
        "prompt_tokens": llm.meter.usage.prompt_tokens,
        "completion_tokens": llm.meter.usage.completion_tokens,
        "llm_usd": round(llm.meter.spent_usd, 6),
        "prices_per_million": {"prompt": prompt_price, "completion": completion_price},
        "guard": enhanced.provenance.guard.model_dump() if enhanced.provenance.guard else None,
    }
    result["total_usd"] = round(result["compute_usd"] + result["llm_usd"], 6)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
