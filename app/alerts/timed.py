"""Rules driven by the clock, run by the alert engine with an injectable ``now``.

- a valid travel document expiring within 90 days (medium) or 30 days (high) while its holder
  is abroad (current country ≠ issuing country); an expired passport abroad (high);
- the latest UNHCR certificate expiring within 90 / 30 days;
- a welfare check-in overdue (``check_in_every_hours`` since ``last_check_in_at``);
- escalation: a critical alert still open (nobody acknowledged it) ``escalation_minutes``
  after it was raised goes to the person on call (the supervisors when nobody is), and
  ``escalation_minutes`` after that to every supervisor, each step once;
- a referral past its expiry: marked expired and announced to the receiving organisation
  (access itself ended at the expiry: scope compares the time in SQL).

The engine runs this every few seconds, so each rule fires once per onset: nothing is raised
again while an alert for the same condition is active, nor after someone resolved one raised
since the condition began (a resolved 90-day notice stays resolved; the 30-day notice,
more severe, opens anew). Expiry and check-in alerts resolve themselves when the condition
clears (renewed, replaced, checked in); custody and removal alerts never do.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts import rules, service
from app.crypto import CryptoError, Pad, crypto_of
from app.models.alert import Alert
from app.models.document import TravelDocument
from app.models.individual import Individual
from app.models.notification import AlertEscalation
from app.models.unhcr import UnhcrStatus
from app.records.documents import ISSUING_COUNTRY
from app.records.people import open_fields

CHUNK = 500


def evaluate(session: Session, now: dt.datetime) -> int:
    """Run every time rule once; returns how many alerts were raised, resolved or escalated."""
    return (
        _documents(session, now)
        + _certificates(session, now)
        + _check_ins(session, now)
        + _auto_resolve(session, now)
        + _escalate(session, now)
    )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _already_raised(
    session: Session, wanted: list[tuple[str, str, dt.datetime]]
) -> set[tuple[str, str, dt.datetime]]:
    """Of (dedup key, severity, onset), those with an active alert at least that severe, or
    one raised since the onset (resolved since by someone)."""
    done = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(Alert.dedup_key, Alert.severity, Alert.status, Alert.created_at).where(
                Alert.dedup_key.in_({key for key, _, _ in chunk})
            )
        ).all()
        for item in chunk:
            key, severity, onset = item
            for row in rows:
                if row.dedup_key != key or rules.RANK[row.severity] < rules.RANK[severity]:
                    continue
                if row.status in rules.ACTIVE or row.created_at >= onset:
                    done.add(item)
                    break
    return done


def _documents(session: Session, now: dt.datetime) -> int:
    today = now.date()
    documents = session.scalars(
        select(TravelDocument)
        .join(Individual, Individual.id == TravelDocument.individual_id)
        .where(
            Individual.erased_at.is_(None),
            TravelDocument.status == "valid",
            TravelDocument.expires_on.is_not(None),
            TravelDocument.expires_on <= today + rules.EXPIRY_NOTICE,
        )
        .order_by(TravelDocument.expires_on, TravelDocument.id)
    ).all()
    due: dict[tuple[str, str, dt.datetime], tuple[str, TravelDocument]] = {}
    for document in documents:
        assert document.expires_on is not None
        if document.expires_on < today:
            if document.type != "passport":
                continue
            rule, severity, onset = rules.PASSPORT_EXPIRED, "high", document.expires_on
        else:
            rule = rules.DOCUMENT_EXPIRING
            severity = rules.expiry_severity(document.expires_on, today) or "medium"
            onset = rules.expiry_onset(document.expires_on, severity)
        key = rules.dedup_key(rule, document.individual_id, document.id)
        due[(key, severity, _midnight(onset))] = (rule, document)
    raised = 0
    for item in sorted(due.keys() - _already_raised(session, list(due))):
        rule, document = due[item]
        if not _abroad(session, document):
            continue
        service.raise_alert(
            session,
            rule=rule,
            severity=item[1],
            organisation_id=document.organisation_id,
            summary=rules.summary(rule),
            individual_id=document.individual_id,
            subject_id=document.id,
            now=now,
        )
        raised += 1
    return raised


def _abroad(session: Session, document: TravelDocument) -> bool:
    """Whether the holder is known to be outside the document's issuing country."""
    person = session.get(Individual, document.individual_id)
    if person is None or document.issuing_country_ct is None:
        return False
    try:
        issuing = crypto_of(session).open(
            session,
            ISSUING_COUNTRY,
            document.id,
            document.individual_id,
            document.issuing_country_ct,
            pad=Pad.CATEGORY,
        )
        current = open_fields(session, person, frozenset({"current_country"}))["current_country"]
    except CryptoError:
        return False  # erased in the meantime
    return bool(current) and current != issuing


