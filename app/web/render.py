"""Templates, the web client's errors, and the route class that turns errors into pages.

The API answers errors as JSON through ``app.errors``; a person in a browser gets a page
instead, with the same status code: 404 for "not found or not yours" (the two look alike here
too), 403 for a role that may not, a redirect to the sign-in page for a session that ended.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from app import i18n
from app.auth import roles
from app.auth.roles import Action
from app.errors import Forbidden, HavenError, NotAuthenticated, NotFound, RateLimited
from app.i18n import N_, _
from app.web import cookies, filters, language, zones

TEMPLATES = Path(__file__).parent / "templates"
FORM_STATUSES = frozenset({400, 409, 413, 422})


class SignInRequired(Exception):
    """No session, or one that has ended (``expired``)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("sign-in required")
        self.expired = expired


class CsrfRefused(Exception):
    """A form posted without the token of the session (or sign-in form) it came from."""


class FormError(Exception):
    """What was wrong with a form: messages by field name, and one for the whole form."""

    def __init__(
        self, errors: dict[str, str] | None = None, message: str | None = None, status: int = 422
    ) -> None:
        super().__init__(message or "the form has errors")
        self.errors = errors or {}
        self.message = message
        self.status = status

    def shown(self, message: str | None = None) -> dict[str, Any]:
        """The form's ``errors`` by field and its ``message`` (``message`` when the error has
        none), as the form's template takes them when it is shown again."""
        return {
            "errors": self.errors,
            "message": self.message or message or _("Check the fields marked below."),
        }

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> FormError:
        errors: dict[str, str] = {}
        general = None
        for err in exc.errors():
            parts = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
            text = _friendly(err)
            if parts:
                errors.setdefault(prefix + ".".join(parts), text)
            else:
                general = general or text
        return cls(errors, general)

    @classmethod
    def from_domain(cls, exc: HavenError) -> FormError:
        field = exc.extra.get("field")
        detail = exc.detail
        if not field and ": " in detail:
            head, _sep, rest = detail.partition(": ")
            if head.replace("_", "").replace(".", "").isalnum() and " " not in head:
                field, detail = head, rest
        if field:
            name = str(field).split(".")[0]
            detail = detail.removeprefix(f"{name}: ").replace("_", " ")
            return cls({name: _sentence(detail)}, status=exc.status_code)
        return cls(message=_sentence(detail), status=exc.status_code)


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


COUNTRY_FIELDS = frozenset(
    {"country", "issuing_country", "current_country", "nationality", "nationalities"}
)


def _friendly(err: Any) -> str:
    kind = err.get("type", "")
    names = [p for p in err.get("loc", ()) if isinstance(p, str)]
    if names and names[-1] in COUNTRY_FIELDS and kind != "missing":
        return _("Enter a three-letter country code (ISO 3166-1), e.g. THA or KHM.")
    if kind == "too_short" and names and names[-1] == "individual_ids":
        return _("Tick at least one person.")
    if kind == "missing":
        return _("This is required.")
    if kind.startswith(("date_", "datetime_")):
        return _("Enter a date as YYYY-MM-DD.")
    if kind == "enum":
        return _("Choose one of the options.")
    if kind in ("uuid_parsing", "uuid_type"):
        return _("Choose from the list.")
    if kind in ("int_parsing", "int_type"):
        return _("Enter a whole number.")
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# Templates ------------------------------------------------------------------------------------
environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# Templates translate through the reader's catalogue (app/i18n.py): ``_("…")``, ``{% trans %}``.
environment.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
)
environment.filters.update(
    date=filters.date,
    ago=filters.ago,
    label=filters.label,
    country=filters.country,
    changes=filters.changes,
    evidence=filters.evidence,
)
environment.globals.update(Action=Action, languages=i18n.LANGUAGES, language_choices=i18n.CHOICES)


