"""The authorization matrix, generated from the app's own route table.

Every route, every role, and a record in the caller's scope and one outside it:
401 without a token, 403 when the role may not perform the route's action at all, 2xx in
scope and 404 outside it. A route missing from SAMPLES, or without an authorization
dependency, fails the suite, so no route can be added without a place in this matrix.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.api import PUBLIC_PATHS
from app.auth import roles
from app.auth.roles import Role
from app.models.case import BreakGlassGrant
from app.models.organisation import Organisation
from app.routes_table import api_routes
from tests.auth import authenticator
from tests.consent.support import give
from tests.factories import API, PASSWORD, Team, UserHandle, db, make_user, unique

ROLES = [r.value for r in Role]
BY = {"source": {"name": "monitor", "reliability": "B", "credibility": 2}}  # an incident's source


@dataclass
class Org:
    """One organisation's people, records and signed-in callers."""

    team: Team
    users: dict[str, UserHandle] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def organisation(self) -> Organisation:
        return self.team.organisation


@dataclass
class World:
    app: FastAPI
    client: TestClient
    a: Org
    b: Org

    def fresh_person(self, org: Org, *, by: str = "caseworker") -> str:
        return org.team.register(
            org.headers[by], full_name=unique("Matrix Person"), current_country="THA"
        )["id"]

    def fresh_case(
        self, org: Org, *, lawyer: UserHandle | None = None, by: str = "caseworker"
    ) -> str:
        case_id = org.team.case(org.headers[by], self.fresh_person(org, by=by))["id"]
        if lawyer:
            assign = org.team.assign(org.headers["supervisor"], case_id, lawyer)
            assert assign.status_code in (200, 201), assign.text
        return case_id


def _build_org(app: FastAPI, client: TestClient) -> Org:
    team = Team(app, client)
    org = Org(team)
    for role in ROLES:
        if role == Role.SERVICE:
            continue
        member = team.signed_in(role)
        org.users[role], org.headers[role] = member.user, member.headers
    org.users["lawyer_other"] = team.user("lawyer")
    other = team.member("caseworker")
    org.users["caseworker_other"], org.headers["caseworker_other"] = other.user, other.headers
    org.headers["service"] = team.monitor
    org.ids, org.names = _records(client, org)
    # Consent to share, and a referral to a partner organisation that nobody else sees.
    _consent(client, org, org.ids["individual"])
    org.ids["referral"] = _referral(client, org, org.ids["case"], team.elsewhere().organisation)
    return org


def _consent(client: TestClient, org: Org, person: str) -> None:
    give(client, org.headers["caseworker"], person, share=True, method="written")


