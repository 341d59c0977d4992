"""AES-256-GCM field encryption in Haven's versioned format (SECURITY.md §10.3).

Layout of a sealed value::

    0x01 format v1 | 0x01 AES-256-GCM | key id (uint32, big-endian) | nonce (12 B) | ct | tag (16 B)

The six header bytes are authenticated: the AAD is ``header || canonical(context)``, and the
context names the table, column, row id and subject (person) id, so a ciphertext copied to any
other row, column or person fails to open. Key commitment is not needed here: every data key is
random and held by the server, never chosen or known by an attacker (SECURITY.md §10.3).
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = 0x01
ALG_AES256GCM = 0x01
HEADER = struct.Struct(">BBI")  # 6 bytes, then the 12-byte nonce at [6:18]
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER.size + NONCE_BYTES + TAG_BYTES
_CONTEXT_MAGIC = b"haven-field-v1"
_UUID_LEN = struct.pack(">I", 16)  # the length prefix of every UUID in a context


class CryptoError(Exception):
    """Base of every encryption failure; messages never carry plaintext."""


class DecryptionError(CryptoError):
    """The ciphertext is damaged, moved, or sealed under another key or context."""


class UnknownKeyError(CryptoError):
    """The key id in the header names no key this keyring holds (or it was destroyed)."""


class UnsupportedFormat(CryptoError):
    """The header names a format or algorithm this build does not know."""


def _lp(part: bytes) -> bytes:
    return struct.pack(">I", len(part)) + part


@dataclass(frozen=True, slots=True)
class FieldSlot:
    """Where a value lives: table and column. Precomputed so each seal only adds the row."""

    table: str
    column: str
    prefix: bytes = field(init=False, repr=False)
    row_prefix: bytes = field(init=False, repr=False, compare=False)  # prefix, row id's length

    def __post_init__(self) -> None:
        prefix = _lp(_CONTEXT_MAGIC) + _lp(self.table.encode()) + _lp(self.column.encode())
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "row_prefix", prefix + _UUID_LEN)

    def context(self, row_id: uuid.UUID, subject_id: uuid.UUID) -> bytes:
        """Canonical, unambiguous encoding of (table, column, row id, subject id)."""
        return b"".join((self.prefix, _UUID_LEN, row_id.bytes, _UUID_LEN, subject_id.bytes))


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped 256-bit data key with its id and a cached AESGCM object."""

    key_id: int
    subject_id: uuid.UUID
    aead: AESGCM = field(repr=False)
    header: bytes = field(init=False, repr=False)
    # The tail of every context under this key (subject id's length and bytes) and the bound
    # decrypt, so that codec.open_value builds the AAD with one join and no further lookups.
    subject_part: bytes = field(init=False, repr=False, compare=False)
    aead_decrypt: Callable[[bytes, bytes, bytes], bytes] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", HEADER.pack(FORMAT_V1, ALG_AES256GCM, self.key_id))
        object.__setattr__(self, "subject_part", _UUID_LEN + self.subject_id.bytes)
        object.__setattr__(self, "aead_decrypt", self.aead.decrypt)

    @classmethod
    def from_bytes(cls, key_id: int, subject_id: uuid.UUID, material: bytes) -> DataKey:
        if len(material) != 32:
            raise CryptoError("data keys are 256 bits")
        return cls(key_id, subject_id, AESGCM(material))

    def seal(self, context: bytes, plaintext: bytes, *, nonce: bytes | None = None) -> bytes:
        header = self.header
        nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
        return header + nonce + self.aead.encrypt(nonce, plaintext, header + context)

    def open(self, context: bytes, sealed: bytes) -> bytes:
        header = sealed[:6]
        if header != self.header:
            header_key_id(sealed)  # names the problem: format, algorithm or length
            raise DecryptionError("sealed under another key")
        try:
            return self.aead_decrypt(sealed[6:18], sealed[18:], header + context)
        except InvalidTag:
            raise DecryptionError("ciphertext failed authentication") from None


def header_key_id(sealed: bytes) -> int:
    """The key id a sealed value names, after checking format and algorithm."""
    if len(sealed) < OVERHEAD:
        raise DecryptionError("ciphertext too short")
    key_id: int
    fmt, alg, key_id = HEADER.unpack_from(sealed)
    if fmt != FORMAT_V1:
        raise UnsupportedFormat(f"unknown ciphertext format {fmt}")
    if alg != ALG_AES256GCM:
        raise UnsupportedFormat(f"unknown cipher algorithm {alg}")
    return key_id
