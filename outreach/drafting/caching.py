"""When the cached prefix of a draft request is worth marking for prompt caching.

The API caches a prefix (tools, then system blocks, up to the block marked with `cache_control`)
only when it is at least a model's minimum cacheable length; a shorter marked prefix is silently
not cached and the request costs what it would unmarked. Marking is worth it only above that
minimum, so the provider counts the prefix (the API's token counting, once per model and prefix
text in a process) and marks it only when it reaches the minimum.

Minimums, from Anthropic's prompt-caching documentation ("minimum cacheable prompt length"):
4,096 tokens for Claude Opus 4.6, Opus 4.5 and Haiku 4.5; 2,048 for Opus 4.7, Haiku 3.5 and
Haiku 3; 1,024 for Opus 4.8, Sonnet 4.6, Sonnet 4.5, Opus 4.1, Opus 4, Sonnet 4 and Sonnet 3.7.
An unknown model is taken at 4,096 (the largest): better an unmarked prefix than a wasted mark.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# model-name prefix -> minimum cacheable prefix in tokens; the longest matching prefix wins.
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-haiku-4-5": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
UNKNOWN_MODEL_MINIMUM = 4096
# Characters per token when the API cannot count (the usual figure for English prose).
CHARS_PER_TOKEN = 4


def min_cacheable_tokens(model: str) -> int:
    name = model.lower()
    matches = [prefix for prefix in MIN_CACHEABLE_TOKENS if name.startswith(prefix)]
    return MIN_CACHEABLE_TOKENS[max(matches, key=len)] if matches else UNKNOWN_MODEL_MINIMUM


def estimate_tokens(value: Any) -> int:
    """An offline estimate: one token per 4 characters of the JSON text."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return max(1, len(text) // CHARS_PER_TOKEN)


def digest(value: Any) -> str:
    """A stable hash of a prefix (its JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PrefixSize:
    """A request's cacheable prefix: its tokens, the model's minimum, and whether it is marked.
    `counted` is False when the API could not count it and the offline estimate was used."""

    tokens: int
    minimum: int
    counted: bool = True

    @property
    def marked(self) -> bool:
        return self.tokens >= self.minimum


class PrefixCounts:
    """Prefix token counts by (model, prefix hash), newest kept: a campaign's drafts share one
    prefix, so a worker counts it once, not once per draft. Bounded, thread-safe."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._counts: OrderedDict[tuple[str, str], tuple[int, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_count(self, key: tuple[str, str], count: Callable[[], tuple[int, bool]]) -> tuple[int, bool]:
        with self._lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return self._counts[key]
        value = count()  # outside the lock: a round-trip
        with self._lock:
            self._counts[key] = value
            self._counts.move_to_end(key)
            while len(self._counts) > self.maxsize:
                self._counts.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._counts)
