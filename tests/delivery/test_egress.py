"""The SSRF guard: https only, public addresses only, vetted at registration and at delivery."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.alerts import egress
from tests.delivery.conftest import register
from tests.delivery.support import Receiver
from tests.factories import API, Team

NONE: frozenset[str] = frozenset()


def _fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> list[str]:
    """Answer for ``names`` (and count the lookups); every other name goes to the real resolver."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host in names:
            address = names[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2002:7f00:1::",  # 6to4 around 127.0.0.1
            "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        ],
    )
    def test_refused(self, address: str) -> None:
        assert egress.refusal(ipaddress.ip_address(address)) is not None

    @pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
    def test_public(self, address: str) -> None:
        assert egress.refusal(ipaddress.ip_address(address)) is None


class TestRegistrationGuard:
    @pytest.mark.parametrize(
        "url",
        [
            "http://hooks.example.org/haven",
            "ftp://hooks.example.org/haven",
            "https://127.0.0.1/hook",
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://[fd00:ec2::254]/hook",
            "https://localhost/hook",  # resolves to 127.0.0.1
            "https://localhost./hook",
            "https://2130706433/hook",  # 127.0.0.1 as one number
            "https://0x7f.1/hook",
            "https://127.1/hook",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://user:pass@hooks.example.org/haven",
            "https:///no-host",
        ],
    )
    def test_refused(self, url: str) -> None:
        with pytest.raises(egress.DestinationRefused):
            egress.check_registration(url, NONE)

    def test_a_name_resolving_to_loopback_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _fake_dns(monkeypatch, {"sneaky.haven.test": "127.0.0.1"})
        with pytest.raises(egress.DestinationRefused, match="loopback"):
            egress.check_registration("https://sneaky.haven.test/x", NONE)

    def test_one_private_address_among_public_ones_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = socket.getaddrinfo

        def two(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "mixed.haven.test":
                return real(host, port, *args, **kwargs)
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("1.1.1.1", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
            ]

        monkeypatch.setattr(socket, "getaddrinfo", two)
        with pytest.raises(egress.DestinationRefused, match="private"):
            egress.check_registration("https://mixed.haven.test/x", NONE)

    def test_public_https_is_accepted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _fake_dns(monkeypatch, {"hooks.partner.test": "1.1.1.1"})
        destination = egress.check_registration("https://hooks.partner.test:8443/in?x=1", NONE)
        assert (destination.host, destination.port, destination.target) == (
            "hooks.partner.test",
            8443,
            "/in?x=1",
        )

    def test_a_name_that_does_not_resolve_yet_is_accepted(self) -> None:
        # Delivery vets the addresses again, so nothing unvetted is ever contacted.
        assert egress.check_registration("https://hooks.example.org/haven", NONE).host == (
            "hooks.example.org"
        )

    @pytest.mark.parametrize(
        ("url", "allowed"),
        [
            ("http://127.0.0.1:8080/hook", "127.0.0.1"),
            ("https://localhost/hook", "localhost"),
            ("http://[::1]:9000/hook", "::1"),
        ],
    )
    def test_allowlisted_loopback_works(self, url: str, allowed: str) -> None:
        assert egress.check_registration(url, frozenset({allowed})).allowlisted

    def test_the_allowlist_names_hosts_not_addresses_behind_them(self) -> None:
        with pytest.raises(egress.DestinationRefused):
            egress.check_registration("http://localhost:8080/hook", frozenset({"127.0.0.1"}))


class TestRegistrationRoute:
    @pytest.mark.parametrize(
        "url",
        [
            "http://hooks.example.org/haven",
            "https://127.0.0.2/hook",  # this app allowlists 127.0.0.1 only
            "https://10.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/hook",
            "https://localhost/hook",
            "http://localhost:8080/hook",
        ],
    )
    def test_refused_with_400(self, api: TestClient, team: Team, url: str) -> None:
        response = api.post(f"{API}/webhooks", json={"url": url}, headers=team.admin.headers)
        assert response.status_code == 400, response.text

    def test_allowlisted_loopback_http_is_accepted(
        self, api: TestClient, team: Team, receiver: Receiver
    ) -> None:
        created = register(api, team, receiver.url)
        assert created["url"] == receiver.url


class TestDeliveryGuard:
    def test_pinned_to_the_vetted_address_with_the_name_in_host(
        self, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
    ) -> None:
        asked = _fake_dns(monkeypatch, {"hooks.haven.test": "127.0.0.1"})
        destination = egress.parse(
            f"http://hooks.haven.test:{receiver.port}/hook", frozenset({"hooks.haven.test"})
        )
        assert egress.post(destination, b"{}", {}) == 200
        # One lookup of the name, and the connection went to its answer: the HTTP client
        # only ever saw the address (connecting "resolves" the literal, which asks no DNS).
        assert [h for h in asked if egress.literal(h) is None] == ["hooks.haven.test"]
        assert receiver.snapshot()[0].headers["host"] == f"hooks.haven.test:{receiver.port}"

    def test_dns_that_changed_after_registration_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
    ) -> None:
        _fake_dns(monkeypatch, {"rebind.haven.test": "1.1.1.1"})
        destination = egress.check_registration("https://rebind.haven.test/hook", NONE)
        _fake_dns(monkeypatch, {"rebind.haven.test": "127.0.0.1"})
        with pytest.raises(egress.DestinationRefused, match="loopback"):
            egress.post(destination, b"{}", {})
        assert receiver.snapshot() == []

    def test_redirects_are_not_followed(self, receiver: Receiver) -> None:
        receiver.plan = [302]
        destination = egress.parse(receiver.url, frozenset({"127.0.0.1"}))
        assert egress.post(destination, b"{}", {}) == 302
        assert len(receiver.snapshot()) == 1

    def test_a_slow_receiver_times_out(
        self, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
    ) -> None:
        import httpx

        monkeypatch.setattr(egress, "READ_TIMEOUT", 0.05)
        receiver.delay = 0.3
        destination = egress.parse(receiver.url, frozenset({"127.0.0.1"}))
        with pytest.raises(httpx.TimeoutException):
            egress.post(destination, b"{}", {})
