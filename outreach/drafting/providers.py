"""Providers turn a (clean) DraftRequest into a RawDraft: Anthropic over HTTP, or an offline template."""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import anthropic
else:

    class _Anthropic:
        """The SDK, imported on first use: importing it takes about a second of CPU, which every
        process (web, worker, each management command) paid at start-up though only drafting with
        the Anthropic provider needs it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("anthropic"), name)

    anthropic = _Anthropic()

from . import caching, prompt, second_opinion
from .errors import DraftingError
from .offline import OfflineProvider
from .types import BatchItem, BatchStatus, DraftRequest, RawDraft

log = logging.getLogger(__name__)

__all__ = ["AnthropicProvider", "BatchProvider", "OfflineProvider", "Provider", "provider_for"]

T = TypeVar("T")


class Provider(Protocol):
    name: str

    def generate(self, request: DraftRequest) -> RawDraft:
        """Write a draft or raise DraftingError."""
        ...


class BatchProvider(Provider, Protocol):
    """A provider that can also write many drafts as one asynchronous batch (at a discount)."""

    model: str

    def batch_submit(self, items: Sequence[tuple[str, DraftRequest]]) -> BatchStatus: ...

    def batch_status(self, batch_id: str) -> BatchStatus: ...

    def batch_results(self, batch_id: str) -> Iterator[BatchItem]: ...

    def batch_cancel(self, batch_id: str) -> BatchStatus: ...


def supports_batches(provider: Provider) -> bool:
    return all(callable(getattr(provider, m, None)) for m in ("batch_submit", "batch_status", "batch_results"))


class AnthropicProvider:
    """Claude through the official SDK, with a strict tool so the answer always parses.

    The SDK retries 408/409/429/5xx (including 529 overloaded) and connection errors with
    exponential backoff, honouring retry-after; `max_retries` bounds it, so we add no retry loop.
    """

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 60,
        max_retries: int = 2,
        client: anthropic.Anthropic | None = None,
    ) -> None:
        self.model = model
        self._client = client
        self._client_kwargs: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._lock = threading.Lock()
        # Token counts of cacheable prefixes, per model and prefix text (see caching.py), and of
        # the one-word probe message subtracted from each count.
        self._prefix_counts = caching.PrefixCounts()
        self._probe_tokens: int | None = None

    @property
    def client(self) -> anthropic.Anthropic:
        # One client (and connection pool) per provider, created on first use; thread-safe.
        with self._lock:
            if self._client is None:
                self._client = anthropic.Anthropic(**self._client_kwargs)
            return self._client

    def generate(self, request: DraftRequest) -> RawDraft:
        params = self.message_params(request)
        return self._parse(self._call(lambda: self.client.messages.create(**params)))

    def message_params(self, request: DraftRequest) -> dict[str, Any]:
        """The request for one draft, its prefix marked for caching only when it is long enough
        to be cached by this model (a shorter marked prefix is not cached, only paid for)."""
        return prompt.message_params(request, self.model, cache=self.prefix_size(request).marked)

    # --- Prompt caching: count the prefix once, mark it when it can be cached -----------------
    def prefix_size(self, request: DraftRequest) -> caching.PrefixSize:
        """The tokens of this request's cacheable prefix (tools and system blocks), counted by the
        API once per model and prefix text in this process, and the model's minimum."""
        params = prompt.prefix_params(request, self.model)
        tokens, counted = self._prefix_counts.get_or_count(
            (self.model, caching.digest(params)), lambda: self._count_prefix(params)
        )
        return caching.PrefixSize(tokens=tokens, minimum=caching.min_cacheable_tokens(self.model), counted=counted)

    def _count_prefix(self, params: dict[str, Any]) -> tuple[int, bool]:
        """(tokens, counted): the API's count of the prefix with a one-word message, less that
        message's own count; the offline estimate when the API cannot count."""
        try:
            probe_message: Any = prompt.COUNT_PROBE
            total = self.client.messages.count_tokens(**params, messages=probe_message).input_tokens
            if self._probe_tokens is None:
                probe = self.client.messages.count_tokens(model=params["model"], messages=probe_message)
                self._probe_tokens = probe.input_tokens
            return max(1, total - self._probe_tokens), True
        except (anthropic.AnthropicError, ValueError) as exc:
            log.warning("token counting unavailable (%s): prefix size estimated", type(exc).__name__)
            return caching.estimate_tokens({"system": params["system"], "tools": params["tools"]}), False

    # --- Message Batches: the same requests, asynchronous, at half the price -------------------
    def batch_submit(self, items: Sequence[tuple[str, DraftRequest]]) -> BatchStatus:
        """One batch request per (custom_id, request), each exactly the params of a single call
        (the same prefix, marked for caching on the same rule; counted once per prefix)."""
        requests = [{"custom_id": cid, "params": self.message_params(r)} for cid, r in items]
        return _batch_status(self._call(lambda: self.client.messages.batches.create(requests=requests)))  # type: ignore[arg-type]

    def batch_status(self, batch_id: str) -> BatchStatus:
        return _batch_status(self._call(lambda: self.client.messages.batches.retrieve(batch_id)))

    def batch_cancel(self, batch_id: str) -> BatchStatus:
        return _batch_status(self._call(lambda: self.client.messages.batches.cancel(batch_id)))

    def batch_results(self, batch_id: str) -> Iterator[BatchItem]:
        """The results of an ended batch, streamed line by line from its JSONL file."""
        for line in self._call(lambda: self.client.messages.batches.results(batch_id)):
            result = line.result
            if result.type == "succeeded":
                try:
                    raw = self._parse(result.message)
                except DraftingError as exc:
                    yield BatchItem(line.custom_id, "succeeded", error=exc.reason, retryable=exc.retryable)
                    continue
                yield BatchItem(line.custom_id, "succeeded", raw=replace(raw, batch=True))
            elif result.type == "errored":
                error = getattr(getattr(result.error, "error", None), "message", "") or "the request errored"
                yield BatchItem(line.custom_id, "errored", error=f"batch request errored: {error}"[:300])
            else:
                yield BatchItem(line.custom_id, result.type, error=f"batch request {result.type}")

    def _call(self, call: Callable[[], T]) -> T:
        """Run one SDK call, turning its errors into DraftingError with a storable reason."""
        try:
            with api_errors():
                return call()
        except (anthropic.APIResponseValidationError, ValueError) as exc:  # a body that is not a Message
            raise DraftingError("invalid response: the API answer could not be parsed", retryable=True) from exc
        except anthropic.AnthropicError as exc:
            raise DraftingError(f"api error: {type(exc).__name__}", retryable=False) from exc

    def second_opinion(self, params: dict[str, Any]) -> tuple[Any, int, int]:
        """The verifier call: (verdicts, input tokens, output tokens). Any failure is (None, 0, 0):
        a missing second opinion never fails a draft."""
        try:
            message = self.client.messages.create(**params)
        except (anthropic.AnthropicError, ValueError) as exc:
            log.warning("second opinion unavailable: %s", type(exc).__name__)
            return None, 0, 0
        block = next(
            (
                b
                for b in message.content or []
                if getattr(b, "type", None) == "tool_use" and b.name == second_opinion.TOOL_NAME
            ),
            None,
        )
        usage = message.usage
        tokens_in, tokens_out = (usage.input_tokens or 0, usage.output_tokens or 0) if usage else (0, 0)
        verdicts = block.input.get("verdicts") if block is not None and isinstance(block.input, dict) else None
        return verdicts, tokens_in, tokens_out

    def _parse(self, message: Any) -> RawDraft:
        if message.stop_reason == "refusal":
            raise DraftingError("refusal: the model declined to write this email", retryable=False)
        if message.stop_reason == "max_tokens":
            raise DraftingError("invalid response: the answer was cut off (max_tokens)", retryable=True)
        blocks = [b for b in message.content or [] if getattr(b, "type", None) == "tool_use"]
        block = next((b for b in blocks if b.name == prompt.TOOL_NAME), None)
        if block is None:
            raise DraftingError(f"invalid response: no {prompt.TOOL_NAME} tool call", retryable=True)
        data = validate_tool_input(block.input)
        usage = message.usage
        return RawDraft(
            subject=data["subject"],
            preview_text=data["preview_text"],
            body_text=data["body_text"],
            cited_fact_ids=tuple(data["cited_fact_ids"]),
            provider=self.name,
            model=message.model or self.model,
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        )


