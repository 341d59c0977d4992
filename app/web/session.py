"""Signing in to the web client: the form, two-factor enrolment, signing out, and how every
page finds its signed-in actor and checks a form's CSRF token.

A web session is an ordinary token of the ``web`` channel, issued by the same
``app.auth.service.login`` the API uses (throttling, lockout, TOTP, audit) and resolved by
the same ``authenticate_token``: scope and roles are identical to the API's by construction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from app import i18n
from app.actor import Actor
from app.auth import passkey_policy, totp
from app.auth import service as auth
from app.auth.deps import check_role
from app.auth.roles import Action
from app.db import READ_METHODS, read_transaction, transaction
from app.errors import HavenError, NotAuthenticated, RateLimited
from app.i18n import _, ngettext
from app.limits import WEB_FORM_FACTOR
from app.logs import client_var
from app.models.user import User
from app.web import cookies, language
from app.web.render import (
    FORM_STATUSES,
    CsrfRefused,
    FormError,
    SignInRequired,
    WebRoute,
    local_path,
    render,
    see_other,
)

router = APIRouter(route_class=WebRoute)
MAX_FIELDS = 400


@contextmanager
def signed_in(
    request: Request, *actions: Action, enrolling: bool = False
) -> Iterator[tuple[Session, Actor]]:
    """One transaction for the page or form, as an API request has, with the cookie's actor.

    403 unless the role includes one of ``actions``. A domain error a person can correct
    (400, 409, 413, 422) or an invalid form becomes a ``FormError`` after the rollback.
    A user who must set up two-factor first (HAVEN_REQUIRE_MFA) reaches only the pages
    signed in ``enrolling`` (two-factor set-up, signing out); every other page is a 403 that
    says so.
    """
    token = cookies.session_token(request)
    if token is None:
        raise SignInRequired(expired=_had_cookie(request))
    factory = request.app.state.sessionmaker
    begin = read_transaction if request.method in READ_METHODS else transaction
    with begin(factory) as session:
        try:
            actor = auth.authenticate_token(session, token, enrolling=enrolling)
        except NotAuthenticated:
            raise SignInRequired(expired=True) from None
        request.state.language = language.of_reader(request, actor)
        # Kept on the request too: an error page is written after the handler (its thread).
        i18n.activate(request.state.language)
        if actions:
            check_role(session, actor, *actions)
        try:
            yield session, actor
        except ValidationError as exc:
            raise FormError.from_validation(exc) from None
        except HavenError as exc:
            if exc.status_code in FORM_STATUSES:
                raise FormError.from_domain(exc) from None
            raise


def submit_form(
    request: Request,
    *actions: Action,
    save: Callable[[Session, Actor], Response],
    again: Callable[[Session, Actor, FormError], Response],
    again_as: tuple[Action, ...] | None = None,
    enrolling: bool = False,
) -> Response:
    """A form's submission, or the same form again with what was wrong with it.

    ``save`` runs in one transaction as ``signed_in(request, *actions)`` and returns the
    response (a redirect, usually, sent once the transaction has committed). When the form is
    invalid or the domain refuses it (a ``FormError``, see ``signed_in``), that transaction is
    rolled back and ``again`` renders the form in a new one, signed in for ``again_as``
    (``actions`` unless given), from the error (``FormError.shown``) and the values as typed.
    """
    try:
        with signed_in(request, *actions, enrolling=enrolling) as (session, actor):
            return save(session, actor)
    except FormError as exc:
        retry = actions if again_as is None else again_as
        with signed_in(request, *retry, enrolling=enrolling) as (session, actor):
            return again(session, actor, exc)


def _had_cookie(request: Request) -> bool:
    return any(name in request.cookies for name in (cookies.SESSION, cookies.SESSION_PLAIN))


async def session_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session cookie's (403 page if not)."""
    # Any field the body limit lets through is parsed, so a text too long for its field comes
    # back in the form with the field named (app.limits.WEB_FORM_FACTOR).
    largest = request.app.state.settings.max_body_bytes * WEB_FORM_FACTOR
    form = await request.form(max_fields=MAX_FIELDS, max_part_size=largest)
    secret = request.app.state.web_secret
    if not cookies.csrf_matches(
        secret, "session", cookies.session_token(request), form.get("csrf_token")
    ):
        raise CsrfRefused()
    return form


