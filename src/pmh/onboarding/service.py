"""Onboarding readiness (準備状況) of each municipality's programs, with deadlines and PIA help.

- A municipality reports ``intent``, ``budget``, ``pia`` and ``ordinance``; ``ordinance`` is not
  required for national 公費 programs (the ministry amends their laws). Reports are kept per fiscal
  year of the schedule (2026 = 令和8年度, the year that prepares the April 2027 move).
- ``contract``, ``test_upload`` and ``go_live`` are derived from what the hub observes (delegations
  and prefecture contracts, the first applied upload, the program's start and the first eligibility
  read) and can never be typed.
- A municipality reads and writes its own steps, a prefecture reads its municipalities' (and writes
  its own), the operator reads and writes all. Every change is audited.
- Deadlines are data per fiscal year (``onboarding_deadlines``, seeded from the ministry's
  schedule); ``test_upload`` and ``go_live`` are due on the program's start date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh import csvfiles
from pmh.audit import service as audit
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.codes.prefectures import prefecture_name
from pmh.eligibility import result as eligibility_result
from pmh.errors import FieldError, InvalidInput, NotFound, NotPermitted
from pmh.onboarding import rules
from pmh.onboarding.models import OnboardingDeadline, OnboardingStep
from pmh.operator.contracts import service as contracts
from pmh.reference import catalogue
from pmh.registry import participation

JST = ZoneInfo("Asia/Tokyo")
SCHEDULE_SOURCE = "医療費助成のオンライン資格確認 自治体説明会（令和8年6月9日）「想定対応スケジュール」"


def _jst_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(JST).date()


@dataclass
class StepState:
    """One step of one program: its status, date and note, whether it was derived, and its deadline."""

    step: str
    status: str
    date: dt.date | None = None
    note: str | None = None
    derived: bool = False
    due_on: dt.date | None = None
    deadline: str | None = None  # late | due_soon | None

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of one step."""
        return {
            "step": self.step,
            "status": self.status,
            "date": self.date.isoformat() if self.date else None,
            "note": self.note,
            "derived": self.derived,
            "source": rules.DERIVED_SOURCES.get(self.step) if self.derived else None,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "deadline": self.deadline,
        }


@dataclass
class PiaHelp:
    """What was done for the PIA, what the guideline's thresholds suggest, and whether to revise it."""

    template: str | None
    evaluation: str | None
    people: int
    suggested: str
    revise_by: dt.date | None
    warning: str | None = None

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of the PIA help."""
        return {
            "template": self.template,
            "evaluation": self.evaluation,
            "people": self.people,
            "suggested_evaluation": self.suggested,
            "revise_by": self.revise_by.isoformat() if self.revise_by else None,
            "warning": self.warning,
        }


@dataclass
class Readiness:
    """One municipality's program on its way to go-live: every step and the PIA help."""

    municipality_code: str
    municipality_name: str
    prefecture_code: str
    program_code: str
    program_name: str
    local: bool
    registered: bool
    start_date: dt.date | None
    planned_recipients: int
    steps: dict[str, StepState]
    pia: PiaHelp

    def as_json(self) -> dict[str, object]:
        """Return the ``GET /onboarding`` / ``pmh onboarding status --json`` shape of one row."""
        return {
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "prefecture_code": self.prefecture_code,
            "program_code": self.program_code,
            "program_name": self.program_name,
            "local": self.local,
            "registered": self.registered,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "planned_recipients": self.planned_recipients,
            "steps": {name: state.as_json() for name, state in self.steps.items()},
            "pia": self.pia.as_json(),
        }


@dataclass
class DueItem:
    """A step that is late or due within 30 days."""

    municipality_code: str
    municipality_name: str
    prefecture_code: str
    program_code: str
    step: str
    status: str
    due_on: dt.date
    state: str

    def as_json(self) -> dict[str, object]:
        """Return the JSON shape of one overdue or due-soon step."""
        return {
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "prefecture_code": self.prefecture_code,
            "program_code": self.program_code,
            "step": self.step,
            "status": self.status,
            "due_on": self.due_on.isoformat(),
            "deadline": self.state,
        }


