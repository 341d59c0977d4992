"""The template filters (pure)."""

from __future__ import annotations

import datetime as dt

from app.web import filters


def test_dates_read_as_people_write_them() -> None:
    assert filters.in_zone(dt.date(2026, 3, 4)) == "4 Mar 2026"
    moment = dt.datetime(2026, 3, 4, 15, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert filters.in_zone(moment) == "4 Mar 2026, 08:30 UTC"
    assert filters.in_zone(None) == ""


def test_times_are_shown_in_the_readers_zone_with_its_offset() -> None:
    moment = dt.datetime(2026, 12, 4, 4, 1, tzinfo=dt.UTC)
    assert filters.in_zone(moment, "Asia/Bangkok") == "4 Dec 2026, 11:01 UTC+7"
    assert filters.in_zone(moment, "Asia/Kolkata") == "4 Dec 2026, 09:31 UTC+5:30"
    assert filters.in_zone(moment, "America/New_York") == "3 Dec 2026, 23:01 UTC-5"
    summer = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert filters.in_zone(summer, "Europe/London") == "1 Jul 2026, 13:00 UTC+1"
    assert filters.in_zone(moment, "Not/AZone") == "4 Dec 2026, 04:01 UTC"
    assert filters.in_zone(moment.replace(tzinfo=None), "Asia/Bangkok").startswith(
        "4 Dec 2026, 11:01"
    )


def test_how_long_ago_in_words() -> None:
    now = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    assert filters.ago(now - dt.timedelta(seconds=20), now) == "just now"
    assert filters.ago(now - dt.timedelta(minutes=23), now) == "23 minutes ago"
    assert filters.ago(now - dt.timedelta(minutes=61), now) == "1 hour ago"
    assert filters.ago(now - dt.timedelta(days=2, hours=3), now) == "2 days ago"
    assert filters.ago(now + dt.timedelta(minutes=5), now) == "in 5 minutes"
    assert filters.ago(None, now) == ""


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