async def _sign_in_form(request: Request) -> FormData:
    form = await request.form(max_files=0, max_fields=10)
    secret = request.app.state.web_secret
    if not cookies.csrf_matches(secret, "sign-in", cookies.seed(request), form.get("csrf_token")):
        raise CsrfRefused()
    return form


SessionForm = Annotated[FormData, Depends(session_form)]
SignInForm = Annotated[FormData, Depends(_sign_in_form)]


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def values_of(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    return {name: text(form, name) for name in names}


def present(values: dict[str, str]) -> dict[str, Any]:
    """Only the fields that were filled in (an empty input means "not given")."""
    return {k: v for k, v in values.items() if v != ""}


# Signing in -----------------------------------------------------------------------------------
def _sign_in_page(
    request: Request, *, status: int = 200, seed: str | None = None, **context: Any
) -> Response:
    seed = seed or cookies.seed(request) or secrets.token_urlsafe(32)
    csrf = cookies.csrf_token(request.app.state.web_secret, "sign-in", seed)
    context.setdefault("next", local_path(request.query_params.get("next")))
    context.setdefault("notice", None)
    context.setdefault("sso", bool(request.app.state.settings.oidc_issuer))
    response = render(request, "login.html", status=status, sign_in_csrf=csrf, **context)
    cookies.set_seed(response, request, seed)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = _(
            "Your session has ended: 30 minutes without activity, or 12 hours in all. "
            "Sign in again to go on."
        )
    elif request.query_params.get("signed_out"):
        notice = _("You have signed out. Close the browser if this computer is shared.")
    return _sign_in_page(request, notice=notice)


@router.post("/login")
def sign_in(request: Request, form: SignInForm) -> Response:
    username, password, code = text(form, "username"), form.get("password"), text(form, "code")
    target = local_path(text(form, "next"))
    values = {"username": username}
    if not username or not isinstance(password, str) or not password:
        errors = {}
        if not username:
            errors["username"] = _("Enter your username.")
        if not password:
            errors["password"] = _("Enter your password.")
        return _sign_in_page(request, status=422, errors=errors, values=values, next=target)
    compact = code.replace(" ", "")
    totp_code = compact if compact.isdigit() else None
    recovery = code if code and not totp_code else None
    try:
        with transaction(request.app.state.sessionmaker) as session:
            issued = auth.login(
                session,
                username=username,
                password=password,
                code=totp_code,
                recovery_code=recovery,
                client=client_var.get(),
                channel="web",
            )
            _end_previous(session, cookies.session_token(request))
            # A role that must use a passkey and has none is taken to add one first.
            user = session.scalars(select(User).where(User.username == username)).one()
            if passkey_policy.asked_to_register(session, user):
                target = "/account/security"
    except NotAuthenticated as exc:
        if exc.extra.get("mfa_required"):
            errors = {
                "code": _("Enter the six-digit code from your authenticator app.")
                if not code
                else _("That code is not valid. Wait for a new code and try again.")
            }
            message = _("Two-factor sign-in is on for this account: your password is needed again.")
        elif exc.extra.get("passkey_required"):
            errors = {}
            message = _("Your role signs in with its passkey: use “Sign in with a passkey” below.")
        else:
            errors, message = {}, _("The username or password is wrong.")
        return _sign_in_page(
            request, status=401, errors=errors, message=message, values=values, next=target
        )
    except RateLimited as exc:
        return _sign_in_page(
            request,
            status=429,
            message=_locked(exc),
            values=values,
            next=target,
            headers=exc.headers(),
        )
    # Two-factor required and not set up: the session reaches the set-up page only.
    response = see_other("/account/two-factor" if issued.mfa_enrollment_required else target)
    cookies.set_session(response, request, issued.token)
    return response


def _locked(exc: RateLimited) -> str:
    """The lockout, in the reader's words (the service's are the API's English)."""
    minutes = -(-exc.retry_after // 60)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=exc.retry_after)
    return ngettext(
        "Too many failed sign-ins: locked for %(num)d more minute, until %(time)s "
        "(an administrator can unlock it sooner).",
        "Too many failed sign-ins: locked for %(num)d more minutes, until %(time)s "
        "(an administrator can unlock it sooner).",
        minutes,
    ) % {"num": minutes, "time": until.strftime("%H:%M UTC")}


def _end_previous(session: Session, token: str | None) -> None:
    """Signing in again in the same browser replaces its session: the old token is revoked,
    not left to expire."""
    if token is None:
        return
    try:
        previous = auth.authenticate_token(session, token, enrolling=True)
    except NotAuthenticated:
        return
    auth.logout(session, previous)


@router.post("/logout")
def sign_out(request: Request, form: SessionForm) -> Response:
    with signed_in(request, enrolling=True) as (session, actor):
        auth.logout(session, actor)
    response = see_other("/login?signed_out=1")
    cookies.clear_session(response, request)
    return response


# Two-factor enrolment -------------------------------------------------------------------------
def _mfa_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    user = session.get_one(User, actor.id)
    secret = context.pop("secret", None)
    qr = None
    if secret:
        uri = totp.provisioning_uri(secret, actor.username)
        qr = segno.make(uri, error="m").svg_inline(
            scale=5,
            border=4,
            title=_("QR code to scan with an authenticator app"),
            svgclass="qr",
        )
    return render(
        request,
        "account/two_factor.html",
        actor=actor,
        status=status,
        enabled=user.totp_enabled,
        required=auth.mfa_pending(session, user),
        secret=secret,
        qr=qr,
        **context,
    )


@router.get("/account/two-factor")
def two_factor_page(request: Request) -> Response:
    with signed_in(request, Action.SESSION, enrolling=True) as (session, actor):
        return _mfa_page(request, session, actor)


def _password(form: FormData) -> str | None:
    value = form.get("password")
    return value if isinstance(value, str) and value else None


def _reauthentication(exc: auth.Reauthentication) -> FormError:
    """A wrong current password is the form's to show (it was counted toward the lockout)."""
    return FormError({"password": _("That is not your current password.")}, status=403)


@router.post("/account/two-factor/start")
def two_factor_start(request: Request, form: SessionForm) -> Response:
    password = _password(form)

    def save(session: Session, actor: Actor) -> Response:
        if password is None:
            raise FormError({"password": _("Enter your current password.")})
        try:
            secret, _codes = auth.start_enrolment(
                session, actor, password=password, client=client_var.get()
            )
        except auth.Reauthentication as exc:
            raise _reauthentication(exc) from None
        return _mfa_page(request, session, actor, secret=secret)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        status = exc.status if exc.status in (403, 409) else 422
        return _mfa_page(
            request, session, actor, status=status, message=exc.message, errors=exc.errors
        )

    return submit_form(request, Action.SESSION, save=save, again=again, enrolling=True)


@router.post("/account/two-factor/confirm")
def two_factor_confirm(request: Request, form: SessionForm) -> Response:
    code = text(form, "code").replace(" ", "")
    secret = text(form, "secret")
    password = _password(form)

    def save(session: Session, actor: Actor) -> Response:
        errors = {}
        if not code:
            errors["code"] = _("Enter the six-digit code your app shows.")
        if password is None:
            errors["password"] = _("Enter your current password.")
        if errors:
            raise FormError(errors)
        try:
            codes = auth.finish_enrolment(
                session, actor, password=password, code=code, client=client_var.get()
            )
        except auth.Reauthentication as exc:
            raise _reauthentication(exc) from None
        return _mfa_page(request, session, actor, recovery_codes=codes)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = exc.errors or ({"code": exc.message} if exc.message else {})
        return _mfa_page(request, session, actor, status=422, secret=secret or None, errors=errors)

    return submit_form(request, Action.SESSION, save=save, again=again, enrolling=True)
