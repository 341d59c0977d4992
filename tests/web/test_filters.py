"""The template filters (pure)."""

from __future__ import annotations

import datetime as dt

from app.web import filters


def test_dates_read_as_people_write_them() -> None:
    assert filters.date(dt.date(2026, 3, 4)) == "4 Mar 2026"
    moment = dt.datetime(2026, 3, 4, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert filters.date(moment) == "4 Mar 2026, 08:30 UTC"
    assert filters.date(None) == ""


def test_labels_and_countries() -> None:
    assert filters.label("person_of_concern") == "Person of concern"
    assert filters.country("KHM") == "Cambodia"
    assert filters.country(None) == ""


def test_changes_are_short_pairs() -> None:
    pairs = filters.changes(
        {
            "status": {"from": None, "to": "revoked"},
            "note": "x" * 400,
            "empty": None,
            "factors": [{"code": "HOST_CUSTODY", "weight": 35.0, "evidence": ["a"]}],
        }
    )
    assert pairs[0] == ("Status", "— → revoked")
    assert len(pairs[1][1]) == 160 and pairs[1][1].endswith("…")
    assert ("Factors", "Host custody (+35)") in pairs
    assert all(name != "Empty" for name, _ in pairs)


def test_evidence_for_people() -> None:
    text = filters.evidence(
        ["870a8614-a18a-4483-bbd4-0f5d03e1e6b8", "country:THA", "countries-2026.11"]
    )
    assert text == "record 870a8614; country THA"
    assert filters.evidence([]) == "—"
