"""Helpers for the web client's tests: signing in through the real form, CSRF tokens, TOTP."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Route

from app.db import transaction
from app.web.render import WebRoute
from tests.factories import UserHandle

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ERROR = re.compile(
    r'<p class="error" id="e-([\w.]+)"><span class="visually-hidden">Error: </span>(.*?)</p>'
)


def csrf(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def field_errors(html: str) -> dict[str, str]:
    return dict(ERROR.findall(html))


def sign_in(client: TestClient, user: UserHandle, code: str = "") -> str:
    """Signs in through the form; returns a CSRF token of the new session."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf(page.text),
            "username": user.username,
            "password": user.password,
            "code": code,
            "next": "/people",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return session_csrf(client)


def session_csrf(client: TestClient) -> str:
    return csrf(client.get("/account/two-factor").text)


def enrol_totp(app: FastAPI, user: UserHandle) -> str:
    """Turn two-factor on for ``user`` through the service; returns the seed."""
    from app.actor import Actor
    from app.auth import service as auth

    actor = Actor(user.id, user.username, user.role, user.organisation_id)
    with transaction(app.state.sessionmaker) as session:
        seed, _ = auth.enroll_mfa(session, actor)
        auth.confirm_mfa(session, actor, pyotp.TOTP(seed).now())
    return seed


def next_code(seed: str) -> str:
    """A code newer than any accepted so far (the next time step: within the window)."""
    return pyotp.TOTP(seed).at(time.time() + 30)


def web_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every page and form of the web client."""
    found = []
    for route in app.router.routes:
        for candidate in _flatten(route):
            if isinstance(candidate, WebRoute):
                for method in sorted(candidate.methods - {"HEAD", "OPTIONS"}):
                    found.append((method, candidate.path))
    return found


def _flatten(route: Any) -> list[Any]:
    if isinstance(route, Route):
        return [route]
    if hasattr(route, "effective_candidates"):
        out: list[Any] = []
        for candidate in route.effective_candidates():
            out += _flatten(getattr(candidate, "original_route", candidate))
        return out
    return []


def fill(path: str, **ids: str) -> str:
    """A path with its parameters filled in (random ids unless given)."""
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)
