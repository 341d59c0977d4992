"""Importing people from spreadsheets: the dry run, all or nothing, --skip-invalid, re-runs,
encodings, duplicates, what reaches storage, the audit trail, risk and alerts at the end."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import transaction
from app.errors import Unprocessable
from app.imports import service
from app.imports.mapping import Mapping
from app.models import Base
from app.models.audit import AuditEntry
from app.models.document import TravelDocument
from app.models.individual import Individual
from app.models.risk import RiskAssessment
from app.models.unhcr import UnhcrStatus
from tests.factories import API, Team
from tests.imports.support import HEADER, csv_bytes, person, run_people, xlsx_bytes


def people_of(app: FastAPI, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    with transaction(app.state.sessionmaker) as session:
        return list(
            session.scalars(
                select(Individual.id).where(Individual.organisation_id == organisation_id)
            )
        )


def bad_rows() -> list[dict[str, Any]]:
    """Five rows; rows 3 and 5 of the sheet (the 2nd and 4th person) are wrong."""
    return [
        person(),
        person(**{"Date of birth": "03/04/1990"}),  # not ISO, no order in the mapping
        person(),
        person(Nationality="Narnia", **{"Passport number": ""}),
        person(),
    ]


def test_dry_run_finds_the_bad_rows_by_number_and_column_and_writes_nothing(
    app: FastAPI, team: Team
) -> None:
    report = run_people(app, team.supervisor, csv_bytes(bad_rows()), dry_run=True)
    problems = {(p.row, p.column) for p in report.problems}
    assert (3, "Date of birth") in problems
    assert (5, "Nationality") in problems
    assert {p.row for p in report.problems} == {3, 5}
    assert report.count(service.IMPORTED) == 3  # would be imported
    assert report.count(service.INVALID) == 2
    assert not report.written
    assert people_of(app, team.organisation.id) == []
    # Messages never quote the cell.
    assert not any("Narnia" in p.message or "1990" in p.message for p in report.problems)


def test_all_or_nothing_one_bad_row_leaves_the_database_untouched(app: FastAPI, team: Team) -> None:
    with transaction(app.state.sessionmaker) as session:
        before = session.scalar(select(func.count()).select_from(Individual))
    report = run_people(app, team.supervisor, csv_bytes(bad_rows()))
    assert not report.written
    assert report.count(service.IMPORTED) == 0
    assert report.count(service.NOT_IMPORTED) == 3
    assert people_of(app, team.organisation.id) == []
    with transaction(app.state.sessionmaker) as session:
        assert session.scalar(select(func.count()).select_from(Individual)) == before


def test_a_failure_while_writing_rolls_back_every_row_written_before_it(
    app: FastAPI, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.documents import service as documents

    real = documents.build_document
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Unprocessable("the document's holder is gone")
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "build_document", failing)
    for skip_invalid in (False, True):  # the first pass found nothing: rolled back either way
        calls["n"] = 0
        rows = csv_bytes([person() for _ in range(4)])
        report = run_people(app, team.supervisor, rows, skip_invalid=skip_invalid)
        assert not report.written
        assert [(p.row, p.message) for p in report.problems] == [
            (4, "the document's holder is gone")
        ]
        assert report.count(service.IMPORTED) == 0
        assert people_of(app, team.organisation.id) == []


def test_skip_invalid_imports_the_rest_and_reports_the_others(app: FastAPI, team: Team) -> None:
    report = run_people(app, team.supervisor, csv_bytes(bad_rows()), skip_invalid=True)
    assert report.written
    assert report.count(service.IMPORTED) == 3
    assert {o.row for o in report.outcomes if o.status == service.INVALID} == {3, 5}
    imported = {o.individual_id for o in report.outcomes if o.status == service.IMPORTED}
    assert set(people_of(app, team.organisation.id)) == imported


def test_a_second_run_of_the_same_file_imports_nothing(app: FastAPI, team: Team) -> None:
    rows = [person() for _ in range(3)]
    first = run_people(app, team.supervisor, csv_bytes(rows))
    assert first.count(service.IMPORTED) == 3
    second = run_people(app, team.supervisor, csv_bytes(rows))
    assert second.count(service.IMPORTED) == 0
    assert second.count(service.ALREADY) == 3
    assert {o.individual_id for o in second.outcomes} == {o.individual_id for o in first.outcomes}
    assert len(people_of(app, team.organisation.id)) == 3


def test_without_a_reference_rows_are_keyed_by_the_duplicate_rules(
    app: FastAPI, team: Team
) -> None:
    rows = [person() for _ in range(2)]
    for row in rows:
        row.pop("Reference")
    plain = tuple(h for h in HEADER if h != "Reference")
    first = run_people(app, team.supervisor, csv_bytes(rows, header=plain))
    assert first.count(service.IMPORTED) == 2
    second = run_people(app, team.supervisor, csv_bytes(rows, header=plain))
    assert second.count(service.IMPORTED) == 0
    assert second.count(service.DUPLICATE) == 2
    assert len(people_of(app, team.organisation.id)) == 2


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"), ("utf-16", ",")],
)
def test_csv_in_every_encoding_and_delimiter_spreadsheets_export(
    app: FastAPI, team: Team, encoding: str, delimiter: str
) -> None:
    rows = [person(**{"Full name": f"Srey Mom {uuid.uuid4().hex[:6]} ស្រីមុំ"}) for _ in range(3)]
    raw = csv_bytes(rows, encoding=encoding, delimiter=delimiter)
    report = run_people(app, team.supervisor, raw)
    assert report.count(service.IMPORTED) == 3, report.problems
    assert report.columns["full_name"] == "Full name"  # the BOM is not part of the header
    read = team.client.get(
        f"{API}/individuals/{report.outcomes[0].individual_id}", headers=team.supervisor.headers
    )
    assert read.status_code == 200
    assert read.json()["full_name"] == rows[0]["Full name"]
    assert read.json()["nationalities"] == ["KHM"]
    assert read.json()["unhcr_status"]["status"] == "asylum_seeker"


def test_xlsx_with_date_cells(app: FastAPI, team: Team) -> None:
    rows = [person() for _ in range(3)]
    report = run_people(app, team.supervisor, xlsx_bytes(rows), name="people.xlsx")
    assert report.count(service.IMPORTED) == 3, report.problems
    pid = report.outcomes[0].individual_id
    body = team.client.get(f"{API}/individuals/{pid}", headers=team.supervisor.headers).json()
    assert body["date_of_birth"] == "1984-03-12"
    documents = team.client.get(
        f"{API}/individuals/{pid}/documents", headers=team.supervisor.headers
    ).json()
    assert documents[0]["number"] == rows[0]["Passport number"]
    assert documents[0]["expires_on"] == "2031-05-01"


def test_day_first_and_month_first_dates_only_when_the_mapping_says(
    app: FastAPI, team: Team
) -> None:
    rows = [person(**{"Date of birth": "03/04/1990"})]
    day_first = Mapping.from_toml('[dates]\norder = "day-first"\n')
    report = run_people(app, team.supervisor, csv_bytes(rows), mapping=day_first)
    assert report.count(service.IMPORTED) == 1
    pid = report.outcomes[0].individual_id
    body = team.client.get(f"{API}/individuals/{pid}", headers=team.supervisor.headers).json()
    assert body["date_of_birth"] == "1990-04-03"
    month_first = Mapping.from_toml('[dates]\norder = "month-first"\n')
    other = [person(**{"Date of birth": "03/04/1990"})]
    report = run_people(app, team.supervisor, csv_bytes(other), mapping=month_first)
    pid = report.outcomes[0].individual_id
    body = team.client.get(f"{API}/individuals/{pid}", headers=team.supervisor.headers).json()
    assert body["date_of_birth"] == "1990-03-04"


def test_possible_duplicates_are_reported_not_merged(app: FastAPI, team: Team) -> None:
    number = "N" + uuid.uuid4().hex[:8].upper()
    existing = team.person(team.supervisor)
    team.document(team.supervisor, existing, number=number)
    rows = [person(**{"Passport number": number}), person(**{"Passport number": number})]
    report = run_people(app, team.supervisor, csv_bytes(rows))
    assert report.count(service.IMPORTED) == 2
    first, second = report.outcomes
    assert first.possible_duplicates == [existing]
    assert second.possible_duplicates == [existing]
    assert second.duplicate_rows == [2]  # the same number as the first row of the file
    with transaction(app.state.sessionmaker) as session:
        merged = session.scalars(
            select(Individual.merged_into_id).where(
                Individual.id.in_([existing, first.individual_id])
            )
        ).all()
        assert merged == [None, None]
        matched = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "individual.duplicate_match",
                AuditEntry.subject_id == existing,
            )
        )
        assert matched == 2  # a read of the other record, once per row that matched it


def _raw_text(session: Session) -> str:
    """Every row of every table as the database hands it out, blobs included."""
    parts = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    parts.append(bytes(value).decode("latin-1"))
                else:
                    parts.append(str(value))
    return "\n".join(parts)


def test_no_imported_value_reaches_storage_in_plaintext(
    app: FastAPI, team: Team, settings: Any
) -> None:
    tag = uuid.uuid4().hex[:10]
    rows = [
        person(
            Reference=f"CASE-{tag}-{i}",
            **{
                "Full name": f"Plaintextprobe{tag} Number{i}",
                "Passport number": f"PX{tag[:6]}{i}".upper(),
            },
        )
        for i in range(3)
    ]
    report = run_people(app, team.supervisor, xlsx_bytes(rows), name="people.xlsx")
    assert report.count(service.IMPORTED) == 3
    secrets = [f"Plaintextprobe{tag}", f"CASE-{tag}", f"PX{tag[:6]}".upper()]
    with transaction(app.state.sessionmaker) as session:
        stored = _raw_text(session)
    for secret in secrets:
        assert secret not in stored
        assert secret.casefold() not in stored.casefold()
    if settings.database_url.startswith("sqlite"):
        # The database file and its write-ahead log, as a thief would copy them.
        path = settings.database_url.removeprefix("sqlite:///")
        files = [Path(path), Path(path + "-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        for secret in secrets:
            assert secret.encode() not in raw


def test_each_imported_person_has_audit_entries_and_one_assessment_dated_as_imported(
    app: FastAPI, team: Team
) -> None:
    started = dt.datetime.now(dt.UTC)
    report = run_people(app, team.supervisor, csv_bytes([person() for _ in range(4)]))
    ids = [o.individual_id for o in report.outcomes]
    with transaction(app.state.sessionmaker) as session:
        for action in ("individual.create", "individual.import", "document.create"):
            audited = session.scalars(
                select(AuditEntry.subject_id).where(
                    AuditEntry.action == action, AuditEntry.subject_id.in_(ids)
                )
            ).all()
            if action != "document.create":
                assert sorted(map(str, audited)) == sorted(map(str, ids)), action
        assessments = session.execute(
            select(
                RiskAssessment.individual_id, RiskAssessment.trigger, RiskAssessment.assessed_at
            ).where(RiskAssessment.individual_id.in_(ids))
        ).all()
        assert sorted(str(a.individual_id) for a in assessments) == sorted(map(str, ids))
        assert {a.trigger for a in assessments} == {"import"}
        assert all(a.assessed_at.replace(tzinfo=dt.UTC) >= started for a in assessments)
        assert (
            session.scalar(
                select(func.count())
                .select_from(TravelDocument)
                .where(TravelDocument.individual_id.in_(ids))
            )
            == 4
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(UnhcrStatus)
                .where(UnhcrStatus.individual_id.in_(ids))
            )
            == 4
        )


def test_a_bad_mrz_is_refused_like_the_api_refuses_it(app: FastAPI, team: Team) -> None:
    header = ("Reference", "Full name", "document_type", "document_mrz")
    good = (  # one cell, the two lines run together as a spreadsheet often holds them
        "P<KHMDARA<<RATANAK<<<<<<<<<<<<<<<<<<<<<<<<<<N012345679KHM8503150M2801016<<<<<<<<<<<<<<<4"
    )
    broken = good[:-1] + "9"
    rows = [
        {"Reference": f"R-{uuid.uuid4().hex[:6]}", "Full name": "Dara Ratanak", "document_mrz": m}
        for m in (good, broken)
    ]
    for row in rows:
        row["document_type"] = "passport"
    report = run_people(app, team.supervisor, csv_bytes(rows, header=header), dry_run=True)
    assert [(p.row, p.column) for p in report.problems] == [(3, "document_mrz")]


def test_an_mrz_that_contradicts_its_row_is_found_by_the_dry_run(app: FastAPI, team: Team) -> None:
    """The checks the API makes against the MRZ when a document is added (its number, and the
    holder's date of birth and nationality) run in the first pass: a dry run names the row."""
    header = ("Reference", "Full name", "Date of birth", "Nationality", "document_type")
    header += ("Passport number", "document_mrz")
    mrz = "P<KHMDARA<<RATANAK<<<<<<<<<<<<<<<<<<<<<<<<<<N012345679KHM8503150M2801016<<<<<<<<<<<<<<<4"
    agreeing = {"Date of birth": "1985-03-15", "Nationality": "KHM", "Passport number": ""}
    rows = [
        agreeing,
        agreeing | {"Date of birth": "1985-03-16"},
        agreeing | {"Nationality": "Viet Nam"},
        agreeing | {"Passport number": "N01234568"},
    ]
    for row in rows:
        row |= {"Reference": f"R-{uuid.uuid4().hex[:6]}", "Full name": "Dara Ratanak"}
        row |= {"document_type": "passport", "document_mrz": mrz}
    raw = csv_bytes(rows, header=header)
    report = run_people(app, team.supervisor, raw, dry_run=True)
    assert [(p.row, p.column) for p in report.problems] == [
        (3, "document_mrz"),
        (4, "document_mrz"),
        (5, "Passport number"),
    ]
    assert "date_of_birth" in report.problems[0].message
    assert "nationality" in report.problems[1].message
    report = run_people(app, team.supervisor, raw)
    assert not report.written
    assert people_of(app, team.organisation.id) == []


def test_only_supervisors_import(app: FastAPI, team: Team) -> None:
    from app.errors import Forbidden

    with pytest.raises(Forbidden):
        run_people(app, team.caseworker, csv_bytes([person()]))
    assert people_of(app, team.organisation.id) == []


def test_the_person_page_reads_an_imported_person(
    app: FastAPI, team: Team, client: TestClient
) -> None:
    report = run_people(app, team.supervisor, csv_bytes([person()]))
    pid = report.outcomes[0].individual_id
    risk = client.get(f"{API}/individuals/{pid}/risk", headers=team.supervisor.headers)
    assert risk.status_code == 200


def test_erasure_takes_the_reference_with_it(app: FastAPI, team: Team) -> None:
    from app.models.individual import IndividualReferenceIndex

    rows = [person()]
    first = run_people(app, team.supervisor, csv_bytes(rows))
    pid = first.outcomes[0].individual_id
    erased = team.client.request(
        "DELETE",
        f"{API}/individuals/{pid}",
        json={"reason": "asked"},
        headers=team.supervisor.headers,
    )
    assert erased.status_code == 204, erased.text
    with transaction(app.state.sessionmaker) as session:
        assert (
            session.scalar(select(Individual.external_reference_ct).where(Individual.id == pid))
            is None
        )
        assert not session.scalars(
            select(IndividualReferenceIndex.id).where(IndividualReferenceIndex.individual_id == pid)
        ).all()
    # The erased record is nobody's reference any more: the row is a new person.
    again = run_people(app, team.supervisor, csv_bytes(rows))
    assert again.count(service.IMPORTED) == 1
    assert again.outcomes[0].individual_id != pid


def test_people_written_in_batches_read_back_as_the_api_registers_them(
    app: FastAPI, team: Team, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import writes a batch at a time with ids taken before the rows exist; every value it
    sealed opens where the API's own reads open it, and every person has the records and audit
    entries one registered through the API has."""
    from app.audit.verify import verify_all
    from app.models.document import DocumentStatusChange
    from app.records import history

    monkeypatch.setattr(service, "BATCH", 2)  # five people: three batches
    rows = [person(**{"Full name": f"Batch Sokha{n}"}) for n in range(5)]
    client.post(  # someone registered through the API between imports: ids must not collide
        f"{API}/individuals", json={"full_name": "Between Runs"}, headers=team.supervisor.headers
    )
    report = run_people(app, team.supervisor, csv_bytes(rows))
    assert report.count(service.IMPORTED) == 5
    headers = team.supervisor.headers
    for n, outcome in enumerate(report.outcomes):
        row, pid = rows[n], outcome.individual_id
        read = client.get(f"{API}/individuals/{pid}", headers=headers).json()
        assert (read["full_name"], read["date_of_birth"]) == (row["Full name"], "1984-03-12")
        assert read["nationalities"] == ["KHM"]
        assert read["unhcr_status"]["status"] == "asylum_seeker"
        assert read["risk"]["level"] in ("low", "medium", "high", "critical")
        by_number = client.get(
            f"{API}/individuals",
            params={"document_number": row["Passport number"]},
            headers=headers,
        ).json()
        assert [p["id"] for p in by_number["items"]] == [str(pid)]
        by_word = client.get(f"{API}/individuals", params={"q": f"Sokha{n}"}, headers=headers)
        assert [p["id"] for p in by_word.json()["items"]] == [str(pid)]
        with transaction(app.state.sessionmaker) as session:
            entries = history.timeline(session, pid)
            kinds = [e["kind"] for e in entries]
            assert kinds[:3] == ["individual.created", "document.added", "unhcr_status.added"]
            assert all("changes" in e for e in entries), "every sealed change opens"
            assert entries[1]["changes"]["number"] == row["Passport number"]
            document_id = entries[1]["subject_id"]
            assert (
                session.scalar(
                    select(DocumentStatusChange.status).where(
                        DocumentStatusChange.document_id == document_id
                    )
                )
                == "valid"
            )
            actions = sorted(
                e.action
                for e in session.scalars(
                    select(AuditEntry).where(
                        AuditEntry.subject_id.in_([pid, document_id]),
                        AuditEntry.action.not_like("%.read"),
                    )
                )
            )
            assert actions == [
                "document.create",
                "individual.create",
                "individual.import",
                "unhcr_status.add",
            ]
    with transaction(app.state.sessionmaker) as session:
        verified = verify_all(session, app.state.crypto.provider, app.state.settings.data_dir)
    assert verified.ok
