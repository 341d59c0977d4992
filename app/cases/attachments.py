"""Attachments: files stored encrypted in the data dir, streamed back decrypted.

A file is sealed in 64 KiB chunks with the case's person's data key, in the STREAM
construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): each chunk is an ordinary sealed value
of SECURITY.md §10.3 whose AAD also binds the attachment id, the chunk's index and whether it is
the last one. Reordering, dropping, duplicating or moving chunks, cutting the file short at any
point, or appending to it therefore fails authentication. On disk::

    b"HVNATT01" | chunk 0 | chunk 1 | ... | last chunk (flagged final; may be empty)

where every chunk but the last holds exactly 64 KiB of plaintext. A file is written to a
temporary name, synced and renamed into place, and its row is added only then: a killed upload
leaves no row without its file. What a killed process can leave is a file without a row (a
partial upload, one renamed but never committed, one an erasure committed but had not yet
deleted); ``sweep``, run by ``haven serve`` as it starts, removes those. Erasing the person
destroys the key, so the files are noise even before they are deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import struct
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, OWN_READ
from app.cases.content_types import OCTET_STREAM, sniff
from app.cases.schemas import AttachmentView
from app.crypto import CryptoError, DataKey, DecryptionError, FieldSlot, Pad, crypto_of
from app.crypto.envelope import OVERHEAD, header_key_id
from app.db import READ_ONLY, after_read, on_rollback
from app.errors import NotFound, PayloadTooLarge
from app.events import PersonErased
from app.models.case import Attachment, Case
from app.records import history
from app.records.cases import get_visible_case
from app.records.people import get_visible

log = logging.getLogger("haven.attachments")

CHUNK = 64 * 1024
SEALED_CHUNK = CHUNK + OVERHEAD
FILE_MAGIC = b"HVNATT01"
CONTENT = FieldSlot("attachment", "content")
FILENAME = FieldSlot("attachment", "filename")
META = FieldSlot("attachment", "meta")
_CHUNK_POSITION = struct.Struct(">QB")  # chunk index, final flag
_STORED_NAME = re.compile(r"[0-9a-f]{64}|\.[0-9a-f]{64}\.part")  # the names store() gives
SWEEP_BATCH = 500


class DamagedAttachment(DecryptionError):
    """A stored file failed authentication: altered, truncated, reordered or misplaced."""


@dataclass(frozen=True)
class Upload:
    """A file as it arrives: the name the client gave and its bytes in pieces of any size."""

    filename: str
    chunks: Iterable[bytes]


# Where files live ------------------------------------------------------------------------------
def storage_dir(session: Session) -> Path:
    """$data_dir/attachments, from the settings the session was opened with."""
    settings = session.info.get("settings")
    if settings is None:
        raise RuntimeError("this session was opened without settings (see app.db)")
    return Path(settings.data_dir) / "attachments"


def _max_bytes(session: Session) -> int:
    return int(session.info["settings"].max_attachment_bytes)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _create_locked(path: Path) -> BinaryIO:
    """A new file, exclusively locked until closed: ``sweep`` never removes a locked file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb")


def _lock_if_idle(path: Path) -> int | None:
    """A descriptor holding the file's lock, or None if it is gone or an upload holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_filename(name: str) -> str:
    """The last path segment, without control characters, at most 200 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:200] or "attachment"


# Sealing ----------------------------------------------------------------------------------------
def _context(key: DataKey, attachment_id: uuid.UUID, index: int, final: bool) -> bytes:
    return CONTENT.context(attachment_id, key.subject_id) + _CHUNK_POSITION.pack(index, final)


def _pieces(chunks: Iterable[bytes], limit: int) -> Iterator[tuple[bytes, bool]]:
    """64 KiB plaintext chunks with their final flag; at least one (empty if the file is)."""
    buffer = bytearray()
    size = 0
    for piece in chunks:
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"attachments may be at most {limit} bytes")
        buffer += piece
        # Strictly more than a chunk: the last full chunk must wait to learn whether it is final.
        while len(buffer) > CHUNK:
            yield bytes(buffer[:CHUNK]), False
            del buffer[:CHUNK]
    yield bytes(buffer), True


@dataclass(frozen=True)
class StoredFile:
    """What is known of a stored file's plaintext; sealed as the row's ``meta_ct``."""

    size: int
    sha256: str
    content_type: str


def _seal_meta(session: Session, key: DataKey, attachment_id: uuid.UUID, file: StoredFile) -> bytes:
    meta = {"size": file.size, "sha256": file.sha256, "content_type": file.content_type}
    return crypto_of(session).seal(key, META, attachment_id, meta, pad=Pad.SHORT)