def _referral(
    client: TestClient, org: Org, case: str, to: Organisation, sections: list[str] | None = None
) -> str:
    response = client.post(
        f"{API}/cases/{case}/referrals",
        json={
            "to_organisation": str(to.id),
            "purpose": "Legal representation.",
            "sections": sections or ["identity"],
        },
        headers=org.headers["caseworker"],
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _records(client: TestClient, org: Org) -> tuple[dict[str, str], dict[str, str]]:
    """A person of the organisation with a case, a document, incidents (one a detention, so a
    custody alert), an attachment, and counsel assigned."""
    cw, team = org.headers["caseworker"], org.team
    names = {"individual": unique("Sok Dara"), "document": unique("N").upper().replace("-", "")}
    person = team.register(cw, full_name=names["individual"], current_country="THA")["id"]
    case = team.case(cw, person)["id"]
    assert team.assign(cw, case, org.users["lawyer"]).status_code in (200, 201)
    document = team.document(cw, person, number=names["document"])
    incident = team.incident(
        cw, person, type="surveillance", occurred_on=_today(), description="Followed home.", **BY
    )
    attachment = client.post(
        f"{API}/cases/{case}/attachments",
        files={"file": ("statement.txt", b"A witness statement.", "text/plain")},
        headers=cw,
    )
    assert attachment.status_code == 201, attachment.text
    _detain(team, cw, person)
    ids = {
        "individual": person,
        "case": case,
        "document": document["id"],
        "incident": incident["id"],
        "attachment": attachment.json()["id"],
        "organisation": str(org.organisation.id),
        "alert": _custody_alert(client, org, person),
    }
    return ids, names


def _detain(team: Team, cw: dict[str, str], person: str) -> None:
    """A detention today in Thailand: a host_custody alert for ``person``."""
    team.incident(
        cw, person, type="detention", occurred_on=_today(), description="Held at the airport.", **BY
    )


def _custody_alert(client: TestClient, org: Org, person: str) -> str:
    """The host_custody alert a detention raised for ``person`` (read by a supervisor)."""
    response = client.get(
        f"{API}/alerts",
        params={"individual_id": person, "status": "open"},
        headers=org.headers["supervisor"],
    )
    assert response.status_code == 200, response.text
    (alert,) = [a for a in response.json()["items"] if a["rule"] == "host_custody"]
    return alert["id"]


@pytest.fixture(scope="module")
def world(app: FastAPI) -> World:
    with TestClient(app) as client:
        return World(app, client, _build_org(app, client), _build_org(app, client))


@dataclass(frozen=True)
class Call:
    path: str
    json: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


# For each route: how to call it for (world, the caller's org, the target org, role).
Sample = Callable[[World, Org, Org, str], Call]


def _today() -> str:
    return dt.date.today().isoformat()


SAMPLES: dict[tuple[str, str], Sample] = {
    ("POST", "/auth/logout"): lambda w, me, t, r: Call("/auth/logout"),
    ("GET", "/auth/me"): lambda w, me, t, r: Call("/auth/me"),
    ("PATCH", "/auth/me"): lambda w, me, t, r: Call("/auth/me", {"time_zone": "UTC"}),
    ("GET", "/export-keys"): lambda w, me, t, r: Call("/export-keys"),
    # Never the right password: a lock-down would stop the shared database for every test
    # (tests/backup/test_lockdown.py locks databases of their own).
    ("POST", "/lock"): lambda w, me, t, r: Call("/lock", {"password": "not anyone's password"}),
    # Enrolment needs the current password (issue 13, item 4).
    ("POST", "/auth/mfa/enroll"): lambda w, me, t, r: Call(
        "/auth/mfa/enroll", {"password": PASSWORD}
    ),
    ("POST", "/auth/mfa/confirm"): lambda w, me, t, r: Call(
        "/auth/mfa/confirm", {"totp": "000000", "password": PASSWORD}
    ),
    ("POST", "/auth/password"): lambda w, me, t, r: Call(
        "/auth/password",
        {
            "current_password": "a long enough test passphrase",
            "new_password": unique("another passphrase"),
        },
    ),
    ("POST", "/users"): lambda w, me, t, r: Call(
        "/users",
        {"username": unique("u"), "password": unique("a passphrase"), "role": "caseworker"},
    ),
    ("GET", "/users"): lambda w, me, t, r: Call("/users"),
    ("GET", "/users/{user_id}"): lambda w, me, t, r: Call(f"/users/{_user_target(w, me, t)}"),
    ("PATCH", "/users/{user_id}"): lambda w, me, t, r: Call(
        f"/users/{_user_target(w, me, t)}", {"role": "caseworker"}
    ),
    ("DELETE", "/users/{user_id}"): lambda w, me, t, r: Call(f"/users/{_user_target(w, me, t)}"),
    ("POST", "/users/{user_id}/mfa/reset"): lambda w, me, t, r: Call(
        f"/users/{_user_target(w, me, t)}/mfa/reset"
    ),
    ("POST", "/users/{user_id}/passkeys/reset"): lambda w, me, t, r: Call(
        f"/users/{_user_target(w, me, t)}/passkeys/reset"
    ),
    ("POST", "/auth/passkeys/register/options"): lambda w, me, t, r: Call(
        "/auth/passkeys/register/options", {"password": PASSWORD}
    ),
    ("POST", "/auth/passkeys/register"): lambda w, me, t, r: _passkey_registration(w, me, r),
    ("GET", "/auth/passkeys"): lambda w, me, t, r: Call("/auth/passkeys"),
    ("DELETE", "/auth/passkeys/{passkey_id}"): lambda w, me, t, r: Call(
        f"/auth/passkeys/{_passkey(w, me, t, r)}"
    ),
    ("GET", "/auth/sign-ins"): lambda w, me, t, r: Call("/auth/sign-ins"),
    ("POST", "/users/{user_id}/unlock"): lambda w, me, t, r: Call(
        f"/users/{_user_target(w, me, t)}/unlock"
    ),
    ("POST", "/users/{user_id}/password"): lambda w, me, t, r: Call(
        f"/users/{_user_target(w, me, t)}/password", {"password": unique("a new passphrase")}
    ),
    ("POST", "/api-keys"): lambda w, me, t, r: Call(
        "/api-keys", {"name": unique("k"), "role": "service"}
    ),
    ("GET", "/api-keys"): lambda w, me, t, r: Call("/api-keys"),
    ("DELETE", "/api-keys/{key_id}"): lambda w, me, t, r: Call(
        f"/api-keys/{_key_target(w, me, t)}"
    ),
    ("POST", "/individuals"): lambda w, me, t, r: Call(
        "/individuals", {"full_name": unique("New Person")}
    ),
    ("GET", "/individuals"): lambda w, me, t, r: Call("/individuals"),
    ("GET", "/individuals/{individual_id}"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}"
    ),
    ("PATCH", "/individuals/{individual_id}"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}", {"notes": "Updated."}
    ),
    ("DELETE", "/individuals/{individual_id}"): lambda w, me, t, r: Call(
        f"/individuals/{w.fresh_person(t) if t is me else t.ids['individual']}",
        {"reason": "Consent withdrawn."},
    ),
    ("POST", "/individuals/{individual_id}/documents"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/documents",
        {
            "type": "passport",
            "number": unique("N").upper(),
            "issuing_country": "KHM",
            "status": "valid",
        },
    ),
    ("GET", "/individuals/{individual_id}/documents"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/documents"
    ),
    ("POST", "/documents/revocations"): lambda w, me, t, r: Call(
        "/documents/revocations",
        {
            "issuing_country": "KHM",
            "numbers": [unique("N").upper()],
            "effective_date": _today(),
            "source": "Decree",
        },
    ),
    ("GET", "/documents/{document_id}"): lambda w, me, t, r: Call(
        f"/documents/{t.ids['document']}"
    ),
    ("PATCH", "/documents/{document_id}"): lambda w, me, t, r: Call(
        f"/documents/{t.ids['document']}", {"status": "valid", "status_date": _today()}
    ),
    ("POST", "/individuals/{individual_id}/unhcr-status"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/unhcr-status",
        {"status": "asylum_seeker", "effective_date": _today()},
    ),
    ("GET", "/individuals/{individual_id}/unhcr-status"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/unhcr-status"
    ),
    ("POST", "/individuals/{individual_id}/consent"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/consent",
        {"store": True, "share_with_partners": True, "method": "verbal", "recorded_on": _today()},
    ),
    ("GET", "/individuals/{individual_id}/consent"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/consent"
    ),
    ("GET", "/individuals/{individual_id}/duplicates"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/duplicates"
    ),
    # In scope: two fresh records of the caller's organisation; outside: the other's record.
    ("POST", "/individuals/{individual_id}/merge"): lambda w, me, t, r: Call(
        f"/individuals/{w.fresh_person(t) if t is me else t.ids['individual']}/merge",
        {"into": w.fresh_person(me)},
    ),
    ("POST", "/organisations"): lambda w, me, t, r: Call(
        "/organisations", {"name": unique("Partner organisation")}
    ),
    ("GET", "/organisations"): lambda w, me, t, r: Call("/organisations"),
    ("PATCH", "/organisations/{organisation_id}"): lambda w, me, t, r: Call(
        f"/organisations/{t.organisation.id}", {"time_zone": "Asia/Bangkok"}
    ),
    ("POST", "/incidents"): lambda w, me, t, r: Call(
        "/incidents",
        {
            "type": "threat",
            "occurred_on": _today(),
            "country": "THA",
            "description": "A threat by telephone.",
            "individual_ids": [t.ids["individual"]],
            "source": {"name": "monitor", "reliability": "C", "credibility": 3},
        },
    ),
    ("GET", "/incidents"): lambda w, me, t, r: Call("/incidents"),
    ("GET", "/incidents/{incident_id}"): lambda w, me, t, r: Call(
        f"/incidents/{t.ids['incident']}"
    ),
    ("POST", "/cases"): lambda w, me, t, r: Call("/cases", {"individual_id": t.ids["individual"]}),
    ("GET", "/cases"): lambda w, me, t, r: Call("/cases"),
    ("GET", "/cases/{case_id}"): lambda w, me, t, r: Call(f"/cases/{t.ids['case']}"),
    ("PATCH", "/cases/{case_id}"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}", {"priority": "high"}
    ),
    ("POST", "/cases/{case_id}/assignments"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/assignments",
        {"user_id": str(t.users["lawyer_other"].id), "role": "lawyer"},
    ),
    ("DELETE", "/cases/{case_id}/assignments/{user_id}"): lambda w, me, t, r: _unassign(w, me, t),
    ("POST", "/cases/{case_id}/notes"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/notes", {"body": "Called the family."}
    ),
    ("GET", "/cases/{case_id}/notes"): lambda w, me, t, r: Call(f"/cases/{t.ids['case']}/notes"),
    ("POST", "/cases/{case_id}/break-glass"): lambda w, me, t, r: Call(
        f"/cases/{_unseen_case(w, me, t)}/break-glass",
        {"reason": "Detained at the airport tonight; the assigned caseworker cannot be reached."},
    ),
    ("GET", "/cases/{case_id}/history"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/history"
    ),
    ("POST", "/cases/{case_id}/attachments"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/attachments", files={"file": ("note.txt", b"hello", "text/plain")}
    ),
    ("GET", "/cases/{case_id}/attachments"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/attachments"
    ),
    ("GET", "/attachments/{attachment_id}"): lambda w, me, t, r: Call(
        f"/attachments/{t.ids['attachment']}"
    ),
    ("GET", "/cases/{case_id}/export"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/export", params={"format": "json"}
    ),
    ("GET", "/stats"): lambda w, me, t, r: Call("/stats", params={"by": "country"}),
    ("POST", "/individuals/{individual_id}/check-ins"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/check-ins", {"channel": "phone"}
    ),
    ("POST", "/lists/match"): lambda w, me, t, r: Call(
        "/lists/match",
        {"names": [unique("Nobody")], "source": "State TV", "published_on": _today()},
    ),
    ("POST", "/country-events"): lambda w, me, t, r: Call(
        "/country-events",
        {
            "country": "KHM",
            "kind": "crackdown",
            "occurred_on": _today(),
            "description": "Order against a planned return.",
            "affects": {"nationality": "LAO"},
        },
    ),
    ("GET", "/audit"): lambda w, me, t, r: Call("/audit", params={"limit": 5}),
    ("GET", "/audit/verify"): lambda w, me, t, r: Call("/audit/verify"),
    ("GET", "/individuals/{individual_id}/risk"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/risk"
    ),
    ("POST", "/individuals/{individual_id}/risk/override"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/risk/override",
        {"level": "high", "justification": "Return date announced.", "expires_on": _today()},
    ),
    # Lifting is idempotent: 204 whether or not an override was in force.
    ("DELETE", "/individuals/{individual_id}/risk/override"): lambda w, me, t, r: Call(
        f"/individuals/{t.ids['individual']}/risk/override"
    ),
    ("GET", "/me/notifications"): lambda w, me, t, r: Call("/me/notifications"),
    ("PUT", "/me/notifications"): lambda w, me, t, r: Call(
        "/me/notifications", {"email": True, "push": True, "min_severity": "critical"}
    ),
    ("GET", "/push/key"): lambda w, me, t, r: Call("/push/key"),
    ("POST", "/me/push-subscriptions"): lambda w, me, t, r: Call(
        "/me/push-subscriptions", _browser()
    ),
    ("GET", "/me/push-subscriptions"): lambda w, me, t, r: Call("/me/push-subscriptions"),
    ("DELETE", "/me/push-subscriptions/{subscription_id}"): lambda w, me, t, r: Call(
        f"/me/push-subscriptions/{_subscription(w, me, t, r)}"
    ),
    ("GET", "/on-call"): lambda w, me, t, r: Call("/on-call"),
    ("POST", "/on-call"): lambda w, me, t, r: Call("/on-call", _shift(t)),
    ("DELETE", "/on-call/{shift_id}"): lambda w, me, t, r: Call(f"/on-call/{_shift_of(w, t)}"),
    ("GET", "/notifications/unreachable"): lambda w, me, t, r: Call("/notifications/unreachable"),
    ("GET", "/reference/countries"): lambda w, me, t, r: Call("/reference/countries"),
    # Effective far ahead, so it changes no assessment made while the suite runs.
    ("PUT", "/reference/countries/{code}"): lambda w, me, t, r: Call(
        "/reference/countries/ISL",
        {"fields": {"party_cat": True}, "reason": "Matrix check.", "effective_on": "2100-01-01"},
    ),
    # example.org names resolve nowhere: registration accepts a name that does not resolve
    # (every delivery vets the addresses again), so the matrix needs no network.
    ("POST", "/webhooks"): lambda w, me, t, r: Call(
        "/webhooks", {"url": "https://hooks.example.org/haven", "events": ["alert.created"]}
    ),
    ("GET", "/webhooks"): lambda w, me, t, r: Call("/webhooks"),
    ("DELETE", "/webhooks/{webhook_id}"): lambda w, me, t, r: Call(
        f"/webhooks/{_webhook_target(w, t)}"
    ),
    # In scope: the caller's own case, referred to the other organisation.
    ("POST", "/cases/{case_id}/referrals"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/referrals",
        {
            "to_organisation": str(_other(w, t).organisation.id),
            "purpose": "Legal representation.",
            "sections": ["identity"],
        },
    ),
    ("GET", "/cases/{case_id}/referrals"): lambda w, me, t, r: Call(
        f"/cases/{t.ids['case']}/referrals"
    ),
    ("GET", "/referrals"): lambda w, me, t, r: Call("/referrals"),
    ("GET", "/referrals/{referral_id}"): lambda w, me, t, r: Call(
        f"/referrals/{t.ids['referral']}"
    ),
    # In scope: a fresh referral to the caller's organisation; outside: the other's referral.
    ("POST", "/referrals/{referral_id}/accept"): lambda w, me, t, r: Call(
        f"/referrals/{_incoming(w, me, t)}/accept"
    ),
    ("POST", "/referrals/{referral_id}/decline"): lambda w, me, t, r: Call(
        f"/referrals/{_incoming(w, me, t)}/decline"
    ),
    # In scope: a fresh referral of a case the caller's caseworker works.
    ("POST", "/referrals/{referral_id}/revoke"): lambda w, me, t, r: Call(
        f"/referrals/{_outgoing(w, me, t)}/revoke"
    ),
    ("GET", "/alerts"): lambda w, me, t, r: Call("/alerts"),
    # once=1: what is there and one heartbeat, then the stream ends (a matrix reads bodies).
    ("GET", "/alerts/stream"): lambda w, me, t, r: Call("/alerts/stream", params={"once": 1}),
    ("GET", "/alerts/{alert_id}"): lambda w, me, t, r: Call(f"/alerts/{t.ids['alert']}"),
    # Acknowledging twice is a no-op: every role may use the same alert.
    ("POST", "/alerts/{alert_id}/acknowledge"): lambda w, me, t, r: Call(
        f"/alerts/{t.ids['alert']}/acknowledge"
    ),
    ("POST", "/alerts/{alert_id}/resolve"): lambda w, me, t, r: Call(
        f"/alerts/{_open_alert(w, me, t)}/resolve", {"note": "Released the same day."}
    ),
}

