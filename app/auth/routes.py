"""/auth, /users and /api-keys."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, cast

import segno
from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from app import organisations
from app.actor import Actor
from app.auth import profile, schemas, service, users
from app.auth.deps import require, require_while_enrolling
from app.auth.roles import Action
from app.db import SessionDep
from app.logs import client_var
from app.models.user import ApiKey, User

public = APIRouter(tags=["authentication"])
router = APIRouter()


@public.post("/auth/login", response_model=schemas.TokenResponse, response_model_exclude_none=True)
def login(body: schemas.LoginRequest, session: SessionDep) -> schemas.TokenResponse:
    issued = service.login(
        session,
        username=body.username,
        password=body.password,
        code=body.totp,
        recovery_code=body.recovery_code,
        client=client_var.get(),
    )
    return schemas.TokenResponse(
        access_token=issued.token,
        expires_in=issued.expires_in,
        mfa_enrollment_required=True if issued.mfa_enrollment_required else None,
    )


@router.post("/auth/logout", status_code=204, tags=["authentication"])
def logout(
    actor: Annotated[Actor, require_while_enrolling(Action.SESSION)], session: SessionDep
) -> Response:
    service.logout(session, actor)
    return Response(status_code=204)


@router.get("/auth/me", response_model=schemas.MeRead, tags=["authentication"])
def me(
    actor: Annotated[Actor, require_while_enrolling(Action.WHOAMI)], session: SessionDep
) -> schemas.MeRead:
    """Who the token or API key is (an API key: ``kind`` api_key, no two-factor)."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    return schemas.MeRead(
        id=actor.id,
        username=actor.username,
        role=actor.role,
        organisation=actor.organisation_id,
        kind=actor.kind,
        mfa_enabled=user.totp_enabled if user else None,
        time_zone=user.time_zone if user else None,
        locale=user.locale if user else None,
        effective_time_zone=profile.effective_zone(session, user.id) if user else None,
    )


@router.patch("/auth/me", response_model=schemas.MeRead, tags=["authentication"])
def update_me(
    body: schemas.MeUpdate,
    actor: Annotated[Actor, require(Action.SESSION)],
    session: SessionDep,
) -> schemas.MeRead:
    """The caller's own time zone (IANA, checked; null: the organisation's) and language."""
    given = body.model_fields_set
    changed = profile.update(
        session,
        actor,
        time_zone=body.time_zone,
        locale=body.locale,
        clear_time_zone="time_zone" in given and body.time_zone is None,
    )
    user = session.get(User, actor.id)
    return schemas.MeRead(
        id=actor.id,
        username=actor.username,
        role=actor.role,
        organisation=actor.organisation_id,
        kind=actor.kind,
        mfa_enabled=user.totp_enabled if user else None,
        time_zone=changed.time_zone,
        locale=changed.locale,
        effective_time_zone=changed.effective_time_zone,
    )


@router.post("/auth/mfa/enroll", response_model=schemas.MfaEnrollment, tags=["authentication"])
def mfa_enroll(
    actor: Annotated[Actor, require_while_enrolling(Action.SESSION)],
    session: SessionDep,
    body: schemas.MfaEnroll | None = None,
) -> schemas.MfaEnrollment:
    """A new authenticator seed; the current password is needed (and the current code when
    two-factor is on): a token alone does not change the second factor."""
    given = body or schemas.MfaEnroll()
    seed, uri = service.start_enrolment(
        session, actor, password=given.password, code=given.totp, client=client_var.get()
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=4)
    return schemas.MfaEnrollment(secret=seed, otpauth_uri=uri, qr_svg=qr)


@router.post("/auth/mfa/confirm", response_model=schemas.MfaConfirmed, tags=["authentication"])
def mfa_confirm(
    body: schemas.MfaConfirm,
    actor: Annotated[Actor, require_while_enrolling(Action.SESSION)],
    session: SessionDep,
) -> schemas.MfaConfirmed:
    """Two-factor on, with the code of the new authenticator and the current password."""
    codes = service.finish_enrolment(
        session, actor, password=body.password, code=body.totp, client=client_var.get()
    )
    return schemas.MfaConfirmed(enabled=True, recovery_codes=codes)


