"""Haven's benchmarks: field encryption against the AES-GCM floor, blind indexes, KEK rotation,
the record figures (sign-in, audit, search, create/read, revocation) and load at 32 connections
against a plaintext baseline.

Run from the project root::

    python -m bench                         # 10,000 and 100,000 people, SQLite and PostgreSQL
    python -m bench --quick --engines sqlite

Every in-process timing is the median of several repeats (the machines are shared and noisy,
see SECURITY.md §9); load figures come from ``wrk`` against a real ``haven serve``. The table
goes to the terminal and the figures to ``bench/results/latest.json``. Goals are reported, never
enforced: the run fails only when a check fails (a rotation whose keys do not unwrap under the
new version, a request that fails under load).
"""

from __future__ import annotations

from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENGINES = ("sqlite", "postgresql")

# The figure keys of the JSON report; rotation adds one per engine benchmarked.
CRYPTO_FIGURES = (
    "field_encrypt_haven_us",
    "field_encrypt_raw_us",
    "field_encrypt_ratio",
    "field_decrypt_haven_us",
    "field_decrypt_raw_us",
    "field_decrypt_ratio",
    "blind_index_person_name_us",
    "blind_index_document_number_us",
)


def rotation_figure(engine: str) -> str:
    return f"rotation_{engine}_keys_per_s"


PARTS = ("crypto", "rotation", "records", "load", "backup", "import")

# From bench.records.run, reported per engine and size as records_<engine>_<people>_<name>.
RECORD_FIGURES = (
    "login_median_ms",
    "search_by_document_median_ms",
    "search_by_document_next_median_ms",
    "search_by_decrypting_all_ms",
    "create_person_per_s",
    "read_person_per_s",
    "revocation_1000_s",
    "audit_append_per_s",
    "audit_verify_per_s",
)

# From bench.load, per engine and size as load_<engine>_<people>_<name>.
LOAD_FIGURES = (
    "read_haven_rps",
    "read_baseline_rps",
    "read_ratio",
    "create_haven_rps",
    "create_baseline_rps",
    "create_ratio",
    "mixed_rps",
    "mixed_p99_ms",
    "mixed_rss_mb",
)


# From bench.backup.run, per engine and size as backup_<engine>_<people>_<name>.
BACKUP_FIGURES = (
    "backup_s",
    "backup_mb",
    "restore_s",
    "restore_check_s",
    "restore_write_s",
    "restore_prove_s",
)


def backup_figure(engine: str, people: int, name: str) -> str:
    return f"backup_{engine}_{people}_{name}"


# From bench.imports.figures (spreadsheet import), per engine and size as
# import_<engine>_<people>_<name>.
IMPORT_FIGURES = ("people_per_s", "total_s")


def records_figure(engine: str, people: int, name: str) -> str:
    return f"records_{engine}_{people}_{name}"


def load_figure(engine: str, people: int, name: str) -> str:
    return f"load_{engine}_{people}_{name}"


def figure_keys(
    engines: tuple[str, ...],
    sizes: tuple[int, ...] = (),
    parts: tuple[str, ...] = ("crypto", "rotation"),
) -> tuple[str, ...]:
    keys: list[str] = []
    if "crypto" in parts:
        keys += CRYPTO_FIGURES
    if "rotation" in parts:
        keys += [rotation_figure(engine) for engine in engines]
    for engine in engines:
        for people in sizes:
            if "records" in parts:
                keys += [records_figure(engine, people, name) for name in RECORD_FIGURES]
            if "load" in parts:
                keys += [load_figure(engine, people, name) for name in LOAD_FIGURES]
            if "import" in parts:
                keys += [f"import_{engine}_{people}_{name}" for name in IMPORT_FIGURES]
            if "backup" in parts:
                keys += [backup_figure(engine, people, name) for name in BACKUP_FIGURES]
    return tuple(keys)