@dataclass
class Overview:
    """Everything the API, the dashboard and ``pmh onboarding status`` show for a fiscal year."""

    fiscal_year: int
    today: dt.date
    rows: list[Readiness]
    deadlines: list[OnboardingDeadline] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Return, per step, how many programs are in each status."""
        table: dict[str, dict[str, int]] = {step: dict.fromkeys(rules.STATUSES, 0) for step in rules.STEPS}
        for row in self.rows:
            for step, state in row.steps.items():
                table[step][state.status] += 1
        return table

    def by_prefecture(self) -> list[dict[str, object]]:
        """Return, per prefecture with rows, the counts of finished steps (done or not required)."""
        groups: dict[str, list[Readiness]] = {}
        for row in self.rows:
            groups.setdefault(row.prefecture_code, []).append(row)
        table: list[dict[str, object]] = []
        for code in sorted(groups):
            rows = groups[code]
            finished = {step: sum(1 for r in rows if r.steps[step].status in rules.FINISHED) for step in rules.STEPS}
            late = sum(1 for r in rows for s in r.steps.values() if s.deadline == "late")
            table.append(
                {
                    "prefecture_code": code,
                    "prefecture_name": prefecture_name(code),
                    "programs": len(rows),
                    "municipalities": len({r.municipality_code for r in rows}),
                    "finished": finished,
                    "late": late,
                }
            )
        return table

    def due(self) -> list[DueItem]:
        """Return every late or due-soon step, late ones first, then by due date."""
        items = [
            DueItem(
                row.municipality_code,
                row.municipality_name,
                row.prefecture_code,
                row.program_code,
                state.step,
                state.status,
                state.due_on,
                state.deadline,
            )
            for row in self.rows
            for state in row.steps.values()
            if state.deadline is not None and state.due_on is not None
        ]
        items.sort(key=lambda i: (i.state != "late", i.due_on, i.municipality_code, i.program_code, i.step))
        return items

    def as_json(self) -> dict[str, object]:
        """Return the ``GET /onboarding`` / ``pmh onboarding status --json`` shape."""
        return {
            "fiscal_year": self.fiscal_year,
            "today": self.today.isoformat(),
            "counts": self.counts(),
            "by_prefecture": self.by_prefecture(),
            "due": [item.as_json() for item in self.due()],
            "deadlines": [deadline_json(d) for d in self.deadlines],
            "rows": [row.as_json() for row in self.rows],
        }


def deadline_json(deadline: OnboardingDeadline) -> dict[str, object]:
    """Return the JSON shape of one deadline."""
    return {
        "fiscal_year": deadline.fiscal_year,
        "step": deadline.step,
        "opens_on": deadline.opens_on.isoformat() if deadline.opens_on else None,
        "due_on": deadline.due_on.isoformat(),
        "label": deadline.label,
        "source": deadline.source,
    }


# --- scoping ----------------------------------------------------------------------------------


def _caller_body(caller: Caller) -> catalogue.Municipality | None:
    if caller.role != "municipality":
        return None
    try:
        return catalogue.municipality(caller.organisation_code)
    except KeyError:
        return None


def visible_prefecture(caller: Caller, prefecture: str | None) -> tuple[str | None, str | None]:
    """Return the (prefecture filter, municipality filter) a caller may read with.

    The operator reads everything (optionally one prefecture); a prefecture reads its own
    municipalities and itself; any other municipality reads only itself. Asking for another
    prefecture is refused.
    """
    if caller.role == "operator":
        return prefecture, None
    body = _caller_body(caller)
    if body is None:
        raise NotPermitted("準備状況は自治体・運営主体のみが参照できます。")
    if prefecture is not None and prefecture != body.prefecture_code:
        raise NotPermitted("他の都道府県の準備状況は参照できません。")
    if body.is_prefecture:
        return body.prefecture_code, None
    return body.prefecture_code, body.code


def _check_writer(caller: Caller, municipality_code: str) -> None:
    if caller.role == "operator":
        return
    if caller.role != "municipality" or caller.organisation_code != municipality_code:
        raise NotPermitted("準備状況は自治体が自ら報告します（他の自治体の手順は更新できません）。")


# --- derived steps ----------------------------------------------------------------------------


@dataclass
class _Observed:
    """What the hub observes, read once per listing through the other areas' services."""

    programs: dict[tuple[str, str], participation.RegisteredProgram]
    uploads: dict[int, dt.datetime]
    reads: dict[int, dt.datetime]
    people: dict[int, int]
    contracts: dict[tuple[str, str], tuple[str, dt.date | None]]  # (body, program) -> (status, date)


