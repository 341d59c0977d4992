"""Which language a page is written in.

Signed out (the sign-in page), the browser's ``Accept-Language`` decides, or the language picked
with ``?lang=`` on the sign-in page (kept in a cookie for the rest of the visit). Signed in, the
user's own choice on the profile page wins, then their organisation's default. ``?lang=`` on any
page shows that page in the language asked for.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app import i18n
from app.web import cookies, zones

COOKIE = "haven_lang"
YEAR = 365 * 24 * 3600


def asked(request: Request) -> str | None:
    return i18n.choose(request.query_params.get("lang"))


def of_visitor(request: Request) -> str:
    """The language of a page for someone not (yet) known: asked, remembered, or the browser's."""
    return (
        asked(request)
        or i18n.choose(request.cookies.get(COOKIE))
        or i18n.from_accept_language(request.headers.get("accept-language"))
        or i18n.DEFAULT
    )


def of_reader(request: Request, actor: Any) -> str:
    """The language of a signed-in user's page (their own choice as they made it, with its
    calendar: ``th-u-ca-buddhist``)."""
    chosen = zones.language_of(request, actor)
    return asked(request) or (chosen if i18n.choose(chosen) else None) or of_visitor(request)


def remember(request: Request, response: Response) -> None:
    """Keep a language picked with ``?lang=`` for the visit's next pages (and the sign-in)."""
    code = asked(request)
    if code and request.cookies.get(COOKIE) != code:
        response.set_cookie(
            COOKIE, code, max_age=YEAR, path="/", secure=cookies.secure(request), samesite="lax"
        )
