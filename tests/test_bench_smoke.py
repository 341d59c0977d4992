"""The benchmark runs end to end and reports every figure. Timings are never asserted.

One quick run of ``python -m bench`` on the engine under test (HAVEN_TEST_DATABASE): crypto,
rotation, the record figures and the load against a real ``haven serve`` and the plaintext
baseline, driven by wrk. The crypto part touches no database: it runs in the SQLite run only.
Records, load, import and backup run on 300 people, which yields every figure; wrk keeps
--quick's durations (one second per run left a stalled read run with no request under the two
runs' load).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import BACKUP_FIGURES, IMPORT_FIGURES, LOAD_FIGURES, PARTS, RECORD_FIGURES

ROOT = Path(__file__).resolve().parent.parent
ENGINE = os.environ.get("HAVEN_TEST_DATABASE", "sqlite")
PEOPLE = 300
# Engine-independent, so measured once: in the SQLite run.
CRYPTO = ENGINE == "sqlite"
RUN_PARTS = [part for part in PARTS if CRYPTO or part != "crypto"]

CRYPTO_FIGURES = {
    "field_encrypt_haven_us",
    "field_encrypt_raw_us",
    "field_encrypt_ratio",
    "field_decrypt_haven_us",
    "field_decrypt_raw_us",
    "field_decrypt_ratio",
    "blind_index_person_name_us",
    "blind_index_document_number_us",
}
FIGURES = (CRYPTO_FIGURES if CRYPTO else set()) | {f"rotation_{ENGINE}_keys_per_s"}


pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    pg_url = os.environ.get(
        "HAVEN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--engines",
            ENGINE,
            "--people",
            "2000",
            "--sizes",
            str(PEOPLE),
            "--parts",
            ",".join(RUN_PARTS),
            "--pg-url",
            pg_url,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    return result, output


def test_bench_quick_runs_and_writes_every_figure(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, output = quick_run
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert output.exists(), result.stdout + result.stderr
    report = json.loads(output.read_text())
    # A failed request under load fails the run (the next test); nothing else may.
    assert [f for f in report["failures"] if not f.startswith("requests failed under load")] == []
    expected = (
        FIGURES
        | {f"records_{ENGINE}_{PEOPLE}_{name}" for name in RECORD_FIGURES}
        | {f"load_{ENGINE}_{PEOPLE}_{name}" for name in LOAD_FIGURES}
        | {f"import_{ENGINE}_{PEOPLE}_{name}" for name in IMPORT_FIGURES}
        | {f"backup_{ENGINE}_{PEOPLE}_{name}" for name in BACKUP_FIGURES}
    )
    assert expected <= set(report["figures"])
    for name in expected:
        figure = report["figures"][name]
        assert isinstance(figure["value"], int | float), name
        assert figure["unit"], name
    rotation = report["figures"][f"rotation_{ENGINE}_keys_per_s"]["details"]
    assert rotation["people"] == rotation["rewrapped"] == 2000
    assert rotation["sampled_keys_unwrapped"] > 0
    assert {"cpu_count", "python", "cryptography"} <= report["machine"].keys()


def test_load_at_32_connections_answers_every_request(
    quick_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Every wrk run completed requests at 32 connections and none failed (no non-2xx, no
    socket error or timeout); the server's memory was read before and after the mixed load."""
    result, output = quick_run
    assert output.exists(), result.stdout + result.stderr
    report = json.loads(output.read_text())
    assert report["ok"] is True, report["failures"]
    assert result.returncode == 0
    prefix = f"load_{ENGINE}_{PEOPLE}"
    for op in ("read_haven", "read_baseline", "create_haven", "create_baseline"):
        details = report["figures"][f"{prefix}_{op}_rps"]["details"]
        assert details["connections"] == 32
        assert details["requests"] > 0, op
        assert details["errors"] == 0, (op, details["statuses"], details["socket_errors"])
    mixed = report["figures"][f"{prefix}_mixed_rps"]["details"]
    assert mixed["errors"] == 0, (mixed["statuses"], mixed["socket_errors"])
    assert set(mixed["sent"]) == {"read", "create", "search", "ack"}
    assert mixed["extra"]["rss_before_kb"] > 0
    assert mixed["extra"]["rss_after_kb"] > 0
    assert report["figures"][f"{prefix}_mixed_p99_ms"]["value"] > 0
    ratio = report["figures"][f"{prefix}_read_ratio"]["value"]
    assert ratio > 0
