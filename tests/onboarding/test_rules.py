"""Pure rules of the onboarding readiness: the PIA guideline's thresholds and the deadline states."""

from __future__ import annotations

import datetime as dt

import pytest

from pmh.onboarding import rules
from pmh.onboarding.service import formula_safe


@pytest.mark.parametrize(
    ("people", "handlers", "incident", "expected"),
    [
        (0, None, False, "none"),
        (999, 10_000, True, "none"),  # under 1,000 people nothing is mandatory, whatever else
        (1_000, None, False, "basic"),
        (1_000, 500, True, "basic"),  # handlers and incidents change nothing below 10,000
        (9_999, 10_000, True, "basic"),  # 1,000–9,999: 基礎項目 only, whatever else
        (10_000, None, False, "basic"),
        (10_000, 499, False, "basic"),
        (10_000, 500, False, "priority"),
        (10_000, None, True, "priority"),
        (99_999, 499, False, "basic"),
        (99_999, 500, False, "priority"),
        (100_000, None, False, "priority"),
        (100_000, 499, False, "priority"),
        (100_000, 500, False, "full"),
        (100_000, None, True, "full"),
        (299_999, 499, False, "priority"),
        (299_999, 500, False, "full"),
        (299_999, None, True, "full"),  # a serious incident in the past year, few handlers
        (299_999, 499, True, "full"),
        (300_000, None, False, "full"),
        (300_000, 1, False, "full"),  # from 300,000 people always 全項目, whatever the handlers
        (15_000_000, 1, False, "full"),
    ],
)
def test_pia_threshold_test_of_the_guideline(people: int, handlers: int | None, incident: bool, expected: str) -> None:
    assert rules.suggested_evaluation(people, handlers, incident) == expected


def test_pia_revision_is_needed_only_for_a_finished_evaluation_on_the_digital_agency_template() -> None:
    assert rules.pia_revision_needed("done", "digital_agency")
    assert not rules.pia_revision_needed("done", "revised")
    assert not rules.pia_revision_needed("in_progress", "digital_agency")
    assert not rules.pia_revision_needed("done", None)
    assert dt.date(2027, 4, 1) == rules.PIA_REVISION_DEADLINE


DUE = dt.date(2026, 10, 31)


@pytest.mark.parametrize(
    ("status", "today", "expected"),
    [
        ("not_started", DUE + dt.timedelta(days=1), "late"),
        ("in_progress", DUE + dt.timedelta(days=200), "late"),
        ("not_started", DUE, "due_soon"),  # the due date itself is still in time
        ("not_started", DUE - dt.timedelta(days=30), "due_soon"),
        ("in_progress", DUE - dt.timedelta(days=31), None),
        ("done", DUE + dt.timedelta(days=1), None),
        ("not_required", DUE + dt.timedelta(days=1), None),
        ("done", DUE - dt.timedelta(days=3), None),
    ],
)
def test_deadline_states(status: str, today: dt.date, expected: str | None) -> None:
    assert rules.deadline_state(status, DUE, today) == expected


def test_a_step_without_a_deadline_is_never_late() -> None:
    assert rules.deadline_state("not_started", None, dt.date(2099, 1, 1)) is None


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+81", "'+81"),
        ("-3", "'-3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("八王子市", "八王子市"),
    ],
)
def test_csv_cells_are_formula_safe(cell: str, safe: str) -> None:
    assert formula_safe(cell) == safe
