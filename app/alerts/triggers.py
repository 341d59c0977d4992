"""What raises alerts as records change: the alerts' reactions to domain events.

Listed in ``app.reactions`` after risk's, and run inside the transaction of the change.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.alerts import notify, rules, service, timed
from app.crypto import CryptoError
from app.events import (
    ApiKeyCreated,
    BreakGlassGranted,
    CaseAccessGranted,
    CheckInRecorded,
    CountryEventRecorded,
    DocumentStatusChanged,
    IncidentRecorded,
    ListMatched,
    LookupBurst,
    PeopleExported,
    PeopleImported,
    PersonErased,
    ReferralStepped,
    RevocationListApplied,
    RiskEscalated,
    TwoFactorReset,
)
from app.models.alert import Alert, OutboxMessage
from app.models.base import utcnow
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual
from app.models.notification import AlertEscalation
from app.records.people import open_fields
from app.risk.policy import is_backfill


def _nationalities(session: Session, person: Individual) -> list[str]:
    try:
        return list(open_fields(session, person, frozenset({"nationalities"}))["nationalities"])
    except CryptoError:
        return []


def on_incident(session: Session, event: IncidentRecorded) -> None:
    """One alert per person named, by the incident's type (none for most types)."""
    now = utcnow()
    specs = _incident_alerts(session, event.incident_id, event.individual_ids, now, None)
    for spec in specs:
        service.raise_alert(
            session,
            rule=spec.rule,
            severity=spec.severity,
            organisation_id=spec.organisation_id,
            summary=spec.summary,
            individual_id=spec.individual_id,
            subject_id=spec.subject_id,
            actor=event.actor,
            now=now,
        )


def on_people_imported(session: Session, event: PeopleImported) -> None:
    """The alerts of the incidents an import recorded, raised at its end and announced as one
    group per rule (the import's id); old incidents count as backfill."""
    now = utcnow()
    specs: list[service.AlertSpec] = []
    for incident_id in event.incident_ids:
        named = session.scalars(
            select(IncidentSubject.individual_id)
            .where(IncidentSubject.incident_id == incident_id)
            .order_by(IncidentSubject.individual_id)
        )
        specs += _incident_alerts(session, incident_id, tuple(named), now, str(event.import_id))
    service.raise_many(session, specs, actor=event.actor, now=now)
    notify.flush_groups(session)


def _incident_alerts(
    session: Session,
    incident_id: uuid.UUID,
    individual_ids: tuple[uuid.UUID, ...],
    now: dt.datetime,
    group_key: str | None,
) -> list[service.AlertSpec]:
    incident = session.get(Incident, incident_id)
    assert incident is not None, "the incident was recorded in this transaction"
    # Entered long after it happened: on the timeline, but no urgent alert (risk policy).
    backfill = is_backfill(incident.occurred_on, incident.created_at or now)
    specs = []
    for person_id in individual_ids:
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
        specs.append(
            service.AlertSpec(
                rule=rule,
                severity=severity,
                organisation_id=person.organisation_id,
                summary=text,
                individual_id=person.id,
                subject_id=incident.id,
                group_key=group_key,
            )
        )
    return specs


def _custody_still_open(
    session: Session, person_id: uuid.UUID, incident: Incident, rule: str
) -> bool:
    """A detention or removal order with no later release or return stays acute however
    long ago it began (MISSION.md, "Time matters"): backfill does not soften it."""
    if rule not in ("host_custody", "removal_order"):
        return False
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


def on_revocation_list(session: Session, event: RevocationListApplied) -> None:
    """One passport_revoked alert per document the list revoked, announced once per list."""
    rows = session.execute(
        select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.organisation_id)
        .join(DocumentStatusChange, DocumentStatusChange.document_id == TravelDocument.id)
        .where(
            DocumentStatusChange.revocation_list_id == event.list_id,
            DocumentStatusChange.status == "revoked",
            TravelDocument.individual_id.in_(event.individual_ids),
        )
        .order_by(TravelDocument.individual_id, TravelDocument.id)
    ).all()
    service.raise_many(
        session,
        [
            service.AlertSpec(
                rule=rules.PASSPORT_REVOKED,
                severity="high",
                organisation_id=row.organisation_id,
                summary=rules.summary(rules.PASSPORT_REVOKED),
                individual_id=row.individual_id,
                subject_id=row.id,
                group_key=str(event.list_id),
            )
            for row in rows
        ],
        actor=event.actor,
    )
    notify.flush_groups(session)


def on_document_status(session: Session, event: DocumentStatusChanged) -> None:
    """A single document marked revoked (not through a list)."""
    if event.status != "revoked":
        return
    service.raise_alert(
        session,
        rule=rules.PASSPORT_REVOKED,
        severity="high",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.PASSPORT_REVOKED),
        individual_id=event.individual_id,
        subject_id=event.document_id,
        actor=event.actor,
    )


def on_break_glass(session: Session, event: BreakGlassGranted) -> None:
    """Emergency access is for supervisors to know of at once (and only they see it)."""
    service.raise_alert(
        session,
        rule=rules.BREAK_GLASS,
        severity="high",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.BREAK_GLASS),
        individual_id=event.individual_id,
        case_id=event.case_id,
        subject_id=event.grant_id,
        actor=event.actor,
    )


def on_risk_escalated(session: Session, event: RiskEscalated) -> None:
    """``risk_escalated`` for every rise into high or critical."""
    service.raise_many(
        session,
        [
            service.AlertSpec(
                rule=rules.RISK_ESCALATED,
                severity=rise.level,
                organisation_id=rise.organisation_id,
                summary=f"Risk rose to {rise.level}",
                individual_id=rise.individual_id,
                group_key=event.group_key,
            )
            for rise in event.escalations
        ],
        actor=event.actor,
        now=event.at,
    )
    if event.group_key is not None:
        notify.flush_groups(session)


