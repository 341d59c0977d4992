"""The `haven` command: argument parsing only; the work is done by the services."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import logs
from app.auth import cli as users_commands
from app.auth import passkey_cli as passkey_commands
from app.backup.cli import register as register_backup
from app.cases.cli import register as register_exports
from app.config import Settings
from app.crypto import Crypto, CryptoError
from app.errors import HavenError
from app.imports.cli import register as register_imports

cli = typer.Typer(
    help="Haven: secure case management for people at risk of refoulement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
users_cli = typer.Typer(help="Staff accounts.", no_args_is_help=True)
keys_cli = typer.Typer(help="Encryption keys.", no_args_is_help=True)
audit_cli = typer.Typer(help="The audit trail.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(audit_cli, name="audit")


def _version(shown: bool) -> None:
    if shown:
        from app import __version__

        typer.echo(f"haven {__version__}")
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Haven: secure case management for people at risk of refoulement."""


class Abort(Exception):
    """A one-line error for the operator."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    crypto: Crypto
    sessions: sessionmaker[Session]


def _runtime(*, upgrade: bool = False, create_keyring: bool = True) -> Runtime:
    # Imported in the commands that use them (alembic, the app): `haven --help` and the
    # commands that need no database start faster.
    from app import events, migrate
    from app.db import make_engine, make_sessionmaker
    from app.reactions import TABLE
    from app.startup import prepare

    settings = Settings()
    logs.configure(json_logs=settings.json_logs, level="WARNING")
    crypto = prepare(settings, create_keyring=create_keyring)
    engine = make_engine(settings)
    if upgrade:
        migrate.upgrade(engine)
    elif not migrate.at_head(engine):
        raise Abort("the database schema is not up to date: run `haven db upgrade` first")
    sessions = events.attach(make_sessionmaker(engine, crypto, settings), TABLE)
    return Runtime(settings, engine, crypto, sessions)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API processes.")] = 1,
) -> None:
    """Run the API, the web client and the alert engine in one process."""
    import uvicorn

    from app import migrate
    from app.cases import attachments
    from app.db import make_engine
    from app.startup import prepare

    settings = Settings()
    logs.configure(json_logs=settings.json_logs, level=settings.log_level)
    had_keyring = settings.key_file.exists()
    prepare(settings)
    engine = make_engine(settings)
    if settings.auto_migrate:
        migrate.upgrade(engine)
    elif not migrate.at_head(engine):
        raise Abort("the database schema is not up to date: run `haven db upgrade`")
    attachments.sweep(engine, settings.data_dir)  # files a killed process left without a row
    first_user = no_users(engine)
    engine.dispose()
    typer.echo(f"Haven listening on http://{host}:{port}/ ({settings.env})", err=True)
    if not had_keyring and settings.key_file.exists():
        typer.echo(
            f"created a development keyring at {settings.key_file}: it holds the keys to every "
            "record; keep an offline copy (production needs `haven keys init`)",
            err=True,
        )
    if first_user:
        typer.echo(
            "no user yet: create the first administrator in another terminal with\n"
            "  haven users create --username admin --role admin --password-stdin\n"
            f"then sign in at http://{host}:{port}/login (or try `haven demo`)",
            err=True,
        )
    uvicorn.run(
        "app.main:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
        # X-Forwarded-For is read by Haven itself, only from HAVEN_TRUSTED_PROXIES (app/ops.py):
        # uvicorn's own reading would trust it from 127.0.0.1.
        proxy_headers=False,
    )


def no_users(engine: Engine) -> bool:
    from sqlalchemy import func, select

    from app.models.user import User

    with engine.connect() as connection:
        return not connection.scalar(select(func.count()).select_from(User))


@cli.command()
def worker(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between engine ticks [default: HAVEN_ENGINE_INTERVAL_SECONDS]."),
    ] = None,
    lease: Annotated[
        float, typer.Option(min=1.0, help="Seconds a claimed message stays this worker's.")
    ] = 60.0,
) -> None:
    """Run only the alert engine and notification delivery."""
    from app.engine import Engine as AlertEngine

    runtime = _runtime()
    stop = threading.Event()
    engine = AlertEngine(runtime.sessions, runtime.settings, lease_seconds=lease)

    def _stop(signum: int, _frame: object) -> None:
        stop.set()
        engine.wake()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo("haven worker started", err=True)
    engine.run(stop, interval if interval is not None else runtime.settings.engine_interval_seconds)
    engine.close()
    runtime.engine.dispose()
    typer.echo("haven worker stopped", err=True)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app import migrate
    from app.db import make_engine

    settings = Settings()
    engine = make_engine(settings)
    migrate.upgrade(engine)
    typer.echo(f"database at {', '.join(sorted(migrate.current_revisions(engine)))}")


@users_cli.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help="admin, supervisor, caseworker, lawyer, …")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    organisation: Annotated[
        str | None, typer.Option(help="Organisation name or id; a new name creates it.")
    ] = None,
    deployment_auditor: Annotated[
        bool,
        typer.Option(
            "--deployment-auditor",
            help="An auditor who reads every organisation's audit trail, not only its own "
            "(audited).",
        ),
    ] = False,
) -> None:
    """Create a user and print its id."""
    from app import organisations
    from app.audit.service import grant_deployment_audit
    from app.auth.users import create_user
    from app.db import transaction

    if not password_stdin:
        raise Abort("give the password on standard input with --password-stdin")
    if deployment_auditor and role != "auditor":
        raise Abort("--deployment-auditor is for the auditor role only")
    password = sys.stdin.readline().rstrip("\r\n")
    runtime = _runtime()
    with transaction(runtime.sessions) as session:
        org, created = organisations.resolve(session, organisation, create=True)
        if created:
            typer.echo(f"created organisation {org.name} ({org.id})", err=True)
        user = create_user(
            session, username=username, role=role, password=password, organisation=org
        )
        user_id = user.id
        if deployment_auditor:
            grant_deployment_audit(session, user_id)
            typer.echo("this auditor reads every organisation's audit trail", err=True)
    typer.echo(str(user_id))


@keys_cli.command("init")
def keys_init(
    passphrase_stdin: Annotated[
        bool,
        typer.Option("--passphrase-stdin", help="Seal the keyring under a passphrase."),
    ] = False,
    development: Annotated[
        bool, typer.Option(help="Mark it a development keyring (refused in production).")
    ] = False,
) -> None:
    """Create a new keyring at HAVEN_MASTER_KEY_FILE (mode 0600)."""
    from app.crypto.keyring import FileKeyProvider

    settings = Settings()
    passphrase = sys.stdin.readline().rstrip("\r\n") if passphrase_stdin else None
    if passphrase_stdin and len(passphrase or "") < 12:
        raise Abort("a keyring passphrase needs at least 12 characters")
    path: Path = settings.key_file
    FileKeyProvider.create(path, development=development, passphrase=passphrase)
    kind = "development" if development else "production"
    typer.echo(f"created a {kind} keyring at {path}; keep an offline copy of it")


@keys_cli.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, help="Keys per transaction.")] = 5000,
) -> None:
    """Make a new key-encryption key current and re-wrap every data key (resumable)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from app.crypto.rotation import rotate

    runtime = _runtime()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("re-wrapping data keys", total=None)

        def start(version: int, total: int, resumed: bool) -> None:
            verb = "resuming rotation to" if resumed else "rotating to"
            progress.update(task, total=total, description=f"{verb} KEK v{version}")

        report = rotate(
            runtime.sessions,
            runtime.crypto.provider,
            batch_size=batch_size,
            start=start,
            advance=lambda n: progress.advance(task, n),
        )
    typer.echo(
        f"KEK version {report.version} is current; {report.rewrapped} data keys re-wrapped"
        + (" (resumed)" if report.resumed else "")
    )
    typer.echo(
        "the keyring changed: escrow it again (`haven keys escrow`) and destroy the old shares",
        err=True,
    )


