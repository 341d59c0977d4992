"""Haven's benchmarks: field encryption against the AES-GCM floor, blind indexes, KEK rotation.

Run from the project root::

    python -m bench                         # 100,000 people on SQLite and PostgreSQL
    python -m bench --quick --engines sqlite

Every timing is the median of several repeats (the machines are shared and noisy, see
SECURITY.md §9). The table goes to the terminal and the figures to ``bench/results/latest.json``.
Goals are reported, never enforced: the run fails only when a check fails (for instance a
rotation whose keys do not unwrap under the new version).
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


def figure_keys(engines: tuple[str, ...]) -> tuple[str, ...]:
    return CRYPTO_FIGURES + tuple(rotation_figure(engine) for engine in engines)