def _contract_lines(session: Session, fy: int) -> dict[tuple[str, str], tuple[str, dt.date | None]]:
    """Return, per (body, program), the contract state for the contract year that follows ``fy``.

    The schedule of fiscal year N prepares the contract of N+1 (signed in March). A line of a built
    contract is ``done``; a line of a draft (delegated, or the prefecture's own program) or one deferred
    to the next update is ``in_progress``.
    """
    year = fy + 1
    if year < contracts.FIRST_CONTRACT_YEAR:
        return {}
    lines: dict[tuple[str, str], tuple[str, dt.date | None]] = {}
    for contract in contracts.contracts_for(session, year):
        built_on = _jst_date(contract.built_at) if contract.built_at else None
        for line in contract.programs:
            lines[line] = ("done", built_on) if contract.status == "built" else ("in_progress", None)
        for line in contract.deferred:
            lines.setdefault(line, ("in_progress", None))
    return lines


def _observe(session: Session, fy: int) -> _Observed:
    programs = {(p.municipality_code, p.program_code): p for p in participation.registered_programs(session)}
    return _Observed(
        programs=programs,
        uploads=participation.first_applied_uploads(session),
        reads=eligibility_result.first_reads_by_program(session),
        people=participation.people_per_program(session),
        contracts=_contract_lines(session, fy),
    )


def derive_contract(observed: _Observed, fy: int, body: str, program: str) -> StepState:
    """Derive the contract step: done when the next year's built contract lists the program."""
    status, on = observed.contracts.get((body, program), ("not_started", None))
    note = None
    if status == "in_progress":
        note = f"{fy + 1}年度の契約書別紙に記載予定（委任状提出済み、または契約作成前）"
    elif status == "not_started":
        note = "委任状・契約書別紙に未記載"
    return StepState("contract", status, on, note, derived=True)


def derive_test_upload(observed: _Observed, program: participation.RegisteredProgram | None) -> StepState:
    """Derive the connection-test step: done on the day of the program's first applied upload."""
    if program is None:
        return StepState("test_upload", "not_started", note="制度が未登録", derived=True)
    first = observed.uploads.get(program.program_id)
    if first is None:
        return StepState("test_upload", "not_started", note="受給者証の登録なし", derived=True)
    return StepState("test_upload", "done", _jst_date(first), derived=True)


def derive_go_live(observed: _Observed, program: participation.RegisteredProgram | None, today: dt.date) -> StepState:
    """Derive the go-live step: done once the program has started and an institution has read it."""
    if program is None:
        return StepState("go_live", "not_started", note="制度が未登録", derived=True)
    first = observed.reads.get(program.program_id)
    if program.start_date > today:
        return StepState("go_live", "in_progress", note=f"開始日 {program.start_date.isoformat()}", derived=True)
    if first is None:
        return StepState("go_live", "in_progress", note="医療機関からの初回照会待ち", derived=True)
    return StepState("go_live", "done", max(program.start_date, _jst_date(first)), derived=True)


# --- listing ----------------------------------------------------------------------------------


def deadlines(session: Session, fy: int) -> list[OnboardingDeadline]:
    """Return the deadlines set for a fiscal year, in step order."""
    found = {d.step: d for d in session.scalars(select(OnboardingDeadline).where(OnboardingDeadline.fiscal_year == fy))}
    return [found[step] for step in rules.STEPS if step in found]


def _program_entry(code: str) -> catalogue.Program | None:
    try:
        return catalogue.program(code)
    except KeyError:
        return None


