"""Alert e-mail states when the alert was raised in the recipient's time zone."""

from __future__ import annotations

import json

from fastapi import FastAPI
from sqlalchemy import update

from app.alerts import mail
from app.models.user import User
from tests.factories import Team, db

PAYLOAD = json.dumps(
    {
        "type": "alert.created",
        "timestamp": "2026-12-04T04:01:00+00:00",
        "data": {"rule": "host_custody", "severity": "critical", "link": "https://h/alerts/1"},
    }
)


def test_the_time_is_in_the_recipients_zone_and_named() -> None:
    message = mail.compose(
        "m1", PAYLOAD, to="a@example.org", public_url="https://h", time_zone="Asia/Bangkok"
    )
    body = message.get_content()
    assert "When: 4 Dec 2026, 11:01 (Asia/Bangkok, UTC+07:00)" in body
    utc = mail.compose("m2", PAYLOAD, to="a@example.org", public_url="https://h").get_content()
    assert "When: 4 Dec 2026, 04:01 (UTC, UTC+00:00)" in utc
    bare = json.dumps({"data": {"rule": "x"}})
    assert (
        "When:"
        not in mail.compose("m3", bare, to="a@example.org", public_url="https://h").get_content()
    )


def test_a_recipient_carries_their_own_or_their_organisations_zone(
    app: FastAPI, team: Team
) -> None:
    user = team.user("caseworker", email="cw@example.org")
    with db(app) as session:
        row = session.get(User, user.id)
        assert row is not None, "no row"
        assert row.email_ct is not None, "no email"
        assert not row.disabled, "disabled"
        found = mail.recipient(session, user.id)
        assert found is not None and found.time_zone == "UTC"
        session.execute(update(User).where(User.id == user.id).values(time_zone="Asia/Bangkok"))
    with db(app) as session:
        row = session.get(User, user.id)
        assert row is not None and row.email_ct is not None, row
        found = mail.recipient(session, user.id)
        assert found is not None and found.time_zone == "Asia/Bangkok"
