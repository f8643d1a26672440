"""A scripted OpenAI-compatible chat server on 127.0.0.1 (stdlib), for deterministic LLM tests.

By default it behaves like a careful editor: it capitalises the text inside ``<transcript>``,
ends it with a full stop, applies ``fixes`` (word → word) and merges ``"can not"`` into
``"cannot"``; JSON-schema requests get extras with a chapter at the first line's time. Tests push
*actions* onto ``script`` for the next requests: an HTTP status (with ``Retry-After``), a delay,
malformed JSON, or an invented sentence appended to the rewrite. It records every request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

INVENTED = "The president also announced a bold new programme for lunar exploration today."
_TRANSCRIPT = re.compile(r"<transcript>\s*(.*?)\s*</transcript>", re.DOTALL)
_LINE = re.compile(r"^\[(\d+(?:\.\d+)?)\]", re.MULTILINE)


@dataclass
class Action:
    """What to do with one request instead of answering normally (or before it: ``delay``)."""

    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0
    malformed: bool = False
    invent: bool = False


@dataclass
class Seen:
    body: dict[str, Any]
    at: float
    headers: dict[str, str]

    @property
    def is_extras(self) -> bool:
        return "response_format" in self.body


@dataclass
class ChatServer:
    httpd: ThreadingHTTPServer
    script: list[Action] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    fixes: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 1000
    completion_tokens: int = 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> Action:
        with self.lock:
            self.seen.append(Seen(body, time.monotonic(), headers))
            return self.script.pop(0) if self.script else Action()

    def answer(self, body: dict[str, Any], action: Action) -> str:
        if "response_format" in body:
            if action.malformed:
                return '{"summary": "cut off'
            text = body["messages"][-1]["content"]
            first = _LINE.search(text)
            start = float(first.group(1)) if first else 0.0
            extras = {"summary": "A speech.", "chapters": [{"start": start, "title": "Opening"}],
                      "keywords": ["country", "Country", "speech"]}  # fmt: skip
            return json.dumps(extras)
        match = _TRANSCRIPT.search(body["messages"][-1]["content"])
        words = (match.group(1) if match else "").split()
        words = [self.fixes.get(w.strip(",.?!").lower(), w) for w in words]
        text = " ".join(words).replace("can not", "cannot")
        text = text[:1].upper() + text[1:]
        if text and text[-1] not in ".?!":
            text += "."
        if action.invent:
            text += " " + INVENTED
        return f"<transcript>\n{text}\n</transcript>"


class _Handler(BaseHTTPRequestHandler):
    server: _Httpd
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        chat = self.server.chat
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        action = chat.take(body, {k.lower(): v for k, v in self.headers.items()})
        if action.delay:
            time.sleep(action.delay)
        if action.status != 200:
            self._send(action.status, b'{"error": {"message": "scripted"}}', action.retry_after)
            return
        content = chat.answer(body, action)
        reply = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": chat.prompt_tokens,
                      "completion_tokens": chat.completion_tokens,
                      "total_tokens": chat.prompt_tokens + chat.completion_tokens},
        }  # fmt: skip
        self._send(200, json.dumps(reply).encode(), None)

    def _send(self, status: int, payload: bytes, retry_after: str | None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    chat: ChatServer


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A scripted chat server on a free loopback port, for the test's duration."""
    httpd = _Httpd(("127.0.0.1", 0), _Handler)
    chat = ChatServer(httpd)
    httpd.chat = chat
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield chat
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
