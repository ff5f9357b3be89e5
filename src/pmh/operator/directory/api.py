"""Public HTTP edge of the directory: no key needed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pmh.auth.deps import public
from pmh.codes.prefectures import PREFECTURES
from pmh.deps import ReportSessionDep
from pmh.operator.directory import service

router = APIRouter(tags=["directory"], dependencies=[public()])
PREFECTURE_PATTERN = "^(" + "|".join(p.code for p in PREFECTURES) + "|" + "|".join(p.name for p in PREFECTURES) + ")$"
PrefectureQuery = Annotated[
    str | None, Query(pattern=PREFECTURE_PATTERN, description="都道府県（番号 13 または名称 東京都）")
]


@router.get("/directory/municipalities", response_model=list[dict[str, Any]], summary="参加自治体と制度の一覧（公開）")
def municipalities(session: ReportSessionDep, prefecture: PrefectureQuery = None) -> list[dict[str, Any]]:
    """List the participating municipalities and prefectures with the programs they run."""
    return [m.as_json() for m in service.municipalities(session, prefecture)]


@router.get("/directory/institutions", response_model=list[dict[str, Any]], summary="接続医療機関・薬局の一覧（公開）")
def institutions(session: ReportSessionDep, prefecture: PrefectureQuery = None) -> list[dict[str, Any]]:
    """List the institutions connected to the hub, optionally of one prefecture."""
    return list(service.institutions(session, prefecture))
