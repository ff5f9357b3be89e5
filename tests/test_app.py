"""The app shell: OpenAPI, pages, problem details, and every route declaring who may call it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pmh.app import API_PREFIX, all_routes, create_app
from tests.routes import route_access


def test_every_api_route_declares_roles_or_public() -> None:
    routes = [(path, route) for path, route in all_routes(create_app()) if path.startswith(API_PREFIX)]
    assert len(routes) > 30  # the walk reaches into included routers
    undeclared = [f"{sorted(route.methods)} {path}" for path, route in routes if route_access(route) is None]
    assert undeclared == []


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "http://" not in docs.text and "https://" not in docs.text  # nothing from a CDN
    assert client.get("/static/apidocs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/apidocs/swagger-ui.css").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/v1/me" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_public_top_page_is_japanese(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text and "職員ログイン" in page.text


def test_invalid_body_is_a_422_problem_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/codes/check", json={"value": "1", "kind": "nonsense"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert [e["field"] for e in problem["errors"]] == ["kind"]


def test_codes_check_over_http_explains_a_wrong_check_digit(client: TestClient) -> None:
    body = client.post("/api/v1/codes/check", json={"value": "54016028", "kind": "payer"}).json()
    assert body["valid"] is False and body["expected_check_digit"] == 7
