"""An auditor reads its own organisation's audit trail; the whole deployment's is an explicit,
separate grant (issue 13, item 5)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit
from app.db import transaction
from app.errors import BadRequest
from app.models.audit import AuditEntry
from tests.factories import Team

from .test_routes import fetch, fetch_all


def grant_deployment_wide(app: FastAPI, user_id: uuid.UUID) -> None:
    with transaction(app.state.sessionmaker) as session:
        audit.grant_deployment_audit(session, user_id)


def test_an_auditor_does_not_see_another_organisations_entries(
    client: TestClient, team: Team
) -> None:
    other = team.elsewhere()
    mine = team.person(team.caseworker)
    theirs = other.person(other.caseworker)
    headers = team.auditor.headers

    assert fetch(client, headers, subject=str(mine))["items"]
    assert fetch(client, headers, actor=str(team.caseworker.id))["items"]
    assert fetch(client, headers, subject=str(theirs))["items"] == []
    assert fetch(client, headers, actor=str(other.caseworker.id))["items"] == []
    assert fetch(client, headers, actor=str(other.auditor.id))["items"] == []  # its reads too


def test_an_attempt_on_another_organisations_record_is_seen_by_both(
    client: TestClient, team: Team
) -> None:
    """Actor in one organisation, subject in the other: each side's auditor sees the entry."""
    other = team.elsewhere()
    theirs = other.person(other.caseworker)
    caseworker = team.caseworker.user
    who = Actor(caseworker.id, caseworker.username, "caseworker", caseworker.organisation_id)
    with transaction(team.app.state.sessionmaker) as session:
        audit.record(
            session,
            actor=who,
            action="individual.read",
            subject_type="individual",
            subject_id=theirs,
            outcome="denied",
        )
    mine_view = fetch(client, team.auditor.headers, actor=str(caseworker.id))["items"]
    assert any(item["subject_id"] == str(theirs) for item in mine_view)
    their_view = fetch(client, other.auditor.headers, subject=str(theirs))["items"]
    assert any(item["actor_id"] == str(caseworker.id) for item in their_view)


def test_every_entry_an_auditor_reads_belongs_to_its_organisation(
    fresh_database: Callable[..., FastAPI],
) -> None:
    app = fresh_database()
    with TestClient(app) as client:
        team = Team(app, client)
        other = team.elsewhere()
        people = {team.person(team.caseworker)}
        case = team.case(team.caseworker, next(iter(people)))
        strangers = {other.person(other.caseworker)}
        other.case(other.caseworker, next(iter(strangers)))
        ours = {m.id for m in (team.caseworker, team.auditor)}
        theirs = {other.caseworker.id}
        items = fetch_all(client, team.auditor.headers)
        seen_subjects = {item["subject_id"] for item in items}
        seen_actors = {item["actor_id"] for item in items}
        assert {str(p) for p in people} <= seen_subjects
        assert str(case["id"]) in seen_subjects
        assert not {str(p) for p in strangers} & seen_subjects
        assert not {str(t) for t in theirs} & seen_actors
        assert {str(o) for o in ours} <= seen_actors
        with transaction(app.state.sessionmaker) as session:
            total = len(session.scalars(select(AuditEntry.seq)).all())
        assert len(items) < total


def test_a_deployment_wide_auditor_sees_every_organisation(client: TestClient, team: Team) -> None:
    other = team.elsewhere()
    theirs = other.person(other.caseworker)
    wide = team.member("auditor")
    assert fetch(client, wide.headers, subject=str(theirs))["items"] == []
    grant_deployment_wide(team.app, wide.id)
    seen: list[dict[str, Any]] = fetch(client, wide.headers, subject=str(theirs))["items"]
    assert seen
    assert fetch(client, wide.headers, actor=str(other.caseworker.id))["items"]
    granted = fetch(client, wide.headers, action="audit.deployment_grant", subject=str(wide.id))
    assert granted["items"]  # the grant itself is on the trail


def test_the_deployment_wide_grant_is_only_for_auditors(client: TestClient, team: Team) -> None:
    with pytest.raises(BadRequest):
        grant_deployment_wide(team.app, team.supervisor.id)
