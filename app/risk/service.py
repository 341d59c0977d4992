"""Risk: gather a person's facts, run the policy, keep every assessment with its version.

``reassess`` is called wherever a fact changes (incidents, documents, UNHCR status, the
person's record) and by ``sweep`` for time decay. Each run stores a ``RiskAssessment`` row —
never overwritten — with its factors sealed with the person's key, updates the person's plain
``risk_level``/``risk_score`` columns, writes a history entry when the result changes, and
raises ``risk_escalated`` when the level rises into high or critical (as far as the
policy's ``alert_level`` allows: backfill is history, not news).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.alerts import service as alerts
from app.audit import service as audit
from app.cases import history
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.errors import NotFound
from app.individuals.service import get_visible, open_fields
from app.models.alert import CountryEvent, ListMatch, PublishedList
from app.models.base import utcnow
from app.models.document import TravelDocument
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual
from app.models.risk import RiskAssessment
from app.risk import overrides, policy, reference
from app.risk.facts import (
    DocumentFact,
    EventFact,
    Facts,
    IncidentFact,
    ListMatchFact,
    OriginReport,
)
from app.unhcr.service import current_status

log = logging.getLogger("haven.risk")

FACTORS = FieldSlot("risk_assessment", "factors")
AFFECTS = FieldSlot("country_event", "affects")
PERSON_FIELDS = frozenset({"nationalities", "current_country", "affiliation", "affiliation_role"})
SWEEP = "sweep"
STALE_AFTER = dt.timedelta(hours=24)
ALERTED = ("high", "critical")


def reassess(
    session: Session,
    individual_id: uuid.UUID,
    *,
    trigger: str,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> RiskAssessment | None:
    """Recompute and store the person's risk; raise risk_escalated when it rises."""
    person = session.get(Individual, individual_id)
    if person is None or person.erased_at is not None:
        return None
    now = now or utcnow()
    result = policy.assess(gather(session, person, now), reference.load(session, now.date()))
    crypto = crypto_of(session)
    key = crypto.keys.current(session, person.id)
    factors = [f.as_dict() for f in result.factors]
    row = RiskAssessment(
        id=uuid.uuid4(),
        individual_id=person.id,
        assessed_at=now,
        policy_version=result.policy_version,
        score=result.score,
        level=result.level,
        trigger=trigger[:48],
    )
    row.factors_ct = crypto.seal(key, FACTORS, row.id, factors, pad=Pad.TEXT)
    session.add(row)
    before_level, before_score = person.risk_level, person.risk_score
    person.risk_level, person.risk_score = result.level, result.score
    # Time decay moves scores a point at a time: the sweep only records a change of level.
    if before_level != result.level or (before_score != result.score and trigger != SWEEP):
        history.record(
            session,
            actor=actor,
            individual_id=person.id,
            kind="risk.reassessed",
            summary=_summary(before_level, before_score, result.level, result.score),
            subject_type="risk_assessment",
            subject_id=row.id,
            at=now,
            key=key,
            changes={
                "level": {"from": before_level, "to": result.level},
                "score": {"from": before_score, "to": result.score},
                "factors": factors,
                "policy_version": result.policy_version,
                "trigger": trigger,
            },
        )
    rise = policy.LEVELS[min(policy.rank(result.level), policy.rank(result.alert_level))]
    if rise in ALERTED and policy.rank(rise) > policy.rank(before_level):
        alerts.raise_alert(
            session,
            rule="risk_escalated",
            severity=rise,
            organisation_id=person.organisation_id,
            summary=f"Risk rose to {rise}",
            individual_id=person.id,
            subject_id=None,
            actor=actor,
            now=now,
        )
    session.flush()
    return row


def _summary(before: str | None, before_score: int | None, level: str, score: int) -> str:
    if before is None:
        return f"Risk assessed: {level}"
    if before != level:
        return f"Risk reassessed: {before} → {level}"
    return f"Risk reassessed: {level}, score {before_score} → {score}"


def sweep(session: Session, now: dt.datetime, *, limit: int = 500) -> int:
    """Reassess people whose last assessment is older than a day (time decay), or older than
    the country reference in force, or made under another policy version; oldest first."""
    stale = now - STALE_AFTER
    changed = reference.changed_at(session, now)
    if changed is not None and changed > stale:
        stale = changed
    version = policy.policy_version(reference.build())
    latest = (
        select(
            RiskAssessment.individual_id.label("individual_id"),
            func.max(RiskAssessment.assessed_at).label("at"),
        )
        .group_by(RiskAssessment.individual_id)
        .subquery()
    )
    last = aliased(RiskAssessment)
    due = (
        select(Individual.id, latest.c.at)
        .outerjoin(latest, latest.c.individual_id == Individual.id)
        .outerjoin(last, and_(last.individual_id == Individual.id, last.assessed_at == latest.c.at))
        .where(
            Individual.erased_at.is_(None),
            or_(latest.c.at.is_(None), latest.c.at < stale, last.policy_version != version),
        )
        .distinct()
        .order_by(latest.c.at.asc().nulls_first(), Individual.id)
        .limit(limit)
    )
    count = 0
    for individual_id, _ in session.execute(due).all():
        try:
            if reassess(session, individual_id, trigger=SWEEP, now=now) is not None:
                count += 1
        except CryptoError:
            log.warning("risk sweep: cannot open the record of %s", individual_id)
    return count


