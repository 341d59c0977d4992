"""Risk: gather a person's facts (``app.risk.gathering``), run the policy, keep every
assessment with its version.

``reassess`` is called wherever a fact changes (incidents, documents, UNHCR status, the
person's record) and by ``sweep`` for time decay. Each run stores a ``RiskAssessment`` row —
never overwritten — with its factors sealed with the person's key, updates the person's plain
``risk_level``/``risk_score`` columns, writes a history entry when the result changes, and
raises ``risk_escalated`` when the level rises into high or critical (as far as the
policy's ``alert_level`` allows: backfill is history, not news).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast

from sqlalchemy import Table, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app import events
from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, OWN_READ
from app.crypto import CryptoError, FieldSlot, Pad, UnknownKeyError, crypto_of
from app.errors import NotFound
from app.events import Escalation, PersonErased, RiskEscalated
from app.models.base import utcnow
from app.models.bulk import insert_built
from app.models.individual import Individual
from app.models.risk import RiskAssessment
from app.records import history
from app.records.people import get_visible
from app.risk import gathering, overrides, policy, reference
from app.risk.facts import Reference

log = logging.getLogger("haven.risk")

FACTORS = FieldSlot("risk_assessment", "factors")
SWEEP = "sweep"
STALE_AFTER = dt.timedelta(hours=24)
ALERTED = ("high", "critical")
BATCH = 500  # people per round of queries: well within the data key cache


@dataclass(frozen=True)
class Reassessed:
    """One stored assessment and, when the level rose into high or critical, its alert."""

    row: RiskAssessment
    escalation: Escalation | None


def reassess(
    session: Session,
    individual_id: uuid.UUID,
    *,
    trigger: str,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> RiskAssessment | None:
    """Recompute and store the person's risk; announce it (``RiskEscalated``) when it rises."""
    done = reassess_many(session, [individual_id], trigger=trigger, actor=actor, now=now)
    return done[0].row if done else None


def reassess_many(
    session: Session,
    individual_ids: Sequence[uuid.UUID],
    *,
    trigger: str,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
    group_key: str | None = None,
) -> list[Reassessed]:
    """``reassess`` for many people (a list, an event), with a few queries per few hundred
    people, and one ``RiskEscalated`` for every rise among them (its alerts announced as one
    group when ``group_key`` is given)."""
    now = now or utcnow()
    done = _reassess(session, individual_ids, trigger=trigger, actor=actor, now=now)
    rises = tuple(r.escalation for r in done if r.escalation is not None)
    if rises:
        events.publish(
            session,
            RiskEscalated(actor=actor, escalations=rises, at=now, group_key=group_key),
        )
    session.flush()
    return done


