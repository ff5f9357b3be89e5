"""Today's date in Japan, as a FastAPI dependency so that tests can set the day (application periods)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

JST = ZoneInfo("Asia/Tokyo")


def today() -> dt.date:
    """Return today's date in Japan (the day an application is made)."""
    return dt.datetime.now(JST).date()


TodayDep = Annotated[dt.date, Depends(today)]
