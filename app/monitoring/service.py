"""Welfare check-ins, published lists and country events: the signals that are not incidents."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, visible_individuals
from app.crypto import FieldSlot, Pad, crypto_of
from app.crypto.blind_index import PERSON_NAME, fold_name
from app.crypto.envelope import header_key_id
from app.events import CheckInRecorded, CountryEventRecorded, ListMatched, PersonErased
from app.models.alert import CheckIn, CountryEvent, ListMatch, PublishedList
from app.models.base import utcnow
from app.models.bulk import collector_spared
from app.models.individual import Individual, IndividualNameIndex
from app.records import history
from app.records.people import get_visible, open_fields

CHECK_IN_NOTE = FieldSlot("check_in", "note")
CHECK_IN_CHANNEL = FieldSlot("check_in", "channel")
LIST_SOURCE = FieldSlot("published_list", "source")
EVENT_DESCRIPTION = FieldSlot("country_event", "description")
EVENT_AFFECTS = FieldSlot("country_event", "affects")
BATCH = 1000  # people whose keys are unwrapped together: well within the key cache


def record_check_in(
    session: Session, actor: Actor, individual_id: uuid.UUID, data: dict[str, Any]
) -> dict[str, Any]:
    person = get_visible(session, actor, individual_id, OWN)
    row = CheckIn(id=uuid.uuid4(), individual_id=person.id, recorded_by=actor.id)
    channel: str | None = data.get("channel")
    if data.get("note") or channel:
        crypto = crypto_of(session)
        key = crypto.keys.current(session, person.id)
        if data.get("note"):
            row.note_ct = crypto.seal(key, CHECK_IN_NOTE, row.id, data["note"], pad=Pad.TEXT)
        if channel:
            row.channel_ct = crypto.seal(key, CHECK_IN_CHANNEL, row.id, channel, pad=Pad.SHORT)
    session.add(row)
    person.last_check_in_at = row.at = utcnow()
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        kind="check_in.recorded",
        summary="Welfare check-in recorded",
        subject_type="check_in",
        subject_id=row.id,
    )
    audit.record(
        session,
        actor=actor,
        action="check_in.create",
        subject_type="individual",
        subject_id=person.id,
    )
    events.publish(session, CheckInRecorded(actor=actor, individual_id=person.id, at=row.at))
    return {"id": row.id, "individual_id": person.id, "at": row.at, "channel": channel or None}


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's check-ins (when, how reached) and list matches (the link to a list
    whose source still opens) go; so does the check-in schedule kept plain for the timers."""
    session.execute(delete(CheckIn).where(CheckIn.individual_id == event.individual_id))
    session.execute(delete(ListMatch).where(ListMatch.individual_id == event.individual_id))
    session.execute(
        update(Individual)
        .where(Individual.id == event.individual_id)
        .values(check_in_every_hours=None, last_check_in_at=None)
        .execution_options(synchronize_session="fetch")
    )


