"""Signed-in actors kept in memory, trusted only while the sign-in generation is unchanged.

A request's token is checked against the database once; after that, each request reads one
number (``auth_generation``, the first statement of its transaction) instead of the token and
user rows. Every change that can end a sign-in raises that number in its own transaction
(``watch`` below catches them wherever they are made), so every process drops what it keeps
the moment the change commits: a revoked token is refused at once, by every process.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from app.actor import Actor
from app.models.base import utcnow
from app.models.keys import KeyErasure
from app.models.user import ApiKey, AuthGeneration, AuthToken, User

MAX_ENTRIES = 10_000
CACHES = "process_caches"  # a per-factory dict on the sessionmaker's info (app.db)
CHANGED = "auth_generation_changed"
PENDING = "auth_unconfirmed"  # a read request's remembered token, not yet confirmed
READ_REQUEST = "haven_read_request"  # app.db marks a read request's session with it


def is_reading(session: Session) -> bool:
    return bool(session.info.get(READ_REQUEST))


# The columns whose change can end or narrow a sign-in.
_WATCHED: dict[type[Any], frozenset[str]] = {
    User: frozenset(
        {"disabled", "role", "password_hash", "totp_enabled", "organisation_id", "username"}
    ),
    AuthToken: frozenset({"revoked_at", "expires_at", "user_id"}),
    ApiKey: frozenset({"revoked_at", "expires_at", "role", "organisation_id"}),
}


@dataclass
class Entry:
    actor: Actor
    mfa_pending: bool
    generation: int
    expires_at: dt.datetime  # absolute expiry (token or key)
    last_used_at: dt.datetime | None  # as this process knows it (idle timeout, touches)


class TokenCache:
    """Digest of a token or key → what it stood for, least recently used dropped first."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, digest: bytes, generation: int) -> Entry | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry.generation != generation:
                self._entries.clear()  # something ended a sign-in somewhere: check them again
                return None
            self._entries.move_to_end(digest)
            return entry

    def peek(self, digest: bytes) -> Entry | None:
        """The entry whatever its generation (a read request's, confirmed before it answers)."""
        with self._lock:
            return self._entries.get(digest)

    def put(self, digest: bytes, entry: Entry) -> None:
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)


def of(session: Session) -> TokenCache | None:
    """This process's cache for the session's database (None for a bare session)."""
    caches: dict[str, Any] | None = session.info.get(CACHES)
    if caches is None:
        return None
    cache = caches.get("tokens")
    if cache is None:
        cache = caches.setdefault("tokens", TokenCache())
    return cache if isinstance(cache, TokenCache) else None


def generation_columns() -> tuple[ScalarSelect[int], ScalarSelect[int]]:
    """The sign-in and key-erasure (app.crypto.keys) generations, as two columns a query can
    read with its own rows (a person's read does)."""
    signins = select(AuthGeneration.generation).where(AuthGeneration.id == 1)
    erasures = select(KeyErasure.generation).where(KeyErasure.id == 1)  # keys.ERASURE_ROW
    return signins.scalar_subquery(), erasures.scalar_subquery()


def generations(session: Session) -> tuple[int, int]:
    """Both generations in one statement."""
    row = session.execute(select(*generation_columns())).one()
    return int(row[0] or 0), int(row[1] or 0)  # no erasure yet: no row


def now() -> dt.datetime:
    return utcnow()


# Raising the generation -------------------------------------------------------------------------
def _changed(session: Session) -> None:
    session.info[CHANGED] = True


def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        watched = _WATCHED.get(type(obj))
        if watched is None:
            continue
        if obj in session.deleted:
            _changed(session)
            return
        attrs = inspect(obj).attrs
        if any(attrs[name].history.has_changes() for name in watched if name in attrs):
            _changed(session)
            return


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in _WATCHED:
        _changed(state.session)


def _before_commit(session: Session) -> None:
    # The commit's own flush comes after this hook: flush first, so a change only set on an
    # object (a key's revoked_at) is seen by _before_flush and raises the generation too.
    if session.new or session.dirty or session.deleted:
        session.flush()
    if session.info.pop(CHANGED, False):
        session.execute(
            update(AuthGeneration)
            .where(AuthGeneration.id == 1)
            .values(generation=AuthGeneration.generation + 1)
        )


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(CHANGED, None)


def watch(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Raise the generation in every transaction of ``factory``'s sessions that changes a
    token, key or account in a way that can end a sign-in (ORM changes and bulk UPDATEs)."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "do_orm_execute", _on_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_soft_rollback", _after_rollback)
    return factory
