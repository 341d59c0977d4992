"""X-Forwarded-For is believed only from HAVEN_TRUSTED_PROXIES (none by default).

Before, `haven serve` let uvicorn trust the header from 127.0.0.1, so on a deployment without a
proxy anyone reaching the loopback address (or any deployment whose proxy passes the header on)
could name a new address per request and never meet the per-address sign-in throttle. The
caller's address is what the audit trail keys (``audit_entry.client``) and what the throttle
counts, so two failed sign-ins that claim different addresses must land on one tag.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.ops import client_address
from tests.auth.support import LOGIN, audit_entries, request_id
from tests.conftest import make_settings
from tests.factories import unique
from tests.faults.support import serving


def _client_tag(app: FastAPI, server_url: str, forwarded: str | None) -> bytes | None:
    """The audit trail's tag of the address a failed sign-in was counted against."""
    rid = request_id()
    headers = {"X-Request-ID": rid}
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    response = httpx.post(
        server_url + LOGIN,
        json={"username": unique("nobody"), "password": "not the password"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 401, response.text
    (entry,) = audit_entries(app, rid)
    return entry.client


def test_serve_ignores_x_forwarded_for_by_default(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    with serving(settings, tmp_path) as server:
        plain = _client_tag(app, server.url, None)
        one = _client_tag(app, server.url, "203.0.113.7")
        two = _client_tag(app, server.url, "198.51.100.9")
    assert plain is not None
    assert one == two == plain


def test_serve_believes_a_trusted_proxy_and_only_its_own_hop(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    with serving(settings, tmp_path, HAVEN_TRUSTED_PROXIES="127.0.0.1") as server:
        plain = _client_tag(app, server.url, None)
        one = _client_tag(app, server.url, "203.0.113.7")
        two = _client_tag(app, server.url, "198.51.100.9")
        # A client's own header, passed on by the proxy, is left of the hop the proxy adds.
        spoofed = _client_tag(app, server.url, "198.51.100.9, 203.0.113.7")
    assert len({plain, one, two}) == 3
    assert spoofed == one


PROXIES = tuple(ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.1", "203.0.113.7", (), "127.0.0.1"),  # nothing trusted: the peer
        ("192.0.2.1", "203.0.113.7", PROXIES, "192.0.2.1"),  # an untrusted peer
        ("127.0.0.1", "203.0.113.7", PROXIES, "203.0.113.7"),
        ("127.0.0.1", "198.51.100.9, 203.0.113.7", PROXIES, "203.0.113.7"),
        ("127.0.0.1", "198.51.100.9, 203.0.113.7, 10.1.2.3", PROXIES, "203.0.113.7"),
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", PROXIES, "10.9.9.9"),  # all proxies: the first
        ("127.0.0.1", "not-an-address", PROXIES, "127.0.0.1"),
        ("127.0.0.1", "", PROXIES, "127.0.0.1"),
        ("127.0.0.1", None, PROXIES, "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", PROXIES, "2001:db8::1"),
        (None, "203.0.113.7", PROXIES, None),
    ],
)
def test_client_address(
    peer: str | None,
    forwarded: str | None,
    trusted: tuple[ipaddress.IPv4Network, ...],
    expected: str | None,
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


def test_trusted_proxies_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite://", trusted_proxies="127.0.0.1, 10.0.0.0/8 ,::1")
    assert settings.trusted_proxy_networks == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    assert make_settings(tmp_path, "sqlite://").trusted_proxy_networks == ()
    with pytest.raises(ValueError, match="HAVEN_TRUSTED_PROXIES"):
        make_settings(tmp_path, "sqlite://", trusted_proxies="127.0.0.1, proxy.internal")


def test_a_trusted_proxy_says_the_request_came_over_https(
    fresh_database: Callable[..., FastAPI],
) -> None:
    """uvicorn used to take X-Forwarded-Proto from 127.0.0.1; Haven takes it from the proxies
    it trusts, so cookies behind a TLS proxy carry Secure in development too."""
    app = fresh_database(trusted_proxies="127.0.0.1")
    https = {"X-Forwarded-Proto": "https"}
    with TestClient(app, client=("127.0.0.1", 1)) as proxy:
        assert "secure" in proxy.get("/login", headers=https).headers["set-cookie"].lower()
        assert "secure" not in proxy.get("/login").headers["set-cookie"].lower()
    with TestClient(app, client=("192.0.2.1", 1)) as stranger:
        assert "secure" not in stranger.get("/login", headers=https).headers["set-cookie"].lower()