@collector_spared()  # one event, list or revocation list may touch everyone
def match_list(session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Match a published list against the caller's scope through the name blind index.

    Only matches are kept (as links to the people matched); names that matched nobody are
    compared in memory and dropped, never written anywhere.
    """
    crypto = crypto_of(session)
    wanted: dict[int, set[str]] = {}
    for name in data["names"]:
        token = crypto.blind_index(PERSON_NAME, name)
        if token is not None:
            wanted.setdefault(token, set()).add(fold_name(name))
    candidates: Iterable[Individual] = (
        session.scalars(
            select(Individual)
            .join(IndividualNameIndex, IndividualNameIndex.individual_id == Individual.id)
            .where(
                IndividualNameIndex.value.in_(list(wanted)),
                Individual.id.in_(visible_individuals(actor, OWN)),
            )
            .distinct()
        )
        if wanted
        else []
    )
    folded = set().union(*wanted.values()) if wanted else set()
    matched: list[dict[str, Any]] = []
    for person in candidates:
        values = open_fields(session, person, frozenset({"full_name", "native_name", "aliases"}))
        names = [values["full_name"], values["native_name"], *values["aliases"]]
        hit = next((n for n in names if n and fold_name(n) in folded), None)
        if hit is not None:
            matched.append(
                {"individual_id": person.id, "name": values["full_name"], "person": person}
            )
    listed = PublishedList(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        published_on=data["published_on"],
        names_submitted=len(data["names"]),
        created_by=actor.id,
    )
    session.add(listed)
    session.flush()
    list_key = crypto.keys.create(session, listed.id, "published_list")
    listed.source_ct = crypto.seal(list_key, LIST_SOURCE, listed.id, data["source"], pad=Pad.SHORT)
    for item in matched:
        person = item.pop("person")
        session.add(ListMatch(list_id=listed.id, individual_id=person.id))
        history.record(
            session,
            actor=actor,
            individual_id=person.id,
            kind="list.matched",
            summary="Name found on a published list",
            subject_type="published_list",
            subject_id=listed.id,
            changes={"source": data["source"], "published_on": data["published_on"]},
        )
    if matched:
        people = tuple(item["individual_id"] for item in matched)
        events.publish(session, ListMatched(actor=actor, list_id=listed.id, individual_ids=people))
    audit.record(
        session,
        actor=actor,
        action="list.match",
        subject_type="published_list",
        subject_id=listed.id,
        details={"names": len(data["names"]), "matched": len(matched)},
    )
    return {"list_id": listed.id, "matched": matched}


@collector_spared()  # one event, list or revocation list may touch everyone
def record_country_event(session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Record the event and reassess everyone of its profile in the caller's organisation."""
    affects = {k: v for k, v in (data.get("affects") or {}).items() if v}
    event = CountryEvent(
        id=uuid.uuid4(),
        organisation_id=actor.organisation_id,
        country=data["country"],
        kind=data["kind"],
        occurred_on=data["occurred_on"],
        created_by=actor.id,
        affects_country=affects.get("current_country"),
        affects_nationality=affects.get("nationality"),
    )
    crypto = crypto_of(session)
    key = crypto.keys.create(session, event.id, "country_event")
    event.description_ct = crypto.seal(
        key, EVENT_DESCRIPTION, event.id, data["description"], pad=Pad.TEXT
    )
    event.affects_ct = crypto.seal(key, EVENT_AFFECTS, event.id, json.dumps(affects), pad=Pad.SHORT)
    session.add(event)
    session.flush()
    affected = _affected_people(session, actor.organisation_id, affects)
    history.record_many(  # plain rows, one statement: an event may affect thousands
        session,
        actor=actor,
        entries=[
            history.Entry(
                individual_id=person_id,
                kind="country_event.affects",
                summary=f"Country event ({event.kind}) affects this person",
                subject_type="country_event",
                subject_id=event.id,
            )
            for person_id in affected
        ],
    )
    if affected:
        events.publish(
            session,
            CountryEventRecorded(
                actor=actor,
                event_id=event.id,
                kind=event.kind,
                organisation_id=actor.organisation_id,
                individual_ids=tuple(affected),
                at=utcnow(),
            ),
        )
    event.reassessed = len(affected)
    audit.record(
        session,
        actor=actor,
        action="country_event.create",
        subject_type="country_event",
        subject_id=event.id,
        details={"reassessed": len(affected)},
    )
    return {"id": event.id, "reassessed": len(affected)}


def _affected_people(
    session: Session, organisation_id: uuid.UUID, affects: dict[str, str]
) -> list[uuid.UUID]:
    """The organisation's people whose profile the event names, in id order. The profile
    fields are sealed per person: their keys are unwrapped a batch at a time (a batch fits
    in the key cache), then the fields opened and compared in memory."""
    if not affects:
        return []
    crypto = crypto_of(session)
    columns = (
        Individual.id,
        Individual.full_name_ct,
        Individual.nationalities_ct,
        Individual.current_country_ct,
        Individual.affiliation_ct,
    )
    rows = session.execute(
        select(*columns)
        .where(Individual.organisation_id == organisation_id, Individual.erased_at.is_(None))
        .order_by(Individual.id)
    ).all()
    affected = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        crypto.keys.load_many(
            session,
            {header_key_id(r.full_name_ct): r.id for r in batch if r.full_name_ct is not None},
        )
        affected += [r.id for r in batch if _affected(session, r, affects)]
    return affected


# An event's criteria and the sealed field each is matched against, the nationality first:
# a field is opened only for the people every criterion before it matched.
_CRITERIA = (
    ("nationality", "nationalities"),
    ("current_country", "current_country"),
    ("affiliation", "affiliation"),
)


def _affected(session: Session, row: Any, affects: dict[str, str]) -> bool:
    for criterion, field in _CRITERIA:
        wanted = affects.get(criterion)
        if wanted is None:
            continue
        value = open_fields(session, row, frozenset({field}))[field]
        if criterion == "nationality" and wanted not in (value or []):
            return False
        if criterion == "current_country" and value != wanted:
            return False
        if criterion == "affiliation" and not (value and fold_name(wanted) in fold_name(value)):
            return False
    return True
