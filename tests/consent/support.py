"""Shared steps for the consent tests: consent through the API (people and cases come from
the builder in tests/factories.py)."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import types
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import API


def consent_body(
    *, store: bool = True, share: bool = False, method: str = "verbal", days_ago: int = 0, **extra
) -> dict[str, Any]:
    recorded_on = dt.date.today() - dt.timedelta(days=days_ago)
    return {
        "store": store,
        "share_with_partners": share,
        "method": method,
        "recorded_on": recorded_on.isoformat(),
        **extra,
    }


def give(client: TestClient, headers: dict[str, str], person_id: str, **kwargs: Any) -> Any:
    response = client.post(
        f"{API}/individuals/{person_id}/consent", json=consent_body(**kwargs), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def capture_referral_revocations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records every call of ``revoke_for_withdrawn_consent``, whether the referrals module
    exists in this build or not."""
    calls: list[Any] = []

    def fake(session: Any, actor: Any, individual_id: Any) -> int:
        calls.append(individual_id)
        return 0

    try:
        referrals = importlib.import_module("app.referrals.service")
    except ModuleNotFoundError:
        module = types.ModuleType("app.referrals.service")
        module.revoke_for_withdrawn_consent = fake  # type: ignore[attr-defined]
        try:
            importlib.import_module("app.referrals")
        except ModuleNotFoundError:
            monkeypatch.setitem(sys.modules, "app.referrals", types.ModuleType("app.referrals"))
        monkeypatch.setitem(sys.modules, "app.referrals.service", module)
    else:
        monkeypatch.setattr(referrals, "revoke_for_withdrawn_consent", fake)
    return calls
