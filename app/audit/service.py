"""Recording audit entries, in the same transaction as what they record.

``record`` queues an entry on the session; a ``before_commit`` hook appends everything queued
in one go, under the head row's lock, just before the transaction commits. The lock is
therefore held only for the last moment of a request, and an entry exists exactly when the
change it records does. Entries marked ``durable`` (denials, failed sign-ins) are written even
when the request's own transaction rolls back: ``app.db.transaction`` writes them afterwards in
a transaction of their own.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import checkpoints
from app.audit.chain import entry_hash
from app.audit.verify import verify_all
from app.errors import BadRequest
from app.logs import client_var, request_id_var
from app.models.alert import Alert, CheckIn, CountryEvent, OutboxMessage, PublishedList, Webhook
from app.models.audit import AuditEntry, AuditHead
from app.models.base import utcnow
from app.models.case import Attachment, BreakGlassGrant, Case, CaseNote
from app.models.consent import Consent
from app.models.document import TravelDocument
from app.models.incident import Incident
from app.models.individual import Individual
from app.models.referral import Referral
from app.models.risk import RiskAssessment, RiskOverride
from app.models.unhcr import UnhcrStatus
from app.models.user import ApiKey, User

if TYPE_CHECKING:
    from app.audit.verify import Verification
    from app.crypto.keyring import KeyProvider

PENDING = "audit_pending"
DURABLE = "audit_durable"
COMMITTED_HEAD = "audit_committed_head"


@dataclass(frozen=True)
class _Queued:
    fields: dict[str, Any]


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    durable: bool = False,
    high_risk: bool = False,
) -> None:
    """Queue an audit entry. ``details`` holds ids, counts and field names, never values."""
    client = client_var.get()
    fields = {
        "at": utcnow(),
        "actor_id": actor.id if actor else None,
        "actor_label": actor.username if actor else None,
        "actor_role": actor.role if actor else None,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "outcome": outcome,
        "request_id": request_id_var.get(),
        "client": _client_tag(session, client) if client else None,
        "details": json.dumps(details, sort_keys=True, separators=(",", ":")) if details else None,
    }
    session.info.setdefault(DURABLE if durable else PENDING, []).append(_Queued(fields))
    del high_risk  # every commit's head is signed now (``append``), high-risk or not


def _client_tag(session: Session, address: str) -> str | None:
    crypto = session.info.get("crypto")
    return crypto.client_tag(address) if crypto is not None else None


def flush(session: Session) -> None:
    """Append every queued entry (the before_commit hook); the new head is signed and
    published once the transaction has committed (``append``)."""
    queued: list[_Queued] = session.info.pop(PENDING, []) + session.info.pop(DURABLE, [])
    if queued:
        append(session, [q.fields for q in queued])


def _publish_head(session: Session) -> None:
    """After the commit: sign the head it wrote and hand it to the data directory and the
    witness (app.audit.checkpoints.publish_head)."""
    committed = session.info.pop(COMMITTED_HEAD, None)
    crypto, settings = session.info.get("crypto"), session.info.get("settings")
    if committed is None or crypto is None or settings is None:
        return
    size, head = committed
    if not settings.audit_witness:
        checkpoints.HEADS.offer(crypto.provider, settings.data_dir, size, head)
        return
    line = checkpoints.sign_head(crypto.provider, size, head)  # the witness keeps every head
    checkpoints.publish_head(line, size, settings.data_dir, settings.audit_witness)


def take_all(session: Session) -> list[dict[str, Any]]:
    """Every queued entry, durable or not, taken off the session (a read request's, which the
    sequencer appends: app.audit.sequencer)."""
    queued: list[_Queued] = session.info.pop(PENDING, []) + session.info.pop(DURABLE, [])
    return [q.fields for q in queued]


def take_durable(session: Session) -> list[dict[str, Any]]:
    """Entries that must survive a rollback (taken by app.db.transaction)."""
    session.info.pop(PENDING, None)
    return [q.fields for q in session.info.pop(DURABLE, [])]


# Core statements on the table, built once: the ORM's bulk paths cost the sequencer, which
# appends for every read request, more than the database's own work.
_ENTRIES = cast(Table, AuditEntry.__table__)  # every model maps one table
_HEAD = cast(Table, AuditHead.__table__)
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.head_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_ENTRIES = insert(_ENTRIES)
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=bindparam("new_seq"), head_hash=bindparam("new_head"))
)


def append(session: Session, entries: list[dict[str, Any]]) -> None:
    """Chain and insert entries under the head row's lock (FOR UPDATE; BEGIN IMMEDIATE on
    SQLite), which also makes ``seq`` gapless."""
    session.flush()  # the request's own changes first, so the head's lock is held the least
    connection = session.connection()
    seq, prev = connection.execute(_LOCK_HEAD).one()
    rows = []
    for fields in entries:
        seq += 1
        row = {**fields, "seq": seq, "prev_hash": prev}
        row["entry_hash"] = prev = entry_hash(prev, row)
        rows.append(row)
    # Every entry has every column (``record``), so one executemany takes them all.
    connection.execute(_INSERT_ENTRIES, rows)
    connection.execute(_ADVANCE_HEAD, {"new_seq": seq, "new_head": prev})
    if COMMITTED_HEAD not in session.info:
        session.info.setdefault("after_commit", []).append(_publish_head)
    session.info[COMMITTED_HEAD] = (seq, prev)


# Reading the trail (auditors) -------------------------------------------------------------------
# The organisation of an entry's subject, by subject type: the table holding it, or the table
# holding what it belongs to (a note belongs to its case, a consent to its person).
_OWNED: dict[str, tuple[Any, Any]] = {
    "individual": (Individual.id, Individual.organisation_id),
    "case": (Case.id, Case.organisation_id),
    "incident": (Incident.id, Incident.organisation_id),
    "user": (User.id, User.organisation_id),
    "alert": (Alert.id, Alert.organisation_id),
    "api_key": (ApiKey.id, ApiKey.organisation_id),
    "webhook": (Webhook.id, Webhook.organisation_id),
    "published_list": (PublishedList.id, PublishedList.organisation_id),
    "country_event": (CountryEvent.id, CountryEvent.organisation_id),
    "travel_document": (TravelDocument.id, TravelDocument.organisation_id),
}
_OF_CASE: dict[str, tuple[Any, Any]] = {
    "case_note": (CaseNote.id, CaseNote.case_id),
    "attachment": (Attachment.id, Attachment.case_id),
    "break_glass_grant": (BreakGlassGrant.id, BreakGlassGrant.case_id),
}
_OF_INDIVIDUAL: dict[str, tuple[Any, Any]] = {
    "consent": (Consent.id, Consent.individual_id),
    "risk_assessment": (RiskAssessment.id, RiskAssessment.individual_id),
    "risk_override": (RiskOverride.id, RiskOverride.individual_id),
    "check_in": (CheckIn.id, CheckIn.individual_id),
    "unhcr_status": (UnhcrStatus.id, UnhcrStatus.individual_id),
}


def _of_organisation(organisation_id: uuid.UUID) -> ColumnElement[bool]:
    """Entries whose actor belongs to the organisation (a user or an API key of it) or whose
    subject does (resolved in SQL by subject type; a referral belongs to both sides)."""
    subject, kind = AuditEntry.subject_id, AuditEntry.subject_type
    cases = select(Case.id).where(Case.organisation_id == organisation_id)
    people = select(Individual.id).where(Individual.organisation_id == organisation_id)
    conditions: list[ColumnElement[bool]] = [
        AuditEntry.actor_id.in_(select(User.id).where(User.organisation_id == organisation_id)),
        AuditEntry.actor_id.in_(select(ApiKey.id).where(ApiKey.organisation_id == organisation_id)),
        and_(kind == "organisation", subject == organisation_id),
        and_(
            kind == "referral",
            subject.in_(
                select(Referral.id).where(
                    or_(
                        Referral.from_organisation_id == organisation_id,
                        Referral.to_organisation_id == organisation_id,
                    )
                )
            ),
        ),
        and_(
            kind == "outbox_message",
            subject.in_(
                select(OutboxMessage.id).where(
                    OutboxMessage.alert_id.in_(
                        select(Alert.id).where(Alert.organisation_id == organisation_id)
                    )
                )
            ),
        ),
    ]
    for name, (id_, owner) in _OWNED.items():
        conditions.append(
            and_(kind == name, subject.in_(select(id_).where(owner == organisation_id)))
        )
    for name, (id_, case_id) in _OF_CASE.items():
        conditions.append(and_(kind == name, subject.in_(select(id_).where(case_id.in_(cases)))))
    for name, (id_, person) in _OF_INDIVIDUAL.items():
        conditions.append(and_(kind == name, subject.in_(select(id_).where(person.in_(people)))))
    return or_(*conditions)


def deployment_wide(session: Session, actor: Actor) -> bool:
    """Whether the auditor holds the explicit grant to read every organisation's entries."""
    if actor.kind != "user":
        return False
    granted = session.scalar(
        select(User.deployment_auditor).where(User.id == actor.id, User.role == "auditor")
    )
    return bool(granted)


