"""Bulk work holds the cyclic garbage collector back (``app.models.bulk.collector_spared``),
and gives it back as it found it however the holds overlap."""

from __future__ import annotations

import gc
import threading

from app.models.bulk import SPARED_THRESHOLDS, collector_spared


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
