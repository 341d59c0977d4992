"""``python -m bench``: run the benchmarks, print a table, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import ENGINES, RESULTS_DIR, figure_keys, rotation_figure
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
        help="comma-separated database engines for the rotation (default: sqlite,postgresql)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10,000 people and fewer repeats (CI smoke)"
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
    if args.people is None:
        args.people = 10_000 if args.quick else 100_000
    if args.people < 1:
        parser.error("--people must be at least 1")
    return args


def format_value(figure: Figure) -> str:
    if figure.value is None:
        return "—"
    if figure.unit == "keys/s":
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 110))
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
        f"loops: {loops.repeat} x {loops.number:,} calls per figure; rotation of "
        f"{args.people:,} keys on {', '.join(args.engines) or 'no engine'}"
    )

    from bench.crypto import blind_index_figures, field_figures
    from bench.rotation import run_rotation

    figures: list[Figure] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with console.status("field encryption…"):
            figures += field_figures(tmp, loops)
        with console.status("blind indexes…"):
            figures += blind_index_figures(loops)
        for engine in args.engines:
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
                    failures.append(f"{engine}: {exc}")
                    console.print(f"[bold red]rotation on {engine} failed[/]")
                    console.print(traceback.format_exc(), markup=False)
                    figures.append(
                        Figure(
                            rotation_figure(engine),
                            f"rotation: {engine}, {args.people:,} keys",
                            None,
                            "keys/s",
                            goal="≥ 20,000/s",
                            verdict=f"FAILED: {type(exc).__name__}",
                            ok=False,
                            details={"error": str(exc)},
                        )
                    )

    render(console, info, figures)
    for figure in figures:
        profile = figure.details.get("profile")
        if profile:
            console.print(f"[bold]cProfile of a second rotation, {figure.label}[/]")
            console.print(profile["top_tottime"], markup=False, highlight=False)

    by_key = {figure.key: figure for figure in figures}
    missing = [key for key in figure_keys(args.engines) if key not in by_key]
    if missing:
        failures.append(f"missing figures: {missing}")
    result = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)],
        "machine": info,
        "options": {
            "people": args.people,
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
