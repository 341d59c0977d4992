"""Who is calling (401) and whether their role may do this at all (403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from app.audit import service as audit
from app.auth import roles
from app.auth.roles import Action
from app.auth.service import Actor, authenticate_token
from app.db import SessionDep
from app.errors import Forbidden, NotAuthenticated


def current_actor(request: Request, session: SessionDep) -> Actor:
    cached = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise NotAuthenticated("not authenticated")
    actor = authenticate_token(session, credentials.strip())
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(action: Action) -> Any:
    """``actor: Annotated[Actor, require(Action.X)]``: 403 unless the role includes X."""

    def dependency(actor: ActorDep, session: SessionDep) -> Actor:
        if not roles.allows(actor.role, action):
            audit.record(
                session,
                actor=actor,
                action="permission.denied",
                outcome="denied",
                details={"action": action.value},
                durable=True,
            )
            raise Forbidden("your role may not do this")
        return actor

    dependency.haven_action = action  # type: ignore[attr-defined]  # read by the route-table test
    return Depends(dependency)


def route_action(call: Callable[..., Any]) -> Action | None:
    return getattr(call, "haven_action", None)
