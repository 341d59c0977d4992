"""Tokens kept in memory are trusted only while the sign-in generation is unchanged: every
change that can end a sign-in raises it in its own transaction, however the change is made."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select, update

from app.db import transaction
from app.models.base import utcnow
from app.models.user import ApiKey, AuthGeneration, User
from app.tokencache import generations


def _generation(app: FastAPI) -> int:
    with transaction(app.state.sessionmaker) as session:
        return generations(session)[0]


def _some(app: FastAPI, model: type[User] | type[ApiKey]) -> uuid.UUID:
    with transaction(app.state.sessionmaker) as session:
        found = session.scalar(select(model.id).limit(1))
    assert found is not None
    return found


def test_a_change_only_set_on_an_object_raises_the_generation(
    app: FastAPI, admin_headers: dict[str, str]
) -> None:
    """No query after the change, so the commit's own flush is the first to write it."""
    user_id = _some(app, User)
    before = _generation(app)
    with transaction(app.state.sessionmaker) as session:
        session.get_one(User, user_id).role = session.get_one(User, user_id).role + ""
    assert _generation(app) == before  # nothing changed: no raise
    with transaction(app.state.sessionmaker) as session:
        user = session.get_one(User, user_id)
        user.disabled = not user.disabled
    assert _generation(app) == before + 1
    with transaction(app.state.sessionmaker) as session:
        user = session.get_one(User, user_id)
        user.disabled = not user.disabled
    assert _generation(app) == before + 2


def test_a_bulk_update_raises_the_generation(app: FastAPI, admin_headers: dict[str, str]) -> None:
    before = _generation(app)
    with transaction(app.state.sessionmaker) as session:
        session.execute(update(ApiKey).where(ApiKey.id == uuid.uuid4()).values(revoked_at=utcnow()))
    assert _generation(app) == before + 1


def test_a_rolled_back_change_raises_nothing(app: FastAPI, admin_headers: dict[str, str]) -> None:
    user_id = _some(app, User)
    before = _generation(app)
    session = app.state.sessionmaker()
    try:
        session.get_one(User, user_id).disabled = True
        session.flush()
        session.rollback()
    finally:
        session.close()
    assert _generation(app) == before
    with transaction(app.state.sessionmaker) as check:
        assert check.get_one(AuthGeneration, 1).generation == before
