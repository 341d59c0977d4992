"""The facts the risk policy reads, gathered for many people with one query per kind of fact.

``gather_many`` is what every reassessment uses, alone or in bulk (a revocation list, a
country event): the same code decides what one person's facts are either way.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.crypto.envelope import header_key_id
from app.models.alert import CountryEvent, ListMatch, PublishedList
from app.models.document import TravelDocument
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual
from app.models.unhcr import UnhcrStatus
from app.records.people import FIELDS, open_fields
from app.risk import policy
from app.risk.facts import (
    DocumentFact,
    EventFact,
    Facts,
    IncidentFact,
    ListMatchFact,
    OriginReport,
)
from app.unhcr.service import STATUS as UNHCR_STATUS

AFFECTS = FieldSlot("country_event", "affects")
PERSON_FIELDS = frozenset({"nationalities", "current_country", "affiliation", "affiliation_role"})


def gather(session: Session, person: Individual, now: dt.datetime) -> Facts:
    """Everything the policy reads about one person, opened with the crypto layer."""
    return gather_many(session, [person], now)[person.id]


def gather_many(
    session: Session, people: Sequence[Individual], now: dt.datetime
) -> dict[uuid.UUID, Facts]:
    """``gather`` for many people with one query per kind of fact (``people`` should fit in
    the data key cache: a few hundred at a time)."""
    crypto = crypto_of(session)
    crypto.keys.load_many(session, {k: p.id for p in people if (k := _key_of(p)) is not None})
    ids = [p.id for p in people]
    values = {p.id: open_fields(session, p, PERSON_FIELDS) for p in people}
    statuses = _statuses(session, ids)
    incidents: dict[uuid.UUID, list[Incident]] = {i: [] for i in ids}
    for incident, subject in session.execute(
        select(Incident, IncidentSubject.individual_id)
        .join(IncidentSubject, IncidentSubject.incident_id == Incident.id)
        .where(IncidentSubject.individual_id.in_(ids))
    ):
        incidents[subject].append(incident)
    documents: dict[uuid.UUID, list[DocumentFact]] = {i: [] for i in ids}
    for doc_id, status, owner in session.execute(
        select(TravelDocument.id, TravelDocument.status, TravelDocument.individual_id).where(
            TravelDocument.individual_id.in_(ids)
        )
    ):
        documents[owner].append(DocumentFact(str(doc_id), status))
    matches: dict[uuid.UUID, list[ListMatchFact]] = {i: [] for i in ids}
    for list_id, published_on, owner in session.execute(
        select(ListMatch.list_id, PublishedList.published_on, ListMatch.individual_id)
        .join(PublishedList, PublishedList.id == ListMatch.list_id)
        .where(ListMatch.individual_id.in_(ids))
    ):
        matches[owner].append(ListMatchFact(str(list_id), published_on))
    organisations = {p.organisation_id for p in people}
    events = _events(session, organisations, now.date())
    reports = _origin_reports(
        session,
        organisations,
        now.date(),
        {n for v in values.values() for n in (v.get("nationalities") or ())},
    )
    facts = {}
    for person in people:
        opened = values[person.id]
        nationalities = tuple(opened.get("nationalities") or ())
        current_country = opened.get("current_country")
        affiliation = opened.get("affiliation")
        held = statuses.get(person.id)
        own = {i.id for i in incidents[person.id]}
        facts[person.id] = Facts(
            now=now,
            nationalities=nationalities,
            current_country=current_country,
            affiliation=affiliation,
            affiliation_role=opened.get("affiliation_role"),
            incidents=tuple(
                IncidentFact(
                    id=str(i.id),
                    type=i.type,
                    occurred_on=i.occurred_on,
                    country=i.country,
                    reliability=i.source_reliability,
                    credibility=i.source_credibility,
                    after_return=i.after_return,
                    recorded_on=i.created_at.date() if i.created_at else None,
                )
                for i in incidents[person.id]
            ),
            documents=tuple(documents[person.id]),
            unhcr_status=held[1] if held else None,
            unhcr_status_id=str(held[0]) if held else None,
            list_matches=tuple(matches[person.id]),
            country_events=tuple(
                EventFact(
                    str(e.id),
                    e.country,
                    e.kind,
                    e.occurred_on,
                    policy.event_affects(
                        e.affects,
                        nationalities=nationalities,
                        current_country=current_country,
                        affiliation=affiliation,
                    ),
                )
                for e in events.get(person.organisation_id, ())
                if e.concerns(nationalities, current_country)
            ),
            origin_reports=tuple(
                OriginReport(r.type, r.country, r.occurred_on)
                for r in reports.get(person.organisation_id, ())
                if r.country in nationalities and r.id not in own
            ),
            check_in_every_hours=person.check_in_every_hours,
            last_check_in_at=person.last_check_in_at,
        )
    return facts


def _key_of(person: Individual) -> int | None:
    """The key id of the person's first sealed field (the one ``open_fields`` looks up)."""
    for name in FIELDS:
        sealed = getattr(person, f"{name}_ct")
        if sealed is not None:
            return header_key_id(sealed)
    return None


