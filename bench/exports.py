"""``python -m bench.exports``: how long a lawyer waits for each export of a large case.

On a fresh database (SQLite by default), a case whose timeline holds at least 200 entries
(incidents with their risk reassessments and alerts, notes, travel documents and status
changes, record changes) and 20 attachments (256 KiB each) is exported through the API as a
lawyer would: GET /cases/{id}/export as JSON (with its JWS), signed PDF and evidence bag, now
and as of the middle of the history. Reported per format: the median of ``--repeat`` runs in
seconds, and the size. Each run includes the audit entry and the history entry it writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app import organisations
from app.auth.users import create_user
from app.config import Settings
from app.db import transaction
from app.main import create_app
from bench.rotation import fresh_database

PASSWORD = "a long enough benchmark passphrase"  # noqa: S105 - a made-up account
API = "/api/v1"
INCIDENT_KINDS = ["detention", "threat", "surveillance", "arrest", "deportation_order"]


def _user(app: Any, role: str) -> str:
    with transaction(app.state.sessionmaker) as session:
        org = organisations.default_organisation(session)
        user = create_user(
            session, username=f"bench-{role}", role=role, password=PASSWORD, organisation=org
        )
        return user.username


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _post(client: TestClient, path: str, body: dict[str, Any], who: dict[str, str]) -> Any:
    response = client.post(f"{API}{path}", json=body, headers=who)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:200]}")
    return response.json()


def build_case(
    client: TestClient, worker: dict[str, str], lawyer_id: str, entries: int, files: int
) -> tuple[str, dt.datetime]:
    """The case; the moment halfway through its history."""
    person = _post(
        client,
        "/individuals",
        {
            "full_name": "Sok Dara",
            "native_name": "សុខ ដារ៉ា",
            "nationalities": ["KHM"],
            "current_country": "THA",
        },
        worker,
    )["id"]
    case = _post(client, "/cases", {"individual_id": person, "title": "Bench case"}, worker)["id"]
    _post(client, f"/cases/{case}/assignments", {"user_id": lawyer_id, "role": "lawyer"}, worker)
    for index in range(files):
        response = client.post(
            f"{API}/cases/{case}/attachments",
            files={
                "file": (
                    f"evidence-{index:02d}.bin",
                    os.urandom(256 * 1024),
                    "application/octet-stream",
                )
            },
            headers=worker,
        )
        response.raise_for_status()
    middle: dt.datetime | None = None
    index = 0
    while True:
        count = len(client.get(f"{API}/cases/{case}/history", headers=worker).json()["entries"])
        if count >= entries:
            break
        if middle is None and count >= entries // 2:
            middle = dt.datetime.now(dt.UTC)
        step = index % 4
        if step == 0:
            _post(
                client,
                "/incidents",
                {
                    "type": INCIDENT_KINDS[(index // 4) % len(INCIDENT_KINDS)],
                    "occurred_on": (dt.date.today() - dt.timedelta(days=index)).isoformat(),
                    "country": "THA",
                    "description": f"Bench incident {index}.",
                    "individual_ids": [person],
                    "source": {"name": "Partner monitor", "reliability": "B", "credibility": 2},
                },
                worker,
            )
        elif step == 1:
            _post(
                client,
                f"/individuals/{person}/documents",
                {
                    "type": "passport",
                    "issuing_country": "KHM",
                    "status": "valid",
                    "number": f"N{index:08d}",
                },
                worker,
            )
        else:
            _post(client, f"/cases/{case}/notes", {"body": f"Bench note {index}. " * 20}, worker)
        index += 1
    return case, middle or dt.datetime.now(dt.UTC)


def run(
    engine: str, tmp: Path, pg_url: str, entries: int, files: int, repeat: int
) -> dict[str, Any]:
    with fresh_database(engine, tmp / engine, pg_url) as db:
        settings = Settings(
            _env_file=None,
            database_url=db.url,
            data_dir=tmp / engine / "data",
            master_key_file=tmp / engine / "keys" / "master.key",
            run_engine_in_serve=False,
        )
        app = create_app(settings)
        try:
            with TestClient(app) as client:
                worker = _login(client, _user(app, "caseworker"))
                lawyer_name = _user(app, "lawyer")
                lawyer = _login(client, lawyer_name)
                lawyer_id = client.get(f"{API}/auth/me", headers=lawyer).json()["id"]
                case, middle = build_case(client, worker, lawyer_id, entries, files)
                timeline = client.get(f"{API}/cases/{case}/history", headers=lawyer).json()
                out: dict[str, Any] = {
                    "engine": engine,
                    "timeline_entries": len(timeline["entries"]),
                    "attachments": files,
                }
                for label, params in (
                    ("json", {"format": "json"}),
                    ("pdf", {"format": "pdf"}),
                    ("bag", {"format": "bag"}),
                    ("pdf_as_of_middle", {"format": "pdf", "as_of": middle.isoformat()}),
                ):
                    times, size = [], 0
                    for _ in range(repeat):
                        started = time.perf_counter()
                        response = client.get(
                            f"{API}/cases/{case}/export", params=params, headers=lawyer
                        )
                        times.append(time.perf_counter() - started)
                        response.raise_for_status()
                        size = len(response.content)
                    out[f"{label}_s"] = round(statistics.median(times), 3)
                    out[f"{label}_bytes"] = size
        finally:
            app.state.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__)
    parser.add_argument("--engine", default="sqlite")
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--attachments", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haven-bench-export-") as tmp:
        figures = run(
            args.engine, Path(tmp), args.pg_url, args.entries, args.attachments, args.repeat
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
