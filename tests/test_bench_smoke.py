"""The benchmark runs end to end and reports every figure. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIGURES = {
    "field_encrypt_haven_us",
    "field_encrypt_raw_us",
    "field_encrypt_ratio",
    "field_decrypt_haven_us",
    "field_decrypt_raw_us",
    "field_decrypt_ratio",
    "blind_index_person_name_us",
    "blind_index_document_number_us",
    "rotation_sqlite_keys_per_s",
}


def test_bench_quick_runs_and_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--engines",
            "sqlite",
            "--people",
            "2000",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads(output.read_text())
    assert report["ok"] is True
    assert set(report["figures"]) == FIGURES
    for name, figure in report["figures"].items():
        assert isinstance(figure["value"], int | float), name
        assert figure["unit"], name
    rotation = report["figures"]["rotation_sqlite_keys_per_s"]["details"]
    assert rotation["people"] == rotation["rewrapped"] == 2000
    assert rotation["sampled_keys_unwrapped"] > 0
    assert {"cpu_count", "python", "cryptography"} <= report["machine"].keys()
