"""Incidents: record what happened to whom, graded by source; read them back within scope.

An incident concerns several people at once, so it is sealed with a data key of its own (not
any one person's): erasing one of its people leaves the others' incident readable. Each
person's timeline gets its own entry, sealed with that person's key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.roles import Role
from app.auth.scope import OWN, reportable_individuals, visible_individuals
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.crypto.erasure import shred
from app.errors import NotFound, Unprocessable
from app.events import IncidentRecorded, PersonErased
from app.incidents.schemas import IncidentView
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual
from app.records import history
from app.records.people import get_visible
from app.records.sharing import staff_labels

# Each sealed column: its slot (table, column in the AAD) and its padding bucket.
SEALED: dict[str, tuple[FieldSlot, Pad]] = {
    "location": (FieldSlot("incident", "location"), Pad.SHORT),
    "description": (FieldSlot("incident", "description"), Pad.TEXT),
    "perpetrator": (FieldSlot("incident", "perpetrator"), Pad.SHORT),
    "source_name": (FieldSlot("incident", "source_name"), Pad.SHORT),
}
FORCED_RETURN = "forced_return"


def _reachable(actor: Actor) -> Select[uuid.UUID]:
    """People the actor may name in an incident: a monitor reports on its organisation's."""
    if actor.role == Role.SERVICE:
        return reportable_individuals(actor)
    return visible_individuals(actor, OWN)  # nobody reports on a person seen through a referral


def record_incident(session: Session, actor: Actor, data: dict[str, Any]) -> IncidentView:
    person_ids = list(dict.fromkeys(data["individual_ids"]))
    found = set(
        session.scalars(
            select(Individual.id).where(
                Individual.id.in_(person_ids), Individual.id.in_(_reachable(actor))
            )
        )
    )
    if len(found) != len(person_ids):
        raise NotFound("one or more of the people named were not found")
    occurred_on: dt.date = data["occurred_on"]
    source = data["source"]
    incident = Incident(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        type=data["type"].value,
        occurred_on=occurred_on,
        country=data["country"],
        source_reliability=source["reliability"].value,
        source_credibility=source["credibility"],
        created_by=actor.id,
        created_by_label=actor.username,
        after_return=_returned_before(session, person_ids, occurred_on),
    )
    session.add(incident)
    session.flush()
    crypto = crypto_of(session)
    key = crypto.keys.create(session, incident.id, "incident")
    values = {
        "location": data.get("location"),
        "description": data["description"],
        "perpetrator": data.get("perpetrator"),
        "source_name": source["name"],
    }
    for name, value in values.items():
        if value is not None:
            slot, pad = SEALED[name]
            setattr(incident, f"{name}_ct", crypto.seal(key, slot, incident.id, value, pad=pad))
    session.add_all(
        IncidentSubject(incident_id=incident.id, individual_id=pid) for pid in person_ids
    )
    session.flush()
    details = {
        "type": incident.type,
        "occurred_on": occurred_on,
        "country": incident.country,
        **{k: v for k, v in values.items() if k != "source_name" and v is not None},
        "source": {
            "name": source["name"],
            "reliability": incident.source_reliability,
            "credibility": incident.source_credibility,
        },
        "after_return": incident.after_return,
        "people": len(person_ids),
    }
    for pid in person_ids:
        history.record(
            session,
            actor=actor,
            individual_id=pid,
            kind="incident.recorded",
            summary=f"Incident recorded: {incident.type}",
            subject_type="incident",
            subject_id=incident.id,
            changes=details,
        )
    audit.record(
        session,
        actor=actor,
        action="incident.create",
        subject_type="incident",
        subject_id=incident.id,
        details={
            "individual_ids": [str(p) for p in person_ids],
            "after_return": incident.after_return,
        },
    )
    events.publish(
        session,
        IncidentRecorded(actor=actor, incident_id=incident.id, individual_ids=tuple(person_ids)),
    )
    return present(session, incident, person_ids)


def _returned_before(session: Session, person_ids: list[uuid.UUID], day: dt.date) -> bool:
    """Whether any of the people has a recorded forced return dated before ``day``."""
    earlier = session.scalar(
        select(IncidentSubject.incident_id)
        .join(Incident, Incident.id == IncidentSubject.incident_id)
        .where(
            IncidentSubject.individual_id.in_(person_ids),
            Incident.type == FORCED_RETURN,
            Incident.occurred_on < day,
        )
        .limit(1)
    )
    return earlier is not None


def present(session: Session, incident: Incident, individual_ids: list[uuid.UUID]) -> IncidentView:
    """The incident with its sealed fields opened; ``individual_ids`` already cut to scope."""
    crypto = crypto_of(session)
    opened: dict[str, Any] = {}
    for name, (slot, pad) in SEALED.items():
        sealed = getattr(incident, f"{name}_ct")
        try:
            opened[name] = (
                None
                if sealed is None
                else crypto.open(session, slot, incident.id, incident.id, sealed, pad=pad)
            )
        except CryptoError:
            opened[name] = None  # the incident's key was destroyed
    return {
        "id": incident.id,
        "type": incident.type,
        "occurred_on": incident.occurred_on,
        "country": incident.country,
        "location": opened["location"],
        "description": opened["description"],
        "perpetrator": opened["perpetrator"],
        "individual_ids": individual_ids,
        "source": {
            "name": opened["source_name"],
            "reliability": incident.source_reliability,
            "credibility": incident.source_credibility,
        },
        "after_return": incident.after_return,
        "created_by": incident.created_by_label,
        "created_at": incident.created_at,
    }