def _open_meta(session: Session, key: DataKey, attachment: Attachment) -> StoredFile:
    if attachment.meta_ct is None:  # stored before metadata was sealed: seal it now
        assert attachment.size is not None and attachment.sha256 is not None
        legacy = StoredFile(
            attachment.size, attachment.sha256, attachment.content_type or OCTET_STREAM
        )
        sealed = _seal_meta(session, key, attachment.id, legacy)
        after_read(session, _store_sealed_meta(attachment.id, sealed))
        return legacy
    meta = crypto_of(session).open_with(key, META, attachment.id, attachment.meta_ct, pad=Pad.SHORT)
    return StoredFile(int(meta["size"]), str(meta["sha256"]), str(meta["content_type"]))


def _store_sealed_meta(attachment_id: uuid.UUID, sealed: bytes) -> Callable[[Session], None]:
    """Written at once in a writing transaction; by the audit sequencer for a read request."""

    def job(session: Session) -> None:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id, Attachment.meta_ct.is_(None))
            .values(meta_ct=sealed, content_type=None, size=None, sha256=None)
        )

    return job


def _write_sealed(
    handle: BinaryIO, key: DataKey, attachment_id: uuid.UUID, chunks: Iterable[bytes], limit: int
) -> StoredFile:
    digest = hashlib.sha256()
    size = 0
    content_type = OCTET_STREAM
    handle.write(FILE_MAGIC)
    for index, (plaintext, final) in enumerate(_pieces(chunks, limit)):
        if index == 0:
            content_type = sniff(plaintext, complete=final)
        digest.update(plaintext)
        size += len(plaintext)
        handle.write(key.seal(_context(key, attachment_id, index, final), plaintext))
    return StoredFile(size, digest.hexdigest(), content_type)


def _decrypt(
    handle: BinaryIO, key: DataKey, attachment_id: uuid.UUID, size: int, sha256: str
) -> Iterator[bytes]:
    """Authenticated plaintext chunks; the final one is held back until size and digest match."""
    with handle:
        if handle.read(len(FILE_MAGIC)) != FILE_MAGIC:
            raise DamagedAttachment("not an attachment file")
        digest = hashlib.sha256()
        seen = 0
        block = handle.read(SEALED_CHUNK)
        index = 0
        while True:
            following = handle.read(SEALED_CHUNK) if len(block) == SEALED_CHUNK else b""
            final = not following
            try:
                plaintext = key.open(_context(key, attachment_id, index, final), block)
            except CryptoError:
                raise DamagedAttachment(f"chunk {index} failed authentication") from None
            digest.update(plaintext)
            seen += len(plaintext)
            if final:
                if seen != size or digest.hexdigest() != sha256:
                    raise DamagedAttachment("size or digest differs from the stored one")
                yield plaintext
                return
            yield plaintext
            block, index = following, index + 1


# Use cases --------------------------------------------------------------------------------------
def store(session: Session, actor: Actor, case: Case, upload: Upload) -> Attachment:
    """Encrypt an upload into the data dir and record it (413 past the size limit)."""
    person = get_visible(session, actor, case.individual_id, OWN)  # an erased person takes no files
    crypto = crypto_of(session)
    key = crypto.keys.current(session, person.id)
    directory = storage_dir(session)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    attachment_id = uuid.uuid4()
    while True:
        storage_key = secrets.token_hex(32)
        temporary = directory / f".{storage_key}.part"
        handle = _create_locked(temporary)
        if os.fstat(handle.fileno()).st_nlink:
            break
        handle.close()  # swept between its creation and its lock: take another name
    final_path = directory / storage_key
    # Nothing of the database is held while the body arrives: on SQLite the request's
    # transaction holds the only write lock, and a slow upload would stall every other writer.
    # What was checked so far is committed; scope is checked again once the file is in.
    case_id, individual_id = case.id, person.id
    session.commit()
    try:
        written = _write_sealed(handle, key, attachment_id, upload.chunks, _max_bytes(session))
        handle.flush()
        os.fsync(handle.fileno())
        os.replace(temporary, final_path)
        _sync_dir(directory)
        # The case may have left the actor's scope, or the person been erased, meanwhile.
        case = get_visible_case(session, actor, case_id, OWN)
        person = get_visible(session, actor, individual_id, OWN)
    except BaseException:
        _unlink(temporary)
        _unlink(final_path)
        handle.close()
        raise

    # The file is in place before the transaction commits, and stays locked until it ends: if
    # it fails, the file is removed.
    def discard(_session: Session) -> None:
        _unlink(final_path)
        handle.close()

    on_rollback(session, discard)
    session.info.setdefault("after_commit", []).append(lambda _session: handle.close())
    filename = clean_filename(upload.filename)
    attachment = Attachment(
        id=attachment_id,
        case_id=case.id,
        filename_ct=crypto.seal(key, FILENAME, attachment_id, filename, pad=Pad.SHORT),
        meta_ct=_seal_meta(session, key, attachment_id, written),
        storage_key=storage_key,
        uploaded_by=actor.id,
    )
    session.add(attachment)
    session.flush()
    history.record(
        session,
        actor=actor,
        individual_id=person.id,
        case_id=case.id,
        kind="attachment.added",
        summary="Attachment added",
        subject_type="attachment",
        subject_id=attachment.id,
        changes={
            "filename": filename,
            "content_type": written.content_type,
            "size": written.size,
            "sha256": written.sha256,
        },
    )
    audit.record(
        session,
        actor=actor,
        action="attachment.upload",
        subject_type="case",
        subject_id=case.id,
        details={"attachment_id": str(attachment.id), "bytes": written.size},
    )
    return attachment


