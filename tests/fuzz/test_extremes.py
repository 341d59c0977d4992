"""Inputs at the edges of their types answer 4xx, never 500.

Four were found by hand (a TOTP in Arabic-Indic digits, an RFC 5987 ``filename*``, a history
``as_of`` whose offset pushes it below year 1 in UTC, an audit cursor past 64 bits); the walk
below then sends extreme values to every date, datetime, integer and cursor query parameter of
every operation in the OpenAPI document, as a role allowed to call it, on records of its own.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.auth import roles
from app.auth.roles import Role
from app.routes_table import api_routes
from tests.auth.support import attempt, audit_entries, request_id
from tests.auth.test_totp import _enrolled
from tests.conftest import fresh_address
from tests.factories import API, PASSWORD, Team
from tests.web.support import fill, sign_in, web_routes

# "123456" in Arabic-Indic digits (١٢٣٤٥٦): str.isdigit() says yes to it.
ARABIC_CODE = "\u0661\u0662\u0663\u0664\u0665\u0666"


class TestFourInputs:
    def test_a_totp_in_non_ascii_digits_is_a_failed_sign_in(
        self, client: TestClient, app: FastAPI
    ) -> None:
        user, _, _ = _enrolled(client, app)
        rid = request_id()
        response = attempt(client, user.username, PASSWORD, rid, totp=ARABIC_CODE)
        assert response.status_code == 401, response.text
        assert [e.action for e in audit_entries(app, rid)] == ["auth.login_failed"]

    def test_non_ascii_codes_count_toward_the_lockout(
        self, client: TestClient, app: FastAPI
    ) -> None:
        user, _, _ = _enrolled(client, app)
        for _ in range(5):
            answer = attempt(client, user.username, PASSWORD, totp=ARABIC_CODE)
            assert answer.status_code == 401, answer.text
        locked = attempt(client, user.username, PASSWORD, totp=ARABIC_CODE)
        assert locked.status_code == 429, locked.text

    def _upload(self, team: Team, disposition: str) -> Any:
        cw = team.caseworker
        case = team.case(cw, team.person(cw))["id"]
        boundary = "haven-boundary"
        body = (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: text/plain\r\n\r\nA witness statement.\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        return team.client.post(
            f"{API}/cases/{case}/attachments",
            content=body,
            headers={
                **cw.headers,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )

    def test_an_rfc_5987_filename_is_decoded(self, team: Team) -> None:
        response = self._upload(
            team, "form-data; name=\"file\"; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.txt"
        )
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "€ résumé.txt"

    @pytest.mark.parametrize(
        "value",
        ["UTF-8''%FF%FE.txt", "x-unknown''abc.txt", "rot13''abc.txt", "no-quotes.txt", "''"],
    )
    def test_a_malformed_rfc_5987_filename_is_422(self, team: Team, value: str) -> None:
        response = self._upload(team, f'form-data; name="file"; filename*={value}')
        assert response.status_code == 422, response.text

    def test_an_empty_rfc_5987_filename_gets_the_default_name(self, team: Team) -> None:
        response = self._upload(team, "form-data; name=\"file\"; filename*=UTF-8''")
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "attachment"

    @pytest.mark.parametrize(
        "as_of", ["0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59", "0001-01-01T00:00:00Z"]
    )
    def test_history_as_of_at_the_edge_of_time(self, team: Team, as_of: str) -> None:
        cw = team.caseworker
        case = team.case(cw, team.person(cw))["id"]
        response = team.client.get(
            f"{API}/cases/{case}/history", params={"as_of": as_of}, headers=cw.headers
        )
        assert response.status_code in (200, 422), response.text

    def test_an_audit_cursor_past_64_bits_is_422(self, team: Team) -> None:
        response = team.client.get(
            f"{API}/audit",
            params={"cursor": "99999999999999999999999"},
            headers=team.auditor.headers,
        )
        assert response.status_code == 422, response.text


# The walk over every query parameter ------------------------------------------------------------
BIG = "99999999999999999999999"
INTEGERS = [
    BIG,
    f"-{BIG}",
    "9223372036854775808",
    "-9223372036854775809",
    "-1",
    "0",
    "\u0661\u0662\u0663",
]
DATES = [
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "10000-01-01",
    "\u0661\u0669\u0669\u0660-\u0660\u0661-\u0660\u0661",
]
DATETIMES = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01",
    BIG,
    f"-{BIG}",
]
UUID = str(uuid.UUID(int=0))
CURSORS = [
    BIG,
    f"{BIG}_{UUID}",
    f"-{BIG}_{UUID}",
    f"0_{BIG}_{UUID}",
    f"{BIG}_0_{UUID}",
    f"-{BIG}_-{BIG}_{UUID}",
    f"0001-01-01_{UUID}",
    f"9999-12-31_{UUID}",
    "0001-01-01T00:00:00+23:59",
    "\uffff" * 300,
]


def _values(parameter: dict[str, Any]) -> list[str]:
    """The extreme values for a parameter of this shape (none if it has another shape)."""
    schema = parameter.get("schema", {})
    kinds = [schema, *schema.get("anyOf", [])]
    types = {(k.get("type"), k.get("format")) for k in kinds}
    if ("string", "date-time") in types:
        return DATETIMES
    if ("string", "date") in types:
        return DATES
    if any(t == "integer" for t, _ in types):
        return INTEGERS
    if parameter["name"] == "cursor":
        return CURSORS + INTEGERS
    return []


def _caller(team: Team, actions: tuple[Any, ...]) -> dict[str, str] | None:
    for role in Role:
        if any(roles.allows(role.value, action) for action in actions):
            return team.monitor if role == Role.SERVICE else team.signed_in(role.value).headers
    return None


def test_every_date_integer_and_cursor_query_parameter_survives_extremes(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    cw = team.caseworker
    person = team.person(cw)
    ids = {"individual_id": str(person), "case_id": team.case(cw, person)["id"]}
    actions = {(m, r.path): r.actions for r in api_routes(app) for m in r.methods}
    spec = client.get("/openapi.json").json()
    failures, tried = [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            shaped = [(p["name"], _values(p)) for p in params if _values(p)]
            if not shaped:
                continue
            headers = _caller(team, actions[(method.upper(), path)]) or {}
            url = path.format(**ids)  # a path parameter not seeded here fails loudly
            fixed = {"once": "true"} if path.endswith("/alerts/stream") else {}
            for name, values in shaped:
                for value in values:
                    tried += 1
                    try:
                        response = client.request(
                            method.upper(), url, params={**fixed, name: value}, headers=headers
                        )
                    except Exception as exc:  # raised by the app: a client would see a 500
                        failures.append(f"{method.upper()} {path} {name}={value!r}: {exc!r}")
                        continue
                    if response.status_code >= 500 or response.status_code in (401, 403):
                        failures.append(f"{method.upper()} {path} {name}={value!r}: {response}")
    assert tried > 50
    assert not failures, "\n".join(failures)


# The web client's pages read their query parameters themselves (no OpenAPI): every name any
# page reads, with every extreme value, on every page.
WEB_PARAMETERS = [
    "open_after",
    "handling_after",
    "country",
    "risk_level",
    "all",
    "person",
    "into",
    "done",
    "warn",
    "next",
    "expired",
    "signed_out",
]
# Fewer than the API's, since every page gets every name: the shapes that broke something.
WEB_VALUES = [
    BIG,
    f"0_{BIG}_{UUID}",
    f"{BIG}_0_{UUID}",
    f"-{BIG}_-{BIG}_{UUID}",
    "0001-01-01T00:00:00+23:59",
    "\uffff" * 300,
    "a\x00b",
    "\u0661\u0662\u0663",
]


def test_every_web_page_survives_extreme_query_values(app: FastAPI, team: Team) -> None:
    cw = team.caseworker
    person = team.person(cw)
    case = team.case(cw, person)["id"]
    with TestClient(app, client=(fresh_address(), 1)) as browser:
        sign_in(browser, team.user("supervisor"))
        failures, tried = [], 0
        for method, path in web_routes(app):
            if method != "GET":
                continue
            url = fill(path, individual_id=str(person), case_id=case)
            for name in WEB_PARAMETERS:
                for value in WEB_VALUES:
                    tried += 1
                    try:
                        response = browser.get(url, params={name: value}, follow_redirects=False)
                    except Exception as exc:  # raised by the app: a client would see a 500
                        failures.append(f"GET {path} {name}={value!r}: {exc!r}")
                        continue
                    if response.status_code >= 500:
                        failures.append(f"GET {path} {name}={value!r}: {response}")
    assert tried > 1000
    assert not failures, "\n".join(failures)
