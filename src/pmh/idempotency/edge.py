"""The HTTP side of idempotency keys: one decorator, ``@idempotent``, under a route's decorator.

A route opts in with one line::

    @router.post("/copay-entries", response_model=CopayEntryRead, status_code=201)
    @idempotent
    def record_entry(body: CopayEntryCreate, caller: Institution, session: SessionDep) -> CopayEntryRead: ...

The route must be a plain ``def`` taking ``caller`` (a :class:`~pmh.auth.schemas.Caller`) and
``session`` (the request's unit of work). Without the header nothing changes. With it, the route's
answer is rendered here (as FastAPI would: its ``response_model`` and ``status_code``), stored with
the key in the request's transaction, and a retry gets the stored answer with
``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.datastructures import UploadFile

from pmh.auth.schemas import Caller
from pmh.idempotency import service
from pmh.idempotency.service import HEADER, REPLAYED_HEADER, KeyedRequest, StoredAnswer

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_CHUNK = 1024 * 1024


async def keyed_request(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="再送を安全にするキー（1〜255 文字の印字可能な ASCII）。同じキーの再送には最初の結果を返し、"
            "二重に記録しません（24 時間保持）。",
        ),
    ] = None,
) -> KeyedRequest | None:
    """Return the request's key and fingerprint, or None when it carries no ``Idempotency-Key``."""
    if key is None:
        return None
    service.check_key(key)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return KeyedRequest(
        key=key,
        fingerprint=service.fingerprint(request.method, path, await _body_digest(request)),
        method=request.method,
        path=path,
    )


async def _body_digest(request: Request) -> bytes:
    """Return a digest of what the request sent: its raw body, or for forms its fields and files.

    A form is digested by content, not bytes, because an HTTP client picks a new multipart boundary
    for each send of the same upload. Files are read in chunks and rewound for the route.
    """
    digest = hashlib.sha256()
    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in _FORMS:
        digest.update(await request.body())
        return digest.digest()
    form = await request.form()  # parsed once by FastAPI already; Starlette keeps it on the request
    for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
        digest.update(b"\x00field\x00" + name.encode())
        if isinstance(value, UploadFile):
            digest.update(b"\x00file\x00" + (value.filename or "").encode() + b"\x00")
            await value.seek(0)
            while chunk := await value.read(_CHUNK):
                digest.update(chunk)
            await value.seek(0)
        else:
            digest.update(b"\x00value\x00" + value.encode())
    return digest.digest()


def idempotent(endpoint: _Endpoint) -> _Endpoint:
    """Make a creating route honour ``Idempotency-Key`` (see the module docstring)."""
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError("@idempotent wraps plain def routes (run in the thread pool with their session)")
    signature = inspect.signature(endpoint, eval_str=True)
    if not {"caller", "session"} <= set(signature.parameters):
        raise TypeError(f"{endpoint.__name__}: @idempotent needs the parameters caller and session")
    extra = inspect.Parameter(
        "idempotency",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[KeyedRequest | None, Depends(keyed_request)],
    )

    @functools.wraps(endpoint)
    def wrapper(*args: Any, idempotency: KeyedRequest | None, idempotency_route: APIRoute, **kwargs: Any) -> Any:
        if idempotency is None:
            return endpoint(*args, **kwargs)
        caller: Caller = kwargs["caller"]
        scope = service.caller_scope(caller.organisation_id, caller.role)
        answer = service.run(
            kwargs["session"], scope, idempotency, lambda: _stored(endpoint(*args, **kwargs), idempotency_route)
        )
        return _response(answer)

    route_parameter = inspect.Parameter(
        "idempotency_route", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[APIRoute, Depends(_route)]
    )
    parameters = [*signature.parameters.values(), extra, route_parameter]
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__pmh_idempotent__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _route(request: Request) -> APIRoute:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):  # pragma: no cover - FastAPI always sets the matched route
        raise RuntimeError("no APIRoute in the request scope")
    return route


@functools.lru_cache(maxsize=64)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _stored(result: Any, route: APIRoute) -> StoredAnswer:
    """Render a route's return value as FastAPI would answer it, in the form the table keeps."""
    if isinstance(result, Response):
        return StoredAnswer(result.status_code, result.media_type, bytes(result.body).decode())
    status = route.status_code or 200
    if result is None and status == 204:
        return StoredAnswer(204, None, "")
    if route.response_model is not None:
        content = _adapter(route.response_model).dump_python(
            result, mode="json", by_alias=True, exclude_none=route.response_model_exclude_none
        )
    else:
        content = jsonable_encoder(result)
    rendered = JSONResponse(content, status_code=status)
    return StoredAnswer(status, rendered.media_type, bytes(rendered.body).decode())


def _response(answer: StoredAnswer) -> Response:
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else {}
    if answer.status_code == 204:
        return Response(status_code=204, headers=headers)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type, headers=headers)
