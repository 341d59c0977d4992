"""The app factory: settings in, a FastAPI application out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError, ProgrammingError

from app import __version__, events, logs, migrate, web
from app.alerts.engine import EngineThread
from app.api import build_router
from app.auth import service as auth_service
from app.config import Settings
from app.db import make_engine, make_sessionmaker, transaction
from app.errors import install_handlers
from app.individuals import reindex
from app.limits import BodyLimitMiddleware
from app.lockdown import LockdownMiddleware, LockWatch, forget_keys
from app.models.bulk import freeze_start_up
from app.ops import Metrics, RequestContextMiddleware
from app.ops import router as ops_router
from app.reactions import TABLE
from app.startup import prepare

log = logging.getLogger("haven")


def create_app(
    settings: Settings | None = None,
    *,
    migrate_on_start: bool | None = None,
    run_engine: bool = False,
    freeze_after_start: bool = False,
) -> FastAPI:
    """``run_engine``: also run the alert engine in a background thread while the app is up
    (`haven serve` passes settings.run_engine_in_serve; tests drive the engine themselves).
    ``freeze_after_start``: the server process's start-up objects leave the garbage
    collector's full passes (``app.models.bulk.freeze_start_up``); tests, which start many
    apps in one process, leave it off."""
    settings = settings or Settings()
    crypto = prepare(settings)
    engine = make_engine(settings)
    if migrate_on_start if migrate_on_start is not None else settings.auto_migrate:
        migrate.upgrade(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("haven %s started (%s, %s)", __version__, settings.env, engine.dialect.name)
        background = EngineThread(app.state.sessionmaker, settings) if run_engine else None
        if background:
            background.start()
        if freeze_after_start:
            freeze_start_up()
        yield
        if background:
            await asyncio.to_thread(background.stop)
        engine.dispose()

    app = FastAPI(
        title="Haven",
        version=__version__,
        debug=settings.debug,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs" if not settings.production else None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.crypto = crypto
    # Sessions carry the keyring, the settings and the table of reactions to domain events.
    app.state.sessionmaker = events.attach(make_sessionmaker(engine, crypto, settings), TABLE)
    app.state.metrics = Metrics()
    app.state.confirm_sign_in = auth_service.confirm  # a read request's remembered sign-in
    app.state.lockdown = LockWatch(engine, on_lock=forget_keys(crypto))  # app/lockdown.py
    _index_name_tokens(app)
    install_handlers(app)
    app.include_router(ops_router)
    app.include_router(build_router())
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_attachment_bytes + 65_536,  # room for the multipart framing
    )
    app.add_middleware(LockdownMiddleware, watch=app.state.lockdown)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    web.install(app)  # the web client's pages, /static, and security headers on every response
    return app


def _index_name_tokens(app: FastAPI) -> None:
    """Name-token rows for people registered before that index existed (one EXISTS query
    once they all have theirs); skipped while the schema is behind."""
    try:
        with transaction(app.state.sessionmaker) as session:
            done = reindex.backfill(session)
    except (OperationalError, ProgrammingError):
        return  # not migrated yet: the next start does it
    if done:
        log.info("name-token index written for %d people", done)


def factory() -> FastAPI:
    """Entry point for `uvicorn --factory app.main:factory` (several worker processes)."""
    settings = Settings()
    logs.configure(json_logs=settings.json_logs, level=settings.log_level)
    return create_app(
        settings,
        migrate_on_start=False,
        run_engine=settings.run_engine_in_serve,
        freeze_after_start=True,
    )
