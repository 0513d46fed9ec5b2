"""Ramp-up: a new sender's daily limit starts small and grows day by day to their full daily limit,
as mailbox providers trust a new address that sends a little more each day. Pure: dates in, limits out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings


@dataclass(frozen=True)
class RampDay:
    day: date
    limit: int
    is_today: bool = False


def ramp_limit(*, full_limit: int, started: date | None, today: date) -> int:
    """Today's daily limit: the full one without a ramp-up (or once it has grown to it)."""
    if started is None or today < started:
        return full_limit
    days = (today - started).days
    start = max(1, settings.RAMP_UP_START_PER_DAY)
    grown = start * (1 + settings.RAMP_UP_GROWTH_PERCENT / 100) ** days
    return min(full_limit, math.floor(grown)) if grown < full_limit else full_limit


def ramp_schedule(*, full_limit: int, started: date | None, today: date, max_days: int = 60) -> list[RampDay]:
    """Each day's limit from the first day of the ramp-up until it reaches the full limit; [] without
    a ramp-up or once it is over."""
    if (
        started is None
        or ramp_limit(full_limit=full_limit, started=started, today=today) >= full_limit
        and today >= started
    ):
        return []
    schedule = []
    for offset in range(max_days):
        day = started + timedelta(days=offset)
        limit = ramp_limit(full_limit=full_limit, started=started, today=day)
        schedule.append(RampDay(day=day, limit=limit, is_today=day == today))
        if limit >= full_limit:
            break
    return schedule
