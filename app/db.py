"""Engine and sessions: one transaction per request, committed before the response leaves.

A request that only reads (GET, HEAD) runs in a read-only transaction: on SQLite a deferred one
(no write lock; WAL readers run side by side) with ``PRAGMA query_only``, on PostgreSQL
``BEGIN READ ONLY``. Its audit entries go to the process's sequencer
(``app.audit.sequencer``), which commits many requests' entries at once; the request answers
only once its entries are committed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, TypeVar
from weakref import WeakKeyDictionary

import anyio
import anyio.from_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from fastapi.concurrency import contextmanager_in_threadpool
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from app import tokencache
from app.audit import service as audit
from app.audit.sequencer import Job, Sequencer
from app.config import Settings

READ_ONLY = "haven_read_only"
READ_REQUEST = tokencache.READ_REQUEST  # a read request's session and connection
READ_METHODS = frozenset({"GET", "HEAD"})
SEQUENCER = "audit_sequencer"
READER = "read_bind"
AFTER_READ = "after_read"
ENDED = "haven_read_ended"  # session.info: the audit batch's future of a read ended by its route
CONFIRM = "haven_confirm_sign_in"  # session.info: a read request's check of a remembered sign-in
SQLITE_BUSY_TIMEOUT_S = 30
# Pages read through a memory map rather than one read() call each: every audit batch's commit
# empties the other connections' page caches, and a list request at 3,000 people read 1,254
# pages again that way (in process, reads and searches 7-9% faster mapped). SQLite's cost: an
# I/O error on the file raises SIGBUS instead of an error, ending the process.
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SQLITE_POOL_SIZE = 32


def read_only(session: Session) -> Session:
    """Mark a session that will only read, before its first statement (SQLite: no write lock)."""
    session.connection(execution_options={READ_ONLY: True})
    return session


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    if settings.dialect == "sqlite":
        path = settings.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _private_files(path)
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            # Readers run side by side (WAL): enough connections that a busy minute does not
            # open and close them (each opening sets the pragmas again).
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            **overrides,
        )
        _configure_sqlite(engine)
        return engine
    # A database host that drops packets fails a connection in seconds (a 503), not at the
    # TCP timeout; a connect_timeout in HAVEN_DATABASE_URL wins.
    url = make_url(settings.database_url)
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    engine = create_engine(
        settings.database_url,
        connect_args=connect_args,
        pool_size=settings.database_pool_size,
        max_overflow=8,  # a burst beyond it opens (and then closes) a few more
        **overrides,
    )
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 2.0
_CHECKED_IN = "haven_checked_in"


def _ping_when_idle(engine: Engine) -> None:
    """Recover by itself after the database restarts: a pooled connection idle for a while is
    pinged before use and replaced if the database has gone away since. SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout, a round trip that cost a read request a twentieth
    of its time; a connection back in the pool moments ago is used as it is, and if the database
    went away meanwhile its request fails (a 503) and the whole pool is replaced."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_CHECKED_IN)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return  # new, or in use moments ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the database went away") from exc
        if not alive:
            raise DisconnectionError("the database went away")


def _private_files(path: Path) -> None:
    """The database file exists, readable by this user alone, before SQLite opens it; SQLite
    then gives its -wal and -shm files the database's mode. Files an older version left
    readable by others are narrowed."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands so BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "secure_delete=ON",
            "synchronous=FULL",
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}",
            f"mmap_size={SQLITE_MMAP_BYTES}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A request that writes takes the write lock up front: a deferred transaction that
        # upgrades to a writer fails at once when busy. Read requests (their audit entries go
        # to the sequencer) and long read-only work (verifying the chain) take a deferred one,
        # a read request's also refusing to write (query_only), so a write slipped into a read
        # fails in tests rather than queueing for the lock.
        # On the driver's connection: through SQLAlchemy's execution each statement cost as
        # much as a read request's own query.
        options = connection.get_execution_options()
        reading = bool(options.get(READ_REQUEST, False))
        driver = connection.connection.driver_connection
        statement = f"PRAGMA query_only={int(reading)}"
        try:
            if connection.info.get("query_only", False) != reading:
                driver.execute(statement)
                connection.info["query_only"] = reading
            deferred = reading or options.get(READ_ONLY, False)
            statement = "BEGIN" if deferred else "BEGIN IMMEDIATE"
            driver.execute(statement)
        except sqlite3.Error as exc:  # as SQLAlchemy raises it ("database is locked": 503)
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def make_sessionmaker(
    engine: Engine, crypto: Any | None, settings: Settings | None = None
) -> sessionmaker[Session]:
    """Sessions that carry the app's Crypto and Settings (reached by services via .info)."""
    factory = sessionmaker(
        engine, expire_on_commit=False, info={"crypto": crypto, "settings": settings}
    )
    readonly = {"postgresql_readonly": True} if engine.dialect.name == "postgresql" else {}
    factory.kw["info"][READER] = engine.execution_options(**{READ_REQUEST: True}, **readonly)
    factory.kw["info"][SEQUENCER] = Sequencer(factory)
    factory.kw["info"][tokencache.CACHES] = {}
    tokencache.watch(factory)
    event.listen(factory, "before_commit", audit.flush)
    event.listen(factory, "after_transaction_create", _take_turn)
    event.listen(factory, "after_transaction_end", _give_back_turn)
    return factory