# Routes about the caller itself or the whole deployment: there is no "other organisation" form.
UNSCOPED = {
    ("POST", "/webhooks"),
    ("GET", "/webhooks"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("PATCH", "/auth/me"),
    ("GET", "/export-keys"),
    ("POST", "/lock"),
    ("POST", "/auth/mfa/enroll"),
    ("POST", "/auth/mfa/confirm"),
    ("POST", "/auth/password"),
    ("POST", "/auth/passkeys/register/options"),
    ("POST", "/auth/passkeys/register"),
    ("GET", "/auth/passkeys"),
    ("GET", "/auth/sign-ins"),
    ("POST", "/users"),
    ("GET", "/users"),
    ("POST", "/api-keys"),
    ("GET", "/api-keys"),
    ("POST", "/individuals"),
    ("GET", "/individuals"),
    ("POST", "/organisations"),
    ("GET", "/organisations"),
    ("PATCH", "/organisations/{organisation_id}"),  # the deployment's administrators: every one
    ("POST", "/documents/revocations"),
    ("GET", "/incidents"),
    ("GET", "/cases"),
    ("GET", "/referrals"),
    ("GET", "/stats"),
    ("GET", "/audit"),
    ("GET", "/audit/verify"),
    ("GET", "/reference/countries"),
    ("PUT", "/reference/countries/{code}"),
    ("POST", "/lists/match"),
    ("POST", "/country-events"),
    ("GET", "/alerts"),
    ("GET", "/alerts/stream"),
    ("GET", "/me/notifications"),
    ("PUT", "/me/notifications"),
    ("GET", "/push/key"),
    ("POST", "/me/push-subscriptions"),
    ("GET", "/me/push-subscriptions"),
    ("GET", "/on-call"),
    ("GET", "/notifications/unreachable"),
}
# Routes that end the caller's own session: they get a fresh sign-in of their own.
OWN_SESSION = {("POST", "/auth/logout"), ("POST", "/auth/password")}
# In-scope answers other than plain success, with the reason.
IN_SCOPE_STATUS: dict[tuple[str, str], dict[str, int]] = {
    # A wrong code is the only code a matrix can send; the route is reached, not refused.
    ("POST", "/auth/mfa/confirm"): {role: 400 for role in ROLES},
    # A supervisor already sees every case of the organisation: nothing to break into.
    ("POST", "/cases/{case_id}/break-glass"): {"supervisor": 409},
    # The wrong password (see SAMPLES): the route is reached, the lock refused.
    ("POST", "/lock"): {"supervisor": 403, "admin": 403},
}


def _open_alert(w: World, me: Org, t: Org) -> str:
    """A fresh open alert in the caller's organisation (resolving one twice is a 409)."""
    if t is not me:
        return t.ids["alert"]
    person = w.fresh_person(t)
    _detain(t.team, t.headers["caseworker"], person)
    return _custody_alert(w.client, t, person)


def _browser() -> dict[str, Any]:
    """A browser's push subscription: a fresh P-256 key and auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {
        "endpoint": f"https://push.example.org/send/{uuid.uuid4().hex}",
        "keys": {"p256dh": b64(point), "auth": b64(uuid.uuid4().bytes)},
    }


def _team_of(w: World, t: Org) -> Org:
    """The team whose users ``t`` holds: a referred view carries the sending team's users with
    the receiving team's headers."""
    return next((org for org in (w.a, w.b) if org.users is t.users), t)


def _subscription(w: World, me: Org, t: Org, role: str) -> str:
    """The caller's own browser, or one of the other organisation's caseworker."""
    if t is me and role != Role.SERVICE:
        owner = t.headers[role]
    else:
        owner = _team_of(w, t).headers["caseworker"]
        # The matrices refuse to delete it, so they add up: stay under the 10 per account.
        listed = w.client.get(f"{API}/me/push-subscriptions", headers=owner).json()
        for browser in listed["items"]:
            w.client.delete(f"{API}/me/push-subscriptions/{browser['id']}", headers=owner)
    response = w.client.post(f"{API}/me/push-subscriptions", json=_browser(), headers=owner)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _shift(t: Org) -> dict[str, Any]:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    return {
        "user_id": str(t.users["caseworker"].id),
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=12)).isoformat(),
    }


