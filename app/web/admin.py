"""Administrators' pages: staff accounts, API keys, webhooks, organisations and the country
reference, on the same services as /users, /api-keys, /webhooks, /organisations and
/reference/countries (same role checks, same audit entries).

Secrets made here (an API key, a webhook's signing secret, a temporary password) are shown
once, on the answer to the form that made them, and never again.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from app import organisations
from app.actor import Actor
from app.alerts import webhooks
from app.auth import profile, users
from app.auth import service as auth
from app.auth.roles import API_KEY_ROLES, Action, Role
from app.auth.schemas import ApiKeyCreate, UserCreate
from app.i18n import N_, _
from app.models.base import utcnow
from app.models.organisation import Organisation
from app.models.user import ApiKey, User
from app.organisations_routes import OrganisationCreate
from app.risk import reference
from app.risk.schemas import CountryOverrideCreate
from app.validation import CountryCode
from app.web.render import FormError, WebRoute, render, see_other, uuid_or_none
from app.web.session import SessionForm, present, signed_in, submit_form, text, values_of

router = APIRouter(route_class=WebRoute)

STAFF_ROLES = [r.value for r in Role if r not in API_KEY_ROLES]
ROLE_NOTES = {
    "admin": N_("accounts, keys, webhooks; no case content"),
    "supervisor": N_("every case of the organisation; decides referrals"),
    "caseworker": N_("the cases assigned to them"),
    "lawyer": N_("the cases they are counsel on"),
    "analyst": N_("de-identified statistics only"),
    "auditor": N_("the audit trail only"),
}
# The roles' names as the label filter shows them (user.role|label).
ROLE_NAMES = {
    "admin": N_("Admin"),
    "supervisor": N_("Supervisor"),
    "caseworker": N_("Caseworker"),
    "lawyer": N_("Lawyer"),
    "analyst": N_("Analyst"),
    "auditor": N_("Auditor"),
}
# The reference fields this page overrides (app.risk.schemas.CountryFields has the rest).
TREATIES = (
    ("party_1951", N_("Party to the 1951 Refugee Convention")),
    ("party_1967", N_("Party to the 1967 Protocol")),
    ("party_cat", N_("Party to the Convention against Torture")),
)


def _role_options() -> list[tuple[str, str]]:
    """The staff roles, each with what it reaches, in the reader's language."""
    return [
        (r, _("%(role)s: %(note)s") % {"role": _(ROLE_NAMES[r]), "note": _(ROLE_NOTES[r])})
        for r in STAFF_ROLES
    ]


def _organisations(session: Session) -> list[Organisation]:
    return organisations.listing(session)


# Users ----------------------------------------------------------------------------------------
def _users_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    cursor = request.query_params.get("after") or None
    views, next_cursor = users.list_users(
        session, actor, limit=100, cursor=cursor[:64] if cursor else None
    )
    rows = list(session.scalars(select(User).where(User.id.in_([v["id"] for v in views]))))
    orgs = {o.id: o.name for o in _organisations(session)}
    return render(
        request,
        "admin/users.html",
        actor=actor,
        status=status,
        users=views,
        locked=users.lockouts(session, rows),
        orgs=orgs,
        role_options=_role_options(),
        org_options=[(str(i), name) for i, name in orgs.items()],
        next_cursor=next_cursor,
        **context,
    )


@router.get("/admin")
def admin_home(request: Request) -> Response:
    with signed_in(request, Action.USERS_MANAGE) as (session, actor):
        return _users_page(request, session, actor)


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    with signed_in(request, Action.USERS_MANAGE) as (session, actor):
        return _users_page(request, session, actor)