def _row(
    fy: int,
    body: catalogue.Municipality,
    program_code: str,
    reported: dict[str, OnboardingStep],
    observed: _Observed,
    due: dict[str, dt.date],
    today: dt.date,
) -> Readiness:
    entry = _program_entry(program_code)
    local = bool(entry.local) if entry else True
    program = observed.programs.get((body.code, program_code))
    steps: dict[str, StepState] = {}
    for step in rules.REPORTED_STEPS:
        stored = reported.get(step)
        if step == "ordinance" and not local:
            steps[step] = StepState(
                step, "not_required", note="国の公費負担医療は法令改正で対応（条例対応不要）", derived=True
            )
        elif stored is None:
            steps[step] = StepState(step, "not_started")
        else:
            steps[step] = StepState(step, stored.status, stored.done_on, stored.note)
    steps["contract"] = derive_contract(observed, fy, body.code, program_code)
    steps["test_upload"] = derive_test_upload(observed, program)
    steps["go_live"] = derive_go_live(observed, program, today)
    for name, state in steps.items():
        if name in ("test_upload", "go_live"):
            state.due_on = program.start_date if program else None
        else:
            state.due_on = due.get(name)
        state.deadline = rules.deadline_state(state.status, state.due_on, today)
    people = max(program.planned_recipients, observed.people.get(program.program_id, 0)) if program else 0
    pia_row = reported.get("pia")
    template = pia_row.pia_template if pia_row else None
    warning = None
    introduced = fiscal_year_of(program.start_date) if program else None
    if template == "digital_agency" and introduced is not None and introduced >= rules.REVISED_TEMPLATE_FROM_YEAR:
        warning = "令和9年度以降に導入する制度は修正ひな形で評価します。"
    pia = PiaHelp(
        template=template,
        evaluation=pia_row.pia_evaluation if pia_row else None,
        people=people,
        suggested=rules.suggested_evaluation(people),
        revise_by=rules.PIA_REVISION_DEADLINE
        if pia_row and rules.pia_revision_needed(pia_row.status, template)
        else None,
        warning=warning,
    )
    return Readiness(
        municipality_code=body.code,
        municipality_name=body.name,
        prefecture_code=body.prefecture_code,
        program_code=program_code,
        program_name=entry.name if entry else program_code,
        local=local,
        registered=program is not None,
        start_date=program.start_date if program else None,
        planned_recipients=program.planned_recipients if program else 0,
        steps=steps,
        pia=pia,
    )


def overview(
    session: Session,
    caller: Caller,
    fy: int,
    today: dt.date,
    prefecture: str | None = None,
    municipality: str | None = None,
) -> Overview:
    """Return the readiness of every program the caller may see for fiscal year ``fy``.

    The programs listed are those registered in the hub and those with a reported step in the year.
    """
    pref_filter, own = visible_prefecture(caller, prefecture)
    if municipality is not None:
        if own is not None and municipality != own:
            raise NotPermitted("他の自治体の準備状況は参照できません。")
        own = municipality
    observed = _observe(session, fy)
    reported: dict[tuple[str, str], dict[str, OnboardingStep]] = {}
    for row in session.scalars(select(OnboardingStep).where(OnboardingStep.fiscal_year == fy)):
        reported.setdefault((row.municipality_code, row.program_code), {})[row.step] = row
    keys = set(observed.programs) | set(reported)
    year_deadlines = deadlines(session, fy)
    due = {d.step: d.due_on for d in year_deadlines}
    rows: list[Readiness] = []
    for body_code, program_code in sorted(keys):
        try:
            body = catalogue.municipality(body_code)
        except KeyError:
            continue
        if pref_filter is not None and body.prefecture_code != pref_filter:
            continue
        if own is not None and body.code != own:
            continue
        rows.append(_row(fy, body, program_code, reported.get((body_code, program_code), {}), observed, due, today))
    return Overview(fy, today, rows, year_deadlines)


def readiness_of(
    session: Session, caller: Caller, fy: int, today: dt.date, municipality_code: str, program_code: str
) -> Readiness:
    """Return one program's readiness, or NotFound when the caller may not see it or it is not tracked."""
    for row in overview(session, caller, fy, today, municipality=municipality_code).rows:
        if row.program_code == program_code:
            return row
    raise NotFound(f"{municipality_code} の制度 {program_code} の準備状況はありません。")


# --- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepReport:
    """What a municipality reports for one step."""

    status: str
    date: dt.date | None = None
    note: str | None = None
    pia_template: str | None = None
    pia_evaluation: str | None = None


def _refuse(field_name: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldError(field_name, code, message)])


