"""``haven import people|incidents FILE`` and ``haven export people``: argument parsing, the
sign-in of the supervisor the work is done as, a progress bar and the summary.

Registered from ``app.cli`` with ``register(cli, runtime)``: the runtime (settings, sessions
with the table of reactions attached) is built there, so this module needs neither.
"""

from __future__ import annotations

import csv
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from app.actor import Actor
from app.auth import service as auth
from app.db import transaction
from app.errors import NotAuthenticated
from app.imports import incidents, service
from app.imports.mapping import INCIDENT_COLUMNS, PEOPLE_COLUMNS, Mapping, MappingError
from app.imports.reading import ReadError, read_path
from app.organisations import resolve


class Runtime(Protocol):
    @property
    def sessions(self) -> sessionmaker[Session]: ...


class Refused(Exception):
    """A one-line error for the operator (app.cli prints it as ``haven: …``)."""


import_cli = typer.Typer(
    help="Move records in from a spreadsheet (CSV or XLSX).", no_args_is_help=True
)
export_cli = typer.Typer(help="Take an organisation's records out (XLSX).", no_args_is_help=True)


_runtime_factory: Callable[[], Runtime] | None = None
_abort_kind: type[Exception] = Refused


def register(cli: typer.Typer, runtime: Callable[[], Runtime], abort: type[Exception]) -> None:
    """Add ``haven import`` and ``haven export`` to the command; ``runtime`` opens the
    database, ``abort`` is the command's one-line error."""
    global _runtime_factory, _abort_kind
    _runtime_factory, _abort_kind = runtime, abort
    cli.add_typer(import_cli, name="import")
    cli.add_typer(export_cli, name="export")


def _runtime() -> Runtime:
    if _runtime_factory is None:
        raise Refused("the import commands were not registered")
    return _runtime_factory()


def _abort(message: str) -> Exception:
    return _abort_kind(message)