# The words haven.js writes itself (the live inbox, the MRZ preview, the file size check), given
# to it in the reader's language through the page (data-words), as no script is inline.
SCRIPT_WORDS = {
    "latest": N_("Show the latest alerts"),
    "changed": N_("New changes to the alerts."),
    "new-alert": N_("New %(severity)s alert: %(summary)s"),
    "stopped": N_("Live updates stopped: reload the page."),
    "ended": N_("Live updates stopped: your session has ended. Reload the page to sign in again."),
    "reconnecting": N_("Reconnecting to live updates…"),
    "mrz-shape": N_(
        "Preview: expecting 2 lines of 44 characters (A–Z, 0–9, <); "  # noqa: RUF001 - ranges
        "now %(lines)s line(s) of %(lengths)s."
    ),
    "mrz-bad": N_("Preview: %(count)s check digit(s) do not match; check the typing."),
    "mrz-ok": N_("Preview: all check digits match."),
    "digit-wrong": N_("check digit wrong"),
    "number": N_("Document number"),
    "issuer": N_("Issuing state"),
    "nationality": N_("Nationality"),
    "surname": N_("Surname"),
    "given": N_("Given names"),
    "birth": N_("Date of birth"),
    "sex": N_("Sex"),
    "expiry": N_("Date of expiry"),
    "composite": N_("Composite check"),
    "critical": N_("Critical"),
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
    "info": N_("Info"),
    "too-large": N_(
        "Error: this file is %(size)s MB; Haven takes up to %(limit)s. Choose a smaller file (a "
        "scan at a lower resolution, or the file in parts)."
    ),
}


def script_words() -> str:
    """The translations of ``SCRIPT_WORDS`` by key, as JSON (none in English: the script's)."""
    if i18n.current() == i18n.DEFAULT:
        return ""
    words = {key: i18n.gettext(text) for key, text in SCRIPT_WORDS.items()}
    return json.dumps(words, ensure_ascii=False, separators=(",", ":"))


