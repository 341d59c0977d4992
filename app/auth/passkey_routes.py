"""/auth/passkeys, /auth/sign-ins and /users/{id}/passkeys/reset (see app.auth.passkeys)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.actor import Actor
from app.auth import passkeys, schemas, signins
from app.auth.deps import require
from app.auth.roles import Action
from app.db import SessionDep
from app.logs import client_var
from app.validation import NoControl, SingleLine

public = APIRouter(tags=["authentication"])
router = APIRouter(tags=["authentication"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterOptionsRequest(_Strict):
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)


class RegisterRequest(_Strict):
    credential: dict[str, Any]
    name: Annotated[str, Field(min_length=1, max_length=100), NoControl, SingleLine]


class LoginOptionsRequest(_Strict):
    username: Annotated[str, Field(max_length=64), NoControl] | None = None


class LoginRequest(_Strict):
    credential: dict[str, Any]


class PasskeyRead(BaseModel):
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    backed_up: bool


class SignInRead(BaseModel):
    at: dt.datetime
    method: str
    client: str | None = Field(description="a keyed tag of the client address, never the address")


class PasskeysReset(BaseModel):
    removed: int


@public.post("/auth/passkeys/login/options")
def login_options(session: SessionDep, body: LoginOptionsRequest | None = None) -> dict[str, Any]:
    """Request options for navigator.credentials.get(); without a username, discoverable."""
    return passkeys.login_options(session, (body or LoginOptionsRequest()).username)


@public.post(
    "/auth/passkeys/login",
    response_model=schemas.TokenResponse,
    response_model_exclude_none=True,
)
def login(body: LoginRequest, session: SessionDep) -> schemas.TokenResponse:
    """The same answer as /auth/login, for an assertion of a registered passkey."""
    issued = passkeys.login(session, credential=body.credential)
    return schemas.TokenResponse(
        access_token=issued.token,
        expires_in=issued.expires_in,
        mfa_enrollment_required=True if issued.mfa_enrollment_required else None,
    )


@router.post("/auth/passkeys/register/options")
def register_options(
    body: RegisterOptionsRequest,
    actor: Annotated[Actor, require(Action.SESSION)],
    session: SessionDep,
) -> dict[str, Any]:
    """Creation options for navigator.credentials.create(); the current password (and code,
    when two-factor is on) is needed."""
    return passkeys.registration_options(
        session, actor, password=body.password, code=body.totp, client=client_var.get()
    )


@router.post("/auth/passkeys/register", status_code=201, response_model=PasskeyRead)
def register(
    body: RegisterRequest,
    actor: Annotated[Actor, require(Action.SESSION)],
    session: SessionDep,
) -> passkeys.PasskeyView:
    return passkeys.register(session, actor, credential=body.credential, name=body.name)


@router.get("/auth/passkeys", response_model=list[PasskeyRead])
def list_passkeys(
    actor: Annotated[Actor, require(Action.SESSION)], session: SessionDep
) -> list[passkeys.PasskeyView]:
    return passkeys.list_passkeys(session, actor)


@router.delete("/auth/passkeys/{passkey_id}", status_code=204)
def remove_passkey(
    passkey_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.SESSION)],
    session: SessionDep,
) -> Response:
    passkeys.remove(session, actor, passkey_id)
    return Response(status_code=204)


@router.get("/auth/sign-ins", response_model=list[SignInRead])
def sign_ins(
    actor: Annotated[Actor, require(Action.SESSION)], session: SessionDep
) -> list[signins.SignIn]:
    """The caller's own recent sign-ins (newest first): time, method, client tag."""
    return signins.recent(session, actor)


@router.post("/users/{user_id}/passkeys/reset", response_model=PasskeysReset, tags=["users"])
def reset_passkeys(
    user_id: uuid.UUID,
    actor: Annotated[Actor, require(Action.USERS_MANAGE)],
    session: SessionDep,
) -> PasskeysReset:
    """Remove every passkey of an account (a lost security key): its tokens are revoked, its
    organisation's supervisors alerted. Not one's own."""
    return PasskeysReset(removed=passkeys.reset_user(session, actor, user_id))
