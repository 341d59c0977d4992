"""Where webhooks may go: the SSRF guard and a pinned HTTP POST (SECURITY.md §10.10).

A destination must be public HTTPS. Its name is resolved and every address it resolves to
must be public (not private, loopback, link-local, multicast, reserved, unspecified, or a cloud
metadata address); the request then goes to the vetted address itself, with the name in the
Host header and in TLS SNI, so a second lookup cannot swap the address (DNS rebinding). Hosts
listed in HAVEN_WEBHOOK_ALLOW_HOSTS skip the address checks and may use plain http (development
and tests). Redirects are never followed and timeouts are short.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

from app.errors import BadRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 5.0
RESOLVE_TIMEOUT = 3.0
MAX_URL = 2000

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(BadRequest):
    """The URL may not receive webhooks (scheme, host or the addresses it resolves to)."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # lower case, IDNA-encoded; an IPv6 literal without brackets
    port: int
    target: str  # path and query
    allowlisted: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def pinned_url(self, address: IPAddress) -> str:
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"


def parse(url: str, allowed_hosts: frozenset[str]) -> Destination:
    """Check the URL's form: https (or http for an allowlisted host), a host, no credentials."""
    if len(url) > MAX_URL:
        raise DestinationRefused(f"webhook URLs may have at most {MAX_URL} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        raw_host = parts.hostname or ""
        host = raw_host.encode("idna").decode("ascii").lower() if raw_host else ""
    except (ValueError, UnicodeError):
        raise DestinationRefused("the webhook URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if not host:
        raise DestinationRefused("the webhook URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("credentials do not belong in a webhook URL; use the secret")
    allowlisted = host in allowed_hosts
    if scheme != "https" and not (scheme == "http" and allowlisted):
        raise DestinationRefused("webhook URLs must use https")
    name = host.rstrip(".")
    if not allowlisted and name in METADATA_HOSTS:
        raise DestinationRefused("that host is a cloud metadata service")
    if not allowlisted and (name == "localhost" or name.endswith(".localhost")):
        raise DestinationRefused("that host is a loopback name")  # RFC 6761, resolved or not
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    port = port or (443 if scheme == "https" else 80)
    return Destination(scheme, host, port, target, allowlisted)


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not reach this address, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    checks = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(destination: Destination) -> list[IPAddress]:
    """Every address the host resolves to (raises OSError when it does not resolve)."""
    address = literal(destination.host)
    if address is not None:
        return [address]
    future = _resolver().submit(
        socket.getaddrinfo, destination.host, destination.port, type=socket.SOCK_STREAM
    )
    try:
        infos = future.result(timeout=RESOLVE_TIMEOUT)
    except concurrent.futures.TimeoutError:
        raise OSError("name resolution timed out") from None
    found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not found:
        raise OSError("the name resolved to no address")
    return found


@lru_cache(maxsize=1)
def _resolver() -> concurrent.futures.ThreadPoolExecutor:
    # getaddrinfo has no timeout of its own; a small pool bounds how long a caller waits.
    return concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="haven-dns")


def vet(destination: Destination) -> IPAddress:
    """The address to connect to, after refusing anything but public addresses."""
    addresses = resolve(destination)
    if not destination.allowlisted:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise DestinationRefused(f"the webhook host resolves to {reason}")
    return addresses[0]


def check_registration(url: str, allowed_hosts: frozenset[str]) -> Destination:
    """Refuse a bad URL when it is registered.

    A name that does not resolve yet (or while offline) is accepted: every delivery vets the
    addresses again, so nothing unvetted is ever contacted.
    """
    destination = parse(url, allowed_hosts)
    if destination.allowlisted:
        return destination
    with contextlib.suppress(OSError):
        vet(destination)
    return destination


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def post(destination: Destination, body: bytes, headers: dict[str, str]) -> int:
    """POST to the vetted address of the destination; returns the status code.

    Raises DestinationRefused when the host now resolves to a refused address, OSError when it
    does not resolve, and httpx.HTTPError when the connection or the exchange fails.
    """
    address = vet(destination)
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    timeout = httpx.Timeout(
        connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=READ_TIMEOUT, pool=CONNECT_TIMEOUT
    )
    # One client per delivery: pooled connections are keyed by address, and a connection
    # opened (and certificate-checked) for one host must never carry another host's request.
    with httpx.Client(
        verify=_tls(), trust_env=False, follow_redirects=False, timeout=timeout
    ) as client:
        request = client.build_request(
            "POST",
            destination.pinned_url(address),
            content=body,
            headers={**headers, "Host": destination.host_header},
            extensions=extensions,
        )
        response = client.send(request, stream=True)
        response.close()
        return response.status_code
