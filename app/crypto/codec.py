"""Typed values to padded plaintext bytes and back (SECURITY.md §10.3, padding).

A one-byte tag keeps the type, so a value opens as what was sealed. Padding is ISO/IEC 7816-4
(0x80 then zeros) up to a bucket, so ciphertext length says little about the value: categorical
values all take one fixed length, short strings 32-byte buckets, free text 256-byte buckets.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag

from app.crypto.envelope import (
    CryptoError,
    DataKey,
    DecryptionError,
    FieldSlot,
    header_key_id,
)


class Pad(enum.IntEnum):
    """Padding bucket in bytes; CATEGORY is one fixed length for every value."""

    NONE = 1
    CATEGORY = 48
    SHORT = 32
    TEXT = 256


_NONE, _STR, _BYTES, _INT, _BOOL, _DATE, _DATETIME, _JSON = range(8)


def encode(value: Any) -> bytes:
    """Tagged bytes for str, bytes, int, bool, date, datetime, JSON lists/dicts, or None."""
    if value is None:
        return bytes([_NONE])
    if isinstance(value, bool):
        return bytes([_BOOL, int(value)])
    if isinstance(value, str):
        return bytes([_STR]) + value.encode()
    if isinstance(value, bytes):
        return bytes([_BYTES]) + value
    if isinstance(value, int):
        return bytes([_INT]) + str(value).encode()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise CryptoError("datetimes must be timezone-aware")
        return bytes([_DATETIME]) + value.isoformat().encode()
    if isinstance(value, dt.date):
        return bytes([_DATE]) + value.isoformat().encode()
    if isinstance(value, list | dict):
        return (
            bytes([_JSON]) + json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        )
    raise CryptoError(f"cannot encrypt values of type {type(value).__name__}")


def decode(data: bytes) -> Any:
    if not data:
        raise CryptoError("empty plaintext")
    return _decode_body(data[0], data[1:])


def _decode_body(tag: int, body: bytes) -> Any:
    if tag == _NONE:
        return None
    if tag == _STR:
        return body.decode()
    if tag == _BYTES:
        return bytes(body)
    if tag == _INT:
        return int(body)
    if tag == _BOOL:
        return body == b"\x01"
    if tag == _DATE:
        return dt.date.fromisoformat(body.decode())
    if tag == _DATETIME:
        return dt.datetime.fromisoformat(body.decode())
    if tag == _JSON:
        return json.loads(body)
    raise CryptoError(f"unknown value tag {tag}")


def pad(data: bytes, bucket: Pad) -> bytes:
    if bucket is Pad.NONE:
        return data
    padded_len = (len(data) // bucket + 1) * bucket
    if bucket is Pad.CATEGORY and padded_len != int(bucket):
        raise CryptoError(f"categorical values must be shorter than {int(bucket)} bytes")
    return data + b"\x80" + b"\x00" * (padded_len - len(data) - 1)


def unpad(data: bytes, bucket: Pad) -> bytes:
    if bucket is Pad.NONE:
        return data
    end = len(data.rstrip(b"\x00")) - 1
    if end < 0 or data[end] != 0x80:
        raise CryptoError("bad padding")
    return data[:end]


_NO_PAD = Pad.NONE


def open_value(key: DataKey, slot: FieldSlot, row_id: uuid.UUID, sealed: bytes, *, pad: Pad) -> Any:
    """The value a sealed field holds: ``decode(unpad(key.open(slot.context(row_id,
    key.subject_id), sealed), pad))`` with the same checks, errors and AAD, in one flat call
    with one copy of the body: every field read takes this path."""
    header = key.header
    if sealed[:6] != header:
        header_key_id(sealed)  # names the problem: format, algorithm or length
        raise DecryptionError("sealed under another key")
    # header || slot.context(row_id, subject); row_id.int.to_bytes(16) (big-endian) is
    # UUID.bytes without the property call.
    aad = b"".join((header, slot.row_prefix, row_id.int.to_bytes(16), key.subject_part))
    try:
        data = key.aead_decrypt(sealed[6:18], sealed[18:], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None
    if pad is _NO_PAD:
        return decode(data)
    stripped = data.rstrip(b"\x00")
    if stripped[-1:] != b"\x80":  # also when nothing is left
        raise CryptoError("bad padding")
    tag = stripped[0]
    if tag == _STR:  # the common case first
        return stripped[1:-1].decode()
    if len(stripped) == 1:
        raise CryptoError("empty plaintext")
    return _decode_body(tag, stripped[1:-1])
