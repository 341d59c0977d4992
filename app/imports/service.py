"""Moving in from spreadsheets: people (with documents, UNHCR status, nationalities), through
the same models and services as the API (incidents: ``app.imports.incidents``).

An import runs in two passes over the file. The first reads every row through the mapping and
the API's models, checks each document against its MRZ and its holder as the API does
(``documents.service.check_document``), and looks for who is already on record
(``app.imports.matching``); it writes nothing, and is all a dry run does. The second writes
the valid rows a batch at a time with the parts the API's services are made of
(``individuals.service.new_person`` and ``register``, ``documents.service.build_document``,
``unhcr.service.build_status``; incidents through ``incidents.service.record_incident``), so
every value is sealed before it reaches SQL and every record has its history and audit entries,
in a few statements per batch instead of several per person. All or nothing by default: one
problem in the first pass and nothing is written; a failure in the second and the caller's
transaction rolls everything back. With ``skip_invalid`` the valid rows go in and the others
are reported.

The facts each row states (a person registered, a document added, an incident recorded) are
held back while the import runs, then stated once as ``PeopleImported``: risk is assessed once
per person, and their alerts are announced as one group for the import (``app.reactions``).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.crypto import crypto_of
from app.documents import service as documents
from app.errors import Forbidden, HavenError
from app.events import (
    DocumentAdded,
    Event,
    IncidentRecorded,
    PeopleImported,
    PersonRegistered,
    ProfileChanged,
    Reactions,
    UnhcrStatusChanged,
)
from app.imports import matching, references, rows
from app.imports.mapping import (
    PEOPLE_COLUMNS,
    Layout,
    Mapping,
    Problem,
    column_of,
    layout,
)
from app.imports.reading import Sheet
from app.individuals import service as people
from app.models.base import Base
from app.models.bulk import collector_spared, insert_built
from app.records import history
from app.records.people import write_name_rows
from app.unhcr import service as unhcr

BATCH = 500  # rows between flushes of the audit queue and the session

IMPORTED = "imported"
ALREADY = "already imported"
DUPLICATE = "possible duplicate, not imported"
INVALID = "invalid"
NOT_IMPORTED = "not imported"  # valid, but the run stopped (all or nothing)


class Progress:
    """What the caller sees move (a Rich bar in the command, nothing in the web client)."""

    def start(self, phase: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


@dataclass
class RowOutcome:
    row: int
    status: str
    individual_id: uuid.UUID | None = None
    incident_id: uuid.UUID | None = None
    possible_duplicates: list[uuid.UUID] = field(default_factory=list)
    duplicate_rows: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class ImportReport:
    import_id: uuid.UUID
    kind: str  # "people" or "incidents"
    dry_run: bool
    skip_invalid: bool
    columns: dict[str, str]  # field -> header used
    unused_columns: tuple[str, ...]
    outcomes: list[RowOutcome] = field(default_factory=list)
    written: bool = False
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def problems(self) -> list[Problem]:
        return [p for o in self.outcomes for p in o.problems]

    @property
    def rows(self) -> int:
        return len(self.outcomes)

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        imported = self.count(IMPORTED)
        parts = [
            f"{self.rows} rows read",
            f"{verb} {imported}",
            f"{self.count(ALREADY)} already imported",
            f"{self.count(DUPLICATE)} possible duplicates not imported",
            f"{self.count(INVALID)} invalid",
        ]
        flagged = sum(1 for o in self.outcomes if o.possible_duplicates or o.duplicate_rows)
        if flagged:
            parts.append(f"{flagged} rows flagged as possible duplicates")
        if not self.dry_run and not self.written:
            parts.append("nothing was written")
        return "; ".join(parts)


class ImportFailed(HavenError):
    """The second pass failed on a row: the caller's transaction must roll back."""

    status_code = 422

    def __init__(self, report: ImportReport, problem: Problem) -> None:
        super().__init__(f"row {problem.row}, {problem.column}: {problem.message}")
        self.report = report


def check_supervisor(actor: Actor) -> None:
    """Imports and exports move a whole caseload: supervisors only."""
    if actor.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor imports or exports an organisation's records")


# Holding facts back -------------------------------------------------------------------------
HELD_BACK: tuple[type[Event], ...] = (
    PersonRegistered,
    ProfileChanged,
    DocumentAdded,
    UnhcrStatusChanged,
    IncidentRecorded,
)


@dataclass
class Held:
    individual_ids: dict[uuid.UUID, None] = field(default_factory=dict)
    incident_ids: dict[uuid.UUID, None] = field(default_factory=dict)

    def take(self, _session: Session, event: Any) -> None:
        if isinstance(event, IncidentRecorded):
            self.incident_ids[event.incident_id] = None
            self.individual_ids.update(dict.fromkeys(event.individual_ids))
        else:
            self.individual_ids[event.individual_id] = None