def _batch_status(batch: Any) -> BatchStatus:
    counts = batch.request_counts
    return BatchStatus(
        id=batch.id,
        processing_status=batch.processing_status,
        counts={
            k: int(getattr(counts, k, 0) or 0) for k in ("processing", "succeeded", "errored", "canceled", "expired")
        },
        created_at=batch.created_at,
        ended_at=batch.ended_at,
        expires_at=batch.expires_at,
    )


@contextmanager
def api_errors() -> Iterator[None]:
    """Timeouts, connection errors, rate limits and error statuses as DraftingError with a storable
    reason (the SDK has already retried what it retries)."""
    try:
        yield
    except anthropic.APITimeoutError as exc:
        raise DraftingError("timeout: the model did not answer in time", retryable=True) from exc
    except anthropic.APIConnectionError as exc:
        raise DraftingError("connection error: could not reach the model API", retryable=True) from exc
    except anthropic.RateLimitError as exc:
        raise DraftingError("rate limited: still limited after retries", retryable=True) from exc
    except anthropic.APIStatusError as exc:
        raise _status_error(exc) from exc


def _status_error(exc: anthropic.APIStatusError) -> DraftingError:
    status = exc.status_code
    if status == 529:
        return DraftingError("overloaded: the model API is overloaded (529) after retries", retryable=True)
    if status >= 500:
        return DraftingError(f"server error: the model API failed ({status}) after retries", retryable=True)
    if status in (401, 403):
        return DraftingError(f"authentication failed ({status}): check ANTHROPIC_API_KEY", retryable=False)
    if status in (408, 409):
        return DraftingError(f"api error ({status}) after retries", retryable=True)
    return DraftingError(f"api error ({status}): the request was rejected", retryable=False)