def _shift_of(w: World, t: Org) -> str:
    # Made by the supervisor of the team its caseworker belongs to.
    owner = _team_of(w, t)
    response = w.client.post(f"{API}/on-call", json=_shift(t), headers=owner.headers["supervisor"])
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _other(w: World, org: Org) -> Org:
    return w.b if org is w.a else w.a


def _fresh_referred_case(w: World, frm: Org, to: Org) -> tuple[str, str]:
    """A fresh case of ``frm`` (its person consenting to share) referred to ``to``."""
    case = w.fresh_case(frm)
    person = w.client.get(f"{API}/cases/{case}", headers=frm.headers["caseworker"]).json()
    _consent(w.client, frm, person["individual_id"])
    assert to.organisation is not None
    return case, _referral(w.client, frm, case, to.organisation)


def _incoming(w: World, me: Org, t: Org) -> str:
    if t is not me:
        return t.ids["referral"]
    return _fresh_referred_case(w, _other(w, me), me)[1]


def _outgoing(w: World, me: Org, t: Org) -> str:
    if t is not me:
        return t.ids["referral"]
    return _fresh_referred_case(w, me, _other(w, me))[1]


def _unseen_case(w: World, me: Org, t: Org) -> str:
    return w.fresh_case(t, by="caseworker_other") if t is me else t.ids["case"]


