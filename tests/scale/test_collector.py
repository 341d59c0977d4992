"""Bulk work holds the cyclic garbage collector back (``app.models.bulk.collector_spared``),
and gives it back as it found it however the holds overlap."""

from __future__ import annotations

import gc
import threading

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.models import bulk
from app.models.bulk import SPARED_THRESHOLDS, _Collector, collector_spared


def test_overlapping_holds_give_the_collector_back_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first, second = collector_spared(), collector_spared()
    first.__enter__()
    assert gc.get_threshold() == SPARED_THRESHOLDS
    assert gc.get_freeze_count() > 0  # what was alive when the work began
    second.__enter__()
    first.__exit__(None, None, None)
    # The second work still runs: the first to end must not restore the collector under it.
    assert gc.get_threshold() == SPARED_THRESHOLDS
    assert gc.get_freeze_count() > 0
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failing_work_gives_it_back_too() -> None:
    before = gc.get_threshold()
    try:
        with collector_spared():
            raise RuntimeError("the work failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_holds_from_many_threads_at_once() -> None:
    before = gc.get_threshold()
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(200):
            with collector_spared():
                pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_after_a_start_up_freeze_bulk_work_leaves_the_frozen_alone() -> None:
    """A server freezes what start-up made for good; a bulk work ending must not thaw it."""
    collector = _Collector()
    before = gc.get_threshold()
    try:
        collector.freeze_start_up()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        collector.hold()
        assert gc.get_threshold() == SPARED_THRESHOLDS
        collector.release()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() >= frozen  # nothing thawed
    finally:
        gc.unfreeze()  # this test process starts many apps: give it back


def test_a_served_app_freezes_its_start_up_and_a_test_app_does_not(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = _Collector()
    monkeypatch.setattr(bulk, "_COLLECTOR", collector)
    try:
        with TestClient(create_app(settings)):
            assert not collector.started_frozen
        with TestClient(create_app(settings, freeze_after_start=True)):
            assert collector.started_frozen
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