# -- facts -------------------------------------------------------------------------------------


def gather(session: Session, person: Individual, now: dt.datetime) -> Facts:
    """Everything the policy reads about one person, opened with the crypto layer."""
    values = open_fields(session, person, PERSON_FIELDS)
    nationalities = tuple(values.get("nationalities") or ())
    current_country = values.get("current_country")
    affiliation = values.get("affiliation")
    status = current_status(session, person)
    incidents = session.scalars(
        select(Incident)
        .join(IncidentSubject, IncidentSubject.incident_id == Incident.id)
        .where(IncidentSubject.individual_id == person.id)
    ).all()
    documents = session.execute(
        select(TravelDocument.id, TravelDocument.status).where(
            TravelDocument.individual_id == person.id
        )
    ).all()
    matches = session.execute(
        select(ListMatch.list_id, PublishedList.published_on)
        .join(PublishedList, PublishedList.id == ListMatch.list_id)
        .where(ListMatch.individual_id == person.id)
    ).all()
    return Facts(
        now=now,
        nationalities=nationalities,
        current_country=current_country,
        affiliation=affiliation,
        affiliation_role=values.get("affiliation_role"),
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
            for i in incidents
        ),
        documents=tuple(DocumentFact(str(d.id), d.status) for d in documents),
        unhcr_status=status["status"] if status else None,
        unhcr_status_id=str(status["id"]) if status else None,
        list_matches=tuple(ListMatchFact(str(m.list_id), m.published_on) for m in matches),
        country_events=_events(
            session, person, now.date(), nationalities, current_country, affiliation
        ),
        origin_reports=_origin_reports(session, person, now.date(), nationalities),
        check_in_every_hours=person.check_in_every_hours,
        last_check_in_at=person.last_check_in_at,
    )


def _events(
    session: Session,
    person: Individual,
    today: dt.date,
    nationalities: tuple[str, ...],
    current_country: str | None,
    affiliation: str | None,
) -> tuple[EventFact, ...]:
    """Country events of the person's organisation that match their profile, and those in
    their countries of nationality (an origin state's record)."""
    horizon = today - dt.timedelta(days=policy.POLICY["windows"]["country_event_horizon_days"])
    profile = and_(
        or_(
            CountryEvent.affects_nationality.is_(None),
            CountryEvent.affects_nationality.in_(nationalities),
        ),
        or_(
            CountryEvent.affects_country.is_(None),
            CountryEvent.affects_country == current_country,
        ),
    )
    rows = session.scalars(
        select(CountryEvent).where(
            CountryEvent.organisation_id == person.organisation_id,
            CountryEvent.occurred_on >= horizon,
            CountryEvent.occurred_on <= today,
            or_(profile, CountryEvent.country.in_(nationalities)),
        )
    )
    crypto = crypto_of(session)
    found = []
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
        matches = policy.event_affects(
            affects,
            nationalities=nationalities,
            current_country=current_country,
            affiliation=affiliation,
        )
        found.append(
            EventFact(str(event.id), event.country, event.kind, event.occurred_on, matches)
        )
    return tuple(found)


def _origin_reports(
    session: Session, person: Individual, today: dt.date, nationalities: tuple[str, ...]
) -> tuple[OriginReport, ...]:
    """Other people's deaths in custody and coerced confessions in the person's countries."""
    if not nationalities:
        return ()
    since = today - dt.timedelta(days=policy.POLICY["windows"]["origin_severity_days"])
    own = select(IncidentSubject.incident_id).where(IncidentSubject.individual_id == person.id)
    rows = session.execute(
        select(Incident.type, Incident.country, Incident.occurred_on).where(
            Incident.organisation_id == person.organisation_id,
            Incident.type.in_(policy.POLICY["severity_kinds"]),
            Incident.country.in_(nationalities),
            Incident.occurred_on >= since,
            Incident.id.not_in(own),
        )
    )
    return tuple(OriginReport(r.type, r.country, r.occurred_on) for r in rows)


# -- reading -----------------------------------------------------------------------------------


def latest(session: Session, individual_id: uuid.UUID) -> RiskAssessment | None:
    return session.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.individual_id == individual_id)
        .order_by(RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
        .limit(1)
    )


def read_risk(session: Session, actor: Any, individual_id: uuid.UUID) -> dict[str, Any]:
    """The person's latest assessment (made now if there is none) and any override beside it."""
    person = get_visible(session, actor, individual_id)
    audit.record(
        session,
        actor=actor,
        action="risk.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return present(session, actor, person)


def present(session: Session, actor: Any, person: Individual) -> dict[str, Any]:
    row = latest(session, person.id) or reassess(
        session, person.id, trigger="on_demand", actor=actor
    )
    if row is None:
        raise NotFound()  # erased since it was found
    factors = (
        []
        if row.factors_ct is None
        else crypto_of(session).open(
            session, FACTORS, row.id, person.id, row.factors_ct, pad=Pad.TEXT
        )
    )
    body: dict[str, Any] = {
        "level": row.level,
        "score": row.score,
        "factors": factors,
        "assessed_at": row.assessed_at,
        "policy_version": row.policy_version,
    }
    active = overrides.active(session, person.id)
    if active is not None:
        body["override"] = overrides.present(session, active)
    return body