def _passkey_registration(w: World, me: Org, role: str) -> Call:
    """A real registration of the caller's (a software authenticator answers the options)."""
    headers = me.headers[role]
    options = w.client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=headers
    )
    if options.status_code != 200:  # a role that may not: the route must say 403 itself
        return Call("/auth/passkeys/register", {"credential": {}, "name": "k"})
    credential = authenticator.for_app(w.client).create(options.json())
    return Call("/auth/passkeys/register", {"credential": credential, "name": "k"})


def _passkey(w: World, me: Org, t: Org, role: str) -> str:
    """The caller's own passkey, or one of a fresh caseworker of the target's organisation."""
    if t is me and role != Role.SERVICE:
        owner = t.headers[role]
    else:
        owner = t.team.member("caseworker").headers
    return authenticator.register(w.client, owner)[1]


def _user_target(w: World, me: Org, t: Org) -> str:
    # Administrators manage accounts deployment-wide: "out of scope" is an unknown account.
    return str(make_user(w.app, "caseworker").id) if t is me else str(uuid.uuid4())


def _key_target(w: World, me: Org, t: Org) -> str:
    if t is not me:
        return str(uuid.uuid4())
    response = w.client.post(
        f"{API}/api-keys",
        json={"name": unique("k"), "role": "service"},
        headers=me.headers["admin"],
    )
    return response.json()["id"]


