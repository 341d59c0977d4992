"""/cases/{id}/notes: notes and legal notes, sealed with the person's key."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models.case import CaseNote
from tests.factories import API, Team, db, unique


class TestNotes:
    def test_caseworker_note_is_sealed(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker = team.member("caseworker")
        case = team.case(worker, team.person(worker))
        text = f"Met the client at the safe house {unique('room')}; wife still in Phnom Penh."
        response = client.post(
            f"{API}/cases/{case['id']}/notes", json={"body": text}, headers=worker.headers
        )
        assert response.status_code == 201, response.text
        note = response.json()
        assert (note["kind"], note["body"], note["author"]) == ("note", text, worker.user.username)
        with db(app) as session:
            row = session.get(CaseNote, uuid.UUID(note["id"]))
            assert row is not None
            assert text.encode() not in row.body_ct and b"Phnom Penh" not in row.body_ct
        listed = client.get(f"{API}/cases/{case['id']}/notes", headers=worker.headers)
        assert [(n["id"], n["body"]) for n in listed.json()] == [(note["id"], text)]

    def test_lawyer_writes_legal_notes(self, client: TestClient, team: Team, app: FastAPI) -> None:
        worker, boss, counsel = (
            team.member("caseworker"),
            team.member("supervisor"),
            team.member("lawyer"),
        )
        case = team.case(worker, team.person(worker))
        team.assign(boss, case["id"], counsel, "lawyer")
        path = f"{API}/cases/{case['id']}/notes"
        legal = client.post(
            path, json={"body": "Filed for interim measures."}, headers=counsel.headers
        )
        assert legal.status_code == 201
        assert legal.json()["kind"] == "legal"
        boss_note = client.post(path, json={"body": "Escalated."}, headers=boss.headers)
        assert boss_note.json()["kind"] == "note"
        kinds = [n["kind"] for n in client.get(path, headers=worker.headers).json()]
        assert kinds == ["legal", "note"]
        with db(app) as session:
            stored = session.scalars(
                select(CaseNote.kind).where(CaseNote.case_id == uuid.UUID(case["id"]))
            )
            assert sorted(stored) == ["legal", "note"]

    def test_out_of_scope_and_roles(self, client: TestClient, team: Team) -> None:
        worker, stranger, counsel = (
            team.member("caseworker"),
            team.member("caseworker"),
            team.member("lawyer"),
        )
        case = team.case(worker, team.person(worker))
        path = f"{API}/cases/{case['id']}/notes"
        body = {"body": "Something"}
        assert client.post(path, json=body, headers=stranger.headers).status_code == 404
        assert client.post(path, json=body, headers=counsel.headers).status_code == 404
        for role in ("analyst", "auditor", "admin"):
            assert (
                client.post(path, json=body, headers=team.member(role).headers).status_code == 403
            )
        for bad in ({"body": "   "}, {"body": ""}, {}, {"body": "x" * 20_001}):
            assert client.post(path, json=bad, headers=worker.headers).status_code == 422
