"""``python -m bench --parts backup``: time and size of ``haven backup`` and ``haven restore``.

Per engine and size, on a fresh database with N synthetic people (``haven demo --people`` code
path, one passport each): the backup (snapshot, encryption, file size), then a restore into a
second fresh database of the same engine, split into its three steps (checking the whole file,
writing, proving), and on PostgreSQL runs also the move from a SQLite backup. Run directly::

    python -m bench.backup --engines sqlite,postgresql --sizes 10000
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from app import organisations
from app.auth.users import create_user
from app.backup import service
from app.config import Settings
from app.crypto import crypto_of
from app.db import transaction
from app.demo.synthetic import add_people
from app.main import create_app
from app.reactions import TABLE
from bench.rotation import fresh_database

PASSWORD = "a long enough benchmark passphrase"  # noqa: S105 - a made-up account


def _settings(url: str, root: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        data_dir=root / "data",
        master_key_file=root / "keys" / "master.key",
        run_engine_in_serve=False,
    )


def _deployment(url: str, root: Path, people: int) -> tuple[Settings, Any]:
    settings = _settings(url, root)
    app = create_app(settings)
    with transaction(app.state.sessionmaker) as session:
        org = organisations.default_organisation(session)
        user = create_user(
            session, username="bench-sup", role="supervisor", password=PASSWORD, organisation=org
        )
        add_people(
            session,
            crypto_of(session),
            count=people,
            organisation_id=org.id,
            created_by=user.id,
            seed=7,
        )
    return settings, app


def _restore(engine: str, backup: Path, keyring: Path, root: Path, pg_url: str) -> dict[str, Any]:
    with fresh_database(engine, root, pg_url) as db:
        target = _settings(db.url, root)
        target.key_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(keyring, target.key_file)
        started = time.perf_counter()
        outcome = service.restore(target, backup, reactions=TABLE)
        total = time.perf_counter() - started
    if not outcome.proof.ok:
        raise RuntimeError("the restore did not prove: " + "; ".join(outcome.proof.lines()))
    return {
        "restore_s": round(total, 2),
        "restore_check_s": round(outcome.check_seconds, 2),
        "restore_write_s": round(outcome.write_seconds, 2),
        "restore_prove_s": round(outcome.prove_seconds, 2),
    }


def run(
    engine: str,
    people: int,
    tmp: Path,
    pg_url: str,
    *,
    move: bool = True,
    out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures, filled into ``out`` as they come (a failure keeps the earlier ones)."""
    out = {} if out is None else out
    out.update(engine=engine, people=people)
    source_root = tmp / f"{engine}-source"
    with fresh_database(engine, source_root, pg_url) as db:
        settings, app = _deployment(db.url, source_root, people)
        try:
            started = time.perf_counter()
            report = service.backup(
                settings,
                app.state.engine,
                app.state.crypto,
                app.state.sessionmaker,
                tmp / f"{engine}-{people}.havenbak",
            )
            out["backup_s"] = round(time.perf_counter() - started, 2)
        finally:
            app.state.engine.dispose()
    out["backup_mb"] = round(report.size / 1_048_576, 1)
    out["backup_rows"] = report.rows
    out.update(_restore(engine, report.path, settings.key_file, tmp / f"{engine}-target", pg_url))
    if engine == "postgresql" and move:
        # The move of a growing organisation: a SQLite deployment's backup into PostgreSQL.
        sqlite_root = tmp / "sqlite-for-move"
        with fresh_database("sqlite", sqlite_root, pg_url) as db:
            lite, lite_app = _deployment(db.url, sqlite_root, people)
            try:
                moved = service.backup(
                    lite,
                    lite_app.state.engine,
                    lite_app.state.crypto,
                    lite_app.state.sessionmaker,
                    tmp / f"sqlite-{people}.havenbak",
                )
            finally:
                lite_app.state.engine.dispose()
        move = _restore("postgresql", moved.path, lite.key_file, tmp / "move-target", pg_url)
        out["sqlite_to_postgresql_restore_s"] = move["restore_s"]
    return out


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--no-move", action="store_true", help="skip the SQLite to PostgreSQL restore"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haven-bench-backup-") as name:
        for engine in args.engines.split(","):
            for size in args.sizes.split(","):
                result: dict[str, Any] = {}
                try:
                    run(
                        engine,
                        int(size),
                        Path(name) / f"{engine}-{size}",
                        args.pg_url,
                        move=not args.no_move,
                        out=result,
                    )
                finally:
                    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
