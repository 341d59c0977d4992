"""A spreadsheet uploaded through the web client, kept between preview, dry run and import.

Never stored in the clear: the file, its name, the mapping and who uploaded it are sealed as one
value with a data key of the upload's own (``owner_type`` "import"), written to
``$data_dir/imports/<id>`` with mode 0600. Only the supervisor who uploaded it opens it again.
Once imported or discarded, the file is deleted and its key destroyed, so a copy of the file
that outlived the deletion (a backup, a snapshot) is noise. Uploads left behind are swept
after a day, when a new one is stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import uuid
from base64 import b64decode, b64encode
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from app.actor import Actor
from app.crypto import CryptoError, FieldSlot, Pad, crypto_of
from app.errors import NotFound, PayloadTooLarge

UPLOAD = FieldSlot("import_upload", "file")
MAX_BYTES = 10 * 1024 * 1024
KEEP = dt.timedelta(days=1)


@dataclass(frozen=True)
class Upload:
    id: uuid.UUID
    kind: str  # "people" or "incidents"
    name: str
    mapping: str
    raw: bytes


def _directory(session: Session) -> Path:
    settings = session.info.get("settings")
    if settings is None:
        raise RuntimeError("this session was opened without settings (see app.db)")
    return Path(settings.data_dir) / "imports"


def _path(session: Session, upload_id: uuid.UUID) -> Path:
    return _directory(session) / f"{upload_id}.sealed"


def store(
    session: Session, actor: Actor, *, kind: str, name: str, mapping: str, raw: bytes
) -> uuid.UUID:
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge("file: larger than 10 MB; import it with `haven import`")
    sweep(session)
    upload_id = uuid.uuid4()
    crypto = crypto_of(session)
    key = crypto.keys.create(session, upload_id, "import")
    envelope = {
        "user": str(actor.id),
        "organisation": str(actor.organisation_id),
        "kind": kind,
        "name": name[:200],
        "mapping": mapping,
        "raw": b64encode(raw).decode(),
    }
    sealed = crypto.seal(key, UPLOAD, upload_id, json.dumps(envelope), pad=Pad.TEXT)
    directory = _directory(session)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(_path(session, upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(sealed)
    return upload_id


def load(session: Session, actor: Actor, upload_id: uuid.UUID) -> Upload:
    """The upload, for the supervisor who made it only (404 for anyone else, or once gone)."""
    try:
        sealed = _path(session, upload_id).read_bytes()
        opened = crypto_of(session).open(
            session, UPLOAD, upload_id, upload_id, sealed, pad=Pad.TEXT
        )
        envelope = json.loads(opened)
    except (OSError, CryptoError, ValueError):
        raise NotFound() from None
    if envelope.get("user") != str(actor.id):
        raise NotFound()
    return Upload(
        upload_id,
        envelope["kind"],
        envelope["name"],
        envelope["mapping"],
        b64decode(envelope["raw"]),
    )


def discard(session: Session, upload_id: uuid.UUID) -> None:
    """Delete the file and destroy its key (in the caller's transaction)."""
    with contextlib.suppress(FileNotFoundError):
        _path(session, upload_id).unlink()
    crypto_of(session).keys.destroy(session, upload_id)


def sweep(session: Session) -> int:
    """Delete uploads older than a day (their keys destroyed too)."""
    directory = _directory(session)
    if not directory.is_dir():
        return 0
    limit = time.time() - KEEP.total_seconds()
    gone = 0
    for path in directory.glob("*.sealed"):
        try:
            old = path.stat().st_mtime < limit
            upload_id = uuid.UUID(path.stem)
        except (OSError, ValueError):
            continue
        if old:
            discard(session, upload_id)
            gone += 1
    return gone
