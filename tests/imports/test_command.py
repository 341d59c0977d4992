"""`haven import` and `haven export`, run as the operator runs them, on the sample files of
docs/import, against a database of their own (the rest of the behaviour is tested on the
service, in process: each run of the command costs a process start)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from app.models.audit import AuditEntry
from app.models.incident import Incident
from app.models.individual import Individual
from tests.conftest import database_url
from tests.imports.support import csv_bytes, person
from tests.test_cli import Deployment

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "import"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("import-cli")
    with database_url(root) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
        env.update(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(root / "data"),
            HAVEN_MASTER_KEY_FILE=str(root / "keys" / "master.key"),
            HAVEN_LOG_FORMAT="text",
            HAVEN_ENV="development",
            HAVEN_PASSWORD_MEMORY_KIB="1024",
            HAVEN_PASSWORD_ROUNDS="1",
        )
        deployment = Deployment(root, env)
        assert deployment.run("db", "upgrade").code == 0
        for name, role in (("sup-import", "supervisor"), ("cw-import", "caseworker")):
            made = deployment.run(
                "users", "create", "--username", name, "--role", role,
                "--organisation", "Import test", "--password-stdin",
                stdin=PASSWORD + "\n",
            )  # fmt: skip
            assert made.code == 0, made.stderr
        yield deployment


def _count(deployment: Deployment, model: type, **where: str) -> int:
    engine = create_engine(deployment.env["HAVEN_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def _import(deployment: Deployment, *args: str, user: str = "sup-import") -> tuple[int, str]:
    result = deployment.run(
        "import", *args, "--user", user, "--password-stdin", stdin=PASSWORD + "\n", timeout=300
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.code, result.stderr


def test_the_sample_files_dry_run_import_rerun_incidents_and_export(
    deployment: Deployment, tmp_path: Path
) -> None:
    mapping = str(DOCS / "people-mapping.toml")
    report = tmp_path / "check.csv"
    code, err = _import(
        deployment, "people", str(DOCS / "people.csv"), "--mapping", mapping,
        "--dry-run", "--report", str(report),
    )  # fmt: skip
    assert code == 0, err
    assert "would import 3" in err
    assert "rows/s" in err  # the progress bar's rate
    rows = list(csv.DictReader(report.open()))
    assert [r["status"] for r in rows] == ["imported"] * 3  # would be
    assert _count(deployment, Individual) == 0

    code, err = _import(deployment, "people", str(DOCS / "people.csv"), "--mapping", mapping)
    assert code == 0, err
    assert "imported 3" in err
    assert _count(deployment, Individual) == 3
    assert _count(deployment, AuditEntry, action="individual.import") == 3

    code, err = _import(deployment, "incidents", str(DOCS / "incidents.csv"))
    assert code == 0, err
    assert _count(deployment, Incident) == 2

    target = tmp_path / "leaving.xlsx"
    result = deployment.run(
        "export", "people", "--to", str(target), "--user", "sup-import", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "NOT encrypted" in result.stderr
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_utf16_file_with_a_bad_row_is_refused_whole(
    deployment: Deployment, tmp_path: Path
) -> None:
    before = _count(deployment, Individual)
    bad = tmp_path / "bad.csv"
    rows = [person(), person(**{"Date of birth": "1984-13-45"}), person()]
    bad.write_bytes(csv_bytes(rows, encoding="utf-16", delimiter="\t"))
    code, err = _import(deployment, "people", str(bad))
    assert code == 1
    assert "row 3, Date of birth" in err
    assert "nothing was written" in err
    assert _count(deployment, Individual) == before


def test_caseworkers_are_refused(deployment: Deployment) -> None:
    before = _count(deployment, Individual)
    code, err = _import(deployment, "people", str(DOCS / "people.csv"), user="cw-import")
    assert code == 1
    assert "only a supervisor" in err
    assert _count(deployment, Individual) == before