def _checked(body_code: str, program_code: str, step: str, report: StepReport) -> tuple[catalogue.Municipality, bool]:
    if step in rules.DERIVED_STEPS:
        raise _refuse(
            "step",
            "derived_step",
            f"「{rules.STEP_LABELS[step]}」はPMHが{rules.DERIVED_SOURCES[step]}判定するため入力できません。",
        )
    if step not in rules.REPORTED_STEPS:
        raise _refuse("step", "unknown_step", f"手順「{step}」はありません（{', '.join(rules.STEPS)}）。")
    try:
        body = catalogue.municipality(body_code)
    except KeyError as exc:
        raise _refuse("municipality_code", "unknown_municipality", str(exc)) from None
    try:
        entry = catalogue.program(program_code)
    except KeyError as exc:
        raise _refuse("program_code", "unknown_program", str(exc)) from None
    refusal = catalogue.implementing_body_refusal(entry, body)
    if refusal:
        raise _refuse("program_code", "implementing_body", refusal)
    if report.status not in rules.STATUSES:
        raise _refuse(
            "status", "invalid_status", f"状態「{report.status}」は {', '.join(rules.STATUSES)} のいずれかです。"
        )
    if step == "ordinance" and not entry.local and report.status != "not_required":
        raise _refuse("status", "ordinance_not_required", f"{entry.name}は国の公費負担医療のため条例対応は不要です。")
    if report.status == "done" and report.date is None:
        raise _refuse("date", "required", "完了した手順には完了日を入力してください。")
    if report.note is not None and len(report.note) > 1000:
        raise _refuse("note", "too_long", "備考は1000文字までです。")
    if step != "pia" and (report.pia_template or report.pia_evaluation):
        raise _refuse("pia_template", "pia_only", "ひな形と評価の種類はPIAの手順にのみ入力します。")
    if report.pia_template is not None and report.pia_template not in rules.PIA_TEMPLATES:
        raise _refuse(
            "pia_template", "invalid_template", "ひな形は digital_agency（デジ庁ひな形）か revised（修正ひな形）です。"
        )
    if report.pia_evaluation is not None and report.pia_evaluation not in rules.PIA_EVALUATIONS:
        raise _refuse("pia_evaluation", "invalid_evaluation", "評価の種類は basic・priority・full のいずれかです。")
    return body, entry.local


def set_step(
    session: Session,
    caller: Caller,
    fy: int,
    municipality_code: str,
    program_code: str,
    step: str,
    report: StepReport,
) -> OnboardingStep:
    """Record a municipality's report of one step (only its own; the operator may record any); audited."""
    _check_writer(caller, municipality_code)
    body, _ = _checked(municipality_code, program_code, step, report)
    if not 2000 <= fy <= 2100:
        raise _refuse("fiscal_year", "invalid_fiscal_year", "年度は西暦で指定してください。")
    row = session.scalar(
        select(OnboardingStep).where(
            OnboardingStep.fiscal_year == fy,
            OnboardingStep.municipality_code == body.code,
            OnboardingStep.program_code == program_code,
            OnboardingStep.step == step,
        )
    )
    before = None if row is None else {"status": row.status, "date": row.done_on, "note": row.note}
    if row is None:
        row = OnboardingStep(
            fiscal_year=fy, municipality_code=body.code, program_code=program_code, step=step, status=report.status
        )
        session.add(row)
    row.status = report.status
    row.done_on = report.date
    row.note = report.note
    row.pia_template = report.pia_template
    row.pia_evaluation = report.pia_evaluation
    row.updated_by = caller.actor
    session.flush()
    audit.record(
        session,
        caller,
        "onboarding.set",
        "onboarding_step",
        f"{fy}:{body.code}:{program_code}:{step}",
        {
            "before": before,
            "status": report.status,
            "date": report.date,
            "note": report.note,
            "pia_template": report.pia_template,
            "pia_evaluation": report.pia_evaluation,
        },
    )
    return row


# --- deadlines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledDeadline:
    """One line of the packaged schedule (``data/deadlines.csv``)."""

    fiscal_year: int
    step: str
    opens_on: dt.date | None
    due_on: dt.date
    label: str
    source: str


@cache
def schedule() -> tuple[ScheduledDeadline, ...]:
    """Return the packaged deadlines taken from the ministry's schedule."""
    text = resources.files("pmh.onboarding").joinpath("data/deadlines.csv").read_text(encoding="utf-8")
    return tuple(
        ScheduledDeadline(
            int(r["fiscal_year"]),
            r["step"],
            dt.date.fromisoformat(r["opens_on"]) if r["opens_on"] else None,
            dt.date.fromisoformat(r["due_on"]),
            r["label"],
            r["source"],
        )
        for r in csv.DictReader(io.StringIO(text))
    )


