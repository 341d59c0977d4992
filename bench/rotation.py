"""KEK rotation speed: a fresh, migrated database with N pre-wrapped data keys, then ``rotate``.

The database is built the fast way (one bulk INSERT of keys wrapped under the current KEK with
explicit ids 1..N, so the wrap AAD matches), and only ``app.crypto.rotation.rotate`` is timed,
end to end: the new KEK version written to the keyring, every batch read, re-wrapped and
committed, and the completion mark. Afterwards every row must be under the new version and a
sample of keys must unwrap to the very bytes that were inserted; otherwise the run fails.
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from app import migrate
from app.config import Settings
from app.crypto import Crypto
from app.crypto.keyring import FileKeyProvider, wrap_aad
from app.crypto.rotation import pending, rotate
from app.db import make_engine, make_sessionmaker
from app.models.keys import KeyEncryptionKey, RecordKey
from bench import rotation_figure
from bench.common import Figure

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_KEYS_PER_S = 20_000
INSERT_CHUNK = 10_000
SAMPLE = 1_000


@dataclass
class Database:
    url: str
    server: str | None = None  # PostgreSQL server version


@contextlib.contextmanager
def fresh_database(engine_name: str, tmp: Path, pg_url: str) -> Iterator[Database]:
    """A URL to a new, empty database; a PostgreSQL one is dropped afterwards."""
    if engine_name == "sqlite":
        yield Database(f"sqlite:///{tmp / 'db' / 'haven.db'}")
        return
    if engine_name != "postgresql":
        raise ValueError(f"unknown engine {engine_name!r}")
    name = f"haven_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            server = conn.exec_driver_sql("SHOW server_version").scalar()
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
            yield Database(url, server=str(server))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def insert_keys(engine: Engine, provider: FileKeyProvider, people: int) -> list[bytes]:
    """N live data keys with ids 1..N wrapped under the current KEK; returns their material."""
    version = provider.current_kek_version()
    now = dt.datetime.now(dt.UTC)
    materials: list[bytes] = []
    table = RecordKey.__table__
    with engine.begin() as conn:
        for start in range(1, people + 1, INSERT_CHUNK):
            rows = []
            for key_id in range(start, min(start + INSERT_CHUNK, people + 1)):
                owner = uuid.uuid4()
                material = os.urandom(32)
                materials.append(material)
                rows.append(
                    {
                        "id": key_id,
                        "owner_id": owner,
                        "owner_type": "individual",
                        "kek_version": version,
                        "wrapped": provider.wrap(
                            version, material, wrap_aad(owner, key_id, version)
                        ),
                        "created_at": now,
                    }
                )
            conn.execute(insert(table), rows)
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequence behind; a real database would also be analysed.
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('record_key', 'id'), :n)"),
                {"n": people},
            )
        conn.execute(insert(KeyEncryptionKey.__table__), [{"version": version, "created_at": now}])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE record_key")
    return materials


def verify(
    engine: Engine,
    provider: FileKeyProvider,
    materials: list[bytes],
    old_version: int,
    report: Any,
) -> dict[str, Any]:
    """Raise AssertionError unless the rotation really re-wrapped every key."""
    people = len(materials)
    new_version = report.version
    problems: list[str] = []
    if new_version != old_version + 1:
        problems.append(f"rotated to v{new_version}, expected v{old_version + 1}")
    if report.rewrapped != people or report.total != people:
        problems.append(f"re-wrapped {report.rewrapped} of {report.total}, expected {people}")
    sample = sorted({1, people, *random.sample(range(1, people + 1), min(SAMPLE, people))})
    with engine.connect() as conn:
        left = pending_count(conn, new_version)
        if left:
            problems.append(f"{left} keys are still under an older KEK")
        completed = conn.execute(
            select(KeyEncryptionKey.rotation_completed_at).where(
                KeyEncryptionKey.version == new_version
            )
        ).scalar()
        if completed is None:
            problems.append(f"KEK v{new_version} is not marked as rotated")
        rows = conn.execute(
            select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped)
            .where(RecordKey.id.in_(sample))
            .order_by(RecordKey.id)
        ).all()
    if len(rows) != len(sample):
        problems.append(f"found {len(rows)} of {len(sample)} sampled keys")
    checked = 0
    for key_id, owner_id, version, wrapped in rows:
        if version != new_version:
            problems.append(f"key {key_id} is under v{version}")
            continue
        material = provider.unwrap(new_version, wrapped, wrap_aad(owner_id, key_id, new_version))
        if material != materials[key_id - 1]:
            problems.append(f"key {key_id} unwrapped to other bytes")
            continue
        checked += 1
    if problems:
        raise AssertionError("rotation check failed: " + "; ".join(problems[:5]))
    return {"sampled_keys_unwrapped": checked, "keys_left_on_old_kek": 0}


def server_cpu(engine: Engine) -> dict[int, float] | None:
    """CPU seconds used so far by each server process of this database (PostgreSQL on this
    machine only): on a shared, busy machine CPU time is steadier than wall time."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            ticks = os.sysconf("SC_CLK_TCK")
            used = {}
            for pid in pids:
                with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            return used
    except (OSError, ValueError):
        return None  # a remote server, or /proc not readable


