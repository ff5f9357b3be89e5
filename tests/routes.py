"""Reading which roles each API route admits, from the dependencies it declares."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

PUBLIC = ("public",)


def _walk(dependant: Dependant) -> tuple[str, ...] | None:
    call = dependant.call
    if getattr(call, "__pmh_public__", False):
        return PUBLIC
    roles = getattr(call, "__pmh_roles__", None)
    if roles is not None:
        return tuple(roles)
    for sub in dependant.dependencies:
        found = _walk(sub)
        if found is not None:
            return found
    return None


def route_access(route: APIRoute) -> tuple[str, ...] | None:
    """Return the roles a route admits, ``("public",)`` for open routes, None when it declares neither."""
    return _walk(route.dependant)