def call_strict_tool(provider: AnthropicProvider, params: dict[str, Any], tool_name: str, what: str) -> tuple[Any, Any]:
    """One call that must answer with the strict tool `tool_name`: (its input, the message).

    API errors become DraftingError with a storable reason; a refusal says the model declined `what`
    ("to classify this reply"); an answer without the tool call is an invalid response. The caller
    checks the input's shape."""
    with api_errors():
        message = provider.client.messages.create(**params)
    if message.stop_reason == "refusal":
        raise DraftingError(f"refusal: the model declined {what}", retryable=False)
    block = next(
        (b for b in message.content or [] if getattr(b, "type", None) == "tool_use" and b.name == tool_name), None
    )
    if block is None:
        raise DraftingError(f"invalid response: no {tool_name} tool call", retryable=True)
    return block.input, message


def validate_tool_input(data: Any) -> dict[str, Any]:
    """The tool input, checked by hand: strict mode should guarantee it, but we store what we check."""
    if not isinstance(data, dict):
        raise DraftingError("invalid response: tool input is not an object", retryable=True)
    for key in ("subject", "body_text"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise DraftingError(f"invalid response: missing or empty {key}", retryable=True)
    preview = data.get("preview_text", "")
    if not isinstance(preview, str):
        raise DraftingError("invalid response: preview_text is not a string", retryable=True)
    cited = data.get("cited_fact_ids", [])
    if not isinstance(cited, list) or not all(isinstance(i, str) for i in cited):
        raise DraftingError("invalid response: cited_fact_ids is not a list of strings", retryable=True)
    return {
        "subject": data["subject"],
        "preview_text": preview,
        "body_text": data["body_text"],
        "cited_fact_ids": cited,
    }


@functools.lru_cache(maxsize=4)
def _anthropic_provider(
    api_key: str, model: str, base_url: str | None, timeout: float, max_retries: int
) -> AnthropicProvider:
    # Cached per configuration so a worker reuses one HTTP connection pool across drafts.
    return AnthropicProvider(api_key=api_key, model=model, base_url=base_url, timeout=timeout, max_retries=max_retries)


def provider_for(
    *,
    name: str,
    api_key: str = "",
    model: str = "",
    base_url: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 2,
) -> Provider:
    """The provider for a configuration ("offline" or "anthropic"). The configuration is read by the
    caller (`outreach.mail.llm.configured_provider`): the engine knows no settings."""
    if name == "offline":
        return OfflineProvider()
    if name == "anthropic":
        if not api_key:
            raise DraftingError(
                "configuration: DRAFTING_PROVIDER is anthropic but ANTHROPIC_API_KEY is empty", retryable=False
            )
        return _anthropic_provider(api_key, model, base_url or None, float(timeout), int(max_retries))
    raise DraftingError(f"configuration: unknown DRAFTING_PROVIDER {name!r}", retryable=False)
