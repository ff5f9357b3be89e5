"""The hub's one clock: "now" and Japan's "today", injectable for tests.

Receptions, validity, card expiry, months of the self-pay ledger and application periods are all
kept by the date in Japan (Asia/Tokyo), never by the server's local date: a hub on a UTC host sees
"yesterday" between 00:00 and 09:00 JST otherwise. Everything asks this module; tests set it with
:func:`frozen_at`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
"""Japan's time zone (no daylight saving; +09:00 all year)."""


def _system_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Callable[[], dt.datetime] = _system_now


def now() -> dt.datetime:
    """Return the current instant as an aware UTC datetime."""
    return _source().astimezone(dt.UTC)


def now_in_japan() -> dt.datetime:
    """Return the current instant in Japan's time zone (for what people read)."""
    return now().astimezone(JST)


def today() -> dt.date:
    """Return today's date in Japan."""
    return now_in_japan().date()


def japan_date_of(instant: dt.datetime) -> dt.date:
    """Return the date in Japan of an aware instant."""
    return instant.astimezone(JST).date()


@contextmanager
def frozen_at(instant: dt.datetime) -> Iterator[None]:
    """Make the clock stand still at ``instant`` (aware) for the duration of the block."""
    if instant.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    global _source
    previous = _source
    _source = lambda: instant  # noqa: E731 — the simplest stand-in clock
    try:
        yield
    finally:
        _source = previous
