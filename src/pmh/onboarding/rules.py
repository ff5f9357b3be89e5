"""Pure rules of the onboarding readiness: step and status names, PIA thresholds, deadline states — no I/O."""

from __future__ import annotations

import datetime as dt
from typing import Literal

Step = Literal["intent", "budget", "pia", "ordinance", "contract", "test_upload", "go_live"]
Status = Literal["not_started", "in_progress", "done", "not_required"]
STEPS: tuple[Step, ...] = ("intent", "budget", "pia", "ordinance", "contract", "test_upload", "go_live")
REPORTED_STEPS: tuple[Step, ...] = ("intent", "budget", "pia", "ordinance")
DERIVED_STEPS: tuple[Step, ...] = ("contract", "test_upload", "go_live")
STATUSES: tuple[Status, ...] = ("not_started", "in_progress", "done", "not_required")
FINISHED: frozenset[str] = frozenset({"done", "not_required"})

STEP_LABELS: dict[str, str] = {
    "intent": "参加意向（意向等調査）",
    "budget": "予算（運営負担金・新規導入費用）",
    "pia": "特定個人情報保護評価（PIA）",
    "ordinance": "条例・要綱の改正",
    "contract": "委託契約",
    "test_upload": "接続試験（初回登録）",
    "go_live": "本番運用開始",
}
STATUS_LABELS: dict[str, str] = {
    "not_started": "未着手",
    "in_progress": "対応中",
    "done": "完了",
    "not_required": "対応不要",
}
DERIVED_SOURCES: dict[str, str] = {
    "contract": "委任状と都道府県の委託契約から",
    "test_upload": "初回の受給者証登録（適用済み）から",
    "go_live": "制度の開始日と医療機関からの初回照会から",
}

PiaTemplate = Literal["digital_agency", "revised"]
PiaEvaluation = Literal["basic", "priority", "full"]
PIA_TEMPLATES: dict[str, str] = {"digital_agency": "デジ庁ひな形", "revised": "修正ひな形"}
PIA_EVALUATIONS: dict[str, str] = {"basic": "基礎項目評価", "priority": "重点項目評価", "full": "全項目評価"}
SUGGESTION_LABELS: dict[str, str] = {
    "none": "評価の義務なし（任意）",
    "basic": "基礎項目評価",
    "priority": "基礎項目評価＋重点項目評価",
    "full": "基礎項目評価＋全項目評価",
}
PIA_REVISION_DEADLINE = dt.date(2027, 4, 1)
"""Evaluations made with the Digital Agency's template are revised with the 修正ひな形 by this date."""
REVISED_TEMPLATE_FROM_YEAR = 2027
"""Programs introduced from FY2027 evaluate with the 修正ひな形 directly."""

# The 特定個人情報保護評価指針 (平成26年特定個人情報保護委員会告示第4号), 第5 2 しきい値判断: the number
# of people in the file, its handlers and a serious incident. Which rows were confirmed against
# published text, with the sources, is in docs/onboarding.md.
PIA_MANDATORY_FROM = 1_000
PIA_PRIORITY_FROM = 10_000
PIA_FULL_TIER_FROM = 100_000
PIA_FULL_FROM = 300_000
PIA_MANY_HANDLERS = 500

DUE_SOON_DAYS = 30


def suggested_evaluation(people: int, handlers: int | None = None, serious_incident: bool = False) -> str:
    """Return the evaluation the PIA guideline's threshold test (しきい値判断) requires for a file.

    ``people`` is the number of people in the file (対象人数), ``handlers`` the staff and
    contractors handling it (取扱者数), ``serious_incident`` a serious incident (重大事故) in the past
    year. ``none``: under 1,000 people, not mandatory; ``basic``: 基礎項目評価; ``priority``: 基礎項目 +
    重点項目評価; ``full``: 基礎項目 + 全項目評価.
    """
    heavier = (handlers is not None and handlers >= PIA_MANY_HANDLERS) or serious_incident
    if people < PIA_MANDATORY_FROM:
        return "none"
    if people < PIA_PRIORITY_FROM:
        return "basic"
    if people < PIA_FULL_TIER_FROM:
        return "priority" if heavier else "basic"
    if people < PIA_FULL_FROM:
        return "full" if heavier else "priority"
    return "full"


def pia_revision_needed(status: str, template: str | None) -> bool:
    """Whether a PIA done with the Digital Agency's template must still be revised by 2027-04-01."""
    return status == "done" and template == "digital_agency"


def deadline_state(status: str, due_on: dt.date | None, today: dt.date) -> str | None:
    """Return ``late`` (past its due date, not finished), ``due_soon`` (due within 30 days) or None.

    A step that is done or not required is never late; the due date itself is still in time.
    """
    if due_on is None or status in FINISHED:
        return None
    if today > due_on:
        return "late"
    if (due_on - today).days <= DUE_SOON_DAYS:
        return "due_soon"
    return None
