"""Organisations: found by name or id, the deployment's default created on demand."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.errors import BadRequest, Conflict
from app.models.organisation import DEFAULT_ORGANISATION, Organisation


def default_organisation(session: Session) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.is_default.is_(True)))
    if org is None:
        org = Organisation(name=DEFAULT_ORGANISATION, is_default=True)
        session.add(org)
        session.flush()
    return org


def resolve(session: Session, name_or_id: str | None, *, create: bool) -> tuple[Organisation, bool]:
    """The organisation named (by id or name); a new name creates it when ``create``."""
    if name_or_id is None:
        return default_organisation(session), False
    text = name_or_id.strip()
    if not text or len(text) > 200:
        raise BadRequest("an organisation name is 1 to 200 characters")
    try:
        org = session.get(Organisation, uuid.UUID(text))
    except ValueError:
        org = None
    if org is None:
        org = session.scalar(select(Organisation).where(Organisation.name == text))
    if org is not None:
        return org, False
    if not create:
        raise BadRequest("no such organisation")
    org = Organisation(name=text)
    session.add(org)
    session.flush()
    return org, True


def named(session: Session, name: str) -> Organisation | None:
    """The organisation whose name matches ``name`` regardless of case."""
    wanted = name.strip().casefold()
    # Few rows: folding in Python treats every script alike (SQLite's lower() is ASCII-only).
    for org in session.scalars(select(Organisation)):
        if org.name.casefold() == wanted:
            return org
    return None


def create(session: Session, actor: Actor, name: str) -> Organisation:
    """A new organisation; 409 when one of that name exists, whatever its case."""
    if named(session, name) is not None:
        raise Conflict("an organisation of that name exists")
    org = Organisation(name=name.strip())
    try:
        # Two admins creating one name at once: the unique constraint decides, as a 409.
        with session.begin_nested():
            session.add(org)
            session.flush()
    except IntegrityError:
        raise Conflict("an organisation of that name exists") from None
    audit.record(
        session,
        actor=actor,
        action="organisation.create",
        subject_type="organisation",
        subject_id=org.id,
    )
    return org


def listing(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))
