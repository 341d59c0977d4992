"""The supervisors' import pages: upload, preview as mapped, dry run, import; the file sealed
while kept and gone after; CSRF, role and owner checks."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import transaction
from app.models.individual import Individual
from tests.conftest import fresh_address
from tests.factories import Team, make_user
from tests.imports.support import csv_bytes, person, xlsx_bytes
from tests.web.support import csrf, field_errors, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(client: TestClient, token: str, raw: bytes, name: str, mapping: str = "") -> str:
    response = client.post(
        "/supervisor/import",
        data={"csrf_token": token, "kind": "people", "mapping": mapping},
        files={"file": (name, raw, XLSX if name.endswith(".xlsx") else "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _stored(app: FastAPI) -> list[Path]:
    return list((Path(app.state.settings.data_dir) / "imports").glob("*.sealed"))


def test_upload_preview_dry_run_then_import(app: FastAPI, team: Team) -> None:
    client = TestClient(app, client=(fresh_address(), 50000))
    token = sign_in(client, team.supervisor.user)
    rows = [person(), person(**{"Date of birth": "12/03/1984"}), person()]
    before = set(_stored(app))
    location = _upload(client, token, xlsx_bytes(rows), "people.xlsx")
    # Kept sealed: no name, no number of the file in what is on disk.
    (kept,) = set(_stored(app)) - before
    sealed = kept.read_bytes()
    assert rows[0]["Full name"].encode() not in sealed
    assert rows[0]["Passport number"].encode() not in sealed
    page = client.get(location)
    assert page.status_code == 200
    assert "The first rows, as Haven reads them" in page.text
    assert rows[0]["Full name"] in page.text  # the preview shows the rows as mapped
    assert "not an ISO date" in page.text  # row 3, read as text from the XLSX
    upload_id = location.rsplit("/", 1)[1]
    checked = client.post(
        f"/supervisor/import/{upload_id}/check", data={"csrf_token": csrf(page.text)}
    )
    assert checked.status_code == 200
    assert re.search(r"<td>3</td><td><bdi>Date of birth</bdi></td>", checked.text)
    with transaction(app.state.sessionmaker) as session:
        org = team.organisation.id
        assert not session.scalars(
            select(Individual.id).where(Individual.organisation_id == org)
        ).all()
    # All or nothing: without skipping, the bad row stops the import.
    refused = client.post(
        f"/supervisor/import/{upload_id}/run", data={"csrf_token": csrf(checked.text)}
    )
    assert refused.status_code == 422
    done = client.post(
        f"/supervisor/import/{upload_id}/run",
        data={"csrf_token": csrf(checked.text), "skip_invalid": "yes"},
    )
    assert done.status_code == 200, done.text
    assert "imported 2" in done.text
    assert kept not in _stored(app)  # deleted after the import
    with transaction(app.state.sessionmaker) as session:
        assert (
            len(
                session.scalars(
                    select(Individual.id).where(Individual.organisation_id == org)
                ).all()
            )
            == 2
        )
    assert client.get(location).status_code == 404  # its key is destroyed too


def test_caseworkers_are_refused_and_uploads_are_their_owners(app: FastAPI, team: Team) -> None:
    worker = TestClient(app, client=(fresh_address(), 50000))
    sign_in(worker, team.user("caseworker"))
    assert worker.get("/supervisor/import").status_code == 403
    supervisor = TestClient(app, client=(fresh_address(), 50000))
    token = sign_in(supervisor, team.supervisor.user)
    location = _upload(supervisor, token, csv_bytes([person()]), "people.csv")
    other = TestClient(app, client=(fresh_address(), 50000))
    sign_in(other, make_user(app, "supervisor", organisation=team.organisation))
    assert other.get(location).status_code == 404
    assert supervisor.get(f"/supervisor/import/{uuid.uuid4()}").status_code == 404
    # No CSRF token, no import.
    upload_id = location.rsplit("/", 1)[1]
    assert supervisor.post(f"/supervisor/import/{upload_id}/run", data={}).status_code == 403
    discarded = supervisor.post(
        f"/supervisor/import/{upload_id}/discard",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert discarded.status_code == 303
    assert supervisor.get(location).status_code == 404


def test_a_bad_mapping_or_file_is_shown_on_the_form(app: FastAPI, team: Team) -> None:
    client = TestClient(app, client=(fresh_address(), 50000))
    token = sign_in(client, team.supervisor.user)
    bad = client.post(
        "/supervisor/import",
        data={"csrf_token": token, "kind": "people", "mapping": "[columns]\nnope = 'x'\n"},
        files={"file": ("p.csv", csv_bytes([person()]), "text/csv")},
    )
    assert bad.status_code == 422
    assert "mapping" in field_errors(bad.text)
    garbage = client.post(
        "/supervisor/import",
        data={"csrf_token": token, "kind": "people"},
        files={"file": ("p.xlsx", b"PK\x03\x04 not a workbook", XLSX)},
    )
    assert garbage.status_code == 422
    assert "file" in field_errors(garbage.text)
