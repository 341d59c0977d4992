"""The time zone and language each signed-in user's pages are shown in, kept for a short while
per process.

Reading them costs a query, so they are kept for ``TTL`` seconds; a change made on the profile
page is seen at once in this process and within ``TTL`` in the others.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from starlette.requests import Request

from app.auth import profile
from app.db import begin_read

TTL = 30.0
_cache: dict[uuid.UUID, tuple[tuple[str, str | None], float]] = {}
_lock = threading.Lock()


def of(request: Request, actor: Any) -> str:
    """The IANA zone name for ``actor``'s pages (UTC when signed out or an API key)."""
    return _preferences(request, actor)[0]


def language_of(request: Request, actor: Any) -> str | None:
    """The interface language ``actor`` chose, or their organisation's (None: not chosen)."""
    return _preferences(request, actor)[1]


def _preferences(request: Request, actor: Any) -> tuple[str, str | None]:
    if actor is None or getattr(actor, "kind", "user") != "user":
        return "UTC", None
    now = time.monotonic()
    with _lock:
        found = _cache.get(actor.id)
    if found is not None and found[1] > now:
        return found[0]
    # A read-only session of its own: never the write lock, which the page's own transaction
    # may hold (a form's answer), so the two cannot wait for each other.
    session = begin_read(request.app.state.sessionmaker)
    try:
        chosen = profile.effective(session, actor.id)
    finally:
        session.rollback()
        session.close()
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[actor.id] = (chosen, now + TTL)
    return chosen


def forget(user_id: uuid.UUID) -> None:
    """The user changed their zone: read it again on their next page."""
    with _lock:
        _cache.pop(user_id, None)
