"""Incidents naming imported people by their reference; alerts at the end of an import,
grouped and backfill-aware; the export an organisation leaves with, imported elsewhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import select

from app.db import transaction
from app.imports import export, incidents, service
from app.imports.mapping import PEOPLE_COLUMNS, Mapping
from app.imports.reading import read, read_path
from app.models.alert import Alert
from app.models.audit import AuditEntry
from app.models.incident import IncidentSubject
from tests.factories import API, Team
from tests.imports.support import actor_of, csv_bytes, person, run_people

INCIDENT_HEADER = (
    "people",
    "type",
    "occurred_on",
    "country",
    "description",
    "source_name",
    "source_reliability",
    "source_credibility",
)


def incident(people: str, **fields: Any) -> dict[str, Any]:
    row = {
        "people": people,
        "type": "public_denunciation",
        "occurred_on": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "country": "Thailand",
        "description": "Named on a state television programme as a traitor.",
        "source_name": "Partner monitor",
        "source_reliability": "B",
        "source_credibility": "2",
    }
    row.update(fields)
    return row


def run_incidents(app: FastAPI, team: Team, rows: list[dict[str, Any]], **options: Any) -> Any:
    raw = csv_bytes(rows, header=INCIDENT_HEADER)
    try:
        with transaction(app.state.sessionmaker) as session:
            return incidents.import_incidents(
                session, actor_of(team.supervisor), read(raw), Mapping(), **options
            )
    except service.ImportFailed as exc:
        return exc.report


def test_incidents_name_people_by_reference_once_and_alert_as_one_group(
    app: FastAPI, team: Team
) -> None:
    people = [person() for _ in range(3)]
    imported = run_people(app, team.supervisor, csv_bytes(people))
    refs = [p["Reference"] for p in people]
    ids = [o.individual_id for o in imported.outcomes]
    rows = [
        incident(f"{refs[0]}; {refs[1]}"),
        incident(refs[2], occurred_on="2019-05-01"),  # years old: backfill
    ]
    report = run_incidents(app, team, rows)
    assert report.count(service.IMPORTED) == 2, report.problems
    first, old = (o.incident_id for o in report.outcomes)
    with transaction(app.state.sessionmaker) as session:
        named = set(
            session.scalars(
                select(IncidentSubject.individual_id).where(IncidentSubject.incident_id == first)
            )
        )
        assert named == {ids[0], ids[1]}
        alerts = session.execute(
            select(Alert.individual_id, Alert.severity, Alert.group_key, Alert.summary).where(
                Alert.subject_id.in_([first, old])
            )
        ).all()
    by_person = {a.individual_id: a for a in alerts}
    assert {a.group_key for a in alerts} == {str(report.import_id)}
    assert by_person[ids[0]].severity == "high"
    assert by_person[ids[2]].severity == "info"  # backfilled: on record, not urgent
    assert "backfilled" in by_person[ids[2]].summary
    again = run_incidents(app, team, rows)
    assert again.count(service.IMPORTED) == 0
    assert again.count(service.ALREADY) == 2


def test_an_unknown_reference_is_a_problem_of_its_row(app: FastAPI, team: Team) -> None:
    people = [person()]
    run_people(app, team.supervisor, csv_bytes(people))
    rows = [incident(people[0]["Reference"]), incident("NOBODY-1"), incident("", type="nap")]
    report = run_incidents(app, team, rows, dry_run=True)
    assert {(p.row, p.column) for p in report.problems} == {
        (3, "people"),
        (4, "people"),
        (4, "type"),
    }
    assert not report.written
    real = run_incidents(app, team, rows)
    assert real.count(service.IMPORTED) == 0
    assert not real.written


def test_references_of_another_organisation_are_not_found(app: FastAPI, team: Team) -> None:
    people = [person()]
    run_people(app, team.supervisor, csv_bytes(people))
    other = team.elsewhere()
    report = run_incidents(app, other, [incident(people[0]["Reference"])], dry_run=True)
    assert [(p.row, p.column) for p in report.problems] == [(2, "people")]


def test_export_writes_the_import_columns_and_imports_elsewhere(
    app: FastAPI, team: Team, tmp_path: Path
) -> None:
    people = [person() for _ in range(3)]
    run_people(app, team.supervisor, csv_bytes(people))
    target = tmp_path / "leaving.xlsx"
    with transaction(app.state.sessionmaker) as session:
        count = export.export_people(session, actor_of(team.supervisor), target)
    assert count == 3
    assert target.stat().st_mode & 0o777 == 0o600
    sheet = load_workbook(target, read_only=True).worksheets[0]
    header = next(sheet.iter_rows(values_only=True))
    assert tuple(header) == PEOPLE_COLUMNS
    with transaction(app.state.sessionmaker) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.actor_id == team.supervisor.id)
            )
        )
        assert "export.people" in actions
        told = session.scalars(
            select(Alert.rule).where(Alert.organisation_id == team.organisation.id)
        ).all()
        assert "bulk_export" in told
    # The file goes into another organisation as it is, and says the same.
    elsewhere = team.elsewhere()
    report = run_people(app, elsewhere.supervisor, target.read_bytes(), name="leaving.xlsx")
    assert report.count(service.IMPORTED) == 3, report.problems
    moved = {o.individual_id for o in report.outcomes}
    names = set()
    for pid in moved:
        body = elsewhere.client.get(
            f"{API}/individuals/{pid}", headers=elsewhere.supervisor.headers
        ).json()
        names.add(body["full_name"])
        assert body["unhcr_status"]["status"] == "asylum_seeker"
    assert names == {p["Full name"] for p in people}
    assert read_path(target).header == PEOPLE_COLUMNS


def test_only_supervisors_export(app: FastAPI, team: Team, tmp_path: Path) -> None:
    from app.errors import Forbidden

    try:
        with transaction(app.state.sessionmaker) as session:
            export.export_people(session, actor_of(team.caseworker), tmp_path / "x.xlsx")
    except Forbidden:
        pass
    else:
        raise AssertionError("a caseworker exported the caseload")
    assert not (tmp_path / "x.xlsx").exists()


def test_the_alerts_of_an_import_are_announced_as_one_group_per_rule(
    app: FastAPI, team: Team
) -> None:
    from tests.alerts.support import add_webhook, outbox, payloads

    hook = add_webhook(app, team.organisation.id)
    people = [person() for _ in range(3)]
    run_people(app, team.supervisor, csv_bytes(people))
    refs = "; ".join(p["Reference"] for p in people)
    report = run_incidents(app, team, [incident(refs)])
    assert report.count(service.IMPORTED) == 1
    rows = outbox(app, hook)
    assert rows, "no notice at all"
    assert {row.event for row in rows} == {"alert.group"}  # never one notice per alert
    notices = payloads(rows)
    assert {n["data"]["group_key"] for n in notices} == {str(report.import_id)}
    named = [n for n in notices if n["data"]["rule"] == "publicly_named"]
    assert len(named) == 1
    assert named[0]["data"]["count"] == 3


def test_a_name_that_looks_like_a_formula_is_exported_as_text(
    app: FastAPI, team: Team, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("https://example.org","x")'
    run_people(app, team.supervisor, csv_bytes([person(**{"Full name": formula})]))
    target = tmp_path / "out.xlsx"
    with transaction(app.state.sessionmaker) as session:
        export.export_people(session, actor_of(team.supervisor), target)
    sheet = load_workbook(target).worksheets[0]
    cell = sheet.cell(row=2, column=PEOPLE_COLUMNS.index("full_name") + 1)
    assert cell.value == formula
    assert cell.data_type == "s"
