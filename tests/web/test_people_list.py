"""The People page: words of names found by a posted search, everyone paged with a total,
sorts and filters in the address (never the typed terms)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.crypto import crypto_of
from app.demo.synthetic import add_people
from tests.conftest import fresh_address
from tests.factories import Team, db
from tests.web.support import sign_in

TITLE = re.compile(r'<h2 id="results-title">([^<]*)')


def _supervisor_with_people(app: FastAPI, count: int) -> tuple[TestClient, str]:
    client = TestClient(app, client=(fresh_address(), 1))
    team = Team(app, client)
    user = team.user("supervisor")
    with db(app) as session:
        add_people(
            session,
            crypto_of(session),
            count=count,
            organisation_id=team.organisation.id,
            created_by=user.id,
            seed=7,
        )
    return client, sign_in(client, user)


def test_everyone_is_paged_with_a_total_and_a_last_page(app: FastAPI) -> None:
    client, _ = _supervisor_with_people(app, 120)
    first = client.get("/people", params={"all": "1"}).text
    assert TITLE.search(first).group(1).strip() == "120 people found"  # type: ignore[union-attr]
    assert "page 1 of 3" in first
    assert first.count('<li class="card">') == 50
    last = re.search(r'<a href="([^"]+)">Last \(3\)</a>', first)
    assert last, first[-3000:]
    final = client.get(last.group(1).replace("&amp;", "&")).text
    assert "page 3 of 3" in final and final.count('<li class="card">') == 20
    assert "Last (3)" not in final and ">Previous<" in final


def test_a_word_of_a_name_is_posted_and_its_pages_posted_too(app: FastAPI) -> None:
    client, token = _supervisor_with_people(app, 300)
    answer = client.post("/people", data={"csrf_token": token, "q": "sok", "sort": "name"})
    assert answer.status_code == 200
    assert str(answer.url).endswith("/people")
    title = TITLE.search(answer.text).group(1)  # type: ignore[union-attr]
    found = int(title.split()[0].replace(",", ""))
    assert 0 < found < 300
    names = re.findall(r'class="card-title"><bdi>([^<]+)</bdi>', answer.text)
    assert names and all("sok" in n.lower().split() for n in names)
    assert names == sorted(names, key=str.casefold)
    if found > 50:
        pager = answer.text[answer.text.index('class="pager"') :]
        assert 'name="q" value="sok"' in pager and 'name="page" value="2"' in pager


def test_sort_and_filters_are_kept_in_the_address_and_checked(app: FastAPI) -> None:
    client, _ = _supervisor_with_people(app, 60)
    page = client.get("/people", params={"all": "1", "sort": "updated", "risk_level": "low"}).text
    assert 'href="/people?sort=updated&amp;risk_level=low&amp;all=1&amp;page=2"' in page or (
        "page 1 of" not in page
    )
    assert '<option value="updated" selected>' in page
    bad = client.get("/people", params={"all": "1", "sort": "age"})
    assert bad.status_code == 422
    assert "Sort by: " in bad.text or "Choose one of the options." in bad.text


def test_a_page_of_everyone_stays_under_the_weight_budget(app: FastAPI) -> None:
    from bench.web import page_weight
    from tests.web.test_weight import BUDGET

    client, _ = _supervisor_with_people(app, 60)
    sizes = page_weight(client, "/people?all=1")
    assert sizes["total"] < BUDGET, sizes
