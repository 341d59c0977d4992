"""Group commit of the audit trail for requests that only read.

A read request runs in a read-only transaction and never takes the database's write lock. Its
audit entries (and small bookkeeping, such as when a token was last used) are handed to this
process's sequencer, which chains many requests' entries in one transaction: the head row's
lock is taken, and the disk synced, once per batch rather than once per read. Each request
waits for the commit of its batch before its response leaves, so an entry exists exactly when
the read it records was answered; a crash before the commit loses only reads that were never
answered. Writes keep their entries in their own transaction (``app.audit.service.flush``).

Written here rather than taken from a library: it is Haven's audit chain's own commit path.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.audit import service as audit

log = logging.getLogger("haven.audit")

Job = Callable[[Session], None]
MAX_BATCH = 1000  # submissions per transaction: bounds a batch's time under the head's lock
IDLE_EXIT_S = 5.0  # the thread ends after this long with nothing to do (started again on demand)
GATHER_S = 0.0005  # how long a batch waits for the requests it expects (see Sequencer._gather)


@dataclass
class _Submission:
    entries: list[dict[str, Any]]
    jobs: list[Job]
    done: Future[None] = field(default_factory=Future)


class Sequencer:
    """One per session factory (that is, per process and database): see the module's doc."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._queue: queue.SimpleQueue[_Submission] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_batch = 1  # submissions in the last batch: how many the next one waits for
        self.batches = 0  # committed batches, for tests and the benchmark
        self.entries = 0

    def submit(self, entries: list[dict[str, Any]], jobs: list[Job] | None = None) -> Future[None]:
        """Queue a request's entries and jobs; the future is done when they are committed
        (or holds the error that stopped their batch)."""
        item = _Submission(entries, jobs or [])
        if not item.entries and not item.jobs:
            item.done.set_result(None)
            return item.done
        self._queue.put(item)
        self._ensure_running()
        return item.done

    def write(self, entries: list[dict[str, Any]], jobs: list[Job] | None = None) -> None:
        """``submit`` and wait for the commit (a worker thread, never the event loop)."""
        self.submit(entries, jobs).result()

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="haven-audit-sequencer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch = self._gather(first)
            self._last_batch = len(batch)
            self._commit(batch)

    def _gather(self, first: _Submission) -> list[_Submission]:
        """The batch that ``first`` starts: whatever is queued, and, when the last batch held
        several requests, up to GATHER_S more for as many (their threads are a moment behind,
        each just woken by the last commit): one commit for them all rather than two or three."""
        batch = [first]
        deadline = time.monotonic() + GATHER_S
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if len(batch) >= self._last_batch or remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _commit(self, batch: list[_Submission]) -> None:
        session = self._factory()
        try:
            for item in batch:
                for job in item.jobs:
                    _run_job(session, job)
            entries = [fields for item in batch for fields in item.entries]
            if entries:
                audit.append(session, entries)
            session.commit()
        except Exception as exc:  # every request of the batch fails: none is answered
            session.rollback()
            session.close()
            log.error("audit batch of %d not committed (%s)", len(batch), type(exc).__name__)
            for item in batch:
                item.done.set_exception(exc)
            return
        callbacks: list[Callable[[Session], None]] = session.info.pop("after_commit", [])
        session.close()
        self.batches += 1
        self.entries += len(entries)
        for item in batch:
            item.done.set_result(None)
        for callback in callbacks:  # the signed head, once per batch
            try:
                callback(session)
            except Exception as exc:  # the entries are committed; a failure is only logged
                log.error("after an audit batch: %s", type(exc).__name__)


def _run_job(session: Session, job: Job) -> None:
    """One request's bookkeeping, in a savepoint: its failure is logged and undone alone, never
    failing the reads batched with it (the alert engine's sweeps catch up what it missed)."""
    try:
        with session.begin_nested():
            job(session)
    except Exception as exc:
        log.error("a read's bookkeeping was not written (%s)", type(exc).__name__)