def _webhook_target(w: World, t: Org) -> str:
    """A fresh endpoint of the target organisation, registered by its administrator."""
    response = w.client.post(
        f"{API}/webhooks",
        json={"url": "https://hooks.example.org/haven", "events": ["*"]},
        headers=t.headers["admin"],
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _unassign(w: World, me: Org, t: Org) -> Call:
    if t is me:
        lawyer = t.users["lawyer_other"]
        case = w.fresh_case(t, lawyer=lawyer)
        return Call(f"/cases/{case}/assignments/{lawyer.id}")
    return Call(f"/cases/{t.ids['case']}/assignments/{t.users['lawyer'].id}")


def _route_key(path: str) -> str:
    return path.removeprefix(API)


def _api_routes(app: FastAPI) -> list[tuple[str, str, tuple]]:
    found = []
    for route in api_routes(app):
        # The web client's pages (outside /api/v1) have their own test: tests/web/test_pages.py.
        if route.path in PUBLIC_PATHS or not route.path.startswith(API + "/"):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            found.append((method, _route_key(route.path), route.actions))
    return found


def _send(client: TestClient, method: str, call: Call, headers: dict[str, str] | None) -> int:
    return client.request(
        method,
        API + call.path,
        json=call.json,
        files=call.files,
        params=call.params,
        headers=headers,
    ).status_code


def _headers(w: World, org: Org, role: str, key: tuple[str, str]) -> dict[str, str]:
    if key in OWN_SESSION and role != Role.SERVICE:
        return org.team.member(role).headers
    return org.headers[role]


def test_every_route_has_an_authorization_dependency(app: FastAPI) -> None:
    missing = [f"{m} {p}" for m, p, actions in _api_routes(app) if not actions]
    assert missing == []


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    routes = {(m, p) for m, p, _ in _api_routes(app)}
    assert routes - SAMPLES.keys() == set(), "add the new route to SAMPLES"
    assert SAMPLES.keys() - routes == set(), "SAMPLES names a route that no longer exists"


def test_anonymous_callers_get_401(app: FastAPI, world: World) -> None:
    failures = []
    for method, path, _ in _api_routes(app):
        call = SAMPLES[(method, path)](world, world.a, world.a, "caseworker")
        status = _send(world.client, method, call, None)
        if status != 401:
            failures.append(f"{method} {path}: {status}")
    assert failures == []


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(app: FastAPI, world: World, role: str) -> None:
    failures = []
    for method, path, actions in _api_routes(app):
        key = (method, path)
        allowed = any(roles.allows(role, action) for action in actions)
        me = world.a
        headers = _headers(world, me, role, key)
        in_scope = _send(world.client, method, SAMPLES[key](world, me, me, role), headers)
        if not allowed:
            if in_scope != 403:
                failures.append(f"{role} {method} {path}: {in_scope}, expected 403")
            continue
        expected = IN_SCOPE_STATUS.get(key, {}).get(role)
        ok = in_scope == expected if expected else 200 <= in_scope < 300
        if not ok:
            failures.append(
                f"{role} {method} {path} in scope: {in_scope}, expected {expected or '2xx'}"
            )
        if key in UNSCOPED:
            continue
        headers = _headers(world, me, role, key)
        outside = _send(world.client, method, SAMPLES[key](world, me, world.b, role), headers)
        if outside != 404:
            failures.append(f"{role} {method} {path} out of scope: {outside}, expected 404")
    assert failures == []


# Not /audit: auditors oversee the whole deployment's trail, which holds ids and never names.
LISTINGS = [
    "/individuals",
    "/cases",
    "/incidents",
    "/alerts",
    "/users",
    "/api-keys",
]


@pytest.mark.parametrize("role", ROLES)
def test_no_listing_or_search_leaks_the_other_organisation(world: World, role: str) -> None:
    """Lists, searches and counts of one organisation hold nothing of the other's caseload."""
    theirs = {v for k, v in world.b.ids.items() if k != "organisation"}
    name = world.b.names["individual"]
    number = world.b.names["document"]
    calls = [(path, None) for path in LISTINGS] + [
        ("/individuals", {"name": name}),
        ("/individuals", {"document_number": number}),
        ("/stats", {"by": "country"}),
    ]
    for path, params in calls:
        response = world.client.get(API + path, params=params, headers=world.a.headers[role])
        if response.status_code in (401, 403):
            continue
        assert response.status_code == 200, (path, response.status_code)
        leaked = [i for i in theirs if i in response.text]
        assert leaked == [], (role, path, params)
        assert name not in response.text and number not in response.text


# Referred access: a case of a referred to b with these sections, accepted; b's supervisor
# assigns its caseworker and lawyer under the referral.
REFERRED_SECTIONS = ["identity", "documents", "history"]
# Reads through a referral and the section each needs (None: any referred section).
REFERRED_READS: dict[tuple[str, str], str | None] = {
    ("GET", "/individuals/{individual_id}"): None,
    ("GET", "/individuals/{individual_id}/documents"): "documents",
    ("GET", "/documents/{document_id}"): "documents",
    ("GET", "/individuals/{individual_id}/unhcr-status"): "unhcr_status",
    ("GET", "/incidents/{incident_id}"): "incidents",
    ("GET", "/cases/{case_id}"): None,
    ("GET", "/cases/{case_id}/notes"): "history",
    ("GET", "/cases/{case_id}/history"): "history",
    ("GET", "/cases/{case_id}/export"): None,
    ("GET", "/cases/{case_id}/referrals"): None,
    ("GET", "/referrals/{referral_id}"): None,
}
# Writes through a referral: counsel adds legal notes (history section); nothing else. The
# receiving supervisor's decision is taken already (409).
REFERRED_WRITES: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/cases/{case_id}/notes"): {"lawyer": 201, "supervisor": 403, "caseworker": 403},
    ("POST", "/referrals/{referral_id}/accept"): {"supervisor": 409},
    ("POST", "/referrals/{referral_id}/decline"): {"supervisor": 409},
}
# After revocation the receiving supervisor still sees that the referral ended (its bare
# record, no purpose), and cannot decide on it any more; nothing else of the case.
ENDED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/referrals/{referral_id}"): {"supervisor": 200},
    ("POST", "/referrals/{referral_id}/accept"): {"supervisor": 409},
    ("POST", "/referrals/{referral_id}/decline"): {"supervisor": 409},
    ("POST", "/referrals/{referral_id}/revoke"): {"supervisor": 403},
}
RECEIVING_ROLES = ["supervisor", "caseworker", "lawyer"]