def _statuses(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, Any]]:
    """Each person's UNHCR status in force (the newest by effective date): id and status."""
    rows = session.execute(
        select(UnhcrStatus.id, UnhcrStatus.individual_id, UnhcrStatus.status_ct)
        .where(UnhcrStatus.individual_id.in_(ids))
        .order_by(UnhcrStatus.effective_date.desc(), UnhcrStatus.recorded_at.desc())
    )
    newest: dict[uuid.UUID, tuple[uuid.UUID, bytes | None]] = {}
    for row_id, owner, sealed in rows:
        newest.setdefault(owner, (row_id, sealed))
    crypto = crypto_of(session)
    return {
        owner: (
            row_id,
            None
            if sealed is None
            else crypto.open(session, UNHCR_STATUS, row_id, owner, sealed, pad=Pad.CATEGORY),
        )
        for owner, (row_id, sealed) in newest.items()
    }


@dataclass(frozen=True)
class _Event:
    id: uuid.UUID
    country: str
    kind: str
    occurred_on: dt.date
    affects_nationality: str | None
    affects_country: str | None
    affects: dict[str, Any]

    def concerns(self, nationalities: tuple[str, ...], current_country: str | None) -> bool:
        """Its profile matches the person's, or it happened in a country of theirs (an origin
        state's record)."""
        profile = (
            self.affects_nationality is None or self.affects_nationality in nationalities
        ) and (self.affects_country is None or self.affects_country == current_country)
        return profile or self.country in nationalities


def _events(
    session: Session, organisations: set[uuid.UUID], today: dt.date
) -> dict[uuid.UUID, list[_Event]]:
    """The organisations' recent country events, their sealed profiles opened once each."""
    horizon = today - dt.timedelta(days=policy.POLICY["windows"]["country_event_horizon_days"])
    rows = session.scalars(
        select(CountryEvent).where(
            CountryEvent.organisation_id.in_(organisations),
            CountryEvent.occurred_on >= horizon,
            CountryEvent.occurred_on <= today,
        )
    )
    crypto = crypto_of(session)
    found: dict[uuid.UUID, list[_Event]] = {}
    for event in rows:
        affects: dict[str, Any] = {
            "nationality": event.affects_nationality,
            "current_country": event.affects_country,
        }
        if event.affects_ct is not None:
            try:
                opened = crypto.open(
                    session, AFFECTS, event.id, event.id, event.affects_ct, pad=Pad.SHORT
                )
                affects.update(json.loads(opened) if isinstance(opened, str) else opened or {})
            except (CryptoError, ValueError, TypeError):
                pass  # unreadable: the plain columns still say whom it concerns
        found.setdefault(event.organisation_id, []).append(
            _Event(
                event.id,
                event.country,
                event.kind,
                event.occurred_on,
                event.affects_nationality,
                event.affects_country,
                affects,
            )
        )
    return found


def _origin_reports(
    session: Session, organisations: set[uuid.UUID], today: dt.date, countries: set[str]
) -> dict[uuid.UUID, list[Any]]:
    """Deaths in custody and coerced confessions in these countries, by organisation; each
    person's own incidents are left out by the caller."""
    if not countries:
        return {}
    since = today - dt.timedelta(days=policy.POLICY["windows"]["origin_severity_days"])
    rows = session.execute(
        select(
            Incident.id,
            Incident.organisation_id,
            Incident.type,
            Incident.country,
            Incident.occurred_on,
        ).where(
            Incident.organisation_id.in_(organisations),
            Incident.type.in_(policy.POLICY["severity_kinds"]),
            Incident.country.in_(sorted(countries)),
            Incident.occurred_on >= since,
        )
    )
    found: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        found.setdefault(row.organisation_id, []).append(row)
    return found
