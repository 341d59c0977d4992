"""``python -m bench.web``: page weight and server time of the web client's heaviest pages.

The alert inbox with 50 open alerts, and a case page whose history holds 200 entries. Page
weight is what a browser downloads for the page: its HTML plus the CSS and the script (no
images, no fonts). Server time is the median of 20 requests in process (no network), each a
whole request: cookie, transaction, audit, decryption, rendering. Figures only; nothing is
enforced here (tests/web/test_weight.py holds the 100 KB budget).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import organisations
from app.actor import Actor
from app.alerts import service as alerts
from app.auth.users import create_user
from app.cases import service as cases
from app.db import transaction
from app.individuals import service as individuals
from app.monitoring import service as monitoring

PASSWORD = "a long enough benchmark passphrase"  # noqa: S105 - a made-up account
ASSETS = ("/static/haven.css", "/static/haven.js")


@dataclass(frozen=True)
class Pages:
    username: str
    inbox: str
    case: str


def populate(app: FastAPI, *, alerts_open: int = 50, entries: int = 200) -> Pages:
    """A caseworker with ``alerts_open`` open alerts and a case with ``entries`` history
    entries (the case's own, then welfare check-ins on its person), all through services."""
    username = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(app.state.sessionmaker) as session:
        org, _ = organisations.resolve(session, f"bench-{uuid.uuid4().hex[:8]}", create=True)
        user = create_user(
            session, username=username, role="caseworker", password=PASSWORD, organisation=org
        )
        actor = Actor(user.id, user.username, user.role, org.id)
        person = individuals.create(
            session, actor, {"full_name": "Sok Dara", "native_name": "សុខ ដារ៉ា"}
        )
        case = cases.open_case(session, actor, {"individual_id": person.id})
        for n in range(alerts_open):
            other = (
                person if n == 0 else individuals.create(session, actor, {"full_name": f"P {n}"})
            )
            alerts.raise_alert(
                session,
                rule="host_custody" if n % 5 == 0 else "document_expiring",
                severity="critical" if n % 5 == 0 else "medium",
                organisation_id=org.id,
                individual_id=other.id,
                subject_id=None if n % 5 == 0 else uuid.uuid4(),
                summary="Held in custody by a host state"
                if n % 5 == 0
                else "Travel document expires within 90 days",
                actor=actor,
            )
    with transaction(app.state.sessionmaker) as session:
        from app.cases import timeline

        have = len(timeline.case_history(session, actor, case["id"]))
        for _ in range(max(0, entries - have)):
            monitoring.record_check_in(session, actor, person.id, {"channel": "phone"})
    return Pages(username, "/", f"/cases/{case['id']}")


def sign_in(client: TestClient, username: str) -> None:
    import re

    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def page_weight(client: TestClient, path: str) -> dict[str, int]:
    html = client.get(path)
    assert html.status_code == 200, html.text[:500]
    sizes = {"html": len(html.content)}
    for asset in ASSETS:
        sizes[asset.rsplit(".", 1)[1]] = len(client.get(asset).content)
    sizes["total"] = sum(sizes.values())
    return sizes


def server_ms(client: TestClient, path: str, runs: int = 20) -> float:
    client.get(path)  # warm-up: templates compiled, data keys cached
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    args = parser.parse_args(argv)
    from app.config import Settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=args.database_url or f"sqlite:///{root / 'haven.db'}",
            data_dir=root / "data",
            master_key_file=root / "keys" / "master.key",
        )
        app = create_app(settings)
        pages = populate(app)
        with TestClient(app, base_url="http://127.0.0.1") as client:
            sign_in(client, pages.username)
            print(f"{'page':<34} {'HTML':>8} {'CSS':>7} {'JS':>7} {'total':>8} {'median':>9}")
            for label, path in (
                ("inbox, 50 open alerts", pages.inbox),
                ("case, 200 history entries", pages.case),
            ):
                sizes = page_weight(client, path)
                ms = server_ms(client, path)
                print(
                    f"{label:<34} {sizes['html']:>8,} {sizes['css']:>7,} {sizes['js']:>7,}"
                    f" {sizes['total']:>8,} {ms:>7.1f} ms"
                )
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
