"""Alerts as people read them in the inbox and on the alert page: who, where, when, by whom.

An alert row holds ids, a rule and Haven's own words only (webhooks and e-mail carry it as
it is). For a signed-in reader whose scope includes the person, a card adds the person's name
and country (opened here, each person's read audited as ``individual.read``), the event's date
and country when the alert is about an incident (plain columns), and who is handling it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.alerts.queries import AlertView
from app.audit import service as audit
from app.auth.scope import OWN, visible_individuals
from app.crypto import CryptoError, crypto_of
from app.crypto.envelope import header_key_id
from app.models.alert import Alert
from app.models.incident import Incident
from app.models.individual import Individual
from app.models.user import User
from app.records.people import open_fields


class AlertCard(AlertView):
    person_name: str | None  # None: no person, or not one the reader may see
    country: str | None  # where it happened (an incident's country), else where they are
    country_is_event: bool  # whether ``country`` is the event's (not the recorded one)
    occurred_on: dt.date | None  # when it happened (an incident's date)
    handled_by: str | None  # who acknowledged it


NAMES = frozenset({"full_name", "current_country"})


def cards(
    session: Session, actor: Actor, items: list[AlertView], *, via: str, names: bool = True
) -> list[AlertCard]:
    """``items`` with who, where, when and by whom, in one query per kind of record;
    ``names``: False leaves the people's records unread (no name, no recorded country)."""
    wanted = {a["individual_id"] for a in items if a["individual_id"]} if names else set()
    people = _people(session, actor, wanted)
    extra: dict[uuid.UUID, tuple[uuid.UUID | None, uuid.UUID | None]] = {
        row.id: (row.subject_id, row.acknowledged_by)
        for row in session.execute(
            select(Alert.id, Alert.subject_id, Alert.acknowledged_by).where(
                Alert.id.in_([a["id"] for a in items])
            )
        )
    }
    events = _incidents(session, {s for s, _ in extra.values() if s})
    handlers = usernames(session, {h for _, h in extra.values() if h})
    shown: list[AlertCard] = []
    for item in items:
        subject, handler = extra.get(item["id"], (None, None))
        person = people.get(item["individual_id"]) if item["individual_id"] else None
        event = events.get(subject) if subject else None
        country = event[0] if event else person.get("current_country") if person else None
        card: AlertCard = {
            **item,
            "person_name": person.get("full_name") if person else None,
            "country": country,
            "country_is_event": event is not None,
            "occurred_on": event[1] if event else None,
            "handled_by": handlers.get(handler) if handler else None,
        }
        shown.append(card)
    for person_id in people:
        audit.record(
            session,
            actor=actor,
            action="individual.read",
            subject_type="individual",
            subject_id=person_id,
            details={"via": via, "fields": sorted(NAMES)},
        )
    return shown


def _people(session: Session, actor: Actor, ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Name and recorded country of the people among ``ids`` the actor may see (their own
    organisation's: alerts are never shared through a referral)."""
    if not ids:
        return {}
    rows = list(
        session.scalars(
            select(Individual).where(
                Individual.id.in_(ids),
                # The scope narrowed to these ids: a probe each, whatever the caseload's size.
                Individual.id.in_(visible_individuals(actor, OWN).where(Individual.id.in_(ids))),
                Individual.erased_at.is_(None),
            )
        )
    )
    owners = {header_key_id(p.full_name_ct): p.id for p in rows if p.full_name_ct is not None}
    crypto_of(session).keys.load_many(session, owners)
    found: dict[uuid.UUID, dict[str, Any]] = {}
    for person in rows:
        try:
            found[person.id] = open_fields(session, person, NAMES)
        except CryptoError:
            continue  # erased meanwhile: the card stays nameless
    return found


def _incidents(session: Session, ids: set[Any]) -> dict[uuid.UUID, tuple[str, dt.date]]:
    if not ids:
        return {}
    rows = session.execute(
        select(Incident.id, Incident.country, Incident.occurred_on).where(Incident.id.in_(ids))
    )
    return {row.id: (row.country, row.occurred_on) for row in rows}


def usernames(session: Session, ids: set[Any]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {row.id: row.username for row in rows}