def get_visible_attachment(
    session: Session, actor: Actor, attachment_id: uuid.UUID
) -> tuple[Attachment, Case]:
    """The attachment and its case, if the case is in the actor's scope; 404 otherwise."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.deleted_at is not None:
        raise NotFound()
    return attachment, get_visible_case(session, actor, attachment.case_id, OWN_READ)


def _key_of(session: Session, case: Case, attachment: Attachment) -> DataKey:
    # The filename was sealed with the same key as the file, so its header names that key.
    return crypto_of(session).keys.by_id(
        session, header_key_id(attachment.filename_ct), case.individual_id
    )


def present(session: Session, case: Case, attachment: Attachment) -> AttachmentView:
    key = _key_of(session, case, attachment)
    meta = _open_meta(session, key, attachment)
    return {
        "id": attachment.id,
        "case_id": attachment.case_id,
        "filename": crypto_of(session).open_with(
            key, FILENAME, attachment.id, attachment.filename_ct, pad=Pad.SHORT
        ),
        "content_type": meta.content_type,
        "size": meta.size,
        "sha256": meta.sha256,
        "uploaded_by": attachment.uploaded_by,
        "created_at": attachment.created_at,
    }


def list_for_case(session: Session, case: Case) -> list[AttachmentView]:
    """The case's live attachments, oldest first (no audit: callers record their own read)."""
    rows = session.scalars(
        select(Attachment)
        .where(Attachment.case_id == case.id, Attachment.deleted_at.is_(None))
        .order_by(Attachment.created_at, Attachment.id)
    )
    return [present(session, case, row) for row in rows]


def list_attachments(session: Session, actor: Actor, case: Case) -> list[AttachmentView]:
    get_visible(session, actor, case.individual_id, OWN_READ)
    items = list_for_case(session, case)
    audit.record(
        session,
        actor=actor,
        action="attachment.list",
        subject_type="case",
        subject_id=case.id,
        details={"results": len(items)},
    )
    return items


def stream(
    session: Session, actor: Actor, attachment: Attachment, case: Case, meta: StoredFile
) -> Iterator[bytes]:
    """Audit the download and return its decrypted chunks.

    Everything that needs the database happens here, before the response starts; the returned
    generator only reads the already open file and decrypts with the already unwrapped key.
    The first chunk is checked at once, so a damaged small file fails before any byte is sent.
    """
    get_visible(session, actor, case.individual_id, OWN_READ)
    key = _key_of(session, case, attachment)
    try:
        handle = (storage_dir(session) / attachment.storage_key).open("rb")
    except FileNotFoundError:
        log.error("attachment %s: stored file is missing", attachment.id)
        raise NotFound() from None
    chunks = _decrypt(handle, key, attachment.id, meta.size, meta.sha256)
    try:
        first = next(chunks)
    except DamagedAttachment:
        log.error("attachment %s: stored file failed authentication", attachment.id)
        audit.record(
            session,
            actor=actor,
            action="attachment.download",
            subject_type="case",
            subject_id=case.id,
            outcome="failed",
            details={"attachment_id": str(attachment.id), "reason": "integrity"},
            durable=True,
        )
        raise
    audit.record(
        session,
        actor=actor,
        action="attachment.download",
        subject_type="case",
        subject_id=case.id,
        details={"attachment_id": str(attachment.id)},
    )
    return _chained(first, chunks, attachment.id)


