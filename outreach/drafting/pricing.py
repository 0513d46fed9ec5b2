"""What a drafting call cost, from a small price table per model family (USD per million tokens).

Cache writes (5-minute TTL) cost 1.25x the input price and cache reads 0.1x. A request sent
through the Message Batches API costs half of all of it (the multipliers stack). Update the table when
prices change; an unknown model is priced by its family name (opus/sonnet/haiku), else as free.
"""

from __future__ import annotations

from decimal import Decimal

# model-name prefix -> (input, output) USD per million tokens; the longest matching prefix wins.
PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "claude-opus-4-5": (Decimal("5"), Decimal("25")),
    "claude-opus-4-6": (Decimal("5"), Decimal("25")),
    "claude-opus-4-7": (Decimal("5"), Decimal("25")),
    "claude-opus-4-8": (Decimal("5"), Decimal("25")),
    "claude-opus-4": (Decimal("15"), Decimal("75")),
    "claude-3-opus": (Decimal("15"), Decimal("75")),
    "claude-sonnet-4": (Decimal("3"), Decimal("15")),
    "claude-3-7-sonnet": (Decimal("3"), Decimal("15")),
    "claude-3-5-sonnet": (Decimal("3"), Decimal("15")),
    "claude-haiku-4": (Decimal("1"), Decimal("5")),
    "claude-3-5-haiku": (Decimal("0.80"), Decimal("4")),
    "claude-3-haiku": (Decimal("0.25"), Decimal("1.25")),
    "offline": (Decimal("0"), Decimal("0")),
}
FAMILY_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "opus": (Decimal("5"), Decimal("25")),
    "sonnet": (Decimal("3"), Decimal("15")),
    "haiku": (Decimal("1"), Decimal("5")),
}
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_READ_FACTOR = Decimal("0.1")
BATCH_FACTOR = Decimal("0.5")
MILLION = Decimal(1_000_000)


def prices_for(model: str) -> tuple[Decimal, Decimal]:
    name = model.lower()
    matches = [prefix for prefix in PRICES if name.startswith(prefix)]
    if matches:
        return PRICES[max(matches, key=len)]
    for family, prices in FAMILY_PRICES.items():
        if family in name:
            return prices
    return Decimal("0"), Decimal("0")


def cost_usd(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    batch: bool = False,
) -> Decimal:
    """Cost of one call; `input_tokens` excludes cached tokens, as the Messages API reports it."""
    input_price, output_price = prices_for(model)
    total = (
        input_tokens * input_price
        + output_tokens * output_price
        + cache_write_tokens * input_price * CACHE_WRITE_FACTOR
        + cache_read_tokens * input_price * CACHE_READ_FACTOR
    ) / MILLION
    if batch:
        total *= BATCH_FACTOR
    return total.quantize(Decimal("0.000001"))
