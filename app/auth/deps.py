"""Who is calling (401) and whether their role may do this at all (403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth import roles
from app.auth.roles import Action
from app.auth.service import EnrolmentRequired, authenticate_token, remembered
from app.db import SessionDep
from app.errors import Forbidden, NotAuthenticated


async def current_actor(request: Request, session: SessionDep) -> Actor:
    """The bearer token's (or API key's) actor. The web client's GET requests to the API carry
    the session cookie instead, turned into this header by ``app.web.cookies.ApiCookieBridge``
    (safe methods only; a bearer token always wins).

    A user who must set up two-factor first (HAVEN_REQUIRE_MFA) is let through here, marked
    (``request.state.mfa_pending``): every route's ``require`` then answers 403
    (``EnrolmentRequired``) but the enrolment routes' ``require_while_enrolling``."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise NotAuthenticated("not authenticated")
    presented = credentials.strip()
    # A read request's token this process has checked: taken from memory, on the event loop,
    # and confirmed before the request answers (app.auth.service.confirm).
    entry = remembered(session, presented)
    if entry is not None:
        actor, request.state.mfa_pending = entry.actor, entry.mfa_pending
    else:
        actor, request.state.mfa_pending = await run_in_threadpool(_check, session, presented)
    request.state.actor = actor
    return actor


def _check(session: Session, presented: str) -> tuple[Actor, bool]:
    try:
        return authenticate_token(session, presented), False
    except EnrolmentRequired:
        return authenticate_token(session, presented, enrolling=True), True


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(*actions: Action) -> Any:
    """``actor: Annotated[Actor, require(Action.X)]``: 403 unless the role includes X (or, given
    several, any of them: a route whose effect depends on the role, like notes)."""

    # Async: no I/O here (a denial's audit entry is only queued), so no worker thread.
    async def dependency(request: Request, actor: ActorDep, session: SessionDep) -> Actor:
        if getattr(request.state, "mfa_pending", True):
            raise EnrolmentRequired()
        return check_role(session, actor, *actions)

    dependency.haven_actions = actions  # type: ignore[attr-defined]  # read by the route table
    return Depends(dependency)


def require_while_enrolling(*actions: Action) -> Any:
    """``require``, reachable also by a user who must set up two-factor first
    (HAVEN_REQUIRE_MFA): the enrolment routes, /auth/me and /auth/logout."""

    async def dependency(actor: ActorDep, session: SessionDep) -> Actor:
        return check_role(session, actor, *actions)

    dependency.haven_actions = actions  # type: ignore[attr-defined]  # read by the route table
    return Depends(dependency)


def check_role(session: Session, actor: Actor, *actions: Action) -> Actor:
    """403 (and a durable audit entry) unless the actor's role includes one of ``actions``;
    shared by the API's ``require`` and the web client's pages."""
    if not any(roles.allows(actor.role, action) for action in actions):
        audit.record(
            session,
            actor=actor,
            action="permission.denied",
            outcome="denied",
            details={"action": "|".join(a.value for a in actions)},
            durable=True,
        )
        raise Forbidden("your role may not do this")
    return actor


def route_actions(call: Callable[..., Any]) -> tuple[Action, ...]:
    return getattr(call, "haven_actions", ())