def _subjects_in_scope(
    session: Session, actor: Actor, incident_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    subjects: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if not incident_ids:
        return subjects
    rows = session.execute(
        select(IncidentSubject.incident_id, IncidentSubject.individual_id)
        .where(
            IncidentSubject.incident_id.in_(incident_ids),
            IncidentSubject.individual_id.in_(visible_individuals(actor, "incidents")),
        )
        .order_by(IncidentSubject.individual_id)
    )
    for incident_id, individual_id in rows:
        subjects[incident_id].append(individual_id)
    return subjects


def _visible_incidents(actor: Actor) -> Select[uuid.UUID]:
    """An incident is visible when at least one of its people is (through a referral: with
    its ``incidents`` section)."""
    return select(IncidentSubject.incident_id).where(
        IncidentSubject.individual_id.in_(visible_individuals(actor, "incidents"))
    )


def read_incident(session: Session, actor: Actor, incident_id: uuid.UUID) -> IncidentView:
    incident = session.scalar(
        select(Incident).where(
            Incident.id == incident_id, Incident.id.in_(_visible_incidents(actor))
        )
    )
    if incident is None:
        raise NotFound()
    audit.record(
        session,
        actor=actor,
        action="incident.read",
        subject_type="incident",
        subject_id=incident.id,
    )
    item = present(
        session, incident, _subjects_in_scope(session, actor, [incident.id])[incident.id]
    )
    return _as_read_by(session, actor, [item])[0]


def list_incidents(
    session: Session,
    actor: Actor,
    *,
    individual_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[IncidentView], str | None]:
    """Incidents of people in scope, newest first (by date, then id)."""
    query = select(Incident).where(Incident.id.in_(_visible_incidents(actor)))
    if individual_id is not None:
        person = get_visible(session, actor, individual_id, "incidents")
        query = query.where(
            Incident.id.in_(
                select(IncidentSubject.incident_id).where(
                    IncidentSubject.individual_id == person.id
                )
            )
        )
    if cursor is not None:
        day, last_id = _parse_cursor(cursor)
        query = query.where(
            or_(
                Incident.occurred_on < day,
                and_(Incident.occurred_on == day, Incident.id < last_id),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(Incident.occurred_on.desc(), Incident.id.desc()).limit(limit + 1)
        )
    )
    more, rows = len(rows) > limit, rows[:limit]
    subjects = _subjects_in_scope(session, actor, [r.id for r in rows])
    items = _as_read_by(session, actor, [present(session, row, subjects[row.id]) for row in rows])
    audit.record(
        session,
        actor=actor,
        action="incident.list",
        subject_type="individual" if individual_id else None,
        subject_id=individual_id,
        details={"results": len(items)},
    )
    for row in rows:
        audit.record(
            session,
            actor=actor,
            action="incident.read",
            subject_type="incident",
            subject_id=row.id,
            details={"via": "list"},
        )
    next_cursor = f"{rows[-1].occurred_on.isoformat()}_{rows[-1].id}" if more and rows else None
    return items, next_cursor


def _as_read_by(session: Session, actor: Actor, items: list[IncidentView]) -> list[IncidentView]:
    """Through a referral: whoever of the other organisation recorded an incident is shown as
    that organisation, never by username."""
    recorded_by: dict[uuid.UUID, uuid.UUID | None] = {
        incident_id: user_id
        for incident_id, user_id in session.execute(
            select(Incident.id, Incident.created_by).where(
                Incident.id.in_([i["id"] for i in items])
            )
        )
    }
    other_side = staff_labels(session, actor, recorded_by.values())
    for item in items:
        recorder = recorded_by.get(item["id"])
        if recorder is not None and recorder in other_side:
            item["created_by"] = other_side[recorder]
    return items


def _parse_cursor(cursor: str) -> tuple[dt.date, uuid.UUID]:
    try:
        day, _, last = cursor.partition("_")
        return dt.date.fromisoformat(day), uuid.UUID(last)
    except ValueError:
        raise Unprocessable("malformed cursor") from None


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person leaves every incident: their links go, and an incident that concerned
    only them is destroyed (its key shredded, its row deleted), since it describes no one else.
    An incident shared with others stays theirs, without the erased person among its people."""
    concerned = list(
        session.scalars(
            select(IncidentSubject.incident_id).where(
                IncidentSubject.individual_id == event.individual_id
            )
        )
    )
    if not concerned:
        return
    session.execute(
        delete(IncidentSubject).where(IncidentSubject.individual_id == event.individual_id)
    )
    shared = set(
        session.scalars(
            select(IncidentSubject.incident_id).where(IncidentSubject.incident_id.in_(concerned))
        )
    )
    for incident_id in (i for i in concerned if i not in shared):
        shred(session, incident_id)
        session.execute(delete(Incident).where(Incident.id == incident_id))