@contextlib.contextmanager
def holding_back(session: Session) -> Iterator[Held]:
    """While the import writes, each row's facts are collected instead of reacted to; the
    session's own table of reactions is back in place afterwards."""
    reactions = session.info.get(events.REACTIONS)
    if not isinstance(reactions, Reactions):
        raise events.UnhandledEvent("this session has no reactions attached")
    held = Held()
    table = dict(reactions.table)
    for kind in HELD_BACK:
        table[kind] = (held.take,)
    session.info[events.REACTIONS] = Reactions(table)
    try:
        yield held
    finally:
        session.info[events.REACTIONS] = reactions


def announce(session: Session, actor: Actor, import_id: uuid.UUID, held: Held) -> None:
    if held.individual_ids or held.incident_ids:
        events.publish(
            session,
            PeopleImported(
                actor=actor,
                import_id=import_id,
                individual_ids=tuple(held.individual_ids),
                incident_ids=tuple(held.incident_ids),
            ),
        )


def batch_done(session: Session) -> None:
    """Append the queued audit entries and let go of the rows written so far."""
    session.flush()
    audit.flush(session)
    session.expunge_all()


# People --------------------------------------------------------------------------------------
def import_people(
    session: Session,
    actor: Actor,
    sheet: Sheet,
    mapping: Mapping,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    check_supervisor(actor)
    progress = progress or Progress()
    started = time.perf_counter()
    where = layout(sheet.header, mapping, PEOPLE_COLUMNS)
    report = new_report("people", where, dry_run, skip_invalid)
    valid, outcomes = _check_people(session, actor, sheet, where, mapping, report, progress)
    problems = any(o.status == INVALID for o in outcomes.values())
    audit.record(
        session,
        actor=actor,
        action="import.people_check" if dry_run else "import.people",
        details={
            "import": str(report.import_id),
            "rows": len(outcomes),
            "invalid": sum(1 for o in outcomes.values() if o.status == INVALID),
        },
    )
    if dry_run or (problems and not skip_invalid):
        for o in outcomes.values():
            if o.status == IMPORTED and not dry_run:
                o.status = NOT_IMPORTED
        report.outcomes = [outcomes[n] for n in sorted(outcomes)]
        report.seconds = time.perf_counter() - started
        return report
    with collector_spared():  # the first pass's rows are frozen, not walked again
        _write_people(session, actor, valid, outcomes, report, progress)
    report.outcomes = [outcomes[n] for n in sorted(outcomes)]
    report.written = report.count(IMPORTED) > 0
    report.seconds = time.perf_counter() - started
    return report


def new_report(kind: str, where: Layout, dry_run: bool, skip_invalid: bool) -> ImportReport:
    return ImportReport(
        import_id=uuid.uuid4(),
        kind=kind,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        columns={name: header for name, (_, header) in where.fields.items()},
        unused_columns=where.unused,
    )


def _check_people(
    session: Session,
    actor: Actor,
    sheet: Sheet,
    where: Layout,
    mapping: Mapping,
    report: ImportReport,
    progress: Progress,
) -> tuple[list[rows.PersonRow], dict[int, RowOutcome]]:
    """The first pass: every row read and validated, and matched against the records."""
    valid: list[rows.PersonRow] = []
    outcomes: dict[int, RowOutcome] = {}
    progress.start("checking", None)
    seen_references: dict[str, int] = {}
    for raw in sheet.rows:
        parsed, problems = rows.person_row(raw.number, raw.cells, where, mapping)
        outcome = RowOutcome(raw.number, IMPORTED, problems=problems)
        outcomes[raw.number] = outcome
        if parsed is not None and parsed.reference:
            folded = references.fold(parsed.reference)
            if not folded:
                problems.append(
                    Problem(
                        raw.number,
                        column_of(where, "external_reference"),
                        "a reference needs at least one letter or digit",
                    )
                )
            elif folded in seen_references:
                problems.append(
                    Problem(
                        raw.number,
                        column_of(where, "external_reference"),
                        f"the same reference as row {seen_references[folded]}",
                    )
                )
            else:
                seen_references[folded] = raw.number
        if problems or parsed is None:
            outcome.status = INVALID
        else:
            valid.append(parsed)
        progress.advance(1)
    matches = matching.on_record(session, actor.organisation_id, valid)
    matching.within_file(valid, matches)
    keep = []
    for row in valid:
        outcome = outcomes[row.row]
        found = matches.get(row.row)
        if found is not None:
            outcome.possible_duplicates = sorted(found.existing - {found.already})
            outcome.duplicate_rows = sorted(found.rows)
            for other in outcome.possible_duplicates:
                audit.record(
                    session,
                    actor=actor,
                    action="individual.duplicate_match",
                    subject_type="individual",
                    subject_id=other,
                    details={"import": str(report.import_id), "row": row.row},
                )
            if found.already is not None:
                outcome.status, outcome.individual_id = ALREADY, found.already
                continue
            if not row.reference and found.existing:
                # Keyed by the duplicate rules: without a reference, a row that matches
                # someone on record is taken to be them (reported, never merged).
                outcome.status = DUPLICATE
                continue
        keep.append(row)
    return keep, outcomes


def _write_people(
    session: Session,
    actor: Actor,
    valid: Sequence[rows.PersonRow],
    outcomes: dict[int, RowOutcome],
    report: ImportReport,
    progress: Progress,
) -> None:
    """The second pass, a batch of rows at a time; facts held back until the end."""
    progress.start("importing", len(valid))
    with holding_back(session) as held:
        for start in range(0, len(valid), BATCH):
            batch = valid[start : start + BATCH]
            for row, person_id in _write_batch(session, actor, batch, report, outcomes):
                outcomes[row.row].individual_id = person_id
            batch_done(session)
            progress.advance(len(batch))
    written = {o.individual_id for o in outcomes.values() if o.status == IMPORTED}
    held.individual_ids = {k: None for k in held.individual_ids if k in written}
    progress.start("assessing risk", None)
    announce(session, actor, report.import_id, held)
    batch_done(session)


def rolled_back(report: ImportReport, outcomes: dict[int, RowOutcome]) -> ImportReport:
    """The report of a run whose transaction is about to roll back: nothing stays written."""
    for outcome in outcomes.values():
        if outcome.status == IMPORTED:
            outcome.status = NOT_IMPORTED
            outcome.individual_id = outcome.incident_id = None
    report.outcomes = [outcomes[n] for n in sorted(outcomes)]
    report.written = False
    return report


@contextlib.contextmanager
def _failure_of(
    row: rows.PersonRow, report: ImportReport, outcomes: dict[int, RowOutcome]
) -> Iterator[None]:
    """A refusal while a row is written (the first pass found none): the whole import is
    rolled back, ``skip_invalid`` or not, and the report names the row."""
    try:
        yield
    except HavenError as exc:
        problem = Problem(row.row, "row", str(exc))
        outcomes[row.row].status = INVALID
        outcomes[row.row].problems.append(problem)
        raise ImportFailed(rolled_back(report, outcomes), problem) from None


def _write_batch(
    session: Session,
    actor: Actor,
    batch: Sequence[rows.PersonRow],
    report: ImportReport,
    outcomes: dict[int, RowOutcome],
) -> list[tuple[rows.PersonRow, uuid.UUID]]:
    """Rows checked in the first pass, built with the services' own parts (every value sealed,
    every record its history and audit entries) and written together: one statement a table
    for the batch instead of several statements per person."""
    crypto = crypto_of(session)
    persons = [people.new_person(actor, row.person) for row in batch]
    keys = crypto.keys.create_many(session, [p.id for p in persons], "individual")
    built: list[Base] = list(persons)  # parents before the rows that name them
    later: list[Base] = []  # the rows naming documents
    name_rows: list[dict[str, Any]] = []  # plain rows: the most numerous, cheapest as dicts
    word_rows: list[dict[str, Any]] = []
    entries: list[history.Entry] = []
    facts: list[Event] = []  # stated once the batch is written, as the services do
    for row, person in zip(batch, persons, strict=True):
        with _failure_of(row, report, outcomes):
            key = keys[person.id]
            index, entry = people.register(session, actor, person, row.person, key)
            names, words = index.rows(person.id)
            name_rows += names
            word_rows += words
            entries.append(entry)
            facts.append(PersonRegistered(actor=actor, individual_id=person.id))
            if row.reference:
                person.external_reference_ct = references.seal_with(
                    crypto, key, person.id, row.reference
                )
                indexed = references.index_row(crypto, person.id, row.reference)
                built += [indexed] if indexed is not None else []
            for checked in row.documents:
                document, entry = documents.build_document(session, actor, person, checked, key)
                source = checked.data.get("status_source")
                built.append(document)
                later.append(documents.status_change(session, actor, document, key, source=source))
                entries.append(entry)
                documents.audit_added(session, actor, document)
                facts.append(
                    DocumentAdded(actor=actor, individual_id=person.id, document_id=document.id)
                )
            if row.unhcr is not None:
                status, entry = unhcr.build_status(
                    session, actor, person, row.unhcr, key, previous=None
                )
                built.append(status)
                entries.append(entry)
                unhcr.audit_added(session, actor, person)
                facts.append(UnhcrStatusChanged(actor=actor, individual_id=person.id))
            audit.record(
                session,
                actor=actor,
                action="individual.import",
                subject_type="individual",
                subject_id=person.id,
                details={"import": str(report.import_id), "row": row.row},
            )
    insert_built(session, built + later)
    write_name_rows(session, name_rows, word_rows)
    history.record_many(session, actor=actor, entries=entries)
    for fact in facts:
        events.publish(session, fact)
    return [(row, person.id) for row, person in zip(batch, persons, strict=True)]