def set_deadline(
    session: Session,
    caller: Caller,
    fy: int,
    step: str,
    due_on: dt.date,
    label: str,
    opens_on: dt.date | None = None,
    source: str = "運営主体が設定",
) -> OnboardingDeadline:
    """Set (or move) one step's deadline for a fiscal year (operator only); audited."""
    if caller.role != "operator":
        raise NotPermitted("期限は運営主体のみが設定できます。")
    if step not in rules.STEPS or step in ("test_upload", "go_live"):
        raise _refuse(
            "step",
            "no_deadline",
            "期限を設定できる手順は intent, budget, pia, ordinance, contract です（接続試験・本番は制度の開始日）。",
        )
    if opens_on is not None and opens_on > due_on:
        raise _refuse("opens_on", "after_due", "開始日が期限より後です。")
    row = session.scalar(
        select(OnboardingDeadline).where(OnboardingDeadline.fiscal_year == fy, OnboardingDeadline.step == step)
    )
    if row is None:
        row = OnboardingDeadline(
            fiscal_year=fy, step=step, due_on=due_on, label=label, source=source, set_by=caller.actor
        )
        session.add(row)
    row.due_on, row.opens_on, row.label, row.source, row.set_by = due_on, opens_on, label, source, caller.actor
    session.flush()
    audit.record(
        session,
        caller,
        "onboarding.deadline",
        "onboarding_deadline",
        f"{fy}:{step}",
        {"due_on": due_on, "opens_on": opens_on},
    )
    return row


def seed_deadlines(session: Session, caller: Caller, fy: int | None = None) -> list[OnboardingDeadline]:
    """Load the packaged schedule's deadlines (of one fiscal year, or all) into the table; audited."""
    lines = [s for s in schedule() if fy is None or s.fiscal_year == fy]
    if not lines:
        raise NotFound(f"{fy}年度の期限は同梱のスケジュールにありません（pmh onboarding deadlines set で設定）。")
    return [
        set_deadline(session, caller, s.fiscal_year, s.step, s.due_on, s.label, s.opens_on, s.source) for s in lines
    ]


# --- export and statistics --------------------------------------------------------------------

EXPORT_HEADER = (
    "年度",
    "都道府県",
    "自治体コード",
    "自治体名",
    "制度コード",
    "制度名",
    *(f"{rules.STEP_LABELS[s]}" for s in rules.STEPS),
    *(f"{rules.STEP_LABELS[s]}（日付）" for s in rules.STEPS),
    "PIAひな形",
    "PIA評価",
    "PIA推奨",
    "PIA修正期限",
    *(f"{rules.STEP_LABELS[s]}（備考）" for s in rules.REPORTED_STEPS),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(cell: str) -> str:
    """Return a cell that a spreadsheet will not run as a formula (a leading ' before = + - @)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def export_csv(session: Session, caller: Caller, view: Overview) -> str:
    """Return the readiness as CSV text (the edges add the BOM); every cell formula-safe; audited."""
    out = io.StringIO()
    writer = csvfiles.writer(out, lineterminator="\r\n")  # the hub's one formula-safe writer
    writer.writerow(EXPORT_HEADER)
    for row in view.rows:
        cells = [
            str(view.fiscal_year),
            prefecture_name(row.prefecture_code),
            row.municipality_code,
            row.municipality_name,
            row.program_code,
            row.program_name,
            *(rules.STATUS_LABELS[row.steps[s].status] for s in rules.STEPS),
            *(_iso(row.steps[s].date) for s in rules.STEPS),
            rules.PIA_TEMPLATES.get(row.pia.template or "", ""),
            rules.PIA_EVALUATIONS.get(row.pia.evaluation or "", ""),
            rules.SUGGESTION_LABELS[row.pia.suggested],
            row.pia.revise_by.isoformat() if row.pia.revise_by else "",
            *((row.steps[s].note or "") if not row.steps[s].derived else "" for s in rules.REPORTED_STEPS),
        ]
        writer.writerow([formula_safe(c) for c in cells])
    audit.record(session, caller, "onboarding.export", "onboarding", str(view.fiscal_year), {"rows": len(view.rows)})
    return out.getvalue()


def planned_vs_live(session: Session, caller: Caller, fy: int, today: dt.date) -> dict[str, object]:
    """Count bodies (and programs) that intend to join (intent done) against those live (go_live done)."""
    view = overview(session, caller, fy, today)

    def count(step: str) -> dict[str, int]:
        rows = [r for r in view.rows if r.steps[step].status == "done"]
        bodies = {r.municipality_code for r in rows}
        prefectures = sum(1 for code in bodies if catalogue.municipality(code).is_prefecture)
        return {
            "total": len(bodies),
            "prefectures": prefectures,
            "municipalities": len(bodies) - prefectures,
            "programs": len(rows),
        }

    return {"fiscal_year": fy, "planned": count("intent"), "live": count("go_live")}