# SQLite's write lock, one request at a time ----------------------------------------------------
# On SQLite every request's transaction takes the database's only write lock at its first
# statement (BEGIN IMMEDIATE) and keeps it until it commits. A request runs in several worker
# threads one after the other (each dependency, then the route), and the event loop lends only
# so many threads at once: requests that wait for the lock inside a worker thread (SQLite's busy
# handler) or for a pooled connection could take every thread the lock's holder needs for its
# next step, and no one would move until the busy timeout failed them all. So a request waits
# for its turn in the event loop, holding neither a thread nor a connection, before its first
# statement, and gives the turn back when its transaction ends. The turn is per process: other
# processes on the same file still queue through SQLite's busy handler.
TURN = "haven_writer_turn"
_semaphores: RunVar[WeakKeyDictionary[Engine, anyio.Semaphore]] = RunVar("haven_writer_turns")


def _semaphore(engine: Engine) -> anyio.Semaphore:
    """This event loop's one turn at ``engine``'s write lock."""
    semaphores = _semaphores.get(None)
    if semaphores is None:
        semaphores = WeakKeyDictionary()
        _semaphores.set(semaphores)
    semaphore = semaphores.get(engine)
    if semaphore is None:
        semaphore = semaphores[engine] = anyio.Semaphore(1)
    return semaphore


