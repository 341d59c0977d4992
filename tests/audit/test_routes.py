"""GET /api/v1/audit and /api/v1/audit/verify: auditors only, filtered, paged, audited."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import UserHandle, login, make_user, unique

from .support import entries

AUDIT = "/api/v1/audit"


def fetch(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(AUDIT, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def fetch_all(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):  # bounded: a cursor that does not advance must fail, not hang
        page = fetch(client, headers, **params, **({"cursor": cursor} if cursor else {}))
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        assert cursor is None or page["next_cursor"] > cursor
        cursor = page["next_cursor"]
    raise AssertionError("the pages never ended")


@pytest.fixture
def auditor(app: FastAPI, client: TestClient) -> tuple[UserHandle, dict[str, str]]:
    user = make_user(app, "auditor")
    return user, login(client, user)


# Filters ------------------------------------------------------------------------------------------
def test_filter_by_actor(
    app: FastAPI, client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    me, headers = auditor
    someone = make_user(app, "caseworker")
    other = login(client, someone)
    client.get("/api/v1/auth/me", headers=other)
    fetch(client, headers)  # an audit.read by me

    mine = fetch(client, headers, actor=str(me.id))["items"]
    assert mine
    assert {item["actor_id"] for item in mine} == {str(me.id)}
    assert {item["actor"] for item in mine} == {me.username}
    assert {item["actor_role"] for item in mine} == {"auditor"}
    assert {"auth.login", "audit.read"} <= {item["action"] for item in mine}

    theirs = fetch(client, headers, actor=str(someone.id))["items"]
    assert [item["action"] for item in theirs] == ["auth.login"]
    assert theirs[0]["actor_id"] == str(someone.id)

    assert fetch(client, headers, actor=str(uuid.uuid4()))["items"] == []


def test_filter_by_subject(
    app: FastAPI, client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    _, headers = auditor
    person = make_user(app, "lawyer")
    login(client, person)
    bad = client.post(
        "/api/v1/auth/login", json={"username": person.username, "password": "x" * 20}
    )
    assert bad.status_code == 401

    about = fetch(client, headers, subject=str(person.id))["items"]
    assert {item["subject_id"] for item in about} == {str(person.id)}
    assert {item["subject_type"] for item in about} == {"user"}
    assert [(item["action"], item["outcome"]) for item in about] == [
        ("auth.login", "ok"),
        ("auth.login_failed", "failed"),
    ]
    assert fetch(client, headers, subject=str(uuid.uuid4()))["items"] == []


def test_filter_by_action_and_combined(
    app: FastAPI, client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    me, headers = auditor
    fetch(client, headers)
    fetch(client, headers)
    reads = fetch_all(client, headers, action="audit.read", limit=500)
    assert reads
    assert {item["action"] for item in reads} == {"audit.read"}

    mine = fetch(client, headers, action="audit.read", actor=str(me.id))["items"]
    assert len(mine) == 3  # two single pages and the one page of fetch_all
    assert {item["actor_id"] for item in mine} == {str(me.id)}
    logins = fetch(client, headers, action="auth.login", actor=str(me.id), subject=str(me.id))
    assert [(item["action"], item["actor_id"], item["subject_id"]) for item in logins["items"]] == [
        ("auth.login", str(me.id), str(me.id))
    ]
    assert fetch(client, headers, action="no.such.action")["items"] == []


def test_bad_filters_are_422(
    client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    _, headers = auditor
    for params in (
        {"actor": "not-a-uuid"},
        {"subject": "not-a-uuid"},
        {"limit": 0},
        {"limit": 501},
        {"cursor": -1},
        {"action": "x" * 65},
    ):
        assert client.get(AUDIT, params=params, headers=headers).status_code == 422, params


# Pagination -------------------------------------------------------------------------------------
def test_pagination_with_limit_and_next_cursor(
    app: FastAPI, client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    _, headers = auditor
    target = make_user(app, "caseworker")
    theirs = login(client, target)
    for _ in range(7):
        assert client.get(AUDIT, headers=theirs).status_code == 403
    # Their entries: one sign-in and seven denials (the auditor's reads are not among them).
    everything = fetch(client, headers, actor=str(target.id), limit=500)
    assert len(everything["items"]) == 8
    assert everything["next_cursor"] is None

    first = fetch(client, headers, actor=str(target.id), limit=3)
    assert first["items"] == everything["items"][:3]
    assert first["next_cursor"] == first["items"][-1]["seq"]

    pages = []
    cursor = None
    for _ in range(4):
        params = {"actor": str(target.id), "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = fetch(client, headers, **params)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [item for p in pages for item in p] == everything["items"]
    seqs = [item["seq"] for item in everything["items"]]
    assert seqs == sorted(set(seqs))

    exact = fetch(client, headers, actor=str(target.id), limit=8)
    assert exact == everything  # a full last page has no next cursor
    assert fetch(client, headers, actor=str(target.id), cursor=seqs[-1]) == {
        "items": [],
        "next_cursor": None,
    }
    assert (
        fetch(client, headers, actor=str(target.id), cursor=seqs[3])["items"]
        == (everything["items"][4:])
    )


# The audit log's own reads are audited ------------------------------------------------------------
def test_reading_the_audit_log_is_itself_audited(
    client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    me, headers = auditor
    first = fetch(client, headers, actor=str(me.id), limit=4)
    assert [item["action"] for item in first["items"]] == ["auth.login"]
    second = fetch(client, headers, actor=str(me.id), limit=4)
    reads = [item for item in second["items"] if item["action"] == "audit.read"]
    assert len(reads) == 1
    assert reads[0]["details"] == {"count": 1}
    assert reads[0]["outcome"] == "ok"
    assert reads[0]["actor_role"] == "auditor"

    verified = client.get(f"{AUDIT}/verify", headers=headers)
    assert verified.status_code == 200
    assert verified.json()["ok"] is True
    checks = fetch(client, headers, actor=str(me.id), action="audit.verify")["items"]
    assert len(checks) == 1
    assert checks[0]["details"] == {"ok": True}


# Who may read it --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "supervisor", "caseworker", "lawyer", "analyst"])
def test_other_roles_are_refused_and_the_refusal_is_recorded(
    app: FastAPI,
    client: TestClient,
    auditor: tuple[UserHandle, dict[str, str]],
    role: str,
) -> None:
    _, headers = auditor
    user = make_user(app, role)
    theirs = login(client, user)
    for path in (AUDIT, f"{AUDIT}/verify", f"{AUDIT}?actor={user.id}"):
        response = client.get(path, headers=theirs)
        assert response.status_code == 403, (path, response.text)
        assert "items" not in response.json()
        assert "ok" not in response.json()

    denials = fetch(client, headers, actor=str(user.id), action="permission.denied")["items"]
    assert len(denials) == 3
    for item in denials:
        assert item["outcome"] == "denied"
        assert item["actor_role"] == role
        assert item["details"] == {"action": "audit.read"}
    # Nothing was read on their behalf.
    assert fetch(client, headers, actor=str(user.id), action="audit.read")["items"] == []


def test_without_a_token_it_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        for path in (AUDIT, f"{AUDIT}/verify"):
            assert client.get(path, headers=headers).status_code == 401, (path, headers)


def test_a_revoked_token_is_401(app: FastAPI, client: TestClient) -> None:
    user = make_user(app, "auditor")
    headers = login(client, user)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get(AUDIT, headers=headers).status_code == 401


# No secrets or personal data in entries -----------------------------------------------------------
def test_entries_hold_no_password_token_email_or_name(
    app: FastAPI, client: TestClient, auditor: tuple[UserHandle, dict[str, str]]
) -> None:
    _, headers = auditor
    admin = make_user(app, "admin")
    admin_headers = login(client, admin)
    tag = uuid.uuid4().hex[:12]
    password = f"first secret passphrase {tag}"
    new_password = f"second secret passphrase {tag}"
    wrong_password = f"wrong secret passphrase {tag}"
    full_name = f"Zenobia Quillfeather {tag}"
    email = f"zenobia.{tag}@example.org"
    username = unique("person")

    created = client.post(
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "role": "caseworker",
            "full_name": full_name,
            "email": email,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert created.json()["email"] == email

    signed_in = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert signed_in.status_code == 200
    token = signed_in.json()["access_token"]
    theirs = {"Authorization": f"Bearer {token}"}
    failed = client.post(
        "/api/v1/auth/login", json={"username": username, "password": wrong_password}
    )
    assert failed.status_code == 401
    assert client.get(AUDIT, headers=theirs).status_code == 403
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": password, "new_password": new_password},
        headers=theirs,
    )
    assert changed.status_code == 204, changed.text
    api_key = client.post(
        "/api/v1/api-keys", json={"name": f"key {tag}", "role": "service"}, headers=admin_headers
    )
    assert api_key.status_code == 201, api_key.text
    key = api_key.json()["key"]
    admin_token = admin_headers["Authorization"].removeprefix("Bearer ")

    about = fetch_all(client, headers, subject=user_id)
    assert {"user.create", "auth.login", "auth.login_failed", "auth.password_change"} <= {
        item["action"] for item in about
    }
    secrets = [password, new_password, wrong_password, token, admin_token, key, full_name, email]
    secrets += [tag, "Zenobia", "Quillfeather", "example.org"]
    # Through the API: every entry there is ...
    served = json.dumps(fetch_all(client, headers, limit=500))
    # ... and as stored, every column of every row.
    stored = json.dumps([{k: repr(v) for k, v in row.items()} for row in entries(app)])
    for secret in secrets:
        assert secret not in served, secret
        assert secret not in stored, secret
        assert secret.lower() not in stored.lower(), secret
    # The client's address is kept only as a keyed tag.
    tagged = [row for row in entries(app) if str(row["subject_id"]) == user_id]
    assert tagged
    assert all(row["client"] and row["client"] != "testclient" for row in tagged)
    assert "testclient" not in stored
