"""Schemathesis drives every route of the OpenAPI schema in process, on both databases.

Each operation is called with a key of a role it admits, so the fuzzing reaches the logic
behind the door, not only the 401. New routes are covered without changing this file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from pmh.app import create_app
from pmh.cards import service as cards
from pmh.deps import get_session
from pmh.resident import service as resident
from pmh.resident.schemas import ResidentSessionCreate
from tests import factories as f
from tests.routes import PUBLIC, route_access


def _keys_by_role(session: Session) -> dict[str, str]:
    clinic = f.institution(session)
    card = cards.issue_card(session, f.my_number(303), "1234")
    resident_token = resident.open_session(session, ResidentSessionCreate(card_serial=card.card_serial, pin="1234"))
    return {
        "resident": resident_token.token,
        "municipality": f.api_key(session, f.municipality(session), "municipality"),
        "institution": f.api_key(session, clinic, "institution"),
        "card_reader": f.api_key(session, clinic, "card_reader"),
        "operator": f.api_key(session, f.operator(session), "operator"),
    }


# The schema is read from an app built at import time; each test points its database at the
# test's transaction (both backends) through the dependency override.
APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture
def fuzz_app(db_session: Session) -> Iterator[FastAPI]:
    def _session() -> Iterator[Session]:
        with db_session.begin_nested():
            yield db_session

    APP.dependency_overrides[get_session] = _session
    APP.state.keys_by_role = _keys_by_role(db_session)
    yield APP
    APP.dependency_overrides.clear()


def _headers_for(app: FastAPI, method: str, path: str) -> dict[str, str]:
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path == path and method.upper() in route.methods:
            roles = route_access(route)
            if roles and roles != PUBLIC:
                return f.bearer(app.state.keys_by_role[roles[0]])
    return {}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_keeps_its_schema(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(headers=_headers_for(fuzz_app, case.method, case.path))
