"""Signed checkpoints of the audit chain, kept in the database and in a file outside it.

A checkpoint is an Ed25519 signature over a short note naming the chain's size and head hash.
Anyone who deletes the tail of the chain (and rewrites the head row) still cannot make the
chain reach a size it once had: ``haven audit verify`` compares every checkpoint with the
replayed chain. The file is append-only by convention and should be shipped off the host
(syslog, a retention-locked bucket); it is the minimum sink for the embedded setup.

Besides the periodic checkpoints, every commit that appends entries signs the new head once it
has committed (``publish_head``): the newest signed head replaces ``audit-head.json`` in the
data directory (written by a thread of its own, newest first: ``HeadWriter``), and goes to
the witness when HAVEN_AUDIT_WITNESS names one, a directory on
another mount (a line appended to ``haven-audit-witness.jsonl``) or an https endpoint (POSTed
as JSON, newest head first, retried in the background). A signed head covers everything before
it, since the chain is hash-linked, so verification holds the chain to the newest one of each.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto.keyring import KeyProvider
from app.models.audit import AuditCheckpoint, AuditEntry
from app.models.base import utcnow

CHECKPOINT_FILE = "audit-checkpoints.jsonl"
HEAD_FILE = "audit-head.json"
WITNESS_FILE = "haven-audit-witness.jsonl"

log = logging.getLogger("haven.audit")


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head: bytes
    at: dt.datetime
    note: str
    signature: bytes
    source: str


def deployment_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def make_note(deployment: str, size: int, head: bytes, at: dt.datetime) -> str:
    stamp = at.astimezone(dt.UTC).isoformat(timespec="seconds")
    return f"haven-audit/{deployment}\n{size}\n{base64.b64encode(head).decode()}\n{stamp}\n"


def checkpoint_path(data_dir: Path) -> Path:
    return data_dir / CHECKPOINT_FILE


def write(session: Session, provider: KeyProvider, data_dir: Path, *, force: bool = False) -> bool:
    """Sign the current head if the chain grew since the last checkpoint (or ``force``)."""
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    if last is None:
        return False
    previous = session.scalar(select(AuditCheckpoint.size).order_by(AuditCheckpoint.id.desc()))
    if previous is not None and previous >= last.seq and not force:
        return False
    key = provider.audit_signing_key()
    at = utcnow()
    note = make_note(deployment_id(key.public_key()), last.seq, last.entry_hash, at)
    signature = key.sign(note.encode())
    session.add(
        AuditCheckpoint(
            size=last.seq, head_hash=last.entry_hash, at=at, note=note, signature=signature
        )
    )
    _append_line(checkpoint_path(data_dir), _line(last.seq, last.entry_hash, at, note, signature))
    return True


def _line(size: int, head: bytes, at: dt.datetime, note: str, signature: bytes) -> str:
    return json.dumps(
        {
            "size": size,
            "head": base64.b64encode(head).decode(),
            "at": at.isoformat(),
            "note": note,
            "signature": base64.b64encode(signature).decode(),
        }
    )


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(
            fd, (line + "\n").encode()
        )  # one write: lines of several processes interleave whole
        os.fsync(fd)
    finally:
        os.close(fd)


# The signed head of every commit ----------------------------------------------------------------
def sign_head(provider: KeyProvider, size: int, head: bytes) -> str:
    """The JSON line of a signed statement that the chain had ``size`` entries ending in
    ``head``."""
    cached = _signing.get(provider)
    if cached is None:
        key = provider.audit_signing_key()
        cached = _signing[provider] = (key, deployment_id(key.public_key()))
    key, deployment = cached
    at = utcnow()
    note = make_note(deployment, size, head, at)
    return _line(size, head, at, note, key.sign(note.encode()))


# The signing key and deployment id per key provider, so each commit only signs.
_signing: weakref.WeakKeyDictionary[KeyProvider, tuple[Ed25519PrivateKey, str]] = (
    weakref.WeakKeyDictionary()
)
_written: dict[Path, int] = {}  # the newest head size this process wrote, per data directory


def publish_head(line: str, size: int, data_dir: Path, witness: str | None) -> None:
    """After a commit: keep the newest signed head in the data directory and give it to the
    witness. Never raises: the entries are committed; a failure is logged (no identifiers)."""
    try:
        _replace_local_head(data_dir, line, size)
    except OSError as exc:
        log.error("audit head not written to the data directory (%s)", type(exc).__name__)
    if not witness:
        return
    if is_url(witness):
        _sender(witness).offer(size, line)
        return
    try:
        _append_line(Path(witness) / WITNESS_FILE, line)
    except OSError as exc:
        log.error("audit witness directory not written (%s)", type(exc).__name__)


class HeadWriter:
    """Signs and writes the newest committed head of each data directory, from a thread of its
    own. Signing and replacing the file took a commit longer than its SQL (3 ms against 1 ms for
    a read's batch), and the file only ever holds the newest head: heads committed while one is
    being written are skipped for the newest of them. The witness, which keeps every head, is
    still given each one as it commits (``publish_head``).

    Written here rather than taken from a library: it is Haven's own audit head."""

    IDLE_EXIT_S = 5.0  # the thread ends after this long with nothing to write

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: dict[Path, tuple[KeyProvider, int, bytes]] = {}
        self._writing = False
        self._thread: threading.Thread | None = None

    def offer(self, provider: KeyProvider, data_dir: Path, size: int, head: bytes) -> None:
        with self._changed:
            queued = self._pending.get(data_dir)
            if queued is None or queued[1] < size:
                self._pending[data_dir] = (provider, size, head)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="haven-audit-head", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every head offered so far is written (a reader of the head file in this
        process, and the process's exit); False if that took longer than ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._pending and not self._writing, timeout=timeout
            )

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._changed.wait_for(lambda: self._pending, timeout=self.IDLE_EXIT_S):
                    self._thread = None
                    return
                batch, self._pending = self._pending, {}
                self._writing = True
            try:
                for data_dir, (provider, size, head) in batch.items():
                    try:
                        _replace_local_head(data_dir, sign_head(provider, size, head), size)
                    except Exception as exc:  # the entries are committed; only logged
                        log.error("audit head not written (%s)", type(exc).__name__)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()


HEADS = HeadWriter()
atexit.register(HEADS.flush, 5.0)


def _replace_local_head(data_dir: Path, line: str, size: int) -> None:
    path = data_dir / HEAD_FILE
    if _written.get(path, 0) >= size:
        return  # this process already wrote a newer head
    _written[path] = size
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = data_dir / f".{HEAD_FILE}.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _read_head_file(path: Path) -> Checkpoint | None:
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text.strip():
        return None
    try:
        return parse_line(text.strip(), path.name)
    except ValueError:  # held to the chain as a head with a bad signature
        return Checkpoint(-1, b"", utcnow(), "", b"", f"{path.name} (unreadable)")


def local_head(data_dir: Path) -> list[Checkpoint]:
    """The newest signed head this deployment's processes wrote to the data directory."""
    HEADS.flush()  # this process's newest, if it is still being written
    found = _read_head_file(data_dir / HEAD_FILE)
    return [found] if found is not None else []


def is_url(witness: str) -> bool:
    return witness.startswith(("https://", "http://"))


def witnessed(witness: str) -> list[Checkpoint] | None:
    """The heads a witness directory (or a copy of what an https witness received: a
    directory or a .jsonl file) holds; None when it cannot be read back (a URL)."""
    if is_url(witness):
        return None
    path = Path(witness)
    if path.is_dir():
        path = path / WITNESS_FILE
    if not path.exists():
        return []
    return _read_lines(path, f"witness {path}")


class _Sender:
    """POSTs the newest signed head to an https witness from a thread of its own, so a slow
    or absent witness never holds up a request; a head that fails is superseded by the next
    (it covers everything before it) and retried with a growing pause."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pending: tuple[int, str] | None = None
        self._sent = 0
        self._wake = threading.Condition()
        threading.Thread(target=self._run, name="haven-audit-witness", daemon=True).start()

    def offer(self, size: int, line: str) -> None:
        with self._wake:
            if self._pending is None or self._pending[0] < size:
                self._pending = (size, line)
            self._wake.notify()

    def _run(self) -> None:
        pause = 1.0
        while True:
            with self._wake:
                while self._pending is None or self._pending[0] <= self._sent:
                    self._wake.wait()
                size, line = self._pending
            try:
                response = httpx.post(
                    self.url,
                    content=line.encode(),
                    headers={"Content-Type": "application/json"},
                    timeout=httpx.Timeout(5.0, connect=3.0),
                    follow_redirects=False,
                )
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.error("audit witness not reached (%s)", type(exc).__name__)
                time.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            with self._wake:
                self._sent = max(self._sent, size)


_senders: dict[str, _Sender] = {}
_senders_lock = threading.Lock()


def _sender(url: str) -> _Sender:
    with _senders_lock:
        if url not in _senders:
            _senders[url] = _Sender(url)
        return _senders[url]


def stored(session: Session) -> list[Checkpoint]:
    return [
        Checkpoint(c.size, c.head_hash, c.at, c.note, c.signature, f"database #{c.id}")
        for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    ]


def exported(data_dir: Path) -> list[Checkpoint]:
    path = checkpoint_path(data_dir)
    if not path.exists():
        return []
    return _read_lines(path, path.name)


def parse_line(line: str, source: str) -> Checkpoint:
    """One JSON line as written by ``write`` or ``sign_head``; raises ValueError if unreadable."""
    try:
        doc = json.loads(line)
        return Checkpoint(
            int(doc["size"]),
            base64.b64decode(doc["head"]),
            dt.datetime.fromisoformat(doc["at"]),
            doc["note"],
            base64.b64decode(doc["signature"]),
            source,
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from exc


def _read_lines(path: Path, name: str) -> list[Checkpoint]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(parse_line(line, f"{name} line {number}"))
        except ValueError:
            found.append(
                Checkpoint(-1, b"", utcnow(), "", b"", f"{name} line {number} (unreadable)")
            )
    return found


def signature_ok(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    expected = make_note(deployment_id(public_key), checkpoint.size, checkpoint.head, checkpoint.at)
    if checkpoint.note != expected:
        return False
    try:
        public_key.verify(checkpoint.signature, checkpoint.note.encode())
    except InvalidSignature:
        return False
    return True
