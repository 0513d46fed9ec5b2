"""Send windows: the hours a campaign's emails may go out, in the recipient's time zone. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.core.errors import ApplicationError


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _hhmm(value: str | None, default: time) -> time:
    if not value:
        return default
    try:
        hours, minutes = str(value).split(":", 1)
        return time(int(hours), int(minutes))
    except ValueError:
        raise ApplicationError(f"send window time {value!r} is not HH:MM") from None


def send_window_next_open(*, window: dict | None, time_zone: str, now: datetime) -> datetime | None:
    """When sending may start, if `now` is outside the window; None when it may go now.

    window: {"days": [0..6] (Monday = 0), "start": "HH:MM", "end": "HH:MM"} in the recipient's
    time zone. An empty window means no restriction.
    """
    if not window:
        return None
    days = set(window.get("days") or range(7))
    start = _hhmm(window.get("start"), time(0, 0))
    end = _hhmm(window.get("end"), time(23, 59, 59))
    if end <= start:
        raise ApplicationError("send window must end after it starts")
    tz = _zone(time_zone)
    local = now.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opens = datetime.combine(day, start, tzinfo=tz)
        closes = datetime.combine(day, end, tzinfo=tz)
        if offset == 0 and opens <= local < closes:
            return None
        if local < opens:
            return opens.astimezone(UTC)
    return None  # no valid day listed: treat as unrestricted rather than never sending