def server_seconds(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def pending_count(conn: Any, version: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(RecordKey)
            .where(RecordKey.kek_version != version, RecordKey.wrapped.is_not(None))
        ).scalar()
        or 0
    )


def run_rotation(
    engine_name: str,
    people: int,
    tmp: Path,
    pg_url: str,
    *,
    batch_size: int | None = None,
    profile_to: Path | None = None,
) -> Figure:
    workdir = tmp / engine_name
    provider = FileKeyProvider.create(workdir / "master.key", development=True)
    with fresh_database(engine_name, workdir, pg_url) as database:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database.url,
            data_dir=workdir / "data",
            master_key_file=workdir / "master.key",
        )
        engine = make_engine(settings)
        try:
            migrate.upgrade(engine)
            started = time.perf_counter()
            materials = insert_keys(engine, provider, people)
            insert_s = time.perf_counter() - started
            old_version = provider.current_kek_version()
            factory = make_sessionmaker(engine, Crypto(provider))
            options = {} if batch_size is None else {"batch_size": batch_size}

            server_before = server_cpu(engine)
            cpu_started = time.process_time()
            started = time.perf_counter()
            report = rotate(factory, provider, **options)
            seconds = time.perf_counter() - started
            client_cpu = time.process_time() - cpu_started
            server_after = server_cpu(engine)

            checks = verify(engine, provider, materials, old_version, report)
            details: dict[str, Any] = {
                "people": people,
                "rotation_seconds": seconds,
                "rewrapped": report.rewrapped,
                "kek_version": report.version,
                "batch_size": batch_size or rotate.__kwdefaults__["batch_size"],
                "client_cpu_seconds": client_cpu,
                "server_cpu_seconds": server_seconds(server_before, server_after),
                "insert_seconds": insert_s,
                "server_version": database.server,
                **checks,
            }
            if profile_to is not None:
                details["profile"] = profile_rotation(factory, provider, options, profile_to)
                with factory.begin() as session:
                    if pending(session, provider.current_kek_version()):
                        raise AssertionError("the profiled rotation left keys behind")
        finally:
            engine.dispose()
    rate = people / seconds
    ok = rate >= GOAL_KEYS_PER_S
    cpu = details["client_cpu_seconds"] + (details["server_cpu_seconds"] or 0.0)
    details["cpu_us_per_key"] = cpu / people * 1e6
    where = "client+server" if details["server_cpu_seconds"] is not None else "client"
    return Figure(
        rotation_figure(engine_name),
        f"rotation: {engine_name}, {people:,} keys",
        rate,
        "keys/s",
        goal=f"≥ {GOAL_KEYS_PER_S:,}/s",
        verdict=("meets goal" if ok else "BELOW GOAL")
        + f" ({seconds:.2f} s; {where} CPU {details['cpu_us_per_key']:.0f} µs/key)",
        ok=ok,
        details=details,
    )


def profile_rotation(
    factory: Any, provider: FileKeyProvider, options: dict[str, Any], path: Path
) -> dict[str, Any]:
    """A second rotation (to the next KEK version) under cProfile; the stats go to ``path``."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    report = rotate(factory, provider, **options)
    profiler.disable()
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    return {
        "stats_file": str(path),
        "seconds_under_profiler": seconds,
        "rewrapped": report.rewrapped,
        "top_tottime": out.getvalue(),
    }