@router.post("/auth/password", status_code=204, tags=["authentication"])
def change_password(
    body: schemas.PasswordChange,
    actor: Annotated[Actor, require(Action.SESSION)],
    session: SessionDep,
) -> Response:
    service.change_password(session, actor, body.current_password, body.new_password)
    return Response(status_code=204)


# Users ----------------------------------------------------------------------------------------
@router.post("/users", status_code=201, response_model=schemas.UserRead, tags=["users"])
def create_user(
    body: schemas.UserCreate,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    return users.add_user(
        session,
        actor,
        username=body.username,
        role=body.role.value,
        password=body.password,
        organisation=body.organisation,
        full_name=body.full_name,
        email=body.email,
    )


@router.get("/users", response_model=schemas.UserPage, tags=["users"])
def list_users(
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    items, next_cursor = users.list_users(session, actor, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/users/{user_id}", response_model=schemas.UserRead, tags=["users"])
def get_user(
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    return users.get_user(session, actor, user_id)


@router.patch("/users/{user_id}", response_model=schemas.UserRead, tags=["users"])
def update_user(
    user_id: uuid.UUID,
    body: schemas.UserUpdate,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    # UserUpdate's fields are UserChanges' keys; only those given are changed.
    changes = cast(users.UserChanges, body.model_dump(exclude_unset=True))
    return users.change_user(session, actor, user_id, changes)


@router.post("/users/{user_id}/mfa/reset", response_model=schemas.UserRead, tags=["users"])
def reset_user_mfa(
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    """Turn an account's two-factor off (a lost phone, or an authenticator someone else
    enrolled): its tokens are revoked, its organisation's supervisors alerted."""
    return users.reset_mfa(session, actor, user_id)


@router.post("/users/{user_id}/unlock", response_model=schemas.UserRead, tags=["users"])
def unlock_user(
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    """End an account's sign-in lockout now (audited as ``user.unlock`` when it was locked)."""
    users.unlock(session, actor, user_id)
    return users.get_user(session, actor, user_id)


@router.post("/users/{user_id}/password", response_model=schemas.UserRead, tags=["users"])
def reset_user_password(
    user_id: uuid.UUID,
    body: schemas.PasswordReset,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    """A new password for someone who lost theirs: their sessions end, a lockout is lifted
    (audited as ``user.password_reset``); not one's own (403: POST /auth/password)."""
    return users.reset_password(session, actor, user_id, body.password)


@router.delete("/users/{user_id}", response_model=schemas.UserRead, tags=["users"])
def disable_user(
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> users.UserView:
    return users.disable_user(session, actor, user_id)


# API keys -------------------------------------------------------------------------------------
@router.post("/api-keys", status_code=201, response_model=schemas.ApiKeyCreated, tags=["api keys"])
def create_api_key(
    body: schemas.ApiKeyCreate,
    actor: Annotated[Actor, require(Action.API_KEYS_MANAGE)],
    session: SessionDep,
) -> schemas.ApiKeyCreated:
    if body.organisation is None:
        org_id = actor.organisation_id
    else:
        org_id = organisations.resolve(session, body.organisation, create=False)[0].id
    row, key = service.create_api_key(
        session,
        actor,
        name=body.name,
        role=body.role.value,
        organisation_id=org_id,
        lifetime=dt.timedelta(days=body.expires_in_days),
    )
    return schemas.ApiKeyCreated(
        id=row.id, key=key, name=row.name, role=row.role, expires_at=row.expires_at
    )


@router.get("/api-keys", response_model=list[schemas.ApiKeyRead], tags=["api keys"])
def list_api_keys(
    actor: Annotated[Actor, require(Action.API_KEYS_MANAGE)], session: SessionDep
) -> list[schemas.ApiKeyRead]:
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at))
    return [_api_key_read(row) for row in rows]


@router.delete("/api-keys/{key_id}", response_model=schemas.ApiKeyRead, tags=["api keys"])
def revoke_api_key(
    key_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.API_KEYS_MANAGE)],
    session: SessionDep,
) -> schemas.ApiKeyRead:
    return _api_key_read(service.revoke_api_key(session, actor, key_id))


def _api_key_read(row: ApiKey) -> schemas.ApiKeyRead:
    return schemas.ApiKeyRead(
        id=row.id,
        name=row.name,
        role=row.role,
        organisation=row.organisation_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )
