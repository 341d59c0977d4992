"""Lock-down for a raid: every process stops serving record data within two seconds.

The state is one database row (``deployment_lock``), so ``haven lock`` or POST /api/v1/lock in
any process reaches every ``haven serve`` process on the same database. Each process reads the
row at most once a second (``LockWatch``); while it is locked, ``LockdownMiddleware`` answers
every API route 503 ``{"detail": "Haven is locked"}`` and every page of the web client with a
neutral page that names nothing, while /healthz, /readyz (which reports ``locked``) and
/metrics stay up. On seeing the lock a process drops the keys it holds in memory (the data-key
cache and the keyring's key-encryption keys; they are read again from the keyring file after
``haven unlock``). Locking revokes every session and API key, is audited, and raises a critical
alert in every organisation, so supervisors hear of it by every channel they have.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.actor import Actor
from app.alerts import rules
from app.alerts import service as alerts
from app.audit import service as audit
from app.auth import passwords
from app.db import READ_ONLY
from app.errors import Forbidden
from app.events import DeploymentLockChanged, publish
from app.models.base import utcnow
from app.models.lockdown import DeploymentLock
from app.models.organisation import Organisation
from app.models.user import ApiKey, AuthToken, User

log = logging.getLogger("haven.lockdown")

DETAIL = "Haven is locked"
CHECK_SECONDS = 1.0  # how stale a process's view of the lock may be
_OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/static/", "/favicon.ico")
_NAMESPACE = uuid.UUID("5b7f0f8e-8a55-4a57-9c0e-6a1d3f0c2b19")
NEUTRAL_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width'><title>Unavailable</title></head>"
    b"<body style='font-family:sans-serif;margin:3rem'><p>This service is unavailable.</p>"
    b"</body></html>"
)


def read_state(engine: Engine) -> tuple[bool, int]:
    """(locked, generation); unlocked while the schema has no lock row yet."""
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            row = conn.execute(
                select(DeploymentLock.locked, DeploymentLock.generation).where(
                    DeploymentLock.id == 1
                )
            ).first()
    except (OperationalError, ProgrammingError):
        return False, 0
    return (bool(row.locked), int(row.generation)) if row else (False, 0)


class LockWatch:
    """This process's view of the lock, read from the database at most once a second."""

    def __init__(self, engine: Engine, on_lock: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_lock = on_lock
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._locked = False
        self._generation = 0

    def fresh(self) -> bool | None:
        """The lock as last read, or None when that is older than CHECK_SECONDS."""
        if time.monotonic() - self._checked >= CHECK_SECONDS:
            return None
        return self._locked

    def locked(self) -> bool:
        known = self.fresh()
        return self.refresh() if known is None else known

    def refresh(self) -> bool:
        locked, generation = read_state(self._engine)
        self.observe(locked, generation)
        return locked

    def observe(self, locked: bool, generation: int) -> None:
        with self._lock:
            newly = locked and (not self._locked or generation != self._generation)
            self._locked, self._generation = locked, generation
            self._checked = time.monotonic()
        if newly and self._on_lock is not None:
            self._on_lock()


def forget_keys(crypto: object) -> Callable[[], None]:
    """What a process drops when it sees the lock: its data keys and the keyring's KEKs."""

    def drop() -> None:
        keys = getattr(crypto, "keys", None)
        cache = getattr(keys, "cache", None)
        if cache is not None:
            cache.clear()
        forget = getattr(getattr(crypto, "provider", None), "forget", None)
        if callable(forget):
            forget()
        log.warning("Haven is locked: keys dropped from memory, record routes refused")

    return drop


class LockdownMiddleware:
    """503 for every route but health, readiness, metrics and static files while locked."""

    def __init__(self, app: ASGIApp, watch: LockWatch) -> None:
        self.app = app
        self.watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        locked = self.watch.fresh()
        if locked is None:
            locked = await anyio.to_thread.run_sync(self.watch.refresh)
        if not locked:
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/api/"):
            body, kind = b'{"detail":"' + DETAIL.encode() + b'"}', b"application/json"
        else:
            body, kind = NEUTRAL_PAGE, b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"retry-after", b"3600"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# The service ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LockReport:
    locked: bool
    generation: int
    sessions_revoked: int
    api_keys_revoked: int


def lock(
    session: Session, actor: Actor | None, *, via: str, destroy_keyring: bool = False
) -> LockReport:
    """Lock the deployment and revoke every session and API key (in the caller's
    transaction; every process stops serving within CHECK_SECONDS of the commit)."""
    row = _row(session)
    now = utcnow()
    row.locked, row.generation, row.changed_at = True, row.generation + 1, now
    sessions = cast(
        "CursorResult[Any]",
        session.execute(
            update(AuthToken).where(AuthToken.revoked_at.is_(None)).values(revoked_at=now)
        ),
    ).rowcount
    keys = cast(
        "CursorResult[Any]",
        session.execute(update(ApiKey).where(ApiKey.revoked_at.is_(None)).values(revoked_at=now)),
    ).rowcount
    audit.record(
        session,
        actor=actor,
        action="deployment.lock",
        details={
            "via": via,
            "generation": row.generation,
            "sessions_revoked": sessions,
            "api_keys_revoked": keys,
            "destroy_local_keyring": destroy_keyring,
        },
        high_risk=True,
    )
    publish(
        session,
        DeploymentLockChanged(
            actor=actor, locked=True, generation=row.generation, keyring_destroyed=destroy_keyring
        ),
    )
    return LockReport(True, row.generation, sessions or 0, keys or 0)


def lock_confirmed(
    session: Session, actor: Actor, password: str, *, destroy_keyring: bool
) -> LockReport:
    """``lock`` from the API: the caller's own password confirms it (a token is not enough);
    a wrong one is refused (403) and audited."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    matches, _ = passwords.verify_and_update(password, user.password_hash if user else None)
    if not matches:
        audit.record(session, actor=actor, action="deployment.lock", outcome="denied", durable=True)
        raise Forbidden("the password is wrong")
    return lock(session, actor, via="api", destroy_keyring=destroy_keyring)


def unlock(session: Session, actor: Actor | None, *, via: str) -> LockReport:
    row = _row(session)
    was_locked = row.locked
    row.locked, row.generation, row.changed_at = False, row.generation + 1, utcnow()
    audit.record(
        session,
        actor=actor,
        action="deployment.unlock",
        details={"via": via, "generation": row.generation, "was_locked": was_locked},
        high_risk=True,
    )
    publish(session, DeploymentLockChanged(actor=actor, locked=False, generation=row.generation))
    return LockReport(False, row.generation, 0, 0)


def record_step(session: Session, actor: Actor | None, action: str, **details: object) -> None:
    """An audit entry for a step of lock-down or recovery done outside a request (the
    keyring destroyed, restored, escrowed)."""
    audit.record(session, actor=actor, action=action, details=dict(details), high_risk=True)


def _row(session: Session) -> DeploymentLock:
    row = session.scalars(
        select(DeploymentLock).where(DeploymentLock.id == 1).with_for_update()
    ).first()
    if row is None:
        row = DeploymentLock(id=1, locked=False, generation=0)
        session.add(row)
        session.flush()
    return row


def on_lock_changed(session: Session, event: DeploymentLockChanged) -> None:
    """A critical alert in every organisation: its supervisors hear of it by every channel."""
    if event.locked:
        summary = "Haven was locked down: every session ended, records unavailable" + (
            "; the server's keyring was destroyed" if event.keyring_destroyed else ""
        )
        rule = rules.DEPLOYMENT_LOCKED
    else:
        summary, rule = rules.summary(rules.DEPLOYMENT_UNLOCKED), rules.DEPLOYMENT_UNLOCKED
    organisations = session.scalars(select(Organisation.id)).all()
    alerts.raise_many(
        session,
        [
            alerts.AlertSpec(
                rule=rule,
                severity="critical",
                organisation_id=org,
                summary=summary,
                subject_id=uuid.uuid5(_NAMESPACE, f"{event.generation}:{org}"),
            )
            for org in organisations
        ],
        actor=event.actor,
    )


def destroy_file(target: Path) -> bool:
    """Overwrite a file with random bytes (fsync'd) and delete it. On copy-on-write or
    journalling file systems and SSDs the old blocks may survive: full-disk encryption is
    what makes them unreadable; this removes what an ordinary read of the disk finds."""
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return False
    with target.open("r+b") as handle:
        for _ in range(2):
            handle.seek(0)
            handle.write(os.urandom(max(size, 1)))
            handle.flush()
            os.fsync(handle.fileno())
    target.unlink()
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True