def grant_deployment_audit(session: Session, user_id: uuid.UUID) -> None:
    """Let an auditor read the whole deployment's trail (``haven users create
    --deployment-auditor``, run by the operator: audited with no actor)."""
    user = session.get(User, user_id)
    if user is None or user.role != "auditor":
        raise BadRequest("only an auditor can read the whole deployment's audit trail")
    user.deployment_auditor = True
    record(
        session,
        actor=None,
        action="audit.deployment_grant",
        subject_type="user",
        subject_id=user.id,
        details={"organisation_id": str(user.organisation_id)},
    )


def read_entries(
    session: Session,
    actor: Actor,
    *,
    actor_id: uuid.UUID | None = None,
    subject: uuid.UUID | None = None,
    action: str | None = None,
    limit: int = 100,
    cursor: int | None = None,
) -> tuple[list[AuditEntry], int | None]:
    """A page of entries in ``seq`` order, and the cursor of the next page (None at the end);
    the read is itself audited as ``audit.read`` (GET /audit). An auditor reads the entries of
    its own organisation (actor or subject in it); a deployment-wide auditor reads them all."""
    query = select(AuditEntry).order_by(AuditEntry.seq).limit(limit + 1)
    wide = deployment_wide(session, actor)
    if not wide:
        query = query.where(_of_organisation(actor.organisation_id))
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if subject is not None:
        query = query.where(AuditEntry.subject_id == subject)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if cursor is not None:
        query = query.where(AuditEntry.seq > cursor)
    rows = list(session.scalars(query))
    page = rows[:limit]
    details: dict[str, Any] = {"count": len(page)}
    if wide:
        details["deployment_wide"] = True
    record(session, actor=actor, action="audit.read", details=details)
    return page, page[-1].seq if len(rows) > limit else None


def verify_trail(
    session: Session,
    actor: Actor,
    provider: KeyProvider,
    data_dir: Path,
    witness: str | None = None,
) -> Verification:
    """The whole chain checked against its signed checkpoints, the newest signed head and the
    witness, audited as ``audit.verify`` (GET /audit/verify). Chain-wide for every auditor: it
    reveals only whether the chain holds, counts and hashes, never an entry."""
    result = verify_all(session, provider, data_dir, witness=witness)
    record(session, actor=actor, action="audit.verify", details={"ok": result.ok})
    return result
