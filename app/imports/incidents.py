"""Incidents from a spreadsheet, naming their people by the external reference a people import
stored (``app.imports.references``), recorded with ``incidents.service.record_incident``; the
two passes, all or nothing and the held-back facts as for people (``app.imports.service``)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.errors import HavenError
from app.imports import references, rows
from app.imports.mapping import INCIDENT_COLUMNS, Mapping, Problem, column_of, layout
from app.imports.reading import Sheet
from app.imports.service import (
    ALREADY,
    BATCH,
    IMPORTED,
    INVALID,
    NOT_IMPORTED,
    ImportFailed,
    ImportReport,
    Progress,
    RowOutcome,
    announce,
    batch_done,
    check_supervisor,
    holding_back,
    new_report,
    rolled_back,
)
from app.incidents import service as incidents
from app.models.incident import Incident, IncidentSubject


def import_incidents(
    session: Session,
    actor: Actor,
    sheet: Sheet,
    mapping: Mapping,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Incidents naming people by the external reference a people import stored. An incident
    already on record (same type, day, country and people) is not recorded twice."""
    check_supervisor(actor)
    progress = progress or Progress()
    started = time.perf_counter()
    where = layout(sheet.header, mapping, INCIDENT_COLUMNS)
    report = new_report("incidents", where, dry_run, skip_invalid)
    progress.start("checking", None)
    parsed: list[tuple[rows.IncidentRow, list[uuid.UUID]]] = []
    outcomes: dict[int, RowOutcome] = {}
    pending: list[rows.IncidentRow] = []
    for raw in sheet.rows:
        row, problems = rows.incident_row(raw.number, raw.cells, where, mapping)
        outcomes[raw.number] = RowOutcome(raw.number, IMPORTED, problems=problems)
        if row is None:
            outcomes[raw.number].status = INVALID
        else:
            pending.append(row)
        progress.advance(1)
    people_column = column_of(where, "people")
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        held = references.find(
            session, actor.organisation_id, {r for row in chunk for r in row.references}
        )
        for row in chunk:
            found = [held.get(references.fold(r)) for r in row.references]
            missing = sum(1 for i in found if i is None)
            if missing:
                outcome = outcomes[row.row]
                outcome.status = INVALID
                outcome.problems.append(
                    Problem(
                        row.row, people_column, f"{missing} reference(s) match nobody on record"
                    )
                )
                continue
            parsed.append((row, [i for i in found if i is not None]))
    seen: set[tuple[Any, ...]] = set()
    for row, ids in parsed:
        key = _incident_key(row.incident, ids)
        if key in seen or _recorded(session, actor, row.incident, ids):
            outcomes[row.row].status = ALREADY
        seen.add(key)
    audit.record(
        session,
        actor=actor,
        action="import.incidents_check" if dry_run else "import.incidents",
        details={"import": str(report.import_id), "rows": len(outcomes)},
    )
    invalid = any(o.status == INVALID for o in outcomes.values())
    todo = [(row, ids) for row, ids in parsed if outcomes[row.row].status == IMPORTED]
    if not dry_run and not (invalid and not skip_invalid):
        _write_incidents(session, actor, todo, outcomes, report, skip_invalid, progress)
    elif not dry_run:
        for row, _ in todo:
            outcomes[row.row].status = NOT_IMPORTED
    report.outcomes = [outcomes[n] for n in sorted(outcomes)]
    report.written = not dry_run and report.count(IMPORTED) > 0
    report.seconds = time.perf_counter() - started
    return report


def _incident_key(incident: dict[str, Any], ids: list[uuid.UUID]) -> tuple[Any, ...]:
    return (incident["type"], incident["occurred_on"], incident["country"], frozenset(ids))


def _recorded(
    session: Session, actor: Actor, incident: dict[str, Any], ids: list[uuid.UUID]
) -> bool:
    """The duplicate rule for incidents: one of the organisation's, of the same type, day and
    country, naming exactly these people."""
    candidates = session.scalars(
        select(Incident.id).where(
            Incident.organisation_id == actor.organisation_id,
            Incident.type == incident["type"].value,
            Incident.occurred_on == incident["occurred_on"],
            Incident.country == incident["country"],
        )
    ).all()
    for incident_id in candidates:
        named = set(
            session.scalars(
                select(IncidentSubject.individual_id).where(
                    IncidentSubject.incident_id == incident_id
                )
            )
        )
        if named == set(ids):
            return True
    return False


def _write_incidents(
    session: Session,
    actor: Actor,
    todo: Sequence[tuple[rows.IncidentRow, list[uuid.UUID]]],
    outcomes: dict[int, RowOutcome],
    report: ImportReport,
    skip_invalid: bool,
    progress: Progress,
) -> None:
    progress.start("importing", len(todo))
    with holding_back(session) as held:
        for count, (row, ids) in enumerate(todo, start=1):
            outcome = outcomes[row.row]
            try:
                with session.begin_nested() if skip_invalid else contextlib.nullcontext():
                    recorded = incidents.record_incident(
                        session, actor, {**row.incident, "individual_ids": ids}
                    )
                    audit.record(
                        session,
                        actor=actor,
                        action="incident.import",
                        subject_type="incident",
                        subject_id=recorded["id"],
                        details={"import": str(report.import_id), "row": row.row},
                    )
                    outcome.incident_id = recorded["id"]
            except HavenError as exc:
                problem = Problem(row.row, "row", str(exc))
                outcome.status = INVALID
                outcome.problems.append(problem)
                if not skip_invalid:
                    raise ImportFailed(rolled_back(report, outcomes), problem) from None
            progress.advance(1)
            if count % BATCH == 0:
                batch_done(session)
        batch_done(session)
    recorded_ids = {o.incident_id for o in outcomes.values() if o.status == IMPORTED}
    held.incident_ids = {k: None for k in held.incident_ids if k in recorded_ids}
    progress.start("assessing risk", None)
    announce(session, actor, report.import_id, held)
    batch_done(session)
