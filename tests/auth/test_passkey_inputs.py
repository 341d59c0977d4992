"""Malformed passkey credentials are 4xx, never 500: every field of a genuine attestation and
assertion replaced by values of the wrong shape."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from tests.auth.authenticator import for_app, login_options, register
from tests.factories import API, PASSWORD, Team

ODD: list[Any] = [None, 1, [], {}, "", "!!", "AAAA", "A" * 5000, {"x": 1}]


def _variants(credential: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in ("id", "rawId", "type", "clientExtensionResults", "response"):
        for value in ODD:
            changed = copy.deepcopy(credential)
            changed[key] = value
            out.append(changed)
    for key in credential["response"]:
        for value in ODD:
            changed = copy.deepcopy(credential)
            changed["response"][key] = value
            out.append(changed)
    return out


def test_malformed_assertions_are_4xx(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    device, _ = register(client, member.headers)
    genuine = device.get(login_options(client))
    failures = []
    for variant in _variants(genuine):
        status = client.post(f"{API}/auth/passkeys/login", json={"credential": variant}).status_code
        if not 400 <= status < 500:
            failures.append((variant, status))
    assert failures == []


def test_malformed_attestations_are_4xx(client: TestClient, team: Team) -> None:
    member = team.member("caseworker")
    options = client.post(
        f"{API}/auth/passkeys/register/options", json={"password": PASSWORD}, headers=member.headers
    ).json()
    genuine = for_app(client).create(options)
    failures = []
    for variant in _variants(genuine):
        status = client.post(
            f"{API}/auth/passkeys/register",
            json={"credential": variant, "name": "k"},
            headers=member.headers,
        ).status_code
        if not 400 <= status < 500:
            failures.append((str(variant)[:200], status))
    assert failures == []
