"""Passkeys through the real endpoints, with a software authenticator (tests/auth/authenticator.py):
register, sign in, and every way an assertion must be refused."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.models.alert import Alert
from app.models.audit import AuditEntry
from app.models.passkey import WebAuthnChallenge
from tests.auth.authenticator import UP, UV, b64, for_app, login_options, register
from tests.factories import API, PASSWORD, Team, db, login

LOGIN = f"{API}/auth/passkeys/login"


def _sign_in(client: TestClient, credential: dict[str, Any]) -> Any:
    return client.post(LOGIN, json={"credential": credential})


def _me(client: TestClient, token: str) -> Any:
    return client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_register_then_sign_in_without_a_username(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, passkey_id = register(client, member.headers, name="Blue key")
    listed = client.get(f"{API}/auth/passkeys", headers=member.headers).json()
    assert [(p["id"], p["name"], p["last_used_at"]) for p in listed] == [
        (passkey_id, "Blue key", None)
    ]
    # Discoverable: no username, the authenticator names the account (its user handle).
    answer = _sign_in(client, device.get(login_options(client)))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    me = _me(client, body["access_token"])
    assert me.status_code == 200 and me.json()["username"] == member.user.username
    listed = client.get(f"{API}/auth/passkeys", headers=member.headers).json()
    assert listed[0]["last_used_at"] is not None
    # The user's own recent sign-ins: the password one of the fixture and this one.
    signins = client.get(f"{API}/auth/sign-ins", headers=member.headers).json()
    assert [s["method"] for s in signins[:2]] == ["passkey", "password"]
    assert all(s["client"] and ":" not in s["client"] for s in signins[:2])  # a tag, no address
    with db(client.app) as session:  # type: ignore[arg-type]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor_id == member.id)
        ).all()
    assert "auth.passkey_added" in actions and "auth.passkey_login" in actions


def test_sign_in_with_a_username_lists_only_its_passkeys(client: TestClient, team: Team) -> None:
    member = team.member("lawyer")
    device, _ = register(client, member.headers)
    options = login_options(client, member.user.username)
    assert [c["id"] for c in options["allowCredentials"]] == [b64(device.credential_id)]
    assert options["userVerification"] == "required"
    # An unknown username looks exactly like no username: nobody learns who exists.
    assert login_options(client, "nobody-" + uuid.uuid4().hex[:8])["allowCredentials"] == []
    assert _sign_in(client, device.get(options)).status_code == 200


def test_registration_needs_the_current_password(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    path = f"{API}/auth/passkeys/register/options"
    wrong = client.post(path, json={"password": "not it"}, headers=member.headers)
    assert wrong.status_code == 403
    assert client.post(path, json={}, headers=member.headers).status_code == 422
    assert client.post(path, json={"password": PASSWORD}).status_code == 401


def test_a_passkey_made_for_another_origin_is_refused(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    path = f"{API}/auth/passkeys/register"
    options = client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=member.headers
    ).json()
    phished = for_app(client).create(options, origin="https://haven-login.example.net")
    made = client.post(path, json={"credential": phished, "name": "k"}, headers=member.headers)
    assert made.status_code == 400
    assert client.get(f"{API}/auth/passkeys", headers=member.headers).json() == []
    # A real passkey's assertion relayed through a look-alike origin is refused too.
    device, _ = register(client, member.headers)
    relayed = device.get(login_options(client), origin="https://haven-login.example.net")
    assert _sign_in(client, relayed).status_code == 401
    # And one for another RP ID (a passkey of another site).
    elsewhere = for_app(client)
    elsewhere.rp_id = "evil.example.net"
    options = client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=member.headers
    ).json()
    made = client.post(
        path, json={"credential": elsewhere.create(options), "name": "k"}, headers=member.headers
    )
    assert made.status_code == 400


def test_a_replayed_assertion_is_refused(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    assertion = device.get(login_options(client))
    assert _sign_in(client, assertion).status_code == 200
    # The same assertion again: its challenge was used.
    assert _sign_in(client, assertion).status_code == 401
    # A fresh challenge signed with a counter that did not move on (a cloned authenticator).
    stale = device.get(login_options(client), counter=device.counter)
    assert _sign_in(client, stale).status_code == 401
    # A refused answer uses its challenge up too.
    options = login_options(client)
    refused = device.get(options, counter=0)
    assert _sign_in(client, refused).status_code == 401
    assert _sign_in(client, device.get(options)).status_code == 401
    # The genuine authenticator, with a fresh challenge, still works.
    assert _sign_in(client, device.get(login_options(client))).status_code == 200


def test_an_expired_challenge_is_refused(app: FastAPI, client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    options = login_options(client)
    with db(app) as session:
        session.execute(
            update(WebAuthnChallenge)
            .where(WebAuthnChallenge.purpose == "login")
            .where(WebAuthnChallenge.expires_at > dt.datetime.now(dt.UTC))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert _sign_in(client, device.get(options)).status_code == 401
    assert _sign_in(client, device.get(login_options(client))).status_code == 200


def test_user_verification_is_required(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    assert _sign_in(client, device.get(login_options(client), flags=UP)).status_code == 401
    options = client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=member.headers
    ).json()
    made = client.post(
        f"{API}/auth/passkeys/register",
        json={"credential": for_app(client).create(options, flags=UP), "name": "k"},
        headers=member.headers,
    )
    assert made.status_code == 400


def test_backup_flags_are_checked(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)  # not backup-eligible when made
    device.backup_eligible = True
    assert _sign_in(client, device.get(login_options(client))).status_code == 401
    device.backup_eligible = False
    # Backed up (BS) without being eligible (BE) is malformed.
    bad = device.get(login_options(client), flags=UP | UV | 0x10)
    assert _sign_in(client, bad).status_code == 401


def test_a_tampered_signature_is_refused(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    assertion = device.get(login_options(client))
    other = for_app(client)  # another key signs the same credential id
    other.credential_id, other.user_handle, other.counter = (
        device.credential_id,
        device.user_handle,
        device.counter + 10,  # ahead of the stored counter: only the signature is wrong
    )
    assert _sign_in(client, other.get(login_options(client))).status_code == 401
    assertion["response"]["signature"] = assertion["response"]["signature"][:-4] + "AAAA"
    assert _sign_in(client, assertion).status_code == 401


def test_removing_a_passkey(client: TestClient, team: Team) -> None:
    member, other = team.member("caseworker"), team.member("caseworker")
    device, passkey_id = register(client, member.headers)
    assert (
        client.delete(f"{API}/auth/passkeys/{passkey_id}", headers=other.headers).status_code == 404
    )
    assert (
        client.delete(f"{API}/auth/passkeys/{passkey_id}", headers=member.headers).status_code
        == 204
    )
    assert client.get(f"{API}/auth/passkeys", headers=member.headers).json() == []
    # Tokens are kept; the passkey signs in no more.
    assert client.get(f"{API}/auth/me", headers=member.headers).status_code == 200
    assert _sign_in(client, device.get(login_options(client))).status_code == 401


def test_malformed_credentials_are_4xx(client: TestClient) -> None:
    for credential in ({}, {"response": {"clientDataJSON": "!!"}}, {"response": []}):
        assert 400 <= _sign_in(client, credential).status_code < 500
    assert client.post(LOGIN, json={"credential": "x"}).status_code == 422


def test_a_disabled_user_cannot_sign_in_with_a_passkey(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    admin = team.signed_in("admin")
    assert client.delete(f"{API}/users/{member.id}", headers=admin.headers).status_code in (
        200,
        204,
    )
    assert _sign_in(client, device.get(login_options(client))).status_code == 401


def test_admin_reset_removes_passkeys_and_alerts(
    app: FastAPI, client: TestClient, team: Team
) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    admin = team.signed_in("admin")
    path = f"{API}/users/{member.id}/passkeys/reset"
    assert client.post(path, headers=team.signed_in("supervisor").headers).status_code == 403
    own = client.post(f"{API}/users/{admin.id}/passkeys/reset", headers=admin.headers)
    assert own.status_code == 403
    reset = client.post(path, headers=admin.headers)
    assert reset.status_code == 200 and reset.json() == {"removed": 1}
    assert client.get(f"{API}/auth/me", headers=member.headers).status_code == 401  # revoked
    assert _sign_in(client, device.get(login_options(client))).status_code == 401
    with db(app) as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "user.passkeys_reset", AuditEntry.subject_id == member.id
            )
        ).one()
        assert entry.actor_id == admin.id
        alerts = session.scalars(select(Alert).where(Alert.subject_id == member.id)).all()
    assert alerts, "the organisation's supervisors are alerted"


def test_roles_that_must_use_their_passkey(fresh_database: Any) -> None:
    app = fresh_database(require_passkey_roles="supervisor")
    with TestClient(app) as client:
        team = Team(app, client)
        supervisor, caseworker = team.member("supervisor"), team.member("caseworker")
        for member in (supervisor, caseworker):
            register(client, member.headers)
        refused = client.post(
            f"{API}/auth/login",
            json={"username": supervisor.user.username, "password": PASSWORD},
        )
        assert refused.status_code == 401 and refused.json().get("passkey_required") is True
        login(client, caseworker.user)  # not a role that must: the password still works
