"""``haven backup``, ``haven restore``, ``haven keys escrow|recover``, ``haven lock|unlock``.

Registered from app/cli.py with ``register``; the work is done in app/backup/* and
app/lockdown.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings


class _Runtime(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def crypto(self) -> Any: ...


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"


@contextlib.contextmanager
def _bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    columns: list[str | ProgressColumn] = [
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(label, total=None)

        def advance(what: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, description=f"{label}: {what}")

        yield advance


def register(
    cli: typer.Typer,
    keys_cli: typer.Typer,
    runtime: Callable[..., _Runtime],
    abort: type[Exception],
) -> None:
    @cli.command()
    def backup(
        to: Annotated[
            Path,
            typer.Option(
                "--to", help="A file to write, or a directory to add a time-named backup to."
            ),
        ],
        keep: Annotated[
            int | None,
            typer.Option(min=1, help="With a directory: keep only the newest N backups."),
        ] = None,
        quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    ) -> None:
        """A consistent snapshot of the database, attachments and audit files while Haven
        serves, in one file encrypted under a key derived from the keyring (never the keyring
        itself). Prints its size and SHA-256."""
        from app.backup.service import backup as run_backup

        if keep is not None and not to.is_dir():
            raise abort("--keep needs --to to be an existing directory")
        rt = runtime()
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            progress = None if quiet else stack.enter_context(_bar("backing up"))
            report = run_backup(
                rt.settings, rt.engine, rt.crypto, rt.sessions, to, keep=keep, progress=progress
            )
        elapsed = time.perf_counter() - started
        typer.echo(f"backup written to {report.path}")
        typer.echo(f"size {_human(report.size)} ({report.size} bytes) in {elapsed:.1f} s")
        typer.echo(f"sha256 {report.sha256}")
        typer.echo(
            f"{report.rows} rows in {report.tables} tables, {report.files} files"
            + (
                f" ({report.missing_files} erased during the backup)"
                if report.missing_files
                else ""
            )
        )
        for path in report.removed:
            typer.echo(f"removed the older backup {path.name}")

    @cli.command()
    def restore(
        path: Annotated[Path, typer.Argument(help="A backup made by haven backup.")],
        force: Annotated[
            bool, typer.Option(help="Replace what the database and data folder hold.")
        ] = False,
        quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    ) -> None:
        """Restore a backup into an empty database and data folder (the keyring must be in
        place: recover it with `haven keys recover`), then prove the result."""
        from app.backup.container import BackupError
        from app.backup.service import restore as run_restore
        from app.reactions import TABLE

        settings = Settings()
        if not path.is_file():
            raise abort(f"{path} is not a file")
        with contextlib.ExitStack() as stack:
            # One bar (Rich shows one live display at a time): bytes checked, then rows written.
            bar = None if quiet else stack.enter_context(_bar("restore"))
            try:
                outcome = run_restore(
                    settings,
                    path,
                    force=force,
                    check_progress=bar,
                    write_progress=bar,
                    reactions=TABLE,
                )
            except BackupError as exc:
                raise abort(f"{exc}; nothing was restored") from None
        manifest, proof = outcome.manifest, outcome.proof
        written = outcome.write_seconds
        typer.echo(
            f"the backup opened under this keyring and matched its manifest "
            f"({outcome.check_seconds:.1f} s)"
        )
        typer.echo(f"restored in {written:.1f} s from a backup of {manifest['created_at']}")
        for line in proof.lines():
            typer.echo(line)
        if not proof.ok:
            typer.echo("haven: the restored deployment did NOT pass every check", err=True)
            raise typer.Exit(1)
        typer.echo("the restored deployment passed every check")

    @keys_cli.command("escrow")
    def keys_escrow(
        out: Annotated[Path, typer.Option(help="Directory for the share files.")],
        shares: Annotated[int, typer.Option(min=2, max=255, help="How many shares.")] = 5,
        threshold: Annotated[int, typer.Option(min=2, help="How many rebuild the keyring.")] = 3,
    ) -> None:
        """Split the keyring into Shamir shares for trustees (text and QR code each)."""
        from app.backup import escrow
        from app.db import transaction
        from app.lockdown import record_step

        if threshold > shares:
            raise abort("--threshold cannot exceed --shares")
        settings = Settings()
        keyring = settings.key_file.read_bytes()
        pieces = escrow.split(keyring, shares, threshold)
        written = escrow.write_shares(pieces, out)
        with contextlib.suppress(Exception):  # escrow works without a database too
            rt = runtime(create_keyring=False)
            with transaction(rt.sessions) as session:
                record_step(
                    session,
                    None,
                    "keyring.escrow",
                    shares=shares,
                    threshold=threshold,
                    fingerprint=pieces[0].fingerprint,
                )
        typer.echo(
            f"keyring {pieces[0].fingerprint} split into {shares} shares, any {threshold} of "
            f"which rebuild it (escrow {pieces[0].escrow_id}):"
        )
        for path in written:
            typer.echo(f"  {path}")
        typer.echo(
            "print each share (text and QR code), give each to a different trustee, then "
            "delete these files"
        )

    @keys_cli.command("recover")
    def keys_recover(
        shares: Annotated[list[Path], typer.Argument(help="Share files (text).")],
    ) -> None:
        """Rebuild the keyring at HAVEN_MASTER_KEY_FILE from enough shares; nothing is written
        unless they rebuild exactly the keyring they commit to."""
        from app.backup import escrow
        from app.crypto.keyring import _write_atomic

        settings = Settings()
        try:
            parsed = [escrow.parse(p.read_text(errors="replace"), str(p)) for p in shares]
            keyring = escrow.combine(parsed)
        except escrow.EscrowError as exc:
            raise abort(f"{exc}; nothing was written") from None
        target = settings.key_file
        if target.exists():
            if hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(keyring).digest():
                typer.echo(f"the keyring at {target} is already this one")
                return
            raise abort(f"{target} exists and is another keyring; nothing was written")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomic(target, keyring, exclusive=True)
        typer.echo(
            f"keyring {escrow.fingerprint(keyring)} rebuilt from {len(parsed)} shares and "
            f"written to {target} (mode 0600)"
        )

    @cli.command("lock")
    def lock_command(
        destroy_local_keyring: Annotated[
            bool,
            typer.Option(
                "--destroy-local-keyring",
                help="Also overwrite and delete the keyring file: only escrow brings it back.",
            ),
        ] = False,
    ) -> None:
        """Lock Haven down (a raid): every process stops serving records within 2 s, every
        session and API key is revoked, supervisors are alerted."""
        from app import lockdown
        from app.db import transaction

        rt = runtime(create_keyring=False)
        with transaction(rt.sessions) as session:
            report = lockdown.lock(
                session, None, via="console", destroy_keyring=destroy_local_keyring
            )
        typer.echo(
            f"Haven is locked: {report.sessions_revoked} sessions and {report.api_keys_revoked} "
            "API keys revoked; every process refuses record routes within 2 s"
        )
        if destroy_local_keyring:
            path = rt.settings.key_file
            destroyed = lockdown.destroy_file(path)
            rt.crypto.provider.forget()
            with transaction(rt.sessions) as session:
                lockdown.record_step(session, None, "keyring.destroyed", existed=destroyed)
            typer.echo(
                f"the keyring {path} was overwritten and deleted"
                if destroyed
                else f"there was no keyring at {path}"
            )

    @cli.command("unlock")
    def unlock_command() -> None:
        """End a lock-down once the keyring is back (from escrow if it was destroyed)."""
        from app import lockdown
        from app.crypto import CryptoError
        from app.crypto.keyring import wrap_aad
        from app.db import transaction
        from app.models import RecordKey

        settings = Settings()
        if not settings.key_file.exists():
            raise abort(
                f"there is no keyring at {settings.key_file}: rebuild it from the trustees' "
                "shares with `haven keys recover SHARE...` first"
            )
        rt = runtime(create_keyring=False)
        provider = rt.crypto.provider
        with rt.sessions() as session:
            row = session.execute(
                select(RecordKey.id, RecordKey.owner_id, RecordKey.kek_version, RecordKey.wrapped)
                .where(RecordKey.wrapped.is_not(None))
                .limit(1)
            ).first()
        if row is not None:
            try:
                provider.unwrap(
                    row.kek_version, row.wrapped, wrap_aad(row.owner_id, row.id, row.kek_version)
                )
            except CryptoError:
                raise abort(
                    "this keyring does not open this database's data keys: recover the right "
                    "one with `haven keys recover`"
                ) from None
        with transaction(rt.sessions) as session:
            lockdown.unlock(session, None, via="console")
        typer.echo("Haven is unlocked: every process serves again within 2 s; staff sign in again")