@router.post("/admin/users")
def create_user(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("username", "role", "organisation", "full_name", "email"))
    password = form.get("password")

    def save(session: Session, actor: Actor) -> Response:
        body = UserCreate.model_validate(
            {**present(values), "password": password if isinstance(password, str) else ""}
        )
        made = users.add_user(
            session,
            actor,
            username=body.username,
            role=body.role.value,
            password=body.password,
            organisation=body.organisation,
            full_name=body.full_name,
            email=body.email,
        )
        return see_other(f"/admin/users/{made['id']}", done="user-created")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = dict(exc.errors)
        if exc.message and "password" in exc.message.lower():
            errors.setdefault("password", exc.message)
        return _users_page(
            request,
            session,
            actor,
            status=422,
            values=values,
            errors=errors,
            message=exc.message or _("The account was not created: check the fields marked below."),
        )

    return submit_form(request, Action.USERS_MANAGE, save=save, again=again)


def _user_page(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    view = users.get_user(session, actor, user_id)
    row = session.get_one(User, user_id)
    context.setdefault("values", {"role": view["role"]})
    context.setdefault("temporary", None)
    org = session.get(Organisation, view["organisation"])
    return render(
        request,
        "admin/user.html",
        actor=actor,
        status=status,
        user=view,
        organisation=org.name if org else "",
        locked_until=users.locked_until(session, row),
        role_options=_role_options(),
        **context,
    )


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: uuid.UUID) -> Response:
    with signed_in(request, Action.USERS_MANAGE) as (session, actor):
        return _user_page(request, session, actor, user_id)


def _account_action(request: Request, user_id: uuid.UUID, act: Any, done: str) -> Response:
    """One of the account buttons (disable, enable, unlock, two-factor reset)."""

    def save(session: Session, actor: Actor) -> Response:
        act(session, actor, user_id)
        return see_other(f"/admin/users/{user_id}", done=done)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _user_page(request, session, actor, user_id, status=exc.status, message=exc.message)

    return submit_form(request, Action.USERS_MANAGE, save=save, again=again)


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    return _account_action(request, user_id, users.disable_user, "user-disabled")


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    return _account_action(request, user_id, users.enable_user, "user-enabled")


