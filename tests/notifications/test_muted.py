"""Muted ("inhibited") alerts are never sent as webhooks, e-mail or push: not even when the
alert that mutes them arrives in the same transaction, after their notice was written.

A detention in a host state first raises the person's risk (``risk_escalated``, high), then the
``host_custody`` alert (critical), which mutes the risk alert before the change commits.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.alerts import rules
from tests.alerts.support import add_webhook, alerts_of, outbox, payloads
from tests.factories import Team


def test_an_alert_muted_before_its_change_commits_sends_nothing(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    hook = add_webhook(app, team.organisation.id)
    worker = team.caseworker
    person = team.person(worker)
    team.case(worker, person)
    team.incident(worker, person, type="detention", country="MYS")
    custody = alerts_of(client, worker, person, rule=rules.HOST_CUSTODY)
    risen = alerts_of(client, worker, person, rule=rules.RISK_ESCALATED)
    assert len(custody) == 1 and not custody[0]["inhibited"]
    assert risen and all(a["inhibited"] for a in risen), "the scenario needs a muted alert"
    sent = {p["data"]["id"] for p in payloads(outbox(app, hook))}
    assert custody[0]["id"] in sent
    muted = {a["id"] for a in risen}
    assert sent & muted == set(), "a muted alert was sent to a webhook"


def test_a_muted_alert_is_not_notified_later(app: FastAPI, client: TestClient, team: Team) -> None:
    hook = add_webhook(app, team.organisation.id)
    worker = team.caseworker
    person = team.person(worker)
    team.case(worker, person)
    team.incident(worker, person, type="detention", country="MYS")
    team.incident(worker, person, type="public_denunciation", country="MYS")
    (named,) = alerts_of(client, worker, person, rule=rules.PUBLICLY_NAMED)
    assert named["inhibited"]
    rows = [r for r in outbox(app, hook) if r.alert_id == uuid.UUID(named["id"])]
    assert rows == []
