"""``python -m bench.records``: the figures of the identity, audit and case-record work.

Per engine, on a fresh database with N synthetic people (``haven demo --people`` code path):
sign-in latency at the chosen argon2 cost; audit append throughput with concurrent writers;
``audit verify`` speed; exact search by document number through the API against the same
search done by decrypting every record; create-person and read-person throughput through the
API; a government list of 1,000 numbers applied against N people. Requests go through the real
app in process (TestClient): cookie-less bearer auth, transaction, audit, encryption. Medians;
nothing is enforced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from app import organisations
from app.actor import Actor
from app.audit import service as audit
from app.audit.verify import verify_all
from app.auth.users import create_user
from app.config import Settings
from app.crypto import Pad, crypto_of
from app.crypto.blind_index import fold_document_number
from app.db import read_only, sequencer_of, transaction
from app.demo.synthetic import add_people
from app.main import create_app
from app.models.audit import AuditEntry
from app.models.document import TravelDocument
from app.records.documents import NUMBER
from bench.rotation import fresh_database

PASSWORD = "a long enough benchmark passphrase"  # noqa: S105 - a made-up account
API = "/api/v1"


# The read path's goals (SECURITY.md §9 and the read-path work): figure -> (goal, met, applies),
# judged where they apply (an engine, a size); the others are reported without a goal.
GOALS: dict[str, tuple[str, Callable[[float], bool], Callable[[str, int], bool]]] = {
    "search_by_document_median_ms": (
        "≤ 10 ms at 100,000 people",
        lambda v: v <= 10,
        lambda _engine, people: people >= 100_000,
    ),
    "revocation_1000_s": (
        "≤ 10 s at 100,000 people",
        lambda v: v <= 10,
        lambda _engine, people: people >= 100_000,
    ),
    "country_event_s": (
        "≤ 10 s (33,518 people at 100,000)",
        lambda v: v <= 10,
        lambda _engine, people: people >= 100_000,
    ),
    "audit_append_sequenced_per_s": (
        "≥ 5,000/s with 8 writers on PostgreSQL",
        lambda v: v >= 5000,
        lambda engine, _people: engine == "postgresql",
    ),
}


def goal_of(name: str, engine: str, people: int, value: float) -> tuple[str, bool | None]:
    """The goal's text and whether ``value`` meets it (None: no goal here)."""
    goal = GOALS.get(name)
    if goal is None or not goal[2](engine, people):
        return "", None
    return goal[0], goal[1](value)


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def run(engine: str, people: int, tmp: Path, pg_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {"engine": engine, "people": people}
    with fresh_database(engine, tmp / engine, pg_url) as db:
        settings = Settings(
            _env_file=None,
            database_url=db.url,
            data_dir=tmp / engine / "data",
            master_key_file=tmp / engine / "keys" / "master.key",
            run_engine_in_serve=False,
        )
        app = create_app(settings)
        with transaction(app.state.sessionmaker) as session:
            org = organisations.default_organisation(session)
            user = create_user(
                session,
                username="bench-sup",
                role="supervisor",
                password=PASSWORD,
                organisation=org,
            )
            actor = Actor(user.id, user.username, user.role, org.id)
        started = time.perf_counter()
        with transaction(app.state.sessionmaker) as session:
            numbers = add_people(
                session,
                crypto_of(session),
                count=people,
                organisation_id=org.id,
                created_by=user.id,
                seed=7,
            )
        out["synthetic_people_per_s"] = round(people / (time.perf_counter() - started))

        with TestClient(app) as client:
            logins = []
            for _ in range(15):
                t = time.perf_counter()
                r = client.post(
                    f"{API}/auth/login", json={"username": "bench-sup", "password": PASSWORD}
                )
                logins.append(time.perf_counter() - t)
            out["login_median_ms"] = _median_ms(logins)
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

            # The first 25 searches after the bulk load, then the same 25 again: the first find
            # the candidates' keys not yet unwrapped and the pages cold (the lookup limit
            # allows 60).
            for figure in ("search_by_document_median_ms", "search_by_document_next_median_ms"):
                searches = []
                for number in numbers[:: max(1, people // 25)][:25]:
                    t = time.perf_counter()
                    r = client.get(
                        f"{API}/individuals", params={"document_number": number}, headers=headers
                    )
                    searches.append(time.perf_counter() - t)
                    assert len(r.json()["items"]) == 1
                out[figure] = _median_ms(searches)
            out["search_by_decrypting_all_ms"] = _decrypt_all(app, numbers[len(numbers) // 2])
            out["search_speedup"] = round(
                out["search_by_decrypting_all_ms"] / out["search_by_document_median_ms"], 1
            )

            creates, ids = [], []
            for i in range(60):
                t = time.perf_counter()
                r = client.post(
                    f"{API}/individuals",
                    headers=headers,
                    json={
                        "full_name": f"Bench Person {i}",
                        "nationalities": ["KHM"],
                        "current_country": "THA",
                    },
                )
                creates.append(time.perf_counter() - t)
                ids.append(r.json()["id"])
            reads = []
            for pid in ids * 2:
                t = time.perf_counter()
                client.get(f"{API}/individuals/{pid}", headers=headers)
                reads.append(time.perf_counter() - t)
            out["create_person_per_s"] = round(1 / statistics.median(creates), 1)
            out["read_person_per_s"] = round(1 / statistics.median(reads), 1)

            revocation = numbers[:: max(1, people // 1000)][:1000]
            counted = _count_statements(app.state.engine)
            t = time.perf_counter()
            r = client.post(
                f"{API}/documents/revocations",
                headers=headers,
                json={
                    "issuing_country": "KHM",
                    "numbers": revocation,
                    "effective_date": "2026-01-01",
                    "source": "bench",
                },
            )
            out["revocation_1000_s"] = round(time.perf_counter() - t, 2)
            out["revocation_matched"] = r.json().get("matched")
            out["revocation_statements"] = counted.pop()

            # Every synthetic person is of KHM nationality; about a third live in THA.
            t = time.perf_counter()
            r = client.post(
                f"{API}/country-events",
                headers=headers,
                json={
                    "country": "KHM",
                    "kind": "crackdown",
                    "occurred_on": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
                    "description": "bench",
                    "affects": {"nationality": "KHM", "current_country": "THA"},
                },
            )
            elapsed = time.perf_counter() - t
            out["country_event_statements"] = counted.pop()
            out["country_event_people"] = r.json().get("reassessed")
            out["country_event_s"] = round(elapsed, 2)
            out["country_event_people_per_s"] = round(out["country_event_people"] / elapsed)

        out.update(_audit_figures(app, actor))
        app.state.engine.dispose()
    return out


class _Statements:
    """SQL statements sent since the last ``pop`` (a figure the machine's load cannot move)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1

    def pop(self) -> int:
        count, self.count = self.count, 0
        return count


def _count_statements(engine: Any) -> _Statements:
    counter = _Statements()
    event.listen(engine, "before_cursor_execute", counter)
    return counter


def _decrypt_all(app: Any, number: str) -> float:
    """The same exact search without a blind index: open every document number."""
    wanted = fold_document_number(number)
    t = time.perf_counter()
    with transaction(app.state.sessionmaker) as session:
        crypto = crypto_of(session)
        rows = session.execute(
            select(TravelDocument.id, TravelDocument.individual_id, TravelDocument.number_ct)
        )
        found = 0
        for doc_id, owner, sealed in rows:
            if (
                fold_document_number(
                    crypto.open(session, NUMBER, doc_id, owner, sealed, pad=Pad.SHORT)
                )
                == wanted
            ):
                found += 1
    assert found == 1
    return round((time.perf_counter() - t) * 1000, 1)


def _sequenced_appends(app: Any, actor: Actor, writers: int = 8, each: int = 500) -> float:
    """Entries per second appended as read requests append theirs: ``writers`` threads, each
    handing one entry at a time to the sequencer and waiting for its commit (app.db.end_read)."""
    sequencer = sequencer_of(app.state.sessionmaker)

    def writer() -> None:
        for _ in range(each):
            with app.state.sessionmaker() as session:
                audit.record(session, actor=actor, action="bench.read")
                sequencer.write(audit.take_all(session))

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * each / (time.perf_counter() - t)


def _audit_figures(app: Any, actor: Actor, writers: int = 4, each: int = 500) -> dict[str, Any]:
    def writer() -> None:
        for _ in range(each):
            with transaction(app.state.sessionmaker) as session:
                audit.record(session, actor=actor, action="bench.append")

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    appended = writers * each / (time.perf_counter() - t)
    sequenced = _sequenced_appends(app, actor)
    with transaction(app.state.sessionmaker) as session:
        total = session.scalar(select(func.count()).select_from(AuditEntry))
    with app.state.sessionmaker() as session:
        read_only(session)
        t = time.perf_counter()
        result = verify_all(session, app.state.crypto.provider, app.state.settings.data_dir)
        elapsed = time.perf_counter() - t
    assert result.ok
    return {
        "audit_append_per_s": round(appended),
        "audit_writers": writers,
        "audit_append_sequenced_per_s": round(sequenced),
        "audit_entries": total,
        "audit_verify_per_s": round(total / elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.records", description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--output", type=Path, default=Path("bench/results/records.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="haven-bench-") as tmp:
        for engine in args.engines.split(","):
            figures = run(engine.strip(), args.people, Path(tmp), args.pg_url)
            results.append(figures)
            width = max(len(k) for k in figures)
            for key, value in figures.items():
                print(f"{key:<{width}}  {value}")
            print()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