class RateColumn(ProgressColumn):
    """Rows per second (Rich's speed columns count bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")


class Bar(service.Progress):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: object | None = None

    def start(self, phase: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)  # type: ignore[arg-type]
        self.task = self.progress.add_task(phase, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)  # type: ignore[arg-type]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description:<15}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def sign_in(
    sessions: sessionmaker[Session], username: str, organisation: str | None, password_stdin: bool
) -> Actor:
    """The supervisor the work is done as: their password (and code) asked here, every time."""
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if password_stdin
        else getpass.getpass(f"password for {username}: ")
    )
    code: str | None = None
    for _ in range(2):
        try:
            with transaction(sessions) as session:
                issued = auth.login(
                    session, username=username, password=password, code=code, channel="cli"
                )
                actor = auth.authenticate_token(session, issued.token)
                if organisation is not None:
                    org, _ = resolve(session, organisation, create=False)
                    if org.id != actor.organisation_id:
                        raise _abort(f"{username} is not a member of that organisation")
            break
        except NotAuthenticated as exc:
            if not exc.extra.get("mfa_required") or code is not None or password_stdin:
                raise _abort(str(exc)) from None
            code = typer.prompt("two-factor code", hide_input=True)
    service.check_supervisor(actor)
    return actor


def sign_out(sessions: sessionmaker[Session], actor: Actor) -> None:
    with transaction(sessions) as session:
        auth.logout(session, actor)


def _mapping(path: Path | None, known: tuple[str, ...]) -> Mapping:
    if path is None:
        return Mapping()
    try:
        return Mapping.from_toml(path.read_text(encoding="utf-8"), known)
    except MappingError as exc:
        raise _abort(f"{path}: {exc}") from None


def _inert(value: object) -> object:
    """A header from the file opened in a spreadsheet: never a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_report(report: service.ImportReport, path: Path) -> None:
    """Every row's outcome and every problem, by row and column (never a cell's value)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "row",
                "status",
                "column",
                "problem",
                "record_id",
                "possible_duplicates",
                "same_as_rows",
            ]
        )
        for o in report.outcomes:
            record = o.individual_id or o.incident_id
            common = [
                str(record) if record else "",
                " ".join(str(d) for d in o.possible_duplicates),
                " ".join(str(r) for r in o.duplicate_rows),
            ]
            if not o.problems and not o.warnings:
                writer.writerow([o.row, o.status, "", "", *common])
            for p in o.problems:
                writer.writerow([o.row, o.status, _inert(p.column), p.message, *common])
            for p in o.warnings:
                writer.writerow(
                    [o.row, o.status, _inert(p.column), f"warning: {p.message}", *common]
                )


def _print_report(console: Console, report: service.ImportReport, limit: int = 50) -> None:
    if report.unused_columns:
        console.print(
            f"[yellow]columns not read[/]: {', '.join(report.unused_columns)} "
            "(name them in the mapping's [columns] if they hold a field)"
        )
    shown = 0
    for o in report.outcomes:
        for p in o.problems:
            if shown < limit:
                console.print(f"row {p.row}, {p.column}: {p.message}", markup=False)
            shown += 1
        if o.possible_duplicates or o.duplicate_rows:
            if shown < limit:
                who = [str(d) for d in o.possible_duplicates] + [
                    f"row {r}" for r in o.duplicate_rows
                ]
                console.print(
                    f"row {o.row}: possible duplicate of {', '.join(who)} ({o.status})",
                    markup=False,
                )
            shown += 1
    if shown > limit:
        console.print(f"… and {shown - limit} more (see --report)")
    console.print(report.summary() + f" in {report.seconds:.1f} s")


User = Annotated[str, typer.Option("--user", help="The supervisor the import is done as.")]
Org = Annotated[
    str | None, typer.Option(help="Organisation name or id (must be the supervisor's).")
]
MapOpt = Annotated[
    Path | None, typer.Option("--mapping", help="A TOML mapping of columns, dates and values.")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")
]
Skip = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Import the valid rows and report the others."),
]
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write every row's outcome to this CSV file.")
]
Stdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _run(
    kind: str,
    file: Path,
    user: str,
    organisation: str | None,
    mapping_file: Path | None,
    dry_run: bool,
    skip_invalid: bool,
    report_file: Path | None,
    password_stdin: bool,
) -> None:
    known = PEOPLE_COLUMNS if kind == "people" else INCIDENT_COLUMNS
    mapping = _mapping(mapping_file, known)
    try:
        sheet = read_path(file)
    except ReadError as exc:
        raise _abort(f"{file}: {exc}") from None
    runtime = _runtime()
    actor = sign_in(runtime.sessions, user, organisation, password_stdin)
    console = Console(stderr=True)
    run = service.import_people if kind == "people" else incidents.import_incidents
    report: service.ImportReport | None = None
    try:
        with _progress(console) as progress, transaction(runtime.sessions) as session:
            report = run(
                session,
                actor,
                sheet,
                mapping,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                progress=Bar(progress),
            )
    except service.ImportFailed as exc:
        report = exc.report
        console.print(f"[bold red]import stopped[/]: {exc}; every row was rolled back")
        report.written = False
    except MappingError as exc:
        raise _abort(str(exc)) from None
    finally:
        sign_out(runtime.sessions, actor)
    if report_file is not None:
        write_report(report, report_file)
    _print_report(console, report)
    if report.problems and not (skip_invalid and report.written):
        raise typer.Exit(1)


@import_cli.command("people")
def import_people(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file.")],
    user: User,
    organisation: Org = None,
    mapping: MapOpt = None,
    dry_run: DryRun = False,
    skip_invalid: Skip = False,
    report: ReportOpt = None,
    password_stdin: Stdin = False,
) -> None:
    """One row per person, with their documents, UNHCR status and nationalities."""
    _run("people", file, user, organisation, mapping, dry_run, skip_invalid, report, password_stdin)


@import_cli.command("incidents")
def import_incidents(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file.")],
    user: User,
    organisation: Org = None,
    mapping: MapOpt = None,
    dry_run: DryRun = False,
    skip_invalid: Skip = False,
    report: ReportOpt = None,
    password_stdin: Stdin = False,
) -> None:
    """One row per incident, naming its people by the references a people import stored."""
    _run(
        "incidents",
        file,
        user,
        organisation,
        mapping,
        dry_run,
        skip_invalid,
        report,
        password_stdin,
    )


@export_cli.command("people")
def export_people(
    to: Annotated[Path, typer.Option("--to", help="The XLSX file to write.")],
    user: User,
    organisation: Org = None,
    password_stdin: Stdin = False,
) -> None:
    """Every person of the organisation, in the columns an import reads (leaving Haven)."""
    # Imported here: openpyxl's writer costs every other `haven` command ~0.1 s at start.
    from app.imports import export

    if to.exists():
        raise _abort(f"{to} exists already; choose a new file")
    runtime = _runtime()
    actor = sign_in(runtime.sessions, user, organisation, password_stdin)
    try:
        with transaction(runtime.sessions) as session:
            count = export.export_people(session, actor, to)
    finally:
        sign_out(runtime.sessions, actor)
    typer.echo(
        f"wrote {count} people to {to}: this file is NOT encrypted; keep it safe and delete it "
        "when done",
        err=True,
    )
