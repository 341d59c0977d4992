"""Signed checkpoints of the audit chain, kept in the database and in a file outside it.

A checkpoint is an Ed25519 signature over a short note naming the chain's size and head hash.
Anyone who deletes the tail of the chain (and rewrites the head row) still cannot make the
chain reach a size it once had: ``haven audit verify`` compares every checkpoint with the
replayed chain. The file is append-only by convention and should be shipped off the host
(syslog, a retention-locked bucket); it is the minimum sink for the embedded setup.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto.keyring import KeyProvider
from app.models.audit import AuditCheckpoint, AuditEntry
from app.models.base import utcnow

CHECKPOINT_FILE = "audit-checkpoints.jsonl"


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
    line = json.dumps(
        {
            "size": last.seq,
            "head": base64.b64encode(last.entry_hash).decode(),
            "at": at.isoformat(),
            "note": note,
            "signature": base64.b64encode(signature).decode(),
        }
    )
    path = checkpoint_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def stored(session: Session) -> list[Checkpoint]:
    return [
        Checkpoint(c.size, c.head_hash, c.at, c.note, c.signature, f"database #{c.id}")
        for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
    ]


def exported(data_dir: Path) -> list[Checkpoint]:
    path = checkpoint_path(data_dir)
    if not path.exists():
        return []
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            found.append(
                Checkpoint(
                    int(doc["size"]),
                    base64.b64decode(doc["head"]),
                    dt.datetime.fromisoformat(doc["at"]),
                    doc["note"],
                    base64.b64decode(doc["signature"]),
                    f"{path.name} line {number}",
                )
            )
        except (ValueError, KeyError, TypeError):
            found.append(
                Checkpoint(-1, b"", utcnow(), "", b"", f"{path.name} line {number} (unreadable)")
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
