"""Helpers for the audit tests: reading the raw chain, tampering as a DBA, the real verifier."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection, select, text

from app.audit import chain
from app.audit.verify import Verification, verify_all
from app.models.audit import AuditEntry, AuditHead

ROOT = Path(__file__).resolve().parents[2]
SQLITE_TRIGGERS = ("audit_entry_no_update", "audit_entry_no_delete")
_COLUMNS = [AuditEntry.__table__.c[name] for name in (*chain.FIELDS, "prev_hash", "entry_hash")]


def dialect(app: FastAPI) -> str:
    return app.state.engine.dialect.name


def entries(app: FastAPI) -> list[dict[str, Any]]:
    """Every audit row as stored, in seq order (read outside the app's sessions)."""
    with app.state.engine.connect() as conn:
        rows = conn.execute(select(*_COLUMNS).order_by(AuditEntry.seq)).mappings().all()
        conn.rollback()
    return [dict(row) for row in rows]


def head(app: FastAPI) -> tuple[int, bytes]:
    with app.state.engine.connect() as conn:
        row = conn.execute(select(AuditHead.seq, AuditHead.head_hash)).one()
        conn.rollback()
    return row.seq, bytes(row.head_hash)


def checkpoint_file(app: FastAPI) -> Path:
    from app.audit.checkpoints import checkpoint_path

    return checkpoint_path(app.state.settings.data_dir)


def write_checkpoint(app: FastAPI, *, force: bool = False) -> bool:
    from app.audit import checkpoints
    from app.db import transaction

    with transaction(app.state.sessionmaker) as session:
        return checkpoints.write(
            session, app.state.crypto.provider, app.state.settings.data_dir, force=force
        )


@contextmanager
def as_dba(app: FastAPI) -> Iterator[Connection]:
    """A connection with the append-only triggers out of the way, as a database superuser
    could arrange: SQLite drops them (and puts them back afterwards); PostgreSQL sets
    session_replication_role = replica for this transaction."""
    with app.state.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
            return
        saved = conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entry'"
            )
        ).scalars()
        saved = list(saved)
        assert len(saved) == len(SQLITE_TRIGGERS)
        for name in SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER {name}"))
        yield conn
        for sql in saved:  # cover the tracks: the triggers are back
            conn.execute(text(sql))


@dataclass
class Verified:
    code: int
    stdout: str
    stderr: str
    seconds: float


def haven_audit_verify(app: FastAPI, *args: str, timeout: float = 120) -> Verified:
    """`haven audit verify` as an operator runs it: a real process, configured by environment."""
    settings = app.state.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    env.update(
        HAVEN_DATABASE_URL=settings.database_url,
        HAVEN_DATA_DIR=str(settings.data_dir),
        HAVEN_MASTER_KEY_FILE=str(settings.key_file),
        HAVEN_ENV="development",
        PYTHONPATH=str(ROOT),
    )
    if settings.audit_witness:
        env.update(
            HAVEN_AUDIT_WITNESS=settings.audit_witness,
            HAVEN_WEBHOOK_ALLOW_HOSTS=settings.webhook_allow_hosts,
        )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "app", "audit", "verify", *args],
        env=env,
        cwd=settings.data_dir,  # no stray .env file is read
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Verified(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)


def verify_here(app: FastAPI) -> Verification:
    """The verifier in this process (app.audit.verify.verify_all), for the many variants that
    need not pay for a subprocess each."""
    from app.db import transaction

    with transaction(app.state.sessionmaker) as session:
        settings = app.state.settings
        return verify_all(
            session, app.state.crypto.provider, settings.data_dir, witness=settings.audit_witness
        )
