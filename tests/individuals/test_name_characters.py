"""Names carry no invisible characters: control and format characters (zero-width, direction
overrides and isolates) are refused, so a name cannot look empty or reorder the text around it.

Zero-width non-joiner and joiner stay allowed between letters: Persian, Urdu and the Indic
scripts spell names with them.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import API, Team

REFUSED = [
    "\u200b\u200b\u200b",  # zero-width spaces only
    "\u200c\u200d",  # joiners only
    "\ufeff",  # a byte-order mark
    "Sok\u202eeviL",  # right-to-left override
    "Sok\u202dDara",  # left-to-right override
    "\u2067Sok Dara\u2069",  # right-to-left isolate
    "Sok Dara\u200f",  # right-to-left mark
    "Sok\u00adDara",  # soft hyphen
    "Sok\u0085Dara",  # a C1 control (next line)
    "\u200cSok",  # a non-joiner that joins nothing
]
ACCEPTED = [
    "Sok Dara",
    "រតនៈ ដារា",
    "\u0645\u0647\u200c\u0646\u0627\u0632",  # Persian: mah + ZWNJ + naz
    "\u0915\u094d\u200d\u0937",  # Devanagari: a half form by ZWJ
]
FIELDS = [
    ("full_name", lambda v: v),
    ("native_name", lambda v: v),
    ("aliases", lambda v: ["Sok", v]),
]


@pytest.mark.parametrize("name", REFUSED)
@pytest.mark.parametrize(("field", "shape"), FIELDS, ids=[f for f, _ in FIELDS])
def test_invisible_characters_in_a_name_are_refused(
    client: TestClient, team: Team, field: str, shape: object, name: str
) -> None:
    body = {"full_name": "Sok Dara", "nationalities": ["KHM"], field: shape(name)}  # type: ignore[operator]
    created = client.post(f"{API}/individuals", json=body, headers=team.caseworker.headers)
    assert created.status_code == 422, created.text
    person = team.person(team.caseworker)
    changed = client.patch(
        f"{API}/individuals/{person}",
        json={field: shape(name)},  # type: ignore[operator]
        headers=team.caseworker.headers,
    )
    assert changed.status_code == 422, changed.text


@pytest.mark.parametrize("name", ACCEPTED)
def test_names_in_every_script_are_kept(client: TestClient, team: Team, name: str) -> None:
    person = team.register(team.caseworker, full_name=name, aliases=[name], native_name=name)
    read = client.get(f"{API}/individuals/{person['id']}", headers=team.caseworker.headers)
    assert read.json()["full_name"] == name


def test_an_organisation_name_of_invisible_characters_is_refused(
    client: TestClient, team: Team
) -> None:
    response = client.post(
        f"{API}/organisations", json={"name": "\u200b\u200b"}, headers=team.admin.headers
    )
    assert response.status_code == 422, response.text
