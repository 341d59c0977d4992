"""What raises alerts as records change: incidents, revoked documents, emergency access.

Called from the hooks of the services that own those records (``after_incident``,
``after_revocation``, ``after_break_glass``), inside their transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts import notify, rules, service
from app.crypto import CryptoError
from app.individuals.service import open_fields
from app.models.base import utcnow
from app.models.case import BreakGlassGrant, Case
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.incident import Incident
from app.models.individual import Individual
from app.risk.policy import is_backfill


def _nationalities(session: Session, person: Individual) -> list[str]:
    try:
        return list(open_fields(session, person, frozenset({"nationalities"}))["nationalities"])
    except CryptoError:
        return []


def on_incident(
    session: Session, actor: Any, incident: Incident, person_ids: list[uuid.UUID]
) -> list[Any]:
    """One alert per person named, by the incident's type (none for most types)."""
    now = utcnow()
    # Entered long after it happened: on the timeline, but no urgent alert (risk policy).
    backfill = is_backfill(incident.occurred_on, incident.created_at or now)
    raised = []
    for person_id in person_ids:
        person = session.get(Individual, person_id)
        if person is None or person.erased_at is not None:
            continue
        found = rules.incident_rule(
            incident.type, incident.country, _nationalities(session, person)
        )
        if found is None:
            continue
        rule, severity = found
        text = rules.summary(rule)
        if backfill and not _custody_still_open(session, person.id, incident, rule):
            severity, text = rules.backfilled(text)
        raised.append(
            service.raise_alert(
                session,
                rule=rule,
                severity=severity,
                organisation_id=person.organisation_id,
                summary=text,
                individual_id=person.id,
                subject_id=incident.id,
                actor=actor,
                now=now,
            )
        )
    return raised


def _custody_still_open(
    session: Session, person_id: uuid.UUID, incident: Incident, rule: str
) -> bool:
    """A detention or removal order with no later release or return stays acute however
    long ago it began (MISSION.md, "Time matters"): backfill does not soften it."""
    if rule not in ("host_custody", "removal_order"):
        return False
    from app.models.incident import IncidentSubject

    later = session.scalar(
        select(Incident.id)
        .join(IncidentSubject, IncidentSubject.incident_id == Incident.id)
        .where(
            IncidentSubject.individual_id == person_id,
            Incident.type.in_(("release", "forced_return")),
            Incident.occurred_on >= incident.occurred_on,
        )
        .limit(1)
    )
    return later is None


def on_revocation(
    session: Session, actor: Any, person_ids: list[uuid.UUID], list_id: uuid.UUID
) -> list[Any]:
    """One passport_revoked alert per document the list revoked, announced once per list."""
    rows = session.execute(
        select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.organisation_id)
        .join(DocumentStatusChange, DocumentStatusChange.document_id == TravelDocument.id)
        .where(
            DocumentStatusChange.revocation_list_id == list_id,
            DocumentStatusChange.status == "revoked",
            TravelDocument.individual_id.in_(person_ids),
        )
        .order_by(TravelDocument.individual_id, TravelDocument.id)
    ).all()
    raised = service.raise_many(
        session,
        [
            service.AlertSpec(
                rule=rules.PASSPORT_REVOKED,
                severity="high",
                organisation_id=row.organisation_id,
                summary=rules.summary(rules.PASSPORT_REVOKED),
                individual_id=row.individual_id,
                subject_id=row.id,
                group_key=str(list_id),
            )
            for row in rows
        ],
        actor=actor,
    )
    notify.flush_groups(session)
    return raised


def on_document_revoked(session: Session, actor: Any, document: TravelDocument) -> Any:
    """A single document marked revoked (not through a list)."""
    return service.raise_alert(
        session,
        rule=rules.PASSPORT_REVOKED,
        severity="high",
        organisation_id=document.organisation_id,
        summary=rules.summary(rules.PASSPORT_REVOKED),
        individual_id=document.individual_id,
        subject_id=document.id,
        actor=actor,
    )


def on_break_glass(session: Session, actor: Any, case: Case, grant: BreakGlassGrant) -> Any:
    """Emergency access is for supervisors to know of at once (and only they see it)."""
    return service.raise_alert(
        session,
        rule=rules.BREAK_GLASS,
        severity="high",
        organisation_id=case.organisation_id,
        summary=rules.summary(rules.BREAK_GLASS),
        individual_id=case.individual_id,
        case_id=case.id,
        subject_id=grant.id,
        actor=actor,
    )
