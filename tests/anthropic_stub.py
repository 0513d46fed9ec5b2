"""A local stand-in for the Anthropic Messages API, served over real HTTP on 127.0.0.1.

The real SDK talks to it (`base_url=stub.url`). It records every request (path, headers, JSON)
and answers from a queue of canned responses, falling back to `stub.default` (a valid
submit_draft tool call). ThreadingHTTPServer: it serves concurrent requests, with optional latency.

    stub.queue(stub.rate_limited(), stub.tool_use({...}))
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_DRAFT = {
    "subject": "Your October usage",
    "preview_text": "A short note about your account.",
    "body_text": "Hi Liu,\n\nYou logged in 14 times in October.\n\nWould a short call help?\n\nBest,",
    "cited_fact_ids": ["f-name", "f-logins"],
}
DEFAULT_USAGE = {
    "input_tokens": 420,
    "output_tokens": 130,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1500,
}


@dataclass
class StubResponse:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


class AnthropicStub:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[RecordedRequest] = []
        self.default: StubResponse | None = None
        # Called with each request's JSON when nothing is queued: a simulated model (benchmarks).
        self.responder: Callable[[Any], StubResponse] | None = None
        self._queue: deque[StubResponse] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> AnthropicStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    payload = raw.decode("utf-8", "replace")
                response = stub._record_and_pick(
                    RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, payload)
                )
                stub._reply(self, response, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="anthropic-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> AnthropicStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- scripting ---------------------------------------------------------------------------
    def queue(self, *responses: StubResponse) -> None:
        with self._lock:
            self._queue.extend(responses)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    def message(
        self, content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int] | None = None
    ) -> StubResponse:
        return StubResponse(
            body={
                "id": "msg_stub",
                "type": "message",
                "role": "assistant",
                "model": None,  # filled with the requested model
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage or dict(DEFAULT_USAGE),
            }
        )

    def tool_use(
        self,
        tool_input: Any = None,
        *,
        name: str = "submit_draft",
        usage: dict[str, int] | None = None,
        delay: float = 0.0,
    ) -> StubResponse:
        block = {
            "type": "tool_use",
            "id": "toolu_stub",
            "name": name,
            "input": DEFAULT_DRAFT if tool_input is None else tool_input,
        }
        response = self.message([block], "tool_use", usage)
        response.delay = delay
        return response

    def text_only(self, text: str = "Here is your email: Hi!") -> StubResponse:
        return self.message([{"type": "text", "text": text}], "end_turn")

    def refusal(self) -> StubResponse:
        return self.message([{"type": "text", "text": "I can't help with that."}], "refusal")

    def malformed(self) -> StubResponse:
        return StubResponse(status=200, body="{not json", headers={"content-type": "application/json"})

    def error(self, status: int, error_type: str, message: str) -> StubResponse:
        # retry-after-ms keeps the SDK's backoff short in tests.
        return StubResponse(
            status=status,
            body={"type": "error", "error": {"type": error_type, "message": message}},
            headers={"retry-after-ms": "1"},
        )

    def rate_limited(self) -> StubResponse:
        return self.error(429, "rate_limit_error", "Number of requests has exceeded your rate limit")

    def overloaded(self) -> StubResponse:
        return self.error(529, "overloaded_error", "Overloaded")

    def server_error(self) -> StubResponse:
        return self.error(500, "api_error", "Internal server error")

    def slow(self, seconds: float) -> StubResponse:
        response = self.tool_use()
        response.delay = seconds
        return response

    # --- serving -----------------------------------------------------------------------------
    def _record_and_pick(self, request: RecordedRequest) -> StubResponse:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request.json)
        return self.default or self.tool_use()

    def _reply(self, handler: BaseHTTPRequestHandler, response: StubResponse, payload: Any) -> None:
        delay = response.delay or self.latency
        if delay and self._stopping.wait(delay):
            return
        body = response.body
        if isinstance(body, dict) and body.get("type") == "message":
            body = {**body, "id": f"msg_stub_{next(self._ids)}"}
            if body.get("model") is None and isinstance(payload, dict):
                body["model"] = payload.get("model", "claude-stub")
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            handler.send_response(response.status)
            headers = {"content-type": "application/json", "request-id": "req_stub", **response.headers}
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
