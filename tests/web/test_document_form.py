"""The travel-document form refuses what the API refuses: an MRZ that contradicts the typed
number, and an expiry before the issue date, each named beside its field with what was typed
kept."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import fresh_address
from tests.documents.support import td3
from tests.factories import Team, passport_number
from tests.web.support import field_errors, sign_in


def test_contradictions_are_named_beside_their_fields(app: FastAPI, team: Team) -> None:
    cw = team.caseworker
    person = team.person(cw, date_of_birth="1985-03-15")
    client = TestClient(app, client=(fresh_address(), 1))
    token = sign_in(client, cw.user)
    typed = passport_number()
    response = client.post(
        f"/people/{person}/documents",
        data={
            "csrf_token": token,
            "type": "passport",
            "number": typed,
            "issuing_country": "KHM",
            "mrz": td3(passport_number()),
        },
    )
    assert response.status_code == 422
    assert "MRZ" in field_errors(response.text)["number"]
    assert f'value="{typed}"' in response.text
    late = client.post(
        f"/people/{person}/documents",
        data={
            "csrf_token": token,
            "type": "passport",
            "number": typed,
            "issuing_country": "KHM",
            "issued_on": "2020-02-02",
            "expires_on": "2020-02-01",
        },
    )
    assert late.status_code == 422
    assert "precedes the issue date" in field_errors(late.text)["expires_on"]
    listed = client.get(f"/api/v1/individuals/{person}/documents", headers=cw.headers)
    assert listed.status_code == 200 and listed.json() == []  # neither was stored
