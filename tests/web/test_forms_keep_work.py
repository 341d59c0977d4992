"""Forms never lose work: a description pasted far too long comes back in its form with the
field named, a body past every limit is a page (not JSON) that says the limit, the upload's
limit is shown beside the field, and MRZ errors are in plain words."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import fresh_address
from tests.factories import Team
from tests.web.support import sign_in

MARK = "Detained at the checkpoint near the border crossing"


def _caseworker(app: FastAPI, team: Team) -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    return client, sign_in(client, team.caseworker.user)


def test_a_description_too_long_comes_back_in_the_form_with_the_field_named(
    app: FastAPI, team: Team
) -> None:
    person = team.person(team.caseworker)
    client, token = _caseworker(app, team)
    description = MARK + " " + "x" * 1_500_000  # over HAVEN_MAX_BODY_BYTES (1 MiB) on its own
    answer = client.post(
        "/incidents",
        data={
            "csrf_token": token,
            "type": "detention",
            "occurred_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
            "country": "THA",
            "location": "Mae Sot",
            "description": description,
            "individual_ids": str(person),
        },
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert MARK in answer.text and 'value="Mae Sot"' in answer.text  # what was typed is kept
    # The summary names the field.
    assert "Description: string should have at most 20000 characters." in answer.text


def test_a_body_past_every_limit_is_a_page_that_says_the_limit(app: FastAPI, team: Team) -> None:
    client, token = _caseworker(app, team)
    answer = client.post(
        "/people/new", data={"csrf_token": token, "full_name": "x", "notes": "y" * 5_000_000}
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "up to 4 MB" in answer.text and "Back" in answer.text
    api = client.post(
        "/api/v1/individuals",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers=team.caseworker.headers,
    )
    assert api.status_code == 413 and api.headers["content-type"] == "application/json"


def test_the_upload_limit_is_beside_the_file_field(app: FastAPI, team: Team) -> None:
    person = team.person(team.caseworker)
    case = team.case(team.caseworker, person)
    client, _ = _caseworker(app, team)
    page = client.get(f"/cases/{case['id']}").text
    assert '<p class="hint" id="h-file">Up to 25 MB.' in page
    assert 'data-max-bytes="26214400"' in page


def test_mrz_errors_are_in_plain_words(app: FastAPI, team: Team) -> None:
    person = team.person(team.caseworker)
    client, token = _caseworker(app, team)
    line1 = "P<KHMSOK<<DARA" + "<" * 30
    line2 = "N012345670KHM8503149M3001012" + "<" * 14 + "00"  # number's check digit is wrong
    answer = client.post(
        f"/people/{person}/documents",
        data={
            "csrf_token": token,
            "type": "passport",
            "number": "N01234567",
            "issuing_country": "KHM",
            "status": "valid",
            "mrz": f"{line1}\n{line2}",
        },
    )
    assert answer.status_code == 422
    assert "passport number&#39;s check digit does not match" in answer.text
    assert "Bad check digit" not in answer.text
