"""The operator area's API routers, mounted under ``/api/v1`` by ``app.py``."""

from __future__ import annotations

from fastapi import APIRouter

from pmh.operator.contracts import api as contracts_api
from pmh.operator.directory import api as directory_api
from pmh.operator.fees import api as fees_api
from pmh.operator.stats import api as stats_api
from pmh.operator.subsidy import api as subsidy_api

router = APIRouter()
for area in (fees_api, contracts_api, stats_api, subsidy_api, directory_api):
    router.include_router(area.router)
