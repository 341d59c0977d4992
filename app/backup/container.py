"""The backup file: one stream encrypted and authenticated under a key derived from the keyring.

Layout::

    b"HAVEN-BACKUP\\n" | header length (uint32) | header (JSON) | chunk* | final chunk

Each chunk is ``length (uint32) | nonce (12 B) | AES-256-GCM(ciphertext || tag)`` whose AAD is
the header, the chunk's index and whether it is the last one (the STREAM construction of
Hoang, Reyhanitabar, Rogaway and Vizár), so a chunk that is altered, dropped, reordered or cut
off at the end fails to open. ``cryptography`` offers no streaming AEAD, so this framing is
written here; the cipher is its AESGCM.

The key is HKDF-SHA256 over the keyring's index root key with a random salt per backup: the
keyring (recovered from escrow if need be) opens every backup made under it, across KEK
rotations, and the backup itself never holds any key.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"HAVEN-BACKUP\n"
FORMAT = "haven-backup/1"
CHUNK = 1 << 20
_LEN = struct.Struct(">I")
_POSITION = struct.Struct(">QB")
_MAX_HEADER = 64 * 1024


class BackupError(Exception):
    """The backup cannot be read: damaged, truncated, or made under another keyring."""


def keyring_id(index_root: bytes) -> str:
    """A public name of the keyring a backup needs (it reveals nothing of the key)."""
    return _hkdf(index_root, b"", b"haven-keyring-id/1", 8).hex()


def _hkdf(root: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(root)


@dataclass(frozen=True)
class Header:
    raw: bytes
    fields: dict[str, Any]

    @property
    def keyring(self) -> str:
        return str(self.fields.get("keyring", ""))


class EncryptingWriter:
    """A write-only file object: plaintext in, encrypted chunks out to ``sink``."""

    def __init__(self, sink: IO[bytes], index_root: bytes, extra: dict[str, Any]) -> None:
        salt = os.urandom(16)
        fields = {"format": FORMAT, "salt": salt.hex(), "keyring": keyring_id(index_root)}
        fields.update(extra)
        self.header = json.dumps(fields, sort_keys=True).encode()
        self._aead = AESGCM(_hkdf(index_root, salt, b"haven-backup/1"))
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        self.written = 0
        self.digest = hashlib.sha256()
        self._emit(MAGIC + _LEN.pack(len(self.header)) + self.header)

    def _emit(self, data: bytes) -> None:
        self._sink.write(data)
        self.digest.update(data)
        self.written += len(data)

    def _seal(self, plain: bytes, final: bool) -> None:
        nonce = os.urandom(12)
        aad = self.header + _POSITION.pack(self._index, int(final))
        sealed = self._aead.encrypt(nonce, plain, aad)
        self._emit(_LEN.pack(len(sealed)) + nonce + sealed)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep at least one byte back for the final chunk
            self._seal(bytes(self._buffer[:CHUNK]), False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._seal(bytes(self._buffer), True)
        self._buffer.clear()


def read_header(source: IO[bytes]) -> Header:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a Haven backup")
    size_bytes = source.read(_LEN.size)
    if len(size_bytes) != _LEN.size:
        raise BackupError("the backup is truncated")
    (size,) = _LEN.unpack(size_bytes)
    if size > _MAX_HEADER:
        raise BackupError("the backup's header is damaged")
    raw = source.read(size)
    try:
        fields = json.loads(raw)
    except ValueError:
        raise BackupError("the backup's header is damaged") from None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise BackupError("the backup's header is damaged or of an unknown format")
    return Header(raw, fields)


def decrypt_chunks(source: IO[bytes], header: Header, index_root: bytes) -> Iterator[bytes]:
    """Every chunk's plaintext, in order; BackupError at the first one that fails."""
    if header.keyring != keyring_id(index_root):
        raise BackupError(
            f"this backup was made under another keyring ({header.keyring}, this one is "
            f"{keyring_id(index_root)})"
        )
    try:
        salt = bytes.fromhex(str(header.fields["salt"]))
    except (KeyError, ValueError):
        raise BackupError("the backup's header is damaged") from None
    aead = AESGCM(_hkdf(index_root, salt, b"haven-backup/1"))
    index = 0
    while True:
        size_bytes = source.read(_LEN.size)
        if len(size_bytes) != _LEN.size:
            raise BackupError("the backup is truncated (its last part is missing)")
        (size,) = _LEN.unpack(size_bytes)
        if size > CHUNK + 16:
            raise BackupError(f"part {index} of the backup is damaged")
        nonce, sealed = source.read(12), source.read(size)
        if len(sealed) != size or len(nonce) != 12:
            raise BackupError("the backup is truncated")
        final = None
        for flag in (0, 1):
            try:
                plain = aead.decrypt(nonce, sealed, header.raw + _POSITION.pack(index, flag))
            except InvalidTag:
                continue
            final = bool(flag)
            break
        if final is None:
            raise BackupError(f"part {index} of the backup fails authentication (altered)")
        yield plain
        index += 1
        if final:
            if source.read(1):
                raise BackupError("the backup has data after its last part")
            return


class DecryptingReader:
    """A read-only file object over ``decrypt_chunks`` (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self._offset >= len(self._buffer):
                nxt = next(self._chunks, None)
                if nxt is None:
                    break
                self._buffer, self._offset = nxt, 0
                continue
            want = len(self._buffer) - self._offset if size < 0 else size - len(out)
            piece = self._buffer[self._offset : self._offset + want]
            self._offset += len(piece)
            out += piece
        return bytes(out)
