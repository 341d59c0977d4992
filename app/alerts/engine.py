"""The engine loop run inside `haven serve` or alone by `haven worker`.

Every tick delivers what the outbox holds; every 30 s it evaluates the time-based rules and
reassesses stale risk; every 60 s, when the audit chain grew, it signs a checkpoint.

Delivery is at-least-once. A worker claims due rows in one short transaction (FOR UPDATE SKIP
LOCKED on PostgreSQL; BEGIN IMMEDIATE serialises claims on SQLite) by writing its id and a
lease into them, sends outside any transaction, then records each result only if the row is
still its own. A claim is only taken once the previous lease has expired, and a worker stops
starting sends well before its lease runs out, so two live workers never send one message at
the same time; a worker that dies leaves a lease that expires, and another sends again with the
same ``webhook-id`` for the receiver to deduplicate.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import os
import random
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.alerts import mail, timed, webhooks
from app.alerts.notifications import dispatch, push
from app.audit import checkpoints
from app.audit import service as audit
from app.config import Settings
from app.db import transaction
from app.models.alert import OutboxMessage, Webhook
from app.models.base import utcnow
from app.referrals import service as referrals
from app.risk import service as risk

log = logging.getLogger("haven.engine")

LEASE_SECONDS = 60.0
BATCH_SIZE = 50
SENDERS = 8
MAX_ATTEMPTS = 12
BACKOFF_BASE, BACKOFF_CAP, BACKOFF_FLOOR = 5.0, 3600.0, 1.0
RULES_EVERY = dt.timedelta(seconds=30)
CHECKPOINT_EVERY = dt.timedelta(seconds=60)
# No send starts later than this before the lease runs out: one send takes at most about
# 16 s (name resolution 3 s, connect 3 s, write 5 s, read 5 s), which leaves room for pauses.
SEND_BUDGET = 25.0
_OUTBOX_WRITTEN = "outbox_written"


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def backoff(attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt: exponential with full jitter, never under a second."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return max(BACKOFF_FLOOR, rng.uniform(0, ceiling))


@dataclass
class Job:
    """One claimed message with what its channel needs (or why it cannot be sent)."""

    id: uuid.UUID
    channel: str
    target_id: uuid.UUID
    payload: str
    attempts: int
    endpoint: webhooks.Endpoint | None = None
    recipient: mail.Recipient | None = None
    browser: push.Target | None = None
    refused: str | None = None  # a reason that no retry will change


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str = ""
    permanent: bool = False
    sent: bool = True  # False: not attempted (lease ran short, or stopping); released


@dataclass
class TickReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    lost: int = 0  # results not recorded because another worker had taken the row over


class Engine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        lease_seconds: float = LEASE_SECONDS,
        batch_size: int = BATCH_SIZE,
        senders: int = SENDERS,
        rng: random.Random | None = None,
        worker: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.send_budget = min(SEND_BUDGET, lease_seconds / 2)
        self.batch_size = batch_size
        self.rng = rng or random.SystemRandom()
        self.worker = worker or worker_id()
        self.ticks = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=senders, thread_name_prefix="haven-send"
        )
        self._wake = threading.Event()
        self._stopping = threading.Event()  # set: release what is not yet sent, send no more
        self._rules_due: dt.datetime | None = None
        self._checkpoint_due: dt.datetime | None = None

    # The loop ----------------------------------------------------------------------------
    def tick(self, now: dt.datetime | None = None) -> TickReport:
        """Deliver what is due, and run the periodic jobs whose time has come."""
        self.ticks += 1
        self._periodic(now or utcnow())
        # A fresh clock for the claim: the lease must start when the claim is made, not
        # before the periodic jobs ran, or sends could start later than the lease allows.
        return self.deliver(now)

    def run(self, stop: threading.Event, interval: float) -> None:
        """Tick until ``stop`` is set (call ``wake`` after setting it to end the wait at once).

        A full batch means more is waiting, so the next tick follows at once; so does one
        after ``wake``, which this process's commits of new outbox rows call (see ``watch``).
        """
        self._stopping = stop
        while not stop.is_set():
            self._wake.clear()
            try:
                report = self.tick()
            except Exception as exc:  # the loop outlives any one failure
                log.error("engine tick failed (%s)", type(exc).__name__)
                report = TickReport()
            if report.claimed < self.batch_size and not stop.is_set():
                self._wake.wait(interval)

    def wake(self) -> None:
        self._wake.set()

    def watch(self, sessions: sessionmaker[Session]) -> None:
        """Wake up as soon as a transaction of this process commits new outbox rows, instead
        of at the next interval (another process's rows wait for the interval)."""

        def after_flush(session: Session, _context: Any) -> None:
            if any(isinstance(obj, OutboxMessage) for obj in session.new):
                session.info[_OUTBOX_WRITTEN] = True

        def after_commit(session: Session) -> None:
            if session.info.pop(_OUTBOX_WRITTEN, False):
                self.wake()

        def after_rollback(session: Session) -> None:
            session.info.pop(_OUTBOX_WRITTEN, None)

        event.listen(sessions, "after_flush", after_flush)
        event.listen(sessions, "after_commit", after_commit)
        event.listen(sessions, "after_rollback", after_rollback)

    def close(self) -> None:
        """At a clean shutdown: sign a last checkpoint if the chain grew."""
        self._pool.shutdown(wait=True)
        self._checkpoint()

    def _periodic(self, now: dt.datetime) -> None:
        if self._rules_due is None or now >= self._rules_due:
            self._rules_due = now + RULES_EVERY
            self._job("time rules", evaluate_time_rules, now)
            self._job("risk sweep", _sweep, now)
        if self._checkpoint_due is None:
            self._checkpoint_due = now + CHECKPOINT_EVERY
        elif now >= self._checkpoint_due:
            self._checkpoint_due = now + CHECKPOINT_EVERY
            self._checkpoint()

    def _job(self, name: str, job: Any, now: dt.datetime) -> None:
        try:
            with transaction(self.sessions) as session:
                job(session, now)
        except Exception as exc:
            log.error("engine job %s failed (%s)", name, type(exc).__name__)

    def _checkpoint(self) -> None:
        try:
            with transaction(self.sessions) as session:
                provider = session.info["crypto"].provider
                if checkpoints.write(session, provider, self.settings.data_dir):
                    log.info("audit checkpoint written")
        except Exception as exc:
            log.error("audit checkpoint failed (%s)", type(exc).__name__)

    # Delivery ----------------------------------------------------------------------------
    def deliver(self, now: dt.datetime | None = None) -> TickReport:
        """Claim due messages, send them outside any transaction, record what happened."""
        started = time.monotonic()
        now = now or utcnow()  # read together with `started`: the lease and the deadline agree
        jobs = self.claim(now)
        report = TickReport(claimed=len(jobs))
        if not jobs:
            return report
        deadline = started + self.lease.total_seconds() - self.send_budget
        futures = [self._pool.submit(self._send, job, deadline) for job in jobs]
        results = [(job, future.result()) for job, future in zip(jobs, futures, strict=True)]
        self._record(results, now + dt.timedelta(seconds=time.monotonic() - started), report)
        return report

    def claim(self, now: dt.datetime) -> list[Job]:
        with transaction(self.sessions) as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            jobs = []
            for row in rows:
                row.claimed_by = self.worker
                row.claimed_until = now + self.lease
                row.attempts += 1
                jobs.append(self._prepare(session, row))
        return jobs

    def _prepare(self, session: Session, row: OutboxMessage) -> Job:
        job = Job(row.id, row.channel, row.target_id, row.payload, row.attempts)
        try:
            if row.channel == "webhook":
                hook = session.get(Webhook, row.target_id)
                # Which endpoints want which event was decided when the row was written.
                if hook is None or hook.disabled_at is not None:
                    job.refused = "webhook disabled"
                else:
                    secret = webhooks.open_secret(session, hook)
                    job.endpoint = webhooks.Endpoint(hook.id, hook.url, secret)
            elif row.channel == "email":
                if not self.settings.smtp_url:
                    job.refused = "e-mail is not configured"
                else:
                    job.recipient = mail.recipient(session, row.target_id)
                    if job.recipient is None:
                        job.refused = "no e-mail address"
            elif row.channel == "push":
                job.browser, job.refused = self._push_target(session, row)
            else:
                job.refused = "unknown channel"
        except Exception as exc:  # a destroyed key, a damaged row: this message only
            job.refused = f"cannot prepare ({type(exc).__name__})"
        return job

    def _push_target(
        self, session: Session, row: OutboxMessage
    ) -> tuple[push.Target | None, str | None]:
        if not self.settings.push_contact:
            return None, "push is not configured (HAVEN_PUSH_CONTACT)"
        if dispatch.stale(session, row):
            return None, "the alert was handled while the message was held back"
        browser = push.target(session, row.target_id, self.settings.push_contact)
        return browser, None if browser else "push subscription removed"

    def _send_push(self, job: Job, browser: push.Target) -> Outcome:
        try:
            status = push.send(browser, job.payload, self.settings.allowed_webhook_hosts)
        except Exception as exc:
            detail = webhooks.describe(exc)
            log.warning("outbox %s push: %s", job.id, detail)
            return Outcome(False, detail)
        log.info("outbox %s pushed: status %s", job.id, status)
        if status in push.GONE:  # the browser unsubscribed or the subscription expired
            with transaction(self.sessions) as session:
                push.forget(session, browser.subscription_id, status)
            return Outcome(False, f"subscription gone (status {status}); removed", permanent=True)
        if 200 <= status < 300:
            with transaction(self.sessions) as session:
                push.delivered(session, browser.subscription_id)
        return Outcome(200 <= status < 300, f"status {status}", permanent=status in (400, 403, 413))

    def _send(self, job: Job, deadline: float) -> Outcome:
        if job.refused:
            return Outcome(False, job.refused, permanent=True)
        if time.monotonic() > deadline or self._stopping.is_set():
            return Outcome(False, "not sent", sent=False)
        if job.browser is not None:
            return self._send_push(job, job.browser)
        try:
            if job.endpoint is not None:
                status = webhooks.send(
                    job.endpoint, str(job.id), job.payload, self.settings.allowed_webhook_hosts
                )
                log.info(
                    "outbox %s to webhook %s: status %s", job.id, job.endpoint.webhook_id, status
                )
                return Outcome(200 <= status < 300, f"status {status}")
            assert job.recipient is not None and self.settings.smtp_url
            server = mail.SmtpServer.from_url(self.settings.smtp_url)
            message = mail.compose(
                str(job.id),
                job.payload,
                to=job.recipient.address,
                public_url=self.settings.public_url,
                time_zone=job.recipient.time_zone,
            )
            mail.send(server, message)
            log.info("outbox %s e-mailed", job.id)
            return Outcome(True, "sent")
        except Exception as exc:
            if job.endpoint is not None:
                detail = webhooks.describe(exc)
                log.warning("outbox %s to webhook %s: %s", job.id, job.endpoint.webhook_id, detail)
                return Outcome(False, detail)
            detail = mail.describe(exc)
            log.warning("outbox %s e-mail: %s", job.id, detail)
            return Outcome(False, detail, permanent=mail.permanent(exc))

    def _record(
        self, results: list[tuple[Job, Outcome]], now: dt.datetime, report: TickReport
    ) -> None:
        mine = (OutboxMessage.claimed_by == self.worker, OutboxMessage.status == "pending")
        with transaction(self.sessions) as session:
            for job, outcome in results:
                where = (OutboxMessage.id == job.id, *mine)
                if not outcome.sent:
                    values: dict[str, Any] = {"attempts": job.attempts - 1}
                    kind = "released"
                elif outcome.ok:
                    values = {"status": "delivered", "delivered_at": now, "last_error": None}
                    kind = "delivered"
                elif outcome.permanent or job.attempts >= MAX_ATTEMPTS:
                    values = {"status": "dead", "last_error": outcome.detail[:200]}
                    kind = "dead"
                else:
                    delay = dt.timedelta(seconds=backoff(job.attempts, self.rng))
                    values = {"next_attempt_at": now + delay, "last_error": outcome.detail[:200]}
                    kind = "retried"
                values |= {"claimed_by": None, "claimed_until": None}
                result = session.execute(
                    update(OutboxMessage).where(*where).values(**values),
                    execution_options={"synchronize_session": False},
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    report.lost += 1
                    continue
                setattr(report, kind, getattr(report, kind) + 1)
                if kind == "dead":
                    log.warning("outbox %s dead after %s attempts", job.id, job.attempts)
                    audit.record(
                        session,
                        actor=None,
                        action="outbox.dead",
                        subject_type="outbox_message",
                        subject_id=job.id,
                        details={
                            "channel": job.channel,
                            "target_id": str(job.target_id),
                            "attempts": job.attempts,
                            "reason": outcome.detail[:200],
                        },
                    )


class EngineThread:
    """The engine in a background thread of `haven serve`, one per API process: claims are
    exclusive, so several processes share the outbox safely."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, **options: Any) -> None:
        self.engine = Engine(sessions, settings, **options)
        self.engine.watch(sessions)
        self.interval = settings.engine_interval_seconds
        self._stop = threading.Event()
        # A daemon thread: a send stuck past every timeout must not keep the process alive.
        self._thread = threading.Thread(target=self._run, name="haven-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("alert engine started (worker %s)", self.engine.worker)

    def _run(self) -> None:
        self.engine.run(self._stop, self.interval)

    def stop(self, timeout: float = 20.0) -> None:
        """Finish the sends in flight (the rest of the batch is released for others), then
        sign a last checkpoint."""
        self._stop.set()
        self.engine.wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("alert engine did not stop within %s s", timeout)
            return
        self.engine.close()
        log.info("alert engine stopped")


def evaluate_time_rules(session: Session, now: dt.datetime) -> int:
    """Every time-driven rule once: expiries, overdue check-ins, escalations
    (``app.alerts.timed``), and referrals past their expiry. Returns what changed."""
    return timed.evaluate(session, now) + referrals.expire_due(session, now)


def _sweep(session: Session, now: dt.datetime) -> int:
    """Time decay: reassess people whose assessment is stale (``app.risk.service.sweep``)."""
    return risk.sweep(session, now)