@pytest.fixture(scope="module")
def referred(world: World) -> Org:
    """b's view of a's freshly referred records: a's ids, a's users, b's callers."""
    a, b = world.a, world.b
    ids, names = _records(world.client, a)
    _consent(world.client, a, ids["individual"])
    assert b.organisation is not None
    ids["referral"] = _referral(world.client, a, ids["case"], b.organisation, REFERRED_SECTIONS)
    accepted = world.client.post(
        f"{API}/referrals/{ids['referral']}/accept", headers=b.headers["supervisor"]
    )
    assert accepted.status_code == 200, accepted.text
    for role in ("caseworker", "lawyer"):
        assigned = world.client.post(
            f"{API}/cases/{ids['case']}/assignments",
            json={"user_id": str(b.users[role].id), "role": role},
            headers=b.headers["supervisor"],
        )
        assert assigned.status_code == 201, assigned.text
    return Org(a.team, users=a.users, headers=b.headers, ids=ids, names=names)


def _referred_failures(app: FastAPI, world: World, referred: Org, *, active: bool) -> list[str]:
    failures = []
    for method, path, actions in _api_routes(app):
        key = (method, path)
        if key in UNSCOPED:
            continue
        for role in RECEIVING_ROLES:
            if not any(roles.allows(role, action) for action in actions):
                continue  # 403 by role: the role matrix covers it
            call = SAMPLES[key](world, world.b, referred, role)
            status = _send(world.client, method, call, world.b.headers[role])
            if not active:
                expected: set[int] = {ENDED.get(key, {}).get(role, 404)}
            elif key in REFERRED_READS:
                section = REFERRED_READS[key]
                expected = {200 if section is None or section in REFERRED_SECTIONS else 404}
            elif key in REFERRED_WRITES:
                expected = {REFERRED_WRITES[key][role]}
            else:
                expected = {403, 404, 422}  # never through a referral
            if status not in expected:
                failures.append(f"{role} {method} {path}: {status}, expected {sorted(expected)}")
    return failures


def test_referred_access_matrix(app: FastAPI, world: World, referred: Org) -> None:
    """Receiving roles on every route: in-section reads 200, everything else refused; after
    the referral is revoked, 404 everywhere."""
    assert _referred_failures(app, world, referred, active=True) == []
    revoked = world.client.post(
        f"{API}/referrals/{referred.ids['referral']}/revoke", headers=world.a.headers["caseworker"]
    )
    assert revoked.status_code == 200, revoked.text
    assert _referred_failures(app, world, referred, active=False) == []
    ended = world.client.get(
        f"{API}/referrals/{referred.ids['referral']}", headers=world.b.headers["supervisor"]
    ).json()
    assert ended["status"] == "revoked" and ended["purpose"] is None


