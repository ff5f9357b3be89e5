"""Schemathesis drives every route of the OpenAPI schema in process, on both databases.

Each operation is called with a key of a role it admits, so the fuzzing reaches the logic
behind the door, not only the 401. New routes are covered without changing this file.

Two phases: valid data (``positive``: no server error, responses keep the schema) and invalid
data (``negative``: every request that breaks the schema is refused with a 4xx problem detail,
never a 500). The example counts keep the whole file at a few minutes on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy.orm import Session

from pmh.app import all_routes, create_app
from pmh.cards import service as cards
from pmh.deps import get_session
from pmh.resident import service as resident
from pmh.resident.schemas import ResidentSessionCreate
from pmh.settings import get_settings
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
POSITIVE_EXAMPLES = 30
NEGATIVE_EXAMPLES = 10


def _schema(mode: str) -> schemathesis.BaseSchema:
    # Valid by the schema is not always valid by the rules (a payer number's check digit, a program
    # the municipality does not run): a 4xx problem for those is right, so positive data is not
    # required to be accepted. NUL is refused by design (pmh.bodyguard), so only invalid data has it.
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"mode": mode, "allow-x00": mode == "negative"},
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", APP, config=config)


# Drawing the participation map takes about a second a call: it gets a few examples of its own.
SLOW = "^/api/v1/stats/participation/map$"
SLOW_EXAMPLES = 4
positive = _schema("positive")
negative = _schema("negative")


@pytest.fixture
def fuzz_app(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    # One client sends every case; schemathesis' own wrong-key probes must meet 401, not the limit.
    monkeypatch.setenv("PMH_LIMIT_API_KEY_PER_CLIENT", "1000000")
    get_settings.cache_clear()

    def _session() -> Iterator[Session]:
        with db_session.begin_nested():
            yield db_session

    APP.dependency_overrides[get_session] = _session
    APP.state.keys_by_role = _keys_by_role(db_session)
    yield APP
    APP.dependency_overrides.clear()


def _headers_for(app: FastAPI, method: str, path: str) -> dict[str, str]:
    for full_path, route in all_routes(app):
        if full_path == path and method.upper() in route.methods:
            roles = route_access(route)
            if roles and roles != PUBLIC:
                return f.bearer(app.state.keys_by_role[roles[0]])
    return {}


def test_every_operation_is_called_with_a_key_it_admits() -> None:
    # Without this the fuzzing would see nothing but 401s.
    operations = [(method, path) for path, methods in APP.openapi()["paths"].items() for method in methods]
    without_key = [f"{method.upper()} {path}" for method, path in operations if not _headers_for_roles(method, path)]
    assert len(operations) > 30
    assert sorted(without_key) == [  # the public operations
        "GET /api/v1/directory/institutions",
        "GET /api/v1/directory/municipalities",
        "GET /api/v1/subsidy/quote",
        "POST /api/v1/codes/check",
        "POST /api/v1/resident-sessions",  # the resident signs in with the card: nothing to hold before
    ]


def _headers_for_roles(method: str, path: str) -> tuple[str, ...] | None:
    for full_path, route in all_routes(APP):
        if full_path == path and method.upper() in route.methods:
            roles = route_access(route)
            return roles if roles and roles != PUBLIC else None
    return None


@positive.exclude(path_regex=SLOW).parametrize()
@settings(max_examples=POSITIVE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_keeps_its_schema(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(headers=_headers_for(fuzz_app, case.method, case.path))


@positive.include(path_regex=SLOW).parametrize()
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_slow_operations_never_error(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    case.call_and_validate(headers=_headers_for(fuzz_app, case.method, case.path))


@negative.exclude(path_regex=SLOW).parametrize()
@settings(max_examples=NEGATIVE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_invalid_input_is_a_4xx_problem_never_a_server_error(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    _refused_as_a_problem(case, fuzz_app)


@negative.include(path_regex=SLOW).parametrize()
@settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_invalid_input_to_slow_operations_is_a_4xx_problem(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    _refused_as_a_problem(case, fuzz_app)


def _refused_as_a_problem(case: schemathesis.Case, fuzz_app: FastAPI) -> None:
    response = case.call(headers=_headers_for(fuzz_app, case.method, case.path))
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]  # schemathesis: every value a list
        assert content_type[0].startswith("application/problem+json"), response.text[:200]
