"""The engine: exclusive claims with a lease, results recorded only by the claimant, back-off,
the periodic jobs and the loop's resilience."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.alerts import engine as engine_module
from app.alerts.engine import BACKOFF_CAP, Engine, Outcome, TickReport, backoff, worker_id
from app.config import Settings
from app.models.base import utcnow
from tests.delivery.conftest import Team, register
from tests.delivery.support import Receiver, add_outbox, outbox

SECOND = dt.timedelta(seconds=1)


def _engine(app: FastAPI, settings: Settings, name: str, **options: object) -> Engine:
    return Engine(app.state.sessionmaker, settings, worker=name, **options)  # type: ignore[arg-type]


class TestBackoff:
    def test_full_jitter_under_an_exponential_ceiling(self) -> None:
        rng = random.Random(1)
        for attempts, ceiling in ((1, 5), (2, 10), (3, 20), (6, 160), (11, BACKOFF_CAP)):
            delays = [backoff(attempts, rng) for _ in range(200)]
            assert all(1.0 <= d <= ceiling for d in delays)
            assert max(delays) > ceiling * 0.8  # spread over the whole range
        assert backoff(30, rng) <= BACKOFF_CAP

    def test_worker_ids_differ_per_engine(self) -> None:
        assert worker_id() != worker_id()
        assert len(worker_id()) <= 64


class TestClaims:
    def test_a_claim_is_exclusive_until_its_lease_expires(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        hook = register(api, team, receiver.url)
        now = utcnow()
        ids = set(add_outbox(delivery_app, uuid.UUID(hook["id"]), count=5, at=now))
        first = _engine(delivery_app, delivery_settings, "worker-a", lease_seconds=60)
        second = _engine(delivery_app, delivery_settings, "worker-b", lease_seconds=60)
        claimed = first.claim(now)
        assert {job.id for job in claimed} == ids
        assert outbox(delivery_app, claimed[0].id).claimed_by == "worker-a"
        assert second.claim(now + 59 * SECOND) == []
        # worker-a "died": once its lease has run out, worker-b takes the rows over.
        again = second.claim(now + 61 * SECOND)
        assert {job.id for job in again} == ids
        assert all(job.attempts == 2 for job in again)
        # worker-a wakes up: its results are no longer its to record.
        report = TickReport()
        first._record([(job, Outcome(True)) for job in claimed], now + 62 * SECOND, report)
        assert (report.delivered, report.lost) == (0, 5)
        assert outbox(delivery_app, claimed[0].id).status == "pending"
        report = TickReport()
        second._record([(job, Outcome(True)) for job in again], now + 62 * SECOND, report)
        assert report.delivered == 5

    def test_sends_that_would_outlast_the_lease_are_released_unsent(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        hook = register(api, team, receiver.url)
        (message,) = add_outbox(delivery_app, uuid.UUID(hook["id"]))
        runner = _engine(delivery_app, delivery_settings, "worker-slow", lease_seconds=2)
        monkeypatch.setattr(runner, "send_budget", 5.0)  # more than the whole lease
        report = runner.deliver()
        assert (report.claimed, report.released) == (1, 1)
        assert receiver.snapshot() == []
        row = outbox(delivery_app, message)
        assert (row.status, row.attempts, row.claimed_by, row.claimed_until) == (
            "pending",
            0,
            None,
            None,
        )

    def test_claims_take_the_oldest_due_rows_first_in_batches(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        hook = register(api, team, receiver.url)
        now = utcnow()
        target = uuid.UUID(hook["id"])
        late = add_outbox(delivery_app, target, count=2, at=now - SECOND)
        early = add_outbox(delivery_app, target, count=2, at=now - 5 * SECOND)
        future = add_outbox(delivery_app, target, count=1, at=now + 10 * SECOND)
        runner = _engine(delivery_app, delivery_settings, "worker-batch", batch_size=2)
        assert {job.id for job in runner.claim(now)} == set(early)
        assert {job.id for job in runner.claim(now)} == set(late)
        assert runner.claim(now) == []
        assert [job.id for job in runner.claim(now + 11 * SECOND)] == future


class TestTick:
    def test_periodic_jobs_run_on_their_schedule(
        self,
        delivery_app: FastAPI,
        delivery_settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        calls: list[tuple[str, dt.datetime]] = []
        monkeypatch.setattr(
            engine_module, "evaluate_time_rules", lambda s, now: calls.append(("rules", now))
        )
        monkeypatch.setattr(engine_module, "_sweep", lambda s, now: calls.append(("sweep", now)))
        written: list[bool] = []

        def write(session: object, provider: object, data_dir: object, **kw: object) -> bool:
            written.append(True)
            return True

        from app.audit import checkpoints

        monkeypatch.setattr(checkpoints, "write", write)
        runner = _engine(delivery_app, delivery_settings, "worker-tick")
        t0 = utcnow()
        for offset in (0, 10, 29, 31, 45, 59, 62):
            runner.tick(t0 + offset * SECOND)
        # Every 30 s from the first tick: at 0, 31 and 62 s.
        assert calls == [
            (name, t0 + offset * SECOND) for offset in (0, 31, 62) for name in ("rules", "sweep")
        ]
        assert len(written) == 1  # at 62 s
        runner.close()  # a clean shutdown signs one more
        assert len(written) == 2

    def test_a_failing_job_does_not_stop_delivery(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def broken(session: object, now: object) -> None:
            raise RuntimeError("rule bug")

        monkeypatch.setattr(engine_module, "evaluate_time_rules", broken)
        hook = register(api, team, receiver.url)
        add_outbox(delivery_app, uuid.UUID(hook["id"]))
        runner = _engine(delivery_app, delivery_settings, "worker-robust")
        assert runner.tick().delivered == 1

    def test_the_loop_outlives_a_failing_tick_and_stops_when_asked(
        self, delivery_app: FastAPI, delivery_settings: Settings
    ) -> None:
        runner = _engine(delivery_app, delivery_settings, "worker-loop")
        stop = threading.Event()
        ticks: list[int] = []

        def tick(now: dt.datetime | None = None) -> TickReport:
            ticks.append(1)
            if len(ticks) == 1:
                raise RuntimeError("database went away")
            if len(ticks) == 3:
                stop.set()
            return TickReport()

        runner.tick = tick  # type: ignore[method-assign]
        thread = threading.Thread(target=runner.run, args=(stop, 0.001))
        thread.start()
        thread.join(5)
        assert not thread.is_alive()
        assert len(ticks) == 3

    def test_the_real_jobs_run(self, delivery_app: FastAPI, delivery_settings: Settings) -> None:
        # The time rules, the risk sweep and the checkpoint on this database, for real.
        runner = _engine(delivery_app, delivery_settings, "worker-real")
        now = utcnow()
        runner.tick(now)
        runner.tick(now + 61 * SECOND)
        runner.close()


class TestWake:
    def test_a_commit_of_new_outbox_rows_wakes_the_engine(
        self,
        api: TestClient,
        team: Team,
        receiver: Receiver,
        delivery_app: FastAPI,
        delivery_settings: Settings,
    ) -> None:
        runner = _engine(delivery_app, delivery_settings, "worker-wake")
        runner.watch(delivery_app.state.sessionmaker)
        hook = register(api, team, receiver.url)  # commits, but no outbox row
        assert not runner._wake.is_set()
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, args=(stop, 60.0))
        thread.start()
        try:
            time.sleep(0.2)  # the first tick is done; the loop now waits up to a minute
            add_outbox(delivery_app, uuid.UUID(hook["id"]))
            assert len(receiver.wait_for(1, timeout=5)) == 1
        finally:
            stop.set()
            runner.wake()
            thread.join(5)
        assert not thread.is_alive()


def test_stopping_releases_what_was_not_sent_yet(
    api: TestClient,
    team: Team,
    receiver: Receiver,
    delivery_app: FastAPI,
    delivery_settings: Settings,
) -> None:
    hook = register(api, team, receiver.url)
    ids = add_outbox(delivery_app, uuid.UUID(hook["id"]), count=3)
    runner = _engine(delivery_app, delivery_settings, "worker-stopping")
    runner._stopping.set()  # as `run` sees it once SIGTERM has set the stop event
    report = runner.deliver()
    assert (report.claimed, report.released, report.delivered) == (3, 3, 0)
    assert receiver.snapshot() == []
    assert {
        (outbox(delivery_app, i).claimed_by, outbox(delivery_app, i).attempts) for i in ids
    } == {(None, 0)}