# Break-glass and unassignment (issue 13, item 1): access follows current assignment, and an
# emergency grant is read-only and temporary.
BREAK_GLASS = ("POST", "/cases/{case_id}/break-glass")
# What a break-glass grant lets its caseworker read: the case, its person (location and
# contact withheld), their records and the case's history. Everything else is refused.
EMERGENCY_READS = {
    ("GET", "/individuals/{individual_id}"),
    ("GET", "/individuals/{individual_id}/documents"),
    ("GET", "/documents/{document_id}"),
    ("GET", "/individuals/{individual_id}/unhcr-status"),
    ("GET", "/individuals/{individual_id}/consent"),
    ("GET", "/individuals/{individual_id}/duplicates"),
    ("GET", "/individuals/{individual_id}/risk"),
    ("GET", "/incidents/{incident_id}"),
    ("GET", "/cases/{case_id}"),
    ("GET", "/cases/{case_id}/notes"),
    ("GET", "/cases/{case_id}/history"),
    ("GET", "/cases/{case_id}/attachments"),
    ("GET", "/attachments/{attachment_id}"),
    ("GET", "/cases/{case_id}/referrals"),  # the case's, none of which it may see
}


def _target(world: World, ids: dict[str, str], names: dict[str, str], **users: UserHandle) -> Org:
    """a's records ``ids``, as a target distinct from a (so the samples use these ids)."""
    a = world.a
    return Org(a.team, users={**a.users, **users}, headers=a.headers, ids=ids, names=names)


def _scoped_failures(
    app: FastAPI,
    world: World,
    target: Org,
    callers: dict[str, dict[str, str]],
    expect: Callable[[tuple[str, str], str], set[int]],
) -> list[str]:
    """Every scoped route the caller's role may use at all (the role matrix covers the rest),
    except break-glass itself (it would open access for the routes after it)."""
    failures = []
    for method, path, actions in _api_routes(app):
        key = (method, path)
        if key in UNSCOPED or key == BREAK_GLASS:
            continue
        for role, headers in callers.items():
            if not any(roles.allows(role, action) for action in actions):
                continue
            status = _send(
                world.client, method, SAMPLES[key](world, world.a, target, role), headers
            )
            if status not in expect(key, role):
                failures.append(f"{role} {method} {path}: {status}, expected {expect(key, role)}")
    return failures


def test_break_glass_matrix(app: FastAPI, world: World) -> None:
    """A caseworker assigned to nothing takes an emergency grant on a case: the case's reads
    answer 200 without location or contact, every write (a case of their own, assignment,
    referral, consent, note, upload, export …) is refused; once expired, 404 everywhere."""
    a = world.a
    ids, names = _records(world.client, a)
    _consent(world.client, a, ids["individual"])
    ids["referral"] = _referral(world.client, a, ids["case"], a.team.elsewhere().organisation)
    target = _target(world, ids, names)
    rescuer = a.team.member("caseworker")
    bg = SAMPLES[BREAK_GLASS](world, a, target, "caseworker")
    granted = world.client.post(API + bg.path, json=bg.json, headers=rescuer.headers)
    assert granted.status_code == 201, granted.text
    callers = {"caseworker": rescuer.headers}

    def active(key: tuple[str, str], role: str) -> set[int]:
        return {200} if key in EMERGENCY_READS else {403, 404}

    assert _scoped_failures(app, world, target, callers, active) == []
    assert _send(world.client, "POST", bg, rescuer.headers) == 409  # one grant at a time
    person = world.client.get(f"{API}/individuals/{ids['individual']}", headers=rescuer.headers)
    assert person.json()["current_location"] is None and person.json()["contact"] is None
    with db(app) as session:
        session.execute(
            update(BreakGlassGrant)
            .where(BreakGlassGrant.user_id == rescuer.id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )

    def expired(key: tuple[str, str], role: str) -> set[int]:
        return {404} if key in EMERGENCY_READS else {403, 404}

    assert _scoped_failures(app, world, target, callers, expired) == []


def test_unassignment_matrix(app: FastAPI, world: World) -> None:
    """The caseworker who registered the person and opened the case, and its counsel, once
    unassigned: 404 on every route of the case and its person (another caseworker works it)."""
    a = world.a
    worker, counsel = a.team.member("caseworker"), a.team.member("lawyer")
    theirs = Org(a.team, users={**a.users, "lawyer": counsel.user}, headers=dict(a.headers))
    theirs.headers["caseworker"] = worker.headers
    ids, names = _records(world.client, theirs)
    _consent(world.client, theirs, ids["individual"])
    ids["referral"] = _referral(world.client, theirs, ids["case"], a.team.elsewhere().organisation)
    boss = a.headers["supervisor"]
    assert a.team.assign(boss, ids["case"], a.team.member("caseworker")).status_code == 201
    for who in (worker, counsel):
        removed = world.client.delete(
            f"{API}/cases/{ids['case']}/assignments/{who.id}", headers=boss
        )
        assert removed.status_code == 204, removed.text
    target = _target(world, ids, names, lawyer=counsel.user)
    callers = {"caseworker": worker.headers, "lawyer": counsel.headers}
    assert _scoped_failures(app, world, target, callers, lambda k, r: {403, 404}) == []
    for path in ("/cases/{case_id}", "/individuals/{individual_id}"):
        call = SAMPLES[("GET", path)](world, a, target, "caseworker")
        for headers in callers.values():
            assert _send(world.client, "GET", call, headers) == 404, path