@router.post("/admin/users/{user_id}/unlock")
def unlock_user(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    return _account_action(request, user_id, users.unlock, "user-unlocked")


@router.post("/admin/users/{user_id}/two-factor/reset")
def reset_two_factor(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    return _account_action(request, user_id, users.reset_mfa, "user-mfa-reset")


@router.post("/admin/users/{user_id}/password")
def reset_password(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    """A new temporary password, made here and shown once to the administrator."""
    temporary = "-".join(secrets.token_urlsafe(4) for _i in range(4))

    def save(session: Session, actor: Actor) -> Response:
        users.reset_password(session, actor, user_id, temporary)
        return _user_page(request, session, actor, user_id, temporary=temporary)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _user_page(request, session, actor, user_id, status=exc.status, message=exc.message)

    return submit_form(request, Action.USERS_MANAGE, save=save, again=again)


@router.post("/admin/users/{user_id}/role")
def change_role(request: Request, user_id: uuid.UUID, form: SessionForm) -> Response:
    """A new role, after a confirmation page that says what it reaches (and that the
    account's sessions end)."""
    role = text(form, "role")
    confirmed = text(form, "confirm") == "yes"

    def save(session: Session, actor: Actor) -> Response:
        if role not in STAFF_ROLES:
            raise FormError({"role": _("Choose one of the roles.")})
        if not confirmed:
            view = users.get_user(session, actor, user_id)
            if view["role"] == role:
                return see_other(f"/admin/users/{user_id}")
            return render(
                request,
                "admin/confirm_role.html",
                actor=actor,
                user=view,
                role=role,
                role_notes=ROLE_NOTES,
            )
        users.change_user(session, actor, user_id, {"role": role})
        return see_other(f"/admin/users/{user_id}", done="role-changed")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _user_page(
            request,
            session,
            actor,
            user_id,
            status=exc.status if exc.status != 400 else 422,
            errors=exc.errors,
            message=exc.message or _("The role was not changed."),
        )

    return submit_form(request, Action.USERS_MANAGE, save=save, again=again)


# API keys -------------------------------------------------------------------------------------
def _keys_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    keys = list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))
    context.setdefault("created", None)
    context.setdefault("key", None)
    return render(
        request,
        "admin/api_keys.html",
        actor=actor,
        status=status,
        keys=keys,
        orgs={o.id: o.name for o in _organisations(session)},
        now=utcnow(),
        **context,
    )


@router.get("/admin/api-keys")
def api_keys_page(request: Request) -> Response:
    with signed_in(request, Action.API_KEYS_MANAGE) as (session, actor):
        return _keys_page(request, session, actor)


@router.post("/admin/api-keys")
def create_api_key(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("name", "organisation", "expires_in_days"))

    def save(session: Session, actor: Actor) -> Response:
        body = ApiKeyCreate.model_validate(present(values))
        org_id = (
            actor.organisation_id
            if body.organisation is None
            else organisations.resolve(session, body.organisation, create=False)[0].id
        )
        row, key = auth.create_api_key(
            session,
            actor,
            name=body.name,
            role=body.role.value,
            organisation_id=org_id,
            lifetime=dt.timedelta(days=body.expires_in_days),
        )
        return _keys_page(request, session, actor, created=row, key=key)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _keys_page(request, session, actor, status=422, values=values, **exc.shown())

    return submit_form(request, Action.API_KEYS_MANAGE, save=save, again=again)


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke_api_key(request: Request, key_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.API_KEYS_MANAGE) as (session, actor):
        auth.revoke_api_key(session, actor, key_id)
        # Flushed here so that app.tokencache sees the change before the commit (its
        # before_commit hook runs ahead of commit's own flush) and every process drops the key.
        session.flush()
    return see_other("/admin/api-keys", done="key-revoked")


# Webhooks -------------------------------------------------------------------------------------
def _webhooks_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    hooks = webhooks.list_webhooks(session, actor)
    context.setdefault("created", None)
    context.setdefault("secret", None)
    context.setdefault("chosen", ["alert.created"])
    deliveries = {h.id: webhooks.recent_deliveries(session, actor, h.id) for h in hooks}
    return render(
        request,
        "admin/webhooks.html",
        actor=actor,
        status=status,
        hooks=hooks,
        events_of=webhooks.events_of,
        deliveries=deliveries,
        known_events=sorted(webhooks.EVENTS),
        **context,
    )


@router.get("/admin/webhooks")
def webhooks_page(request: Request) -> Response:
    with signed_in(request, Action.WEBHOOKS_MANAGE) as (session, actor):
        return _webhooks_page(request, session, actor)


@router.post("/admin/webhooks")
def create_webhook(request: Request, form: SessionForm) -> Response:
    url = text(form, "url")
    chosen = [e for e in form.getlist("events") if isinstance(e, str)]
    values = {"url": url}

    def save(session: Session, actor: Actor) -> Response:
        if not url:
            raise FormError({"url": _("Enter the endpoint's https address.")})
        hook, secret = webhooks.register(
            session,
            actor,
            url=url,
            events=chosen,
            secret=None,
            allowed_hosts=request.app.state.settings.allowed_webhook_hosts,
        )
        return _webhooks_page(request, session, actor, created=hook, secret=secret)

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = exc.errors or {"url": exc.message or _("Check the address.")}
        return _webhooks_page(
            request,
            session,
            actor,
            status=422,
            values=values,
            chosen=chosen,
            errors=errors,
            message=_("The endpoint was not added."),
        )

    return submit_form(request, Action.WEBHOOKS_MANAGE, save=save, again=again)


@router.post("/admin/webhooks/{webhook_id}/test")
def test_webhook(request: Request, webhook_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.WEBHOOKS_MANAGE) as (session, actor):
        webhooks.send_test(session, actor, webhook_id)
    return see_other(f"/admin/webhooks#hook-{webhook_id}", done="webhook-test")


@router.post("/admin/webhooks/{webhook_id}/disable")
def disable_webhook(request: Request, webhook_id: uuid.UUID, form: SessionForm) -> Response:
    with signed_in(request, Action.WEBHOOKS_MANAGE) as (session, actor):
        webhooks.disable(session, actor, webhook_id)
    return see_other("/admin/webhooks", done="webhook-disabled")


# Organisations --------------------------------------------------------------------------------
def _orgs_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "admin/organisations.html",
        actor=actor,
        status=status,
        organisations=_organisations(session),
        **context,
    )