def _chained(first: bytes, rest: Iterator[bytes], attachment_id: uuid.UUID) -> Iterator[bytes]:
    yield first
    try:
        yield from rest
    except DamagedAttachment:
        log.error("attachment %s: stored file failed authentication mid-stream", attachment_id)
        raise


def delete_files_of(session: Session, individual_id: uuid.UUID) -> None:
    """Delete every stored attachment file of the person's cases, and their rows.

    The rows go in this transaction (the history keeps only that a file was added, its values
    sealed with the destroyed key); the files go once it has committed, so a failed erasure
    keeps them. (They are sealed with the person's key, which the erasure destroys.)
    """
    rows = list(
        session.scalars(
            select(Attachment).where(
                Attachment.case_id.in_(select(Case.id).where(Case.individual_id == individual_id))
            )
        )
    )
    if not rows:
        return
    live = [row for row in rows if row.deleted_at is None]
    for row in rows:
        session.delete(row)
    if not live:
        return
    rows = live
    if session.info.get("settings") is None:
        log.error("attachment files of an erased person left in place: no data dir known")
        return
    paths = [storage_dir(session) / row.storage_key for row in rows]

    def remove(_session: Session) -> None:
        for path in paths:
            _unlink(path)

    session.info.setdefault("after_commit", []).append(remove)


def on_person_erased(session: Session, event: PersonErased) -> None:
    """The erased person's attachment files go with their record."""
    delete_files_of(session, event.individual_id)


def _live_keys(engine: Engine, among: list[str] | None = None) -> set[str]:
    # A read that waits for no writer (on SQLite an upload holds the write lock throughout).
    query = select(Attachment.storage_key).where(Attachment.deleted_at.is_(None))
    if among is not None:
        query = query.where(Attachment.storage_key.in_(among))
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return set(conn.scalars(query))


def sweep(engine: Engine, data_dir: Path) -> int:
    """Remove stored files that no live attachment names; returns how many.

    An upload holds its file's lock from creation until its transaction ends, so a file this
    can lock is being written by no one, and one whose name no committed, live row holds was
    left by a killed process. Files under names ``store`` does not give are left alone.
    """
    directory = Path(data_dir) / "attachments"
    try:
        names = sorted(name for name in os.listdir(directory) if _STORED_NAME.fullmatch(name))
    except FileNotFoundError:
        return 0
    live = _live_keys(engine)
    candidates = [name for name in names if name not in live]
    removed = 0
    for start in range(0, len(candidates), SWEEP_BATCH):
        locked: dict[str, int] = {}
        try:
            for name in candidates[start : start + SWEEP_BATCH]:
                fd = _lock_if_idle(directory / name)
                if fd is not None:
                    locked[name] = fd
            # Asked again once the files are locked: an upload that committed meanwhile is seen.
            for name in locked.keys() - _live_keys(engine, list(locked)):
                _unlink(directory / name)
                removed += 1
        finally:
            for fd in locked.values():
                os.close(fd)
    if removed:
        log.warning("removed %d attachment files that no attachment refers to", removed)
    return removed


# Use cases by id (the API's routes and the web pages) -------------------------------------------
def upload(
    session: Session, actor: Actor, case_id: uuid.UUID, receive: Callable[[], Upload]
) -> AttachmentView:
    """Store a file on a case of the actor's own organisation (``store``) and show it.

    ``receive`` gives the upload and is called only once the case is found in scope: nothing of
    the body is read for a case outside it (404) or seen through a referral."""
    case = get_visible_case(session, actor, case_id, OWN)
    attachment = store(session, actor, case, receive())
    return present(session, case, attachment)


def list_on_case(session: Session, actor: Actor, case_id: uuid.UUID) -> list[AttachmentView]:
    """The attachments of a case of the actor's own organisation (``list_attachments``)."""
    case = get_visible_case(session, actor, case_id, OWN_READ)
    return list_attachments(session, actor, case)


def download(
    session: Session, actor: Actor, attachment_id: uuid.UUID
) -> tuple[StoredFile, str, Iterator[bytes]]:
    """An attachment in scope (its content type, size and digest), its filename and its
    decrypted chunks (``stream``, audited)."""
    attachment, case = get_visible_attachment(session, actor, attachment_id)
    shown = present(session, case, attachment)
    meta = StoredFile(shown["size"], shown["sha256"], shown["content_type"])
    return meta, shown["filename"], stream(session, actor, attachment, case, meta)
