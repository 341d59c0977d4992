"""``python -m bench``: run every benchmark, print one table, write bench/results/latest.json.

Parts: field encryption and blind indexes (crypto), KEK rotation (rotation), the record figures
of ``bench.records`` per engine and size (records), spreadsheet import throughput of
``bench.imports`` per engine and size (import), and ``wrk`` at 32 connections against a real
``haven serve`` beside the plaintext baseline, with a mixed load (load).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import (
    ENGINES,
    PARTS,
    RESULTS_DIR,
    backup_figure,
    figure_keys,
    records_figure,
    rotation_figure,
)
from bench.common import Figure, Loops, machine

FULL_LOOPS = Loops(repeat=7, number=20_000)
QUICK_LOOPS = Loops(repeat=3, number=5_000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--people", type=int, help="data keys to rotate (default 100,000; 10,000 with --quick)"
    )
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated database engines (default: sqlite,postgresql)",
    )
    parser.add_argument(
        "--sizes",
        help="comma-separated numbers of people for the record and load figures "
        "(default 10000,100000; 1000 with --quick)",
    )
    parser.add_argument(
        "--million", action="store_true", help="add 1,000,000 people to the sizes (slow)"
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (default: {','.join(PARTS)})",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per wrk run of reads or creations (default 20)"
    )
    parser.add_argument(
        "--mixed-duration", type=float, help="seconds of the mixed load (default 60)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: 10,000 keys to rotate, 1,000 people, fewer repeats, 3-5 s of load",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "HAVEN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL server to create the throwaway database on (HAVEN_BENCH_PG_URL)",
    )
    parser.add_argument("--batch-size", type=int, help="rotation batch size (default: rotate's)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="rotate once more under cProfile after the timed run (results/rotation-*.pstats)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "latest.json", help="where the JSON goes"
    )
    args = parser.parse_args(argv)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    args.engines = engines
    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    if set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(set(parts) - set(PARTS)))}")
    args.parts = parts
    try:
        sizes = [
            int(n) for n in (args.sizes or ("1000" if args.quick else "10000,100000")).split(",")
        ]
    except ValueError:
        parser.error("--sizes takes comma-separated whole numbers")
    if args.million:
        sizes.append(1_000_000)
    if any(n < 1 for n in sizes):
        parser.error("every size must be at least 1")
    args.sizes = tuple(dict.fromkeys(sizes))
    if args.duration is None:
        args.duration = 3.0 if args.quick else 20.0
    if args.mixed_duration is None:
        args.mixed_duration = 5.0 if args.quick else 60.0
    if args.people is None:
        args.people = 10_000 if args.quick else 100_000
    if args.people < 1:
        parser.error("--people must be at least 1")
    return args


def format_value(figure: Figure) -> str:
    if figure.value is None:
        return "—"
    if figure.unit in ("keys/s", "/s", "req/s") and figure.value >= 100:
        return f"{figure.value:,.0f}"
    return f"{figure.value:.2f}"


def render(console: Console, info: dict[str, Any], figures: list[Figure]) -> None:
    table = Table(title="Haven benchmarks (medians)", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("goal")
    table.add_column("ratio/verdict")
    for figure in figures:
        style = {True: "green", False: "bold red", None: ""}[figure.ok]
        table.add_row(
            figure.label,
            format_value(figure),
            figure.unit,
            figure.goal,
            f"[{style}]{figure.verdict}[/]" if style else figure.verdict,
        )
    console.print(table)


RECORD_UNITS = (("_per_s", "/s"), ("_ms", "ms"), ("_s", "s"), ("_speedup", "x"))


def record_figures(
    engine: str, people: int, tmp: Path, args: argparse.Namespace, failed: Any
) -> list[Figure]:
    """``bench.records.run`` on a fresh database, each number of its report a figure."""
    from bench import records

    try:
        report = records.run(engine, people, tmp / f"records-{people}", args.pg_url)
    except Exception as exc:
        failed(
            records_figure(engine, people, "run"),
            f"records: {engine}, {people:,} people",
            "",
            exc,
            f"record figures on {engine}, {people:,} people",
        )
        return []
    out = []
    for name, value in report.items():
        if name in ("engine", "people") or isinstance(value, bool):
            continue
        if not isinstance(value, int | float):
            continue
        unit = next((u for suffix, u in RECORD_UNITS if name.endswith(suffix)), "")
        goal, met = records.goal_of(name, engine, people, float(value))
        out.append(
            Figure(
                records_figure(engine, people, name),
                f"{name.replace('_', ' ')}: {engine}, {people:,} people",
                float(value),
                unit,
                goal=goal,
                verdict="" if met is None else ("met" if met else "NOT MET"),
                ok=met,
            )
        )
    return out


def backup_figures(
    engine: str, people: int, tmp: Path, args: argparse.Namespace, failed: Any
) -> list[Figure]:
    """``bench.backup.run``: haven backup and haven restore, timed and sized (bench/backup.py)."""
    from bench import backup

    try:
        report = backup.run(engine, people, tmp / f"backup-{people}", args.pg_url)
    except Exception as exc:
        failed(
            backup_figure(engine, people, "run"),
            f"backup: {engine}, {people:,} people",
            "",
            exc,
            f"backup and restore on {engine}, {people:,} people",
        )
        return []
    units = (("_mb", "MiB"), ("_s", "s"), ("_rows", "rows"))
    return [
        Figure(
            backup_figure(engine, people, name),
            f"{name.replace('_', ' ')}: {engine}, {people:,} people",
            float(value),
            next((u for suffix, u in units if name.endswith(suffix)), ""),
        )
        for name, value in report.items()
        if name not in ("engine", "people") and isinstance(value, int | float)
    ]


def import_figures(
    engine: str, people: int, tmp: Path, args: argparse.Namespace, failed: Any
) -> list[Figure]:
    """``bench.imports.figures``: ``haven import people`` of N people, one passport each."""
    from bench import imports

    try:
        return imports.figures(engine, people, tmp, args.pg_url)
    except Exception as exc:
        failed(
            imports.figure_key(engine, people, "run"),
            f"import: {engine}, {people:,} people",
            "",
            exc,
            f"spreadsheet import on {engine}, {people:,} people",
        )
        return []


def load_figures(
    engine: str,
    people: int,
    tmp: Path,
    args: argparse.Namespace,
    failed: Any,
    failures: list[str],
) -> list[Figure]:
    """wrk against ``haven serve`` and the plaintext baseline; a failed request fails the run."""
    from bench import load

    try:
        result = load.run(
            engine,
            people,
            tmp / f"load-{people}",
            args.pg_url,
            load.Durations(
                load=args.duration, mixed=args.mixed_duration, warmup=1.0 if args.quick else 3.0
            ),
        )
    except Exception as exc:
        failed(
            f"load_{engine}_{people}_run",
            f"load: {engine}, {people:,} people",
            "",
            exc,
            f"load on {engine}, {people:,} people",
        )
        return []
    for run in load.wrk_runs(result):
        if not run.ok:
            failures.append(
                f"requests failed under load: {run.mode} on {run.server}, {engine}, "
                f"{people:,} people: "
                f"{run.requests} requests, {run.non2xx} non-2xx, "
                f"socket errors {run.socket_errors}, statuses {run.statuses}"
            )
    return load.figures(result)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A TERM unwinds like an interrupt: servers stopped, throwaway databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=max(Console().width, 150))
    loops = QUICK_LOOPS if args.quick else FULL_LOOPS
    info = machine()
    console.print(
        f"[bold]machine[/]: {info['cpu_count']} CPUs ({info['cpu_model']}; "
        f"{' '.join(info['cpu_flags']) or 'no AES flags seen'}), "
        f"Python {info['python']}, cryptography {info['cryptography']} "
        f"({info['openssl']}), SQLAlchemy {info['sqlalchemy']}, SQLite {info['sqlite']}, "
        f"load {info['load_average']}"
    )
    console.print(
        f"parts: {', '.join(args.parts)}; loops: {loops.repeat} x {loops.number:,} calls per "
        f"figure; rotation of {args.people:,} keys; records and load at "
        f"{', '.join(f'{n:,}' for n in args.sizes)} people; wrk {args.duration:g} s "
        f"(mixed {args.mixed_duration:g} s) at 32 connections; on "
        f"{', '.join(args.engines) or 'no engine'}"
    )

    from bench.crypto import blind_index_figures, field_figures
    from bench.rotation import run_rotation

    figures: list[Figure] = []
    failures: list[str] = []

    def failed(key: str, label: str, unit: str, exc: Exception, what: str) -> None:
        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        console.print(f"[bold red]{what} failed[/]")
        console.print(traceback.format_exc(), markup=False)
        figures.append(
            Figure(
                key,
                label,
                None,
                unit,
                verdict=f"FAILED: {type(exc).__name__}",
                ok=False,
                details={"error": str(exc)},
            )
        )

    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if "crypto" in args.parts:
            with console.status("field encryption…"):
                figures += field_figures(tmp, loops)
            with console.status("blind indexes…"):
                figures += blind_index_figures(loops)
        for engine in args.engines if "rotation" in args.parts else ():
            with console.status(f"rotation on {engine} ({args.people:,} keys)…"):
                try:
                    figures.append(
                        run_rotation(
                            engine,
                            args.people,
                            tmp,
                            args.pg_url,
                            batch_size=args.batch_size,
                            profile_to=RESULTS_DIR / f"rotation-{engine}.pstats"
                            if args.profile
                            else None,
                        )
                    )
                except Exception as exc:  # reported in the table and the JSON, then exit 1
                    failed(
                        rotation_figure(engine),
                        f"rotation: {engine}, {args.people:,} keys",
                        "keys/s",
                        exc,
                        f"rotation on {engine}",
                    )
        for engine in args.engines:
            for people in args.sizes:
                if "records" in args.parts:
                    with console.status(f"record figures on {engine}, {people:,} people…"):
                        figures += record_figures(engine, people, tmp, args, failed)
                if "load" in args.parts:
                    with console.status(f"load on {engine}, {people:,} people…"):
                        figures += load_figures(engine, people, tmp, args, failed, failures)
                if "import" in args.parts:
                    with console.status(f"spreadsheet import on {engine}, {people:,} people…"):
                        figures += import_figures(engine, people, tmp, args, failed)
                if "backup" in args.parts:
                    with console.status(f"backup and restore on {engine}, {people:,} people…"):
                        figures += backup_figures(engine, people, tmp, args, failed)

    render(console, info, figures)
    for figure in figures:
        profile = figure.details.get("profile")
        if profile:
            console.print(f"[bold]cProfile of a second rotation, {figure.label}[/]")
            console.print(profile["top_tottime"], markup=False, highlight=False)

    by_key = {figure.key: figure for figure in figures}
    missing = [
        key for key in figure_keys(args.engines, args.sizes, args.parts) if key not in by_key
    ]
    if missing:
        failures.append(f"missing figures: {missing}")
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)],
        "machine": info,
        "options": {
            "people": args.people,
            "sizes": list(args.sizes),
            "parts": list(args.parts),
            "load_seconds": args.duration,
            "mixed_load_seconds": args.mixed_duration,
            "engines": list(args.engines),
            "quick": args.quick,
            "batch_size": args.batch_size,
            "loops": {"repeat": loops.repeat, "number": loops.number},
        },
        "ok": not failures,
        "failures": failures,
        "figures": {figure.key: figure.as_json() for figure in figures},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.output}")
    if failures:
        console.print("[bold red]failed:[/] " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
