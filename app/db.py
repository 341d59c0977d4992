"""Engine and sessions: one transaction per request, committed before the response leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings

READ_ONLY = "haven_read_only"


def read_only(session: Session) -> Session:
    """Mark a session that will only read, before its first statement (SQLite: no write lock)."""
    session.connection(execution_options={READ_ONLY: True})
    return session


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    if settings.dialect == "sqlite":
        path = settings.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(
            settings.database_url,
            connect_args={"timeout": 30, "check_same_thread": False},
            **overrides,
        )
        _configure_sqlite(engine)
        return engine
    # A database host that drops packets fails a connection in seconds (a 503), not at the
    # TCP timeout; a connect_timeout in HAVEN_DATABASE_URL wins.
    url = make_url(settings.database_url)
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return create_engine(
        settings.database_url,
        connect_args=connect_args,
        pool_pre_ping=True,  # recover by itself after the database restarts
        pool_size=10,
        max_overflow=20,
        **overrides,
    )


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
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Nearly every request writes (an audit row per read), so take the write lock up
        # front: a deferred transaction that upgrades to a writer fails at once when busy.
        # Long read-only work (verifying the audit chain) asks for a deferred one instead.
        deferred = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def make_sessionmaker(
    engine: Engine, crypto: Any | None, settings: Settings | None = None
) -> sessionmaker[Session]:
    """Sessions that carry the app's Crypto and Settings (reached by services via .info)."""
    from app.audit import service as audit

    factory = sessionmaker(
        engine, expire_on_commit=False, info={"crypto": crypto, "settings": settings}
    )
    event.listen(factory, "before_commit", audit.flush)
    return factory


ON_ROLLBACK = "on_rollback"


def on_rollback(session: Session, job: Callable[[Session], None]) -> None:
    """Run ``job`` in a transaction of its own if this one fails (e.g. a failed sign-in's
    counter, which must count although the request answers 401)."""
    session.info.setdefault(ON_ROLLBACK, []).append(job)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a job or a command: commit on success, roll back on error.

    Callbacks queued in ``session.info["after_commit"]`` run once the commit has succeeded;
    durable audit entries (denials) are written in a transaction of their own on failure.
    """
    from app.audit import service as audit

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


def get_session(request: Request) -> Iterator[Session]:
    with transaction(request.app.state.sessionmaker) as session:
        yield session


# scope="function": commit (or fail) before the response is sent, never after.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
