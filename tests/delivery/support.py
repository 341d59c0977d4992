"""A real webhook receiver and a real SMTP server on loopback, and small helpers."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from app.db import transaction
from app.models.alert import OutboxMessage
from app.models.base import utcnow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    started: float  # time.time(), so other processes' events can be compared
    finished: float = 0.0

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    """An HTTP server in a thread; answers with ``plan`` statuses in order, then 200."""

    plan: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = time.time()
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) != length:  # a sender killed mid-body: no request to answer
                    self.close_connection = True
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status = receiver.plan.pop(0) if receiver.plan else 200
                    record = Received(
                        {k.lower(): v for k, v in self.headers.items()}, body, status, started
                    )
                    receiver.received.append(record)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", receiver.url + "/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                finally:
                    record.finished = time.time()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # many senders at once must not meet a full backlog

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender killed mid-request (on purpose) is not the receiver's failure

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def successful_ids(self) -> Counter[str]:
        return Counter(r.webhook_id for r in self.snapshot() if 200 <= r.status < 300)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.snapshot()) >= count:
                return self.snapshot()
            time.sleep(0.005)
        raise AssertionError(f"received {len(self.snapshot())} requests, expected {count}")


def verify(secret: str, received: Received) -> Any:
    """Check a delivery as a receiver would (SECURITY.md §10.10: every decoding error fails)."""
    try:
        return Verifier(secret).verify(received.body, received.headers)
    except (WebhookVerificationError, ValueError, UnicodeDecodeError) as exc:
        raise AssertionError(f"the delivery does not verify: {exc}") from exc


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[Message]:
        return [message_from_bytes(content) for _, _, content in self.messages]


def start_smtp() -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, mailbox


def payload(rule: str = "host_custody", severity: str = "critical", **data: Any) -> str:
    """A notice shaped as app.alerts.notify writes it: ids, rule, severity, link only."""
    alert_id = str(uuid.uuid4())
    body = {
        "type": "alert.created",
        "timestamp": utcnow().isoformat(),
        "data": {
            "id": alert_id,
            "rule": rule,
            "severity": severity,
            "status": "open",
            "individual_id": str(uuid.uuid4()),
            "case_id": None,
            "link": f"http://127.0.0.1:8000/alerts/{alert_id}",
            **data,
        },
    }
    return json.dumps(body, separators=(",", ":"))


def add_outbox(
    app: FastAPI,
    target_id: uuid.UUID,
    *,
    channel: str = "webhook",
    count: int = 1,
    body: str | None = None,
    attempts: int = 0,
    at: dt.datetime | None = None,
) -> list[uuid.UUID]:
    """Outbox rows written directly (as raise_alert does, without an alert)."""
    at = at or utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    with transaction(app.state.sessionmaker) as session:
        session.add_all(
            OutboxMessage(
                id=message_id,
                event="alert.created",
                channel=channel,
                target_id=target_id,
                payload=body or payload(),
                status="pending",
                attempts=attempts,
                next_attempt_at=at,
                created_at=at,
            )
            for message_id in ids
        )
    return ids


def outbox(app: FastAPI, message_id: uuid.UUID) -> OutboxMessage:
    with transaction(app.state.sessionmaker) as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        session.expunge(row)
        return row


def outbox_for(app: FastAPI, target_id: uuid.UUID) -> list[OutboxMessage]:
    with transaction(app.state.sessionmaker) as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.target_id == target_id)
                .order_by(OutboxMessage.created_at)
            )
        )
        session.expunge_all()
        return rows


def retire_pending(app: FastAPI) -> None:
    """Earlier tests' undelivered rows must not reach this test's receivers."""
    with transaction(app.state.sessionmaker) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(status="dead", last_error="retired by the test suite")
        )