class WriterTurn:
    """A session's turn at SQLite's write lock, from the start of a transaction to its end."""

    def __init__(self, semaphore: anyio.Semaphore) -> None:
        self._semaphore = semaphore
        self.held = False

    async def take(self) -> None:
        await self._semaphore.acquire()
        self.held = True

    def take_in_thread(self) -> None:
        """From a worker thread (a transaction after a commit in the route): the wait is
        bounded by the busy timeout, after which SQLite's busy handler queues it as before."""
        if self.held:
            return
        try:
            self.held = anyio.from_thread.run(self._take_within, SQLITE_BUSY_TIMEOUT_S)
        except anyio.NoEventLoopError:  # not a worker thread of the event loop
            return

    async def _take_within(self, seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            await self._semaphore.acquire()
            return True
        return False

    def give_back(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            anyio.get_current_task()
        except anyio.NoEventLoopError:  # a worker thread
            anyio.from_thread.run_sync(self._semaphore.release)
        else:
            self._semaphore.release()


def _take_turn(session: Session, transaction: SessionTransaction) -> None:
    turn: WriterTurn | None = session.info.get(TURN)
    if turn is not None and transaction.parent is None:
        turn.take_in_thread()


def _give_back_turn(session: Session, transaction: SessionTransaction) -> None:
    turn: WriterTurn | None = session.info.get(TURN)
    if turn is not None and transaction.parent is None:
        turn.give_back()


ON_ROLLBACK = "on_rollback"


def on_rollback(session: Session, job: Callable[[Session], None]) -> None:
    """Run ``job`` in a transaction of its own if this one fails (e.g. a failed sign-in's
    counter, which must count although the request answers 401)."""
    session.info.setdefault(ON_ROLLBACK, []).append(job)


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def writes(endpoint: F) -> F:
    """Mark a GET route that writes (a lookup counter, an export's hash in the case history):
    it runs in a writing transaction, as other methods' routes do."""
    endpoint.haven_writes = True  # type: ignore[attr-defined]  # read by get_session
    return endpoint


def _reads_only(request: Request) -> bool:
    if request.method not in READ_METHODS:
        return False
    route = request.scope.get("route")
    return not getattr(getattr(route, "endpoint", None), "haven_writes", False)


def after_read(session: Session, job: Job) -> None:
    """Bookkeeping a read request needs written (a token's last use): done by the sequencer
    in its batch, with the request's audit entries; in a writing transaction, at once."""
    if session.info.get(READ_REQUEST):
        session.info.setdefault(AFTER_READ, []).append(job)
    else:
        job(session)


def is_reading(session: Session) -> bool:
    return bool(session.info.get(READ_REQUEST))


def begin_read(factory: sessionmaker[Session]) -> Session:
    """A read request's session (see the module's doc); nothing is done on the database yet."""
    session = factory(bind=factory.kw["info"][READER])
    session.info[READ_REQUEST] = True
    return session


def end_read(session: Session, confirm: Callable[[Session], None]) -> Future[None]:
    """End a read request's transaction (nothing was written) and hand its audit entries and
    bookkeeping to the sequencer; the request answers once the future is done. ``confirm``
    first checks a sign-in taken from memory (app.auth.service.confirm); if it raises, the
    request fails as any other (``fail_read``)."""
    confirm(session)
    entries = audit.take_all(session)
    jobs = session.info.pop(AFTER_READ, [])
    session.info.pop(ON_ROLLBACK, None)
    try:
        session.commit()  # ends the snapshot
    finally:
        session.close()
    return sequencer_of_session(session).submit(entries, jobs)


def fail_read(session: Session) -> Future[None]:
    """A failed read request: its denials and failed sign-ins outlive it (the sequencer writes
    them), the rest of its entries go with it."""
    durable = audit.take_durable(session)
    jobs = session.info.pop(ON_ROLLBACK, []) + session.info.pop(AFTER_READ, [])
    session.rollback()
    session.close()
    return sequencer_of_session(session).submit(durable, jobs)


@contextmanager
def read_transaction(
    factory: sessionmaker[Session], confirm: Callable[[Session], None] = lambda _: None
) -> Iterator[Session]:
    """A read request's session in one worker thread (the web client's pages): answers once
    its audit entries are committed, and raises here if their batch failed."""
    session = begin_read(factory)
    try:
        yield session
        done = end_read(session, confirm)
    except BaseException:
        fail_read(session).result()
        raise
    done.result()


def sequencer_of_session(session: Session) -> Sequencer:
    sequencer: Sequencer = session.info[SEQUENCER]
    return sequencer


def sequencer_of(factory: sessionmaker[Session]) -> Sequencer:
    sequencer: Sequencer = factory.kw["info"][SEQUENCER]
    return sequencer


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a job or a command: commit on success, roll back on error.

    Callbacks queued in ``session.info["after_commit"]`` run once the commit has succeeded;
    durable audit entries (denials) are written in a transaction of their own on failure.
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        durable = audit.take_durable(session)
        jobs = session.info.pop(ON_ROLLBACK, [])
        session.rollback()
        session.close()
        if durable or jobs:  # denials, failed sign-ins and their counters outlive the request
            with transaction(factory) as separate:
                for job in jobs:
                    job(separate)
                if durable:
                    audit.append(separate, durable)
        raise
    finally:
        callbacks = session.info.pop("after_commit", [])
        session.close()
    for callback in callbacks:
        callback(session)


async def answer_read(session: Session, work: Callable[[], T]) -> T:
    """A read route's database work and the end of its transaction in one worker thread, for
    an ``async def`` route: one thread hop a request instead of three (the route, FastAPI's
    check of a sync route's response, ``end_read``). ``work``'s result must not need the
    session: it is closed when this returns. Outside a read request, ``work`` alone."""

    def run() -> T:
        result = work()
        confirm = session.info.get(CONFIRM)
        if confirm is not None and session.info.get(ENDED) is None:
            session.info[ENDED] = end_read(session, confirm)
        return result

    return await anyio.to_thread.run_sync(run)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session: a read-only one for a read request; for any other, on SQLite,
    once it is this request's turn at the write lock."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    if _reads_only(request):
        # Begun here (no I/O yet) and ended in one worker thread (the route's own, when it
        # answers through ``answer_read``); the wait for the audit batch's commit holds no
        # thread.
        session = begin_read(factory)
        confirm: Callable[[Session], None] = request.app.state.confirm_sign_in
        session.info[CONFIRM] = confirm
        try:
            yield session
            done: Future[None] | None = session.info.pop(ENDED, None)
            if done is None:
                done = await anyio.to_thread.run_sync(end_read, session, confirm)
        except BaseException:
            if session.info.pop(ENDED, None) is None:  # ended, its entries are on their way
                await asyncio.wrap_future(await anyio.to_thread.run_sync(fail_read, session))
            raise
        await asyncio.wrap_future(done)
        return
    engine = factory.kw["bind"]
    turn = WriterTurn(_semaphore(engine)) if engine.dialect.name == "sqlite" else None
    try:
        async with contextmanager_in_threadpool(transaction(factory)) as session:
            if turn is not None:
                session.info[TURN] = turn
                await turn.take()
            yield session
    finally:
        if turn is not None:  # a route that never reached the database
            turn.give_back()


# scope="function": commit (or fail) before the response is sent, never after.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
