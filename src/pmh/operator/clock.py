"""Today's date in Japan, as a FastAPI dependency so that tests can set the day (application periods)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends

from pmh import clock
from pmh.clock import JST

__all__ = ["JST", "TodayDep", "today"]


def today() -> dt.date:
    """Return today's date in Japan (the day an application is made), from the hub's clock."""
    return clock.today()


TodayDep = Annotated[dt.date, Depends(today)]
