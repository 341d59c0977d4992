"""``python -m bench.push``: from an incident posted to its Web Push message received.

A throwaway Haven (SQLite in a temporary directory) is served by uvicorn on loopback with its
alert engine running as ``haven serve`` runs it (woken at once by its own commits, else every
HAVEN_ENGINE_INTERVAL_SECONDS). A push service stand-in on loopback answers 201 and decrypts
each message with the bench's own browser keys (``http_ece``, as a browser does). For each of
``--alerts`` people, a detention is posted through the API (a critical alert for the caseworker
who opened the case, subscribed by push) and the time until the stand-in holds the message
naming that alert is taken. Prints the median, p99 and maximum in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import secrets
import socket
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece  # type: ignore[import-untyped]
import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app import organisations
from app.auth.users import create_user
from app.config import Settings
from app.db import transaction
from app.main import create_app

API = "/api/v1"
PASSWORD = "correct horse battery staple 42"  # noqa: S105 (a throwaway account)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PushService:
    """The stand-in: records when each alert's message arrived, decrypted with our keys."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                at = time.perf_counter()
                plain = http_ece.decrypt(
                    body, private_key=service.key, auth_secret=service.auth, version="aes128gcm"
                )
                with service.changed:
                    service.arrived.setdefault(json.loads(plain)["alert_id"], at)
                    service.changed.notify_all()
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push/bench"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def subscription(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.url, "keys": {"p256dh": _b64(point), "auth": _b64(self.auth)}}

    def wait(self, alert_id: str, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        with self.changed:
            while alert_id not in self.arrived:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError(f"no push for alert {alert_id}")
                self.changed.wait(left)
            return self.arrived[alert_id]


def run(alerts: int, interval: float) -> dict[str, Any]:
    service = PushService()
    with tempfile.TemporaryDirectory(prefix="haven-bench-push-") as tmp:
        root = Path(tmp)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{root / 'haven.db'}",
            data_dir=root / "data",
            webhook_allow_hosts="127.0.0.1",
            push_contact="mailto:bench@haven.example.org",
            engine_interval_seconds=interval,
            lookup_limit_per_minute=0,
            log_level="WARNING",
        )
        app = create_app(settings, run_engine=True)
        with transaction(app.state.sessionmaker) as session:
            org, _ = organisations.resolve(session, f"bench-{uuid.uuid4().hex[:8]}", create=True)
            user = create_user(
                session,
                username=f"bench-{uuid.uuid4().hex[:8]}",
                role="caseworker",
                password=PASSWORD,
                organisation=org,
            )
            username = user.username
        port = _port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        latencies: list[float] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                token = http.post(
                    f"{API}/auth/login", json={"username": username, "password": PASSWORD}
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                made = http.post(
                    f"{API}/me/push-subscriptions", json=service.subscription(), headers=headers
                )
                made.raise_for_status()
                today = dt.date.today()
                for n in range(alerts):
                    person = http.post(
                        f"{API}/individuals",
                        json={"full_name": f"Bench Person {n}", "nationalities": ["KHM"]},
                        headers=headers,
                    ).json()["id"]
                    http.post(
                        f"{API}/cases", json={"individual_id": person}, headers=headers
                    ).raise_for_status()
                    incident = {
                        "type": "detention",
                        "occurred_on": (today - dt.timedelta(days=1)).isoformat(),
                        "country": "THA",
                        "location": "Immigration detention centre",
                        "description": "Held by immigration police after a raid.",
                        "perpetrator": "Immigration police",
                        "individual_ids": [person],
                        "source": {"name": "Monitor", "reliability": "B", "credibility": 2},
                    }
                    posted = time.perf_counter()
                    http.post(f"{API}/incidents", json=incident, headers=headers).raise_for_status()
                    found = http.get(
                        f"{API}/alerts",
                        params={"individual_id": person, "severity": "critical"},
                        headers=headers,
                    ).json()["items"]
                    alert_id = next(a["id"] for a in found if a["rule"] == "host_custody")
                    latencies.append((service.wait(alert_id, 30.0) - posted) * 1000)
        finally:
            server.should_exit = True
            thread.join(15)
            service.server.shutdown()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {
        "alerts": len(latencies),
        "engine_interval_seconds": interval,
        "median_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.push", description=__doc__)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="engine interval (s)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.alerts, args.interval), indent=2))


if __name__ == "__main__":
    main()