def _reassess(
    session: Session,
    individual_ids: Sequence[uuid.UUID],
    *,
    trigger: str,
    actor: Actor | None,
    now: dt.datetime | None,
) -> list[Reassessed]:
    now = now or utcnow()
    crypto = crypto_of(session)
    ref: Reference | None = None
    out: list[Reassessed] = []
    ids = list(dict.fromkeys(individual_ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        found = {p.id: p for p in _people(session, chunk) if p.erased_at is None}
        people = [found[i] for i in chunk if i in found]
        if not people:
            continue
        ref = ref or reference.load(session, now.date())
        facts = gathering.gather_many(session, people, now)
        keys = crypto.keys.current_many(session, [p.id for p in people])
        entries: list[history.Entry] = []
        assessments: list[RiskAssessment] = []
        changed: list[dict[str, Any]] = []
        for person in people:
            result = policy.assess(facts[person.id], ref)
            key = keys.get(person.id)
            if key is None:
                raise UnknownKeyError("this record has no live data key")
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
            assessments.append(row)
            before_level, before_score = person.risk_level, person.risk_score
            if (before_level, before_score) != (result.level, result.score):
                changed.append({"person": person.id, "level": result.level, "score": result.score})
                set_committed_value(person, "risk_level", result.level)
                set_committed_value(person, "risk_score", result.score)
            # Time decay moves scores a point at a time: the sweep only records a change of
            # level.
            if before_level != result.level or (before_score != result.score and trigger != SWEEP):
                entries.append(
                    history.Entry(
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
                )
            rise = policy.LEVELS[min(policy.rank(result.level), policy.rank(result.alert_level))]
            escalation = None
            if rise in ALERTED and policy.rank(rise) > policy.rank(before_level):
                escalation = Escalation(person.id, person.organisation_id, rise)
            out.append(Reassessed(row, escalation))
        # Plain rows, one statement each for the chunk: the unit of work's bookkeeping of
        # thousands of objects (a country event) cost more than the statements. The people's
        # new level is set on them as written, so nothing is left for a flush.
        insert_built(session, assessments)
        if changed:
            session.execute(_SET_RISK, changed)
        history.record_many(session, actor=actor, entries=entries)
    return out


_PEOPLE = cast(Table, Individual.__table__)  # every model maps one table
_SET_RISK = (
    update(_PEOPLE)
    .where(_PEOPLE.c.id == bindparam("person"))
    .values(risk_level=bindparam("level"), risk_score=bindparam("score"))
)


def _people(session: Session, ids: list[uuid.UUID]) -> list[Individual]:
    """The people with these ids: those this session already holds (a person registered a
    moment ago), the others with one query. A query would give back the same objects for the
    former (the session's copy wins), at the cost of a round trip."""
    held = [session.identity_map.get(identity_key(Individual, i)) for i in ids]
    people = [p for p in held if isinstance(p, Individual)]
    missing = [i for i, p in zip(ids, held, strict=True) if not isinstance(p, Individual)]
    if missing:
        people.extend(session.scalars(select(Individual).where(Individual.id.in_(missing))))
    return people


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


# -- reading -----------------------------------------------------------------------------------


def latest(session: Session, individual_id: uuid.UUID) -> RiskAssessment | None:
    return session.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.individual_id == individual_id)
        .order_by(RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
        .limit(1)
    )


def read_risk(session: Session, actor: Actor, individual_id: uuid.UUID) -> RiskView:
    """The person's latest assessment (made now if there is none) and any override beside it."""
    person = get_visible(session, actor, individual_id, OWN_READ)  # never through a referral
    audit.record(
        session,
        actor=actor,
        action="risk.read",
        subject_type="individual",
        subject_id=person.id,
    )
    return present(session, actor, person)


class RiskView(TypedDict):
    """The person's latest assessment with its factors, and any override beside it (RiskRead)."""

    level: str
    score: int
    factors: list[dict[str, Any]]
    assessed_at: dt.datetime
    policy_version: str
    override: NotRequired[overrides.OverrideView]


def present(session: Session, actor: Actor, person: Individual) -> RiskView:
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
    body: RiskView = {
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


def override(
    session: Session,
    actor: Actor,
    individual_id: uuid.UUID,
    *,
    level: str,
    justification: str,
    expires_on: dt.date | None,
) -> RiskView:
    """A supervisor's override of the person's level (``overrides.set_override``), then the
    assessment as the person's own organisation reads it (POST /individuals/{id}/risk/override)."""
    overrides.set_override(
        session,
        actor,
        individual_id,
        level=level,
        justification=justification,
        expires_on=expires_on,
    )
    return present(session, actor, get_visible(session, actor, individual_id, OWN))


def on_person_erased(session: Session, event: PersonErased) -> None:
    """Erasure leaves no risk behind: the assessments and overrides go, and the plaintext level
    and score kept for filtering are cleared (erased people are never reassessed)."""
    session.execute(
        delete(RiskAssessment).where(RiskAssessment.individual_id == event.individual_id)
    )
    overrides.forget(session, event.individual_id)
    session.execute(
        update(Individual)
        .where(Individual.id == event.individual_id)
        .values(risk_level=None, risk_score=None)
        .execution_options(synchronize_session="fetch")
    )