def _certificates(session: Session, now: dt.datetime) -> int:
    today = now.date()
    rows = session.scalars(
        select(UnhcrStatus)
        .join(Individual, Individual.id == UnhcrStatus.individual_id)
        .where(
            Individual.erased_at.is_(None),
            UnhcrStatus.expires_on.is_not(None),
            UnhcrStatus.expires_on <= today + rules.EXPIRY_NOTICE,
        )
    ).all()
    due: dict[tuple[str, str, dt.datetime], tuple[UnhcrStatus, uuid.UUID]] = {}
    for row in rows:
        assert row.expires_on is not None
        if _latest_status(session, row.individual_id) != row.id:
            continue  # superseded by a later status
        severity = rules.expiry_severity(row.expires_on, today) or "medium"
        onset = _midnight(rules.expiry_onset(row.expires_on, severity))
        key = rules.dedup_key(rules.UNHCR_CERTIFICATE_EXPIRING, row.individual_id, row.id)
        person = session.get(Individual, row.individual_id)
        assert person is not None
        due[(key, severity, onset)] = (row, person.organisation_id)
    fresh = sorted(due.keys() - _already_raised(session, list(due)))
    for item in fresh:
        row, organisation_id = due[item]
        service.raise_alert(
            session,
            rule=rules.UNHCR_CERTIFICATE_EXPIRING,
            severity=item[1],
            organisation_id=organisation_id,
            summary=rules.summary(rules.UNHCR_CERTIFICATE_EXPIRING),
            individual_id=row.individual_id,
            subject_id=row.id,
            now=now,
        )
    return len(fresh)


def _latest_status(session: Session, individual_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(
        select(UnhcrStatus.id)
        .where(UnhcrStatus.individual_id == individual_id)
        .order_by(UnhcrStatus.effective_date.desc(), UnhcrStatus.recorded_at.desc())
        .limit(1)
    )


def _overdue(person: Individual, now: dt.datetime) -> dt.datetime | None:
    """When the person's check-in fell due, if it is overdue."""
    if not person.check_in_every_hours or person.last_check_in_at is None:
        return None
    due = person.last_check_in_at + dt.timedelta(hours=person.check_in_every_hours)
    return due if due < now else None


def _check_ins(session: Session, now: dt.datetime) -> int:
    people = session.scalars(
        select(Individual).where(
            Individual.erased_at.is_(None),
            Individual.check_in_every_hours.is_not(None),
            Individual.last_check_in_at.is_not(None),
        )
    ).all()
    due: dict[tuple[str, str, dt.datetime], Individual] = {}
    for person in people:
        since = _overdue(person, now)
        if since is not None:
            key = rules.dedup_key(rules.CHECK_IN_OVERDUE, person.id, None)
            due[(key, "high", since)] = person
    fresh = sorted(due.keys() - _already_raised(session, list(due)))
    for item in fresh:
        person = due[item]
        service.raise_alert(
            session,
            rule=rules.CHECK_IN_OVERDUE,
            severity="high",
            organisation_id=person.organisation_id,
            summary=rules.summary(rules.CHECK_IN_OVERDUE),
            individual_id=person.id,
            now=now,
        )
    return len(fresh)


def _auto_resolve(session: Session, now: dt.datetime) -> int:
    """Resolve expiry and check-in alerts whose condition has cleared."""
    alerts = session.scalars(
        select(Alert)
        .where(Alert.rule.in_(rules.AUTO_RESOLVE), Alert.status.in_(rules.ACTIVE))
        .with_for_update(skip_locked=True)
    ).all()
    done = [alert for alert in alerts if cleared(session, alert, now)]
    for alert in done:
        service.close(session, alert, actor=None, note=None, now=now)
    return len(done)


def cleared(session: Session, alert: Alert, now: dt.datetime) -> bool:
    """Whether the condition of an expiry or check-in alert no longer holds."""
    today = now.date()
    if alert.rule in rules.EXPIRY_RULES:
        document = session.get(TravelDocument, alert.subject_id) if alert.subject_id else None
        if document is None or document.status != "valid" or document.expires_on is None:
            return True
        if alert.rule == rules.PASSPORT_EXPIRED:
            return document.expires_on >= today
        return document.expires_on > today + rules.EXPIRY_NOTICE or document.expires_on < today
    if alert.rule == rules.UNHCR_CERTIFICATE_EXPIRING:
        assert alert.individual_id is not None
        if _latest_status(session, alert.individual_id) != alert.subject_id:
            return True
        row = session.get(UnhcrStatus, alert.subject_id)
        return (
            row is None or row.expires_on is None or (row.expires_on > today + rules.EXPIRY_NOTICE)
        )
    if alert.rule == rules.CHECK_IN_OVERDUE:
        person = session.get(Individual, alert.individual_id) if alert.individual_id else None
        return person is None or person.erased_at is not None or _overdue(person, now) is None
    return False


def _escalate(session: Session, now: dt.datetime) -> int:
    settings = session.info.get("settings")
    minutes = getattr(settings, "escalation_minutes", 15.0)
    deadline = now - dt.timedelta(minutes=minutes)
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.status == "open",
            Alert.severity.in_(rules.ESCALATES),
            Alert.escalated_at.is_(None),
            Alert.inhibited_by.is_(None),
            Alert.created_at <= deadline,
        )
        .order_by(Alert.created_at, Alert.id)
        .with_for_update(skip_locked=True)
    ).all()
    for alert in alerts:
        service.escalate(session, alert, now=now)
    return len(alerts) + _escalate_further(session, now, deadline)


def _escalate_further(session: Session, now: dt.datetime, deadline: dt.datetime) -> int:
    """The second step: still open ``escalation_minutes`` after the first → every supervisor."""
    done = select(AlertEscalation.alert_id).where(AlertEscalation.step == 2)
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.status == "open",
            Alert.severity.in_(rules.ESCALATES),
            Alert.escalated_at.is_not(None),
            Alert.escalated_at <= deadline,
            Alert.inhibited_by.is_(None),
            Alert.id.not_in(done),
        )
        .order_by(Alert.created_at, Alert.id)
        .with_for_update(skip_locked=True)
    ).all()
    for alert in alerts:
        service.escalate(session, alert, now=now, step=2)
    return len(alerts)
