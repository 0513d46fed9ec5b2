"""A local stand-in for the Anthropic Messages API, served over real HTTP on 127.0.0.1.

The real SDK talks to it (`base_url=stub.url`). It records every request (path, headers, JSON)
and answers from a queue of canned responses, falling back to `stub.default` (a valid
submit_draft tool call). ThreadingHTTPServer: it serves concurrent requests, with optional latency.

    stub.queue(stub.rate_limited(), stub.tool_use({...}))

Message Batches (`client.messages.batches`): create, retrieve, list-free results as JSONL at the
batch's `results_url`, cancel. A batch is `in_progress` until it ends: at once on the first
retrieve by default, after `batch_seconds`, or only when the test calls `end_batch()` when
`hold_batches` is set. Each request's outcome comes from `batch_outcome(custom_id, params)`
("succeeded", "errored" or "expired"; default succeeded, answered like a single call: queue,
responder, default). `expire_batch()` ends a batch with every request expired, as the API does
after 24 hours; a cancelled batch ends with its requests "canceled". A queued error response
(`stub.queue(stub.error(...))`) answers the next batch call instead.

Token counting (`client.messages.count_tokens`, POST /v1/messages/count_tokens, recorded in
`count_requests`, not `requests`; `count_response` answers instead when set) answers with an estimate: `estimate_tokens()` of the JSON text of
system, tools and messages, each counted on its own and added (one token per 4 characters, the
usual figure for English prose; the real tokenizer is not public; `cache_control` marks left out).

Prompt caching, when `emulate_caching` is set: the usage of each answer (single call or batch
result) is computed from the request as the API does it. A prefix (tools and the system blocks up
to the last one marked `cache_control`) of at least the model's minimum (`cache_minimum(model)`:
4,096 tokens for Opus 4.5/4.6 and Haiku 4.5, 1,024 for Sonnet 4.5/4.6 and others) is written on
first sight (`cache_creation_input_tokens`) and read by an identical prefix within `cache_ttl`
seconds (`cache_read_input_tokens`, each read refreshing it); a shorter or unmarked prefix is
neither; `input_tokens` is the rest.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


def estimate_tokens(value: Any) -> int:
    """The stub's token count: one token per 4 characters of the JSON text (at least 1)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, len(text) // 4)


def _unmarked(blocks: Any) -> Any:
    if isinstance(blocks, list):
        return [{k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, dict) else b for b in blocks]
    return blocks


def request_tokens(payload: dict[str, Any]) -> int:
    """What the stub counts for a request: system, tools and messages each estimated, added."""
    return sum(estimate_tokens(_unmarked(payload[k])) for k in ("system", "tools", "messages") if payload.get(k))


def cache_minimum(model: str) -> int:
    """The minimum cacheable prefix per the prompt-caching documentation."""
    name = model or ""
    if any(name.startswith(m) for m in ("claude-opus-4-5", "claude-opus-4-6", "claude-haiku-4-5")):
        return 4096
    if name.startswith(("claude-3-5-haiku", "claude-3-haiku", "claude-opus-4-7")):
        return 2048
    return 1024


