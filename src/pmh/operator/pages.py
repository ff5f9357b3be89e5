"""The operator area's pages: operator staff pages, the institution's subsidy form, the public directory."""

from __future__ import annotations

from fastapi import APIRouter

from pmh.operator.contracts import pages as contracts_pages
from pmh.operator.directory import pages as directory_pages
from pmh.operator.fees import pages as fees_pages
from pmh.operator.stats import pages as stats_pages
from pmh.operator.subsidy import pages as subsidy_pages

router = APIRouter(include_in_schema=False)
for area in (fees_pages, contracts_pages, stats_pages, subsidy_pages, directory_pages):
    router.include_router(area.router)