@router.get("/admin/organisations")
def organisations_page(request: Request) -> Response:
    with signed_in(request, Action.ORGANISATIONS_MANAGE) as (session, actor):
        return _orgs_page(request, session, actor)


@router.post("/admin/organisations")
def create_organisation(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("name",))

    def save(session: Session, actor: Actor) -> Response:
        body = OrganisationCreate.model_validate(present(values))
        organisations.create(session, actor, body.name)
        return see_other("/admin/organisations", done="organisation")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = exc.errors or {"name": exc.message or _("Check the name.")}
        return _orgs_page(request, session, actor, status=422, values=values, errors=errors)

    return submit_form(request, Action.ORGANISATIONS_MANAGE, save=save, again=again)


@router.post("/admin/organisations/defaults")
def set_organisation_defaults(request: Request, form: SessionForm) -> Response:
    values = values_of(form, ("organisation", "time_zone", "locale"))

    def save(session: Session, actor: Actor) -> Response:
        chosen = uuid_or_none(values.get("organisation"))
        if chosen is None:
            raise FormError({"organisation": _("Choose an organisation.")})
        profile.set_organisation_defaults(
            session,
            actor,
            chosen,
            time_zone=values.get("time_zone") or None,
            locale=values.get("locale") or None,
            clear_time_zone=not values.get("time_zone"),
            clear_locale=not values.get("locale"),
        )
        return see_other("/admin/organisations", done="organisation-defaults")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        return _orgs_page(request, session, actor, status=422, defaults=values, **exc.shown())

    return submit_form(request, Action.ORGANISATIONS_MANAGE, save=save, again=again)


# The country reference ------------------------------------------------------------------------
def _countries_page(
    request: Request, session: Session, actor: Actor, *, status: int = 200, **context: Any
) -> Response:
    listing = reference.listing(session, utcnow().date())
    return render(
        request,
        "admin/countries.html",
        actor=actor,
        status=status,
        listing=listing,
        treaties=TREATIES,
        **context,
    )


@router.get("/admin/countries")
def countries_page(request: Request) -> Response:
    with signed_in(request, Action.REFERENCE_MANAGE) as (session, actor):
        return _countries_page(request, session, actor)


@router.post("/admin/countries")
def override_country(request: Request, form: SessionForm) -> Response:
    names = ("country", "note", "targeted_affiliations", "reason", "effective_on")
    values = values_of(form, names + tuple(name for name, _text in TREATIES))

    def save(session: Session, actor: Actor) -> Response:
        fields: dict[str, Any] = present({"note": values["note"]})
        for name, _text in TREATIES:
            if values[name] in ("yes", "no"):
                fields[name] = values[name] == "yes"
        if values["targeted_affiliations"]:
            fields["targeted_affiliations"] = [
                a.strip() for a in values["targeted_affiliations"].split(",") if a.strip()
            ]
        body = CountryOverrideCreate.model_validate(
            {"fields": fields, **present({k: values[k] for k in ("reason", "effective_on")})}
        )
        try:
            code = TypeAdapter(CountryCode).validate_python(values["country"].upper())
        except ValidationError:
            raise FormError(
                {"country": _("Enter a three-letter country code (ISO 3166-1), e.g. THA.")}
            ) from None
        reference.override(
            session,
            actor,
            country=code,
            fields=body.changes(),
            reason=body.reason,
            effective_on=body.effective_on,
        )
        return see_other("/admin/countries", done="country-override")

    def again(session: Session, actor: Actor, exc: FormError) -> Response:
        errors = {k.removeprefix("fields."): v for k, v in exc.errors.items()}
        if "fields" in errors:
            errors["note"] = _("Change at least one field: a treaty, the note or the affiliations.")
            del errors["fields"]
        return _countries_page(
            request,
            session,
            actor,
            status=422,
            values=values,
            errors=errors,
            message=exc.message or _("The correction was not saved."),
        )

    return submit_form(request, Action.REFERENCE_MANAGE, save=save, again=again)