@audit_cli.command("verify")
def audit_verify(
    witness: Annotated[
        str | None,
        typer.Option(
            help="A witness directory, or a .jsonl copy of the heads an https witness received "
            "(default: HAVEN_AUDIT_WITNESS when it is a directory)."
        ),
    ] = None,
) -> None:
    """Check the whole audit chain; exit 1 naming the first bad entry."""
    from app.audit.verify import verify_all
    from app.db import read_only

    runtime = _runtime()
    if witness is not None and not Path(witness).is_absolute():
        witness = str(Path(witness).absolute())
    with runtime.sessions() as session:
        read_only(session)
        result = verify_all(
            session,
            runtime.crypto.provider,
            runtime.settings.data_dir,
            witness=witness or runtime.settings.audit_witness,
        )
    typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(1)


# `haven import people|incidents` and `haven export people` (app/imports/cli.py).
register_imports(cli, _runtime, Abort)
# `haven keys init-signing` and `haven verify-export FILE` (app/cases/cli.py).
register_exports(cli, keys_cli, _runtime)
# `haven backup|restore|lock|unlock` and `haven keys escrow|recover` (app/backup/cli.py).
register_backup(cli, keys_cli, _runtime, Abort)


@cli.command()
def demo(
    people: Annotated[int, typer.Option(min=0, help="Also add N synthetic people.")] = 0,
) -> None:
    """Load the fictional demonstration data set into the configured database."""
    from app.demo import load

    if Settings().production:
        raise Abort("haven demo loads invented people and is refused in production")
    runtime = _runtime(upgrade=True)
    load(runtime.sessions, runtime.settings, people=people)


def _sessions() -> sessionmaker[Session]:
    return _runtime().sessions


users_commands.register(users_cli, _sessions)  # list, disable, enable, unlock, reset-…
passkey_commands.register(users_cli, _sessions)  # reset-passkeys


def main() -> None:
    try:
        code = cli(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (Abort, HavenError, CryptoError) as exc:
        typer.echo(f"haven: {exc}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        typer.echo(
            f"haven: database error ({type(exc).__name__}); is the database reachable?", err=True
        )
        sys.exit(1)
    except OSError as exc:
        typer.echo(f"haven: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("haven: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Typer's own usage errors (unknown command, missing option) know how to print.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