@dataclass
class StubBatch:
    id: str
    requests: list[dict[str, Any]]
    created: float
    status: str = "in_progress"  # in_progress, canceling, ended
    results: list[dict[str, Any]] = field(default_factory=list)
    ended: float | None = None
    cancel_initiated: float | None = None


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


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
        # Message Batches
        self.batches: dict[str, StubBatch] = {}
        self.hold_batches = False
        self.batch_seconds = 0.0
        self.batch_outcome: Callable[[str, dict[str, Any]], str] | None = None
        self._batch_ids = itertools.count(1)
        # Token counting and prompt caching
        self.count_requests: list[RecordedRequest] = []
        # Answers every token count instead of the estimate (an API without counting, an error).
        self.count_response: StubResponse | None = None
        self.emulate_caching = False
        self.cache_ttl = 300.0
        self._cache: dict[str, float] = {}  # prefix hash -> expiry (time.monotonic)

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
                recorded = RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, payload)
                path = self.path.split("?")[0]
                if path == "/v1/messages/count_tokens":
                    with stub._lock:
                        stub.count_requests.append(recorded)
                    counted = StubResponse(body={"input_tokens": request_tokens(payload)})
                    stub._reply(self, stub.count_response or counted, payload)
                    return
                if path.startswith("/v1/messages/batches"):
                    with stub._lock:
                        stub.requests.append(recorded)
                    stub._reply(self, stub._batch_post(path, payload), payload)
                    return
                response = stub._record_and_pick(recorded)
                stub._reply(self, response, payload)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with stub._lock:
                    stub.requests.append(
                        RecordedRequest("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None)
                    )
                stub._reply(self, stub._batch_get(path), None)

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

    # --- Message Batches ---------------------------------------------------------------------
    @property
    def batch_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/v1/messages/batches")]

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.split("?")[0] == "/v1/messages"]

    def end_batch(self, batch_id: str | None = None) -> None:
        """End a held batch (the last one created by default): each request gets its outcome."""
        with self._lock:
            batch = self.batches[batch_id] if batch_id else list(self.batches.values())[-1]
            self._end(batch)

    def expire_batch(self, batch_id: str | None = None) -> None:
        """End a batch as the API does after 24 hours: every request still processing expired."""
        with self._lock:
            batch = self.batches[batch_id] if batch_id else list(self.batches.values())[-1]
            self._end(batch, every="expired")

    def _end(self, batch: StubBatch, every: str | None = None) -> None:
        if batch.status == "ended":
            return
        for item in batch.requests:
            outcome = every or (self.batch_outcome(item["custom_id"], item["params"]) if self.batch_outcome else "")
            batch.results.append({"custom_id": item["custom_id"], "result": self._batch_result(outcome, item)})
        batch.status, batch.ended = "ended", time.time()

    def _batch_result(self, outcome: str, item: dict[str, Any]) -> dict[str, Any]:
        if outcome == "errored":
            return {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "stub: errored"}},
            }
        if outcome in ("expired", "canceled"):
            return {"type": outcome}
        params = item["params"]
        response = self._queue.popleft() if self._queue else None
        if response is None:
            response = self.responder(params) if self.responder is not None else (self.default or self.tool_use())
        body = {**response.body, "id": f"msg_stub_{next(self._ids)}"}
        body["model"] = body.get("model") or params.get("model", "claude-stub")
        if self.emulate_caching:
            body["usage"] = self._cached_usage(params, body.get("usage") or {})
        return {"type": "succeeded", "message": body}

    # --- Prompt caching ----------------------------------------------------------------------
    def _cached_usage(self, payload: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
        """The usage the API reports for this request: cache written, read or neither."""
        total = request_tokens(payload)
        system = payload.get("system") if isinstance(payload.get("system"), list) else []
        marked = [i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")]
        written = read = 0
        if marked:
            prefix = {"model": payload.get("model"), "tools": payload.get("tools"), "system": system[: marked[-1] + 1]}
            tokens = request_tokens({"tools": prefix["tools"], "system": prefix["system"]})
            if tokens >= cache_minimum(str(payload.get("model") or "")):
                key = json.dumps(_unmarked(prefix["system"]) + [prefix["model"], prefix["tools"]], sort_keys=True)
                now = time.monotonic()
                # Called under self._lock for batches; single calls take it here.
                if self._cache.get(key, 0.0) > now:
                    read = tokens
                else:
                    written = tokens
                self._cache[key] = now + self.cache_ttl
        return {
            **usage,
            "input_tokens": total - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }

    def _batch_json(self, batch: StubBatch) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.status == "ended":
            for r in batch.results:
                counts[r["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": _iso(batch.created),
            "expires_at": _iso(batch.created + timedelta(hours=24).total_seconds()),
            "ended_at": _iso(batch.ended),
            "cancel_initiated_at": _iso(batch.cancel_initiated),
            "archived_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if batch.status == "ended" else None,
        }

    def _batch_post(self, path: str, payload: Any) -> StubResponse:
        with self._lock:
            # A queued error answers the next batch call too (an API that refuses the batch).
            if self._queue and self._queue[0].status >= 400:
                return self._queue.popleft()
            if path == "/v1/messages/batches":
                batch = StubBatch(
                    id=f"msgbatch_stub_{next(self._batch_ids)}", requests=payload["requests"], created=time.time()
                )
                self.batches[batch.id] = batch
                return StubResponse(body=self._batch_json(batch))
            batch_id = path.removeprefix("/v1/messages/batches/").removesuffix("/cancel")
            batch = self.batches.get(batch_id)
            if batch is None or not path.endswith("/cancel"):
                return self.error(404, "not_found_error", "no such batch")
            if batch.status == "in_progress":
                batch.status, batch.cancel_initiated = "canceling", time.time()
            return StubResponse(body=self._batch_json(batch))

    def _batch_get(self, path: str) -> StubResponse:
        with self._lock:
            results = path.endswith("/results")
            batch = self.batches.get(path.removeprefix("/v1/messages/batches/").removesuffix("/results"))
            if batch is None:
                return self.error(404, "not_found_error", "no such batch")
            if batch.status == "canceling":
                self._end(batch, every="canceled")
            elif (
                batch.status == "in_progress"
                and not self.hold_batches
                and time.time() - batch.created >= self.batch_seconds
            ):
                self._end(batch)
            if results:
                if batch.status != "ended":
                    return self.error(400, "invalid_request_error", "the batch has not ended")
                lines = "".join(json.dumps(r) + "\n" for r in batch.results)
                return StubResponse(body=lines, headers={"content-type": "application/binary"})
            return StubResponse(body=self._batch_json(batch))

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
            if self.emulate_caching and isinstance(payload, dict):
                with self._lock:
                    body["usage"] = self._cached_usage(payload, body.get("usage") or {})
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
