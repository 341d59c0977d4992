"""``python -m bench.caseload``: the inbox and the people list at a full caseload.

One organisation of ``--people`` synthetic people (100,000 by default, written as
``haven demo --people`` writes them: every field sealed, every blind index and name token),
``--alerts`` open alerts on some of them, and a supervisor (who sees everyone). For each page:
its weight (HTML, CSS, script: the pages load nothing else) and the median server time of
``--runs`` whole requests in process (cookie, transaction, scope, decryption, audit,
rendering; no network). Figures only; nothing is enforced here.

    python -m bench.caseload                     # 100,000 people, SQLite in a temp folder
    python -m bench.caseload --people 10000 --database-url postgresql+psycopg://…
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import organisations
from app.alerts import service as alerts
from app.auth.users import create_user
from app.crypto import crypto_of
from app.db import transaction
from app.demo.synthetic import add_people
from app.models.individual import Individual
from bench.web import ASSETS, PASSWORD, sign_in


def populate(app: FastAPI, people: int, open_alerts: int) -> str:
    """The organisation, its people and alerts; returns the supervisor's username."""
    username = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(app.state.sessionmaker) as session:
        org, _ = organisations.resolve(session, f"bench-{uuid.uuid4().hex[:8]}", create=True)
        user = create_user(
            session, username=username, role="supervisor", password=PASSWORD, organisation=org
        )
        org_id, user_id = org.id, user.id
    done = 0
    started = time.monotonic()
    while done < people:  # one transaction per 10,000: the write lock is released between
        size = min(10_000, people - done)
        with transaction(app.state.sessionmaker) as session:
            add_people(
                session,
                crypto_of(session),
                count=size,
                organisation_id=org_id,
                created_by=user_id,
                seed=done,
            )
        done += size
        print(f"  {done:,} people ({time.monotonic() - started:.0f} s)", flush=True)
    with transaction(app.state.sessionmaker) as session:
        ids = list(
            session.scalars(
                select(Individual.id)
                .where(Individual.organisation_id == org_id)
                .order_by(Individual.id)
                .limit(open_alerts)
            )
        )
        for n, person in enumerate(ids):
            alerts.raise_alert(
                session,
                rule="host_custody" if n % 4 == 0 else "document_expiring",
                severity="critical" if n % 4 == 0 else "medium",
                organisation_id=org_id,
                individual_id=person,
                subject_id=None if n % 4 == 0 else uuid.uuid4(),
                summary="Held in custody by a host state"
                if n % 4 == 0
                else "Travel document expires within 90 days",
            )
    return username


def median_ms(
    client: TestClient, method: str, path: str, runs: int, **kwargs: Any
) -> tuple[float, list[int]]:
    """The median time of the answers that were 200, and the statuses of those that were not
    (reported, not hidden)."""
    client.request(method, path, **kwargs)  # warm-up
    timings, refused = [], []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.request(method, path, **kwargs)
        if answer.status_code != 200:
            refused.append(answer.status_code)
            continue
        timings.append((time.perf_counter() - started) * 1000)
    return (statistics.median(timings) if timings else float("nan")), refused


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.caseload", description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    args = parser.parse_args(argv)
    from app.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            _env_file=None,
            database_url=args.database_url or f"sqlite:///{root / 'haven.db'}",
            data_dir=root / "data",
            master_key_file=root / "keys" / "master.key",
            lookup_limit_per_minute=0,
        )
        app = create_app(settings)
        print(f"writing {args.people:,} people and {args.alerts} open alerts …", flush=True)
        username = populate(app, args.people, args.alerts)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            sign_in(client, username)
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/people").text)
            assert token is not None
            last = -(-args.people // 50)
            pages: list[tuple[str, str, str, dict[str, Any]]] = [
                ("inbox (40 + 20 cards)", "GET", "/", {}),
                ("people, everyone by risk, p. 1", "GET", "/people?all=1", {}),
                (f"people, everyone, p. {last:,}", "GET", f"/people?all=1&page={last}", {}),
                ("people, by last change, p. 1", "GET", "/people?all=1&sort=updated", {}),
                (
                    "people, q=Sok by name, p. 1",
                    "POST",
                    "/people",
                    {"data": {"csrf_token": token.group(1), "q": "Sok", "sort": "name"}},
                ),
                (
                    "people, q=Sok Dara by name",
                    "POST",
                    "/people",
                    {"data": {"csrf_token": token.group(1), "q": "Sok Dara", "sort": "name"}},
                ),
                ("API ?q=sok&limit=50", "GET", "/api/v1/individuals?q=sok&limit=50", {}),
            ]
            print(f"{'page':<34} {'HTML':>8} {'CSS':>7} {'JS':>7} {'total':>8} {'median':>10}")
            assets = {a.rsplit(".", 1)[1]: len(client.get(a).content) for a in ASSETS}
            for label, method, path, extra in pages:
                body = client.request(method, path, **extra)
                sizes = {"html": len(body.content), "css": 0, "js": 0}
                if not path.startswith("/api"):
                    sizes |= assets  # a page loads its CSS and script; the API nothing
                sizes["total"] = sum(sizes.values())
                ms, refused = median_ms(client, method, path, args.runs, **extra)
                print(
                    f"{label:<34} {sizes['html']:>8,} {sizes['css']:>7,} {sizes['js']:>7,}"
                    f" {sizes['total']:>8,} {ms:>8.0f} ms"
                    + (f"  (not 200: {refused})" if refused else ""),
                    flush=True,
                )
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