def render(
    request: Request,
    template: str,
    *,
    actor: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    secret: str = request.app.state.web_secret
    token = cookies.session_token(request)
    csrf = cookies.csrf_token(secret, "session", token) if actor is not None and token else ""

    def can(*actions: Action) -> bool:
        return actor is not None and any(roles.allows(actor.role, a) for a in actions)

    context.setdefault("errors", {})
    context.setdefault("values", {})
    context.setdefault("message", None)
    context.setdefault("done", _done(request))
    context.setdefault("tz", zones.of(request, actor))  # the reader's time zone (filter date)
    html = environment.get_template(template).render(
        request=request,
        lang=i18n.current(),
        dir=i18n.direction(),
        script_words=script_words(),
        path=request.url.path,
        actor=actor,
        csrf=csrf,
        can=can,
        today=dt.date.today(),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    language.remember(request, response)
    return response


# Notices after a redirect are named by a fixed key, never by text taken from the URL.
DONE = {
    "person": N_("Person registered."),
    "person-case": N_("Person registered and a case opened."),
    "document": N_("Travel document added."),
    "unhcr": N_("UNHCR status recorded."),
    "incident": N_("Incident recorded."),
    "check-in": N_("Check-in recorded."),
    "interval": N_("Check-in interval saved."),
    "case": N_("Case opened."),
    "note": N_("Note added."),
    "attachment": N_("Attachment stored (encrypted)."),
    "assigned": N_("Assignment saved."),
    "unassigned": N_("Assignment removed."),
    "acknowledged": N_("Alert acknowledged."),
    "resolved": N_("Alert resolved."),
    "profile": N_("Saved: times are shown in your time zone now."),
    "override": N_("Risk level overridden."),
    "mfa": N_("Two-factor sign-in is on."),
    "consent": N_("Consent recorded."),
    "erased": N_("The record was erased: everything kept for that person is unreadable now."),
    "merged": N_("The duplicate record was merged into this one; both histories are kept."),
    "referred": N_(
        "Case referred. The receiving organisation's supervisor accepts or declines it."
    ),
    "referral-accepted": N_("Referral accepted: the case is open to your organisation."),
    "referral-declined": N_("Referral declined."),
    "referral-revoked": N_("Referral revoked: the other organisation no longer sees the case."),
    "notifications": N_("Notification preferences saved."),
    "browser-removed": N_("That browser no longer receives notifications."),
    "shift": N_("Shift added to the on-call rota."),
    "shift-removed": N_("Shift removed from the on-call rota."),
    "user-created": N_("Account created."),
    "user-disabled": N_("Account disabled: it cannot sign in and its sessions have ended."),
    "user-enabled": N_("Account enabled."),
    "user-unlocked": N_("Account unlocked: it can sign in now."),
    "user-mfa-reset": N_("Two-factor sign-in reset; the organisation's supervisors were told."),
    "role-changed": N_("Role changed; the account's sessions have ended."),
    "key-revoked": N_("API key revoked."),
    "webhook-test": N_("Test notice queued: it appears below once the delivery engine sends it."),
    "webhook-disabled": N_("Endpoint disabled."),
    "organisation": N_("Organisation added."),
    "organisation-defaults": N_(
        "Saved: that organisation's staff who have not chosen their own see this language and "
        "time zone."
    ),
    "country-override": N_("Correction saved; the people it concerns are reassessed."),
}
WARN = {
    "number": N_("The typed document number differs from the MRZ."),
    "issuing_country": N_("The typed issuing country differs from the MRZ."),
    "expires_on": N_("The typed expiry date differs from the MRZ."),
    "mrz.date_of_birth": N_("The MRZ date of birth differs from the person's."),
    "mrz.nationality": N_("The MRZ nationality is not among the person's nationalities."),
    "duplicates": N_("this person may already be registered in your organisation (see below)."),
}


def _done(request: Request) -> list[str]:
    notices = [_(DONE[key]) for key in request.query_params.getlist("done") if key in DONE]
    notices += [
        _("Check: %(warning)s") % {"warning": _(WARN[key])}
        for key in request.query_params.getlist("warn")
        if key in WARN
    ]
    return notices


def see_other(path: str, *, done: str | None = None, warn: list[str] | None = None) -> Response:
    query = []
    if done:
        query.append(f"done={quote(done)}")
    query += [f"warn={quote(w)}" for w in warn or []]
    if query:
        base, _sep, anchor = path.partition("#")
        path = (
            base
            + ("&" if "?" in base else "?")
            + "&".join(query)
            + (f"#{anchor}" if anchor else "")
        )
    return RedirectResponse(path, status_code=303)


def local_path(target: str | None) -> str:
    """A redirect target inside this site only (no scheme, no host, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# Errors as pages ------------------------------------------------------------------------------
def error_page(request: Request, status: int, title: str, text: str, **extra: Any) -> Response:
    return render(request, "error.html", status=status, title=title, text=text, actor=None, **extra)


def _sign_in(request: Request, exc: SignInRequired) -> Response:
    if exc.expired:
        response: Response = RedirectResponse("/login?expired=1", status_code=303)
        cookies.clear_session(response, request)
        return response
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target == "/":
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def handle(request: Request, exc: Exception) -> Response:
    """The page for an error raised while serving a web page."""
    if isinstance(exc, SignInRequired):
        return _sign_in(request, exc)
    if isinstance(exc, NotAuthenticated):
        return _sign_in(request, SignInRequired(expired=True))
    if isinstance(exc, CsrfRefused):
        return error_page(
            request,
            403,
            _("This form could not be accepted"),
            _(
                "It was sent without the security token of your session, or from a page opened "
                "before you last signed in. Go back, reload the page and send the form again."
            ),
        )
    if isinstance(exc, NotFound | RequestValidationError):
        return error_page(
            request,
            404,
            _("Not found"),
            _(
                "There is nothing here, or it is not in your caseload. Check the address, or "
                "search for the person instead."
            ),
        )
    if isinstance(exc, Forbidden):
        return error_page(
            request, 403, _("Not allowed"), _("Your role does not allow this. Ask a supervisor.")
        )
    if isinstance(exc, RateLimited):
        return error_page(request, 429, _("Too many attempts"), exc.detail, headers=exc.headers())
    if isinstance(exc, FormError):
        status = exc.status if exc.status in (409, 413) else 400
        return error_page(
            request, status, _("Something is wrong"), exc.message or _("Check the form.")
        )
    if isinstance(exc, HavenError):
        text = exc.detail[:1].upper() + exc.detail[1:]
        return error_page(request, exc.status_code, _("That did not work"), text)
    if isinstance(exc, StarletteHTTPException):
        text = _("The file is too large.") if exc.status_code == 413 else str(exc.detail)
        return error_page(request, exc.status_code, _("That did not work"), text)
    raise exc


class WebRoute(APIRoute):
    """Routes of the web client: every error becomes a page (see ``handle``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            # The visitor's language; a signed-in page refines it (session.signed_in).
            i18n.activate(language.of_visitor(request))
            try:
                return await handler(request)
            except (
                SignInRequired,
                CsrfRefused,
                FormError,
                HavenError,
                RequestValidationError,
                StarletteHTTPException,
                ValidationError,
            ) as exc:
                # A signed-in reader's language, found in the handler's own thread.
                i18n.activate(getattr(request.state, "language", None) or i18n.current())
                if isinstance(exc, ValidationError):
                    exc = FormError.from_validation(exc)
                return handle(request, exc)

        return route


def uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