def on_list_matched(session: Session, event: ListMatched) -> None:
    """One ``list_match`` per person found on a published list, announced once per list."""
    people = session.scalars(select(Individual).where(Individual.id.in_(event.individual_ids)))
    organisation_of = {person.id: person.organisation_id for person in people}
    service.raise_many(
        session,
        [
            service.AlertSpec(
                rule=rules.LIST_MATCH,
                severity="high",
                organisation_id=organisation_of[individual_id],
                summary="Name on a published list",
                individual_id=individual_id,
                subject_id=event.list_id,
                group_key=str(event.list_id),
            )
            for individual_id in event.individual_ids
        ],
        actor=event.actor,
    )


def on_country_event(session: Session, event: CountryEventRecorded) -> None:
    """One ``country_event`` per person the event affects, announced once per event."""
    service.raise_many(
        session,
        [
            service.AlertSpec(
                rule=rules.COUNTRY_EVENT,
                severity="high",
                organisation_id=event.organisation_id,
                individual_id=individual_id,
                subject_id=event.event_id,
                group_key=str(event.event_id),
                summary=f"Country event: {event.kind}",
            )
            for individual_id in event.individual_ids
        ],
        actor=event.actor,
        now=event.at,
    )


# Who hears of each step of a referral: the receiving side of what is sent to it (and of a case,
# never a person), the referring side of the answer.
_REFERRAL_STEPS = {
    "created": (rules.REFERRAL_RECEIVED, "to"),
    "revoked": (rules.REFERRAL_REVOKED, "to"),
    "expired": (rules.REFERRAL_EXPIRED, "to"),
    "accepted": (rules.REFERRAL_ACCEPTED, "from"),
    "declined": (rules.REFERRAL_DECLINED, "from"),
}


def on_referral_step(session: Session, event: ReferralStepped) -> None:
    rule, side = _REFERRAL_STEPS[event.step]
    to_receiver = side == "to"
    service.raise_alert(
        session,
        rule=rule,
        severity=rules.REFERRAL_RULES[rule],
        organisation_id=event.to_organisation_id if to_receiver else event.from_organisation_id,
        summary=rules.summary(rule),
        # The receiving side learns of a case and a referral, not of a person.
        individual_id=None if to_receiver else event.individual_id,
        case_id=event.case_id,
        subject_id=event.referral_id,
        actor=event.actor,
    )


def on_check_in(session: Session, event: CheckInRecorded) -> None:
    """A check-in resolves the person's overdue check-in alert at once."""
    overdue = session.scalars(
        select(Alert)
        .where(
            Alert.individual_id == event.individual_id,
            Alert.rule == rules.CHECK_IN_OVERDUE,
            Alert.status.in_(rules.ACTIVE),
        )
        .with_for_update()
    ).all()
    for alert in overdue:
        if timed.cleared(session, alert, event.at):
            service.close(session, alert, actor=None, note=None, now=event.at)


# Staff accounts and keys: supervisors of the organisation hear of what could open its records.
def on_two_factor_reset(session: Session, event: TwoFactorReset) -> None:
    """An account's second factor was removed by an administrator."""
    service.raise_alert(
        session,
        rule=rules.MFA_RESET,
        severity="high",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.MFA_RESET),
        subject_id=event.user_id,
        actor=event.actor,
    )


def on_case_access_granted(session: Session, event: CaseAccessGranted) -> None:
    """An account now reaches case content (a role change or a new account)."""
    service.raise_alert(
        session,
        rule=rules.ROLE_GRANTED,
        severity="high",
        organisation_id=event.organisation_id,
        summary=f"{rules.summary(rules.ROLE_GRANTED)} ({event.role})",
        subject_id=event.user_id,
        actor=event.actor,
    )


def on_api_key_created(session: Session, event: ApiKeyCreated) -> None:
    """A key that acts for an automated system of the organisation exists now."""
    service.raise_alert(
        session,
        rule=rules.API_KEY_CREATED,
        severity="medium",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.API_KEY_CREATED),
        subject_id=event.api_key_id,
        actor=event.actor,
    )


def on_lookup_burst(session: Session, event: LookupBurst) -> None:
    """An account ran more searches or duplicate checks than people do: someone may be using
    it to learn who is on the records."""
    service.raise_alert(
        session,
        rule=rules.LOOKUP_BURST,
        severity="high",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.LOOKUP_BURST),
        subject_id=event.user_id,
        actor=event.actor,
    )


def on_people_exported(session: Session, event: PeopleExported) -> None:
    """The whole caseload left in a file: every supervisor of the organisation is told."""
    service.raise_alert(
        session,
        rule=rules.BULK_EXPORT,
        severity="high",
        organisation_id=event.organisation_id,
        summary=rules.summary(rules.BULK_EXPORT),
        subject_id=event.export_id,
        actor=event.actor,
    )


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's alerts (what threatened them, when) and their notices go. Alerts
    about what staff did (emergency access) stay for the supervisors, no longer naming them."""
    person = event.individual_id
    staff = rules.SUPERVISOR_ONLY
    theirs = select(Alert.id).where(Alert.individual_id == person, Alert.rule.not_in(staff))
    session.execute(
        update(Alert)
        .where(Alert.inhibited_by.in_(theirs))
        .values(inhibited_by=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.alert_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(AlertEscalation)
        .where(AlertEscalation.alert_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Alert)
        .where(Alert.individual_id == person, Alert.rule.not_in(staff))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Alert)
        .where(Alert.individual_id == person)
        .values(individual_id=None)
        .execution_options(synchronize_session=False)
    )
