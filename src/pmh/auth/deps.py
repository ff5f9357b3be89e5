"""FastAPI dependencies that turn a request into a ``Caller`` and enforce each route's roles.

Every API route declares either ``requires(...)`` or ``public()``; a test walks ``app.routes``
and fails on a route that declares neither.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from pmh.auth import limits, service
from pmh.auth.schemas import Caller, Role
from pmh.db import unit_of_work
from pmh.deps import SessionDep, get_session
from pmh.errors import NotAuthenticated
from pmh.settings import get_settings

_bearer = HTTPBearer(auto_error=False, description="組織・ロールごとに発行したAPIキー（`pmh keys create`）")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("Authorization: Bearer <APIキー> を指定してください。")
    return credentials.credentials


def requires(*roles: Role) -> Any:
    """Return a dependency that authenticates the bearer key and admits only the given roles."""

    def caller_with_role(request: Request, session: SessionDep, credentials: BearerDep) -> Caller:
        caller = authenticated(session, _bearer_token(credentials), client_address(request))
        service.require_role(caller, roles)
        return caller

    caller_with_role.__pmh_roles__ = roles  # type: ignore[attr-defined]
    return Depends(caller_with_role)


def requires_on_loop(*roles: Role) -> Any:
    """Like :func:`requires`, for async routes: a key this process has verified costs no database read.

    A key found in the cache (:mod:`pmh.auth.keycache`) is taken on the event loop; any other key is
    looked up in a unit of work of its own in a worker thread, where a wrong key counts towards the
    client's rate limit exactly as with :func:`requires`.
    """

    async def caller_with_role(request: Request, credentials: BearerDep) -> Caller:
        token = _bearer_token(credentials)
        caller = service.cached_caller(token)
        if caller is None:
            caller = await run_in_threadpool(_authenticated_alone, request, token)
        service.require_role(caller, roles)
        return caller

    caller_with_role.__pmh_roles__ = roles  # type: ignore[attr-defined]
    return Depends(caller_with_role)


def _authenticated_alone(request: Request, token: str) -> Caller:
    with request_session(request) as session:
        return authenticated(session, token, client_address(request))


def request_session(request: Request) -> AbstractContextManager[Session]:
    """Open the request's unit of work outside FastAPI's dependencies (async routes that need one only sometimes).

    It honours an override of :func:`pmh.deps.get_session` (the tests run each test in one transaction).
    """
    factory = request.app.dependency_overrides.get(get_session, get_session)
    return contextmanager(factory)()


def authenticated(session: Session, token: str, address: str) -> Caller:
    """Return the caller of a bearer key; a wrong key counts towards the client address's rate limit."""
    try:
        return service.authenticate_api_key(session, token)
    except service.KeyRefused as refused:
        over = limits.note_failures(session, [limits.Target("api_key_client", address)])
        raise (over or refused) from None


def check_upload_key(token: str, address: str) -> None:
    """Authenticate an upload's key in a unit of work of its own, before its body is read."""
    with unit_of_work() as session:
        authenticated(session, token, address)


def client_address(request: Request) -> str:
    """Return the address of the client a rate limit counts for (see :func:`address_of_client`)."""
    peer = request.client.host if request.client is not None else None
    return address_of_client(peer, request.headers.getlist("x-forwarded-for"))


def address_of_client(peer: str | None, forwarded_for: list[str]) -> str:
    """Return the client's address: the peer, or behind a trusted proxy the address it forwarded for.

    ``X-Forwarded-For`` is believed only from ``PMH_TRUSTED_PROXIES``, and read from the right: the
    last address that is not itself a trusted proxy is the client (anything left of it the client
    may have written itself). Behind N hub nodes and one HAProxy the peer is always the proxy, so
    without this every client would share one rate-limit count.
    """
    trusted = get_settings().trusted_proxy_set
    if peer is None:
        return "unknown"
    if peer not in trusted:
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer


def public() -> Any:
    """Return a dependency that marks a route as open to anyone, without a key."""

    def no_caller() -> None:
        return None

    no_caller.__pmh_public__ = True  # type: ignore[attr-defined]
    return Depends(no_caller)
