"""Finding people: any whole word of a name through the token index, pages with a total,
sorts, filters, scope, and what the token index holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update

from app.alerts import service as alerts
from app.crypto.blind_index import DOCUMENT_NUMBER, TOKENS_PER_PERSON
from app.models.audit import AuditEntry
from app.models.individual import Individual, IndividualNameToken
from tests.consent.support import give
from tests.factories import Team, db, passport_number

API = "/api/v1/individuals"


def word() -> str:
    """A name word no other test uses (letters only: numbers are not indexed)."""
    return "Zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])


def names(page: dict[str, object]) -> list[str]:
    items = page["items"]
    assert isinstance(items, list)
    return [p["full_name"] for p in items]


def test_a_word_finds_every_name_holding_it_folded_and_whole(
    client: TestClient, team: Team
) -> None:
    me = team.caseworker.headers
    sok = word()
    team.register(me, full_name=f"{sok} Dara")
    team.register(me, full_name="Chan Vannak", aliases=[f"Vannak {sok.upper()}"])
    team.register(me, full_name="Meas Bopha", native_name=f"{sok} សុខ")
    team.register(me, full_name=f"{sok}ha Dara")  # a longer word is not the word
    page = client.get(API, params={"q": sok.lower(), "sort": "name"}, headers=me).json()
    assert names(page) == ["Chan Vannak", "Meas Bopha", f"{sok} Dara"]
    assert page["total"] == 3 and page["next_cursor"] is None
    # Accents and case fold; two words must both be words of the person's names.
    accented = sok[0] + "\u0301" + sok[1:]
    assert client.get(API, params={"q": accented}, headers=me).json()["total"] == 3
    both = client.get(API, params={"q": f"dara {sok}"}, headers=me).json()
    assert names(both) == [f"{sok} Dara"]
    khmer = client.get(API, params={"q": "សុខ"}, headers=me).json()
    assert "Meas Bopha" in names(khmer)


def test_pages_carry_the_total_and_reach_the_last_page(client: TestClient, team: Team) -> None:
    me = team.caseworker.headers
    family = word()
    for given in ("Ea", "Fa", "Ga", "Ha", "Ia"):
        team.register(me, full_name=f"{family} {given}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": family, "sort": "name", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, params=params, headers=me).json()
        assert page["total"] == 5
        seen += names(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{family} {g}" for g in ("Ea", "Fa", "Ga", "Ha", "Ia")]
    last = client.get(
        API, params={"q": family, "sort": "name", "limit": 2, "cursor": "4"}, headers=me
    )
    assert names(last.json()) == [f"{family} Ia"]
    for bad in ("-1", "x", "abc_1", "9" * 12):
        answer = client.get(API, params={"q": family, "cursor": bad}, headers=me)
        assert answer.status_code == 422, bad


def test_everyone_sorts_by_risk_or_last_change_with_a_total(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.supervisor.headers
    ids = [team.person(me, full_name=f"{word()} {n}") for n in range(4)]
    with db(app) as session:
        for score, pid in zip((10, 90, 50, 70), ids, strict=True):
            session.execute(update(Individual).where(Individual.id == pid).values(risk_score=score))
    page = client.get(API, params={"sort": "risk", "limit": 3}, headers=me).json()
    assert page["total"] == 4 and page["next_cursor"] == "3"
    assert [p["id"] for p in page["items"]] == [str(ids[i]) for i in (1, 3, 2)]
    latest = client.get(API, params={"sort": "updated", "limit": 1}, headers=me).json()
    assert latest["items"][0]["id"] == str(ids[-1])
    by_name = client.get(API, params={"sort": "name"}, headers=me).json()
    assert names(by_name) == sorted(names(by_name), key=str.casefold)
    assert client.get(API, params={"sort": "age"}, headers=me).status_code == 422


def test_filters_by_country_risk_level_and_open_alerts(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.supervisor.headers
    family = word()
    in_thailand = team.person(me, full_name=f"{family} One", current_country="THA")
    in_malaysia = team.person(me, full_name=f"{family} Two", current_country="MYS")
    with db(app) as session:
        session.execute(
            update(Individual).where(Individual.id == in_malaysia).values(risk_level="high")
        )
        alerts.raise_alert(
            session,
            rule="host_custody",
            severity="critical",
            organisation_id=team.organisation.id,
            individual_id=in_thailand,
            summary="Held in custody by a host state",
        )

    def found(**params: str) -> list[str]:
        answer = client.get(API, params={"q": family, **params}, headers=me)
        assert answer.status_code == 200, answer.text
        return [p["id"] for p in answer.json()["items"]]

    assert found(country="MYS") == [str(in_malaysia)]
    assert found(risk_level="high") == [str(in_malaysia)]
    assert found(open_alerts="true") == [str(in_thailand)]
    assert found(open_alerts="false") == [str(in_malaysia)]
    everyone = client.get(API, params={"open_alerts": "true"}, headers=me).json()
    assert [p["id"] for p in everyone["items"]] == [str(in_thailand)]


def test_scope_applies_and_bad_words_are_refused(client: TestClient, team: Team) -> None:
    family = word()
    theirs = team.elsewhere()
    theirs.register(theirs.supervisor, full_name=f"{family} Elsewhere")
    other_caseworker = team.member("caseworker").headers
    team.register(team.caseworker, full_name=f"{family} Mine")
    assert (
        client.get(API, params={"q": family}, headers=team.supervisor.headers).json()["total"] == 1
    )
    assert client.get(API, params={"q": family}, headers=other_caseworker).json()["total"] == 0
    for q in ("123 456", "—", "a b c d e f g"):
        answer = client.get(API, params={"q": q}, headers=team.caseworker.headers)
        assert answer.status_code == 422, q
        assert answer.json()["detail"].startswith("q: ")
    assert client.get(API, params={"q": family}, headers=team.analyst.headers).status_code == 403
    assert client.get(API, params={"q": family}).status_code == 401


def test_every_person_holds_the_same_number_of_token_rows_and_erasure_empties_them(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.supervisor.headers
    short = team.person(me, full_name="Sok")
    long = team.person(
        me, full_name="Sok Dara Vannak", aliases=["Bopha Chan"], native_name="សុខ ដារា"
    )

    def rows(pid: uuid.UUID) -> int:
        with db(app) as session:
            count = select(func.count()).where(IndividualNameToken.individual_id == pid)
            return session.scalar(count) or 0

    assert rows(short) == rows(long) == TOKENS_PER_PERSON
    renamed = client.patch(f"{API}/{short}", json={"aliases": ["Kosal"]}, headers=me)
    assert renamed.status_code == 200
    assert rows(short) == TOKENS_PER_PERSON
    erased = client.request("DELETE", f"{API}/{long}", json={"reason": "asked"}, headers=me)
    assert erased.status_code == 204
    assert rows(long) == 0


def test_a_search_and_each_person_shown_are_audited(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.caseworker
    family = word()
    pid = team.person(me, full_name=f"{family} Audited")
    assert client.get(API, params={"q": family}, headers=me.headers).json()["total"] == 1
    with db(app) as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.subject_id, AuditEntry.details)
            .where(AuditEntry.actor_id == me.user.id)
            .order_by(AuditEntry.seq.desc())
            .limit(2)
        ).all()
    actions = {e.action: e for e in entries}
    assert actions["individual.read"].subject_id == pid
    assert "q" in str(actions["individual.search"].details)
    assert family not in str(actions["individual.search"].details)  # the words are not kept


@pytest.mark.parametrize("sort", ["risk", "name", "updated"])
def test_sorts_are_accepted(client: TestClient, team: Team, sort: str) -> None:
    answer = client.get(API, params={"sort": sort}, headers=team.caseworker.headers)
    assert answer.status_code == 200


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(app.state.engine, "before_cursor_execute", before)


def test_a_page_of_people_costs_the_same_statements_however_many_it_shows(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    """Each person's UNHCR status, consent and assignment come with the page, not one query
    per person: a full page of 50 is as many statements as a page of 2."""
    me = team.caseworker.headers
    family = word()

    def page_statements() -> tuple[int, dict[str, object]]:
        client.get(API, params={"q": family}, headers=me)  # this minute's lookup counter
        with statements(app) as seen:
            page = client.get(API, params={"q": family, "sort": "name"}, headers=me).json()
        return len(seen), page

    first = team.person(me, full_name=f"{family} Aa", contact="+66 81 000 0001")
    team.unhcr_status(me, first, status="asylum_seeker", effective_date="2026-01-05")
    team.unhcr_status(me, first, status="refugee", effective_date="2026-03-01")
    team.unhcr_status(me, first, status="rejected", effective_date="2026-02-01")
    give(client, me, str(first), share=True)
    team.person(me, full_name=f"{family} Ab")
    few, page = page_statements()
    shown = page["items"]
    assert isinstance(shown, list) and [p["full_name"] for p in shown] == [
        f"{family} Aa",
        f"{family} Ab",
    ]
    # The newest status by effective date, the consent in force, the contact its registrar sees.
    assert shown[0]["unhcr_status"]["status"] == "refugee"
    assert shown[0]["consent"]["share_with_partners"] is True
    assert shown[0]["contact"] == "+66 81 000 0001"
    assert shown[1]["unhcr_status"] is None and shown[1]["consent"] is None
    for n in range(6):
        team.person(me, full_name=f"{family} B{n}")
    many, page = page_statements()
    assert page["total"] == 8
    assert many == few


def test_a_number_search_unwraps_its_candidates_keys_with_one_query(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    """The number index is truncated, so a number's bucket holds other people's documents
    too (about six at 100,000 documents); each is opened to compare, and their keys come in one
    query, not one round trip each."""
    me = team.supervisor.headers
    crypto = app.state.crypto
    buckets: dict[int | None, list[str]] = {}
    while True:  # three numbers in one bucket of the index (2**14 buckets)
        number = passport_number()
        bucket = buckets.setdefault(crypto.blind_index(DOCUMENT_NUMBER, number), [])
        bucket.append(number)
        if len(bucket) == 3:
            break
    holders = [team.person(me) for _ in bucket]
    for holder, number in zip(holders, bucket, strict=True):
        team.document(me, holder, number=number)
    client.get(API, params={"document_number": bucket[0]}, headers=me)  # the lookup counter
    crypto.keys.cache.clear()
    with statements(app) as seen:
        page = client.get(API, params={"document_number": bucket[1]}, headers=me).json()
    assert [p["id"] for p in page["items"]] == [str(holders[1])]
    assert page["total"] == 1 and page["next_cursor"] is None
    assert len([s for s in seen if "FROM record_key" in s]) == 1
    # The holders are few: read in one statement with their count, not counted apart.
    assert not [s for s in seen if "count(" in s]


def test_the_holders_of_one_number_page_with_their_total(client: TestClient, team: Team) -> None:
    me = team.supervisor.headers
    number = passport_number()
    holders = {str(team.person(me)) for _ in range(3)}
    for holder in holders:
        team.document(me, holder, number=number)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"document_number": number, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, params=params, headers=me).json()
        assert page["total"] == 3
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and set(seen) == holders


def test_a_search_that_finds_no_one_reads_no_page(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    me = team.supervisor.headers
    client.get(API, params={"document_number": passport_number()}, headers=me)  # its counter
    with statements(app) as seen:
        page = client.get(API, params={"document_number": passport_number()}, headers=me).json()
    assert page["items"] == [] and page["total"] == 0
    assert not [s for s in seen if "JOIN unhcr_status" in s]
