"""Sealed fields: round trips, tampering, moved ciphertexts, unknown keys, v1 vector, padding."""

from __future__ import annotations

import datetime as dt
import os
import struct
import uuid
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from app.crypto import (
    CryptoError,
    DataKey,
    DecryptionError,
    FieldSlot,
    Pad,
    UnknownKeyError,
    UnsupportedFormat,
    codec,
    crypto_of,
)
from app.crypto.envelope import OVERHEAD

from .support import NAME

PHNOM_PENH = dt.timezone(dt.timedelta(hours=7))

VALUES: list[tuple[str, Any]] = [
    ("latin-name", "Sok Dara"),
    ("khmer-name", "សុខ ដារ៉ា"),
    ("empty-string", ""),
    ("string-with-0x80-continuation-bytes", "ɀ€ɀ"),
    ("bytes", b"\x00\x01\xfe\xff"),
    ("bytes-that-look-like-padding", b"\x80\x00\x80"),
    ("empty-bytes", b""),
    ("zero", 0),
    ("negative-int", -42),
    ("big-int", 2**80 + 1),
    ("true", True),
    ("false", False),
    ("date", dt.date(1987, 2, 28)),
    ("utc-datetime", dt.datetime(2024, 5, 17, 8, 30, 12, 345678, tzinfo=dt.UTC)),
    ("offset-datetime", dt.datetime(2024, 5, 17, 15, 30, tzinfo=PHNOM_PENH)),
    ("list", ["asylum_seeker", 3, None, True, {"k": "ស"}]),
    ("empty-list", []),
    ("dict", {"status": "refugee", "flags": ["medical", "minor"], "children": 2, "n": None}),
    ("empty-dict", {}),
    ("none", None),
    ("long-text", "Crossed at Poipet at night; sheltered near the market. " * 12),
]

UNHCR_STATUSES = [
    "none",
    "asylum_seeker",
    "person_of_concern",
    "refugee",
    "rejected",
    "resettlement_submitted",
    "resettled",
    "closed",
]


def _padded_size(encoded: int, pad: Pad) -> int:
    """The smallest multiple of the bucket with room for the value and the 0x80 marker."""
    if pad is Pad.NONE:
        return encoded
    return -(-(encoded + 1) // int(pad)) * int(pad)


def _flip(data: bytes, position: int, mask: int) -> bytes:
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


# Round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("pad", list(Pad), ids=[p.name for p in Pad])
@pytest.mark.parametrize(("label", "value"), VALUES, ids=[label for label, _ in VALUES])
def test_every_value_type_round_trips_under_every_bucket_that_fits(
    session: Session, label: str, value: Any, pad: Pad
) -> None:
    crypto = crypto_of(session)
    owner, row = uuid.uuid4(), uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    encoded = len(codec.encode(value))
    if pad is Pad.CATEGORY and encoded >= Pad.CATEGORY:
        with pytest.raises(CryptoError, match="categorical"):
            crypto.seal(key, NAME, row, value, pad=pad)
        return

    sealed = crypto.seal(key, NAME, row, value, pad=pad)
    opened = crypto.open(session, NAME, row, owner, sealed, pad=pad)

    assert type(opened) is type(value)
    assert opened == value
    if isinstance(value, dt.datetime):
        assert opened.utcoffset() == value.utcoffset()
    assert len(sealed) == OVERHEAD + _padded_size(encoded, pad)
    if isinstance(value, str) and len(value) >= 4:
        assert value.encode() not in sealed


def test_two_seals_of_one_value_differ(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    first = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    second = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    assert first[:6] == second[:6]  # same header
    assert first[6:18] != second[6:18]  # a fresh random nonce each time
    assert first[18:] != second[18:]


def test_unsupported_values_are_refused(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    with pytest.raises(CryptoError, match="timezone-aware"):
        crypto.seal(key, NAME, owner, dt.datetime(2024, 5, 17, 8, 30), pad=Pad.SHORT)
    with pytest.raises(CryptoError, match="float"):
        crypto.seal(key, NAME, owner, 1.5, pad=Pad.SHORT)
    with pytest.raises(CryptoError, match="256 bits"):
        DataKey.from_bytes(1, owner, os.urandom(16))


# Tampering ---------------------------------------------------------------------------------


def test_flipping_any_byte_of_header_nonce_body_or_tag_fails(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    sealed = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    assert len(sealed) == 6 + 12 + 32 + 16
    assert crypto.open(session, NAME, owner, owner, sealed, pad=Pad.SHORT) == "Sok Dara"

    for position in range(len(sealed)):
        if position < 2:  # format and algorithm bytes
            through_store, with_key = UnsupportedFormat, UnsupportedFormat
        elif position < 6:  # key id: names a key this owner does not have
            through_store, with_key = UnknownKeyError, DecryptionError
        else:  # nonce, ciphertext, tag
            through_store, with_key = DecryptionError, DecryptionError
        for mask in (0x01, 0x80, 0xFF):
            tampered = _flip(sealed, position, mask)
            with pytest.raises(through_store) as caught:
                crypto.open(session, NAME, owner, owner, tampered, pad=Pad.SHORT)
            assert "Sok" not in str(caught.value)
            with pytest.raises(with_key):
                crypto.open_with(key, NAME, owner, tampered, pad=Pad.SHORT)


def test_truncated_or_extended_ciphertext_fails(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    sealed = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    for length in range(len(sealed)):
        with pytest.raises(DecryptionError):
            crypto.open(session, NAME, owner, owner, sealed[:length], pad=Pad.SHORT)
    with pytest.raises(DecryptionError):
        crypto.open(session, NAME, owner, owner, sealed + b"\x00", pad=Pad.SHORT)


# Moved ciphertexts -------------------------------------------------------------------------


def test_ciphertext_moved_to_another_row_fails(session: Session) -> None:
    crypto = crypto_of(session)
    owner, row, other_row = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    sealed = crypto.seal(key, NAME, row, "Sok Dara", pad=Pad.SHORT)
    assert crypto.open(session, NAME, row, owner, sealed, pad=Pad.SHORT) == "Sok Dara"
    with pytest.raises(DecryptionError):
        crypto.open(session, NAME, other_row, owner, sealed, pad=Pad.SHORT)


@pytest.mark.parametrize(
    "other",
    [
        FieldSlot("individual", "alias"),
        FieldSlot("user", "full_name"),
        FieldSlot("individualf", "ull_name"),  # same characters, other split
        FieldSlot("individual", "full_name "),
    ],
    ids=["other-column", "other-table", "shifted-boundary", "trailing-space"],
)
def test_ciphertext_moved_to_another_column_fails(session: Session, other: FieldSlot) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    sealed = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    assert other.context(owner, owner) != NAME.context(owner, owner)
    with pytest.raises(DecryptionError):
        crypto.open(session, other, owner, owner, sealed, pad=Pad.SHORT)


def test_ciphertext_moved_to_another_person_fails(session: Session) -> None:
    crypto = crypto_of(session)
    dara, sokha = uuid.uuid4(), uuid.uuid4()
    dara_key = crypto.keys.create(session, dara, "individual")
    sokha_key = crypto.keys.create(session, sokha, "individual")
    sealed = crypto.seal(dara_key, NAME, dara, "Sok Dara", pad=Pad.SHORT)

    # Copied into Sokha's record: the header names a key that is not Sokha's.
    with pytest.raises(UnknownKeyError, match="not this record's"):
        crypto.open(session, NAME, sokha, sokha, sealed, pad=Pad.SHORT)
    with pytest.raises(UnknownKeyError):
        crypto.open(session, NAME, dara, sokha, sealed, pad=Pad.SHORT)
    with pytest.raises(DecryptionError):
        crypto.open_with(sokha_key, NAME, sokha, sealed, pad=Pad.SHORT)


def test_person_is_bound_into_the_authenticated_context() -> None:
    material = os.urandom(32)
    dara, sokha, row = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    as_dara = DataKey.from_bytes(7, dara, material)
    as_sokha = DataKey.from_bytes(7, sokha, material)  # same key id and material, other person
    plaintext = codec.pad(codec.encode("Sok Dara"), Pad.SHORT)
    sealed = as_dara.seal(NAME.context(row, dara), plaintext)
    assert as_dara.open(NAME.context(row, dara), sealed) == plaintext
    with pytest.raises(DecryptionError):
        as_sokha.open(NAME.context(row, sokha), sealed)


# Unknown keys and formats ------------------------------------------------------------------


def test_unknown_key_id_fails_with_a_clear_message(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    crypto.keys.create(session, owner, "individual")
    stray = DataKey.from_bytes(0xFFFFFFF0, owner, os.urandom(32))
    sealed = crypto.seal(stray, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    with pytest.raises(UnknownKeyError) as caught:
        crypto.open(session, NAME, owner, owner, sealed, pad=Pad.SHORT)
    message = str(caught.value)
    assert str(0xFFFFFFF0) in message
    assert "unknown" in message
    assert "Sok" not in message


def test_unknown_format_or_algorithm_is_reported(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    sealed = crypto.seal(key, NAME, owner, "Sok Dara", pad=Pad.SHORT)
    with pytest.raises(UnsupportedFormat, match="format 2"):
        crypto.open(session, NAME, owner, owner, b"\x02" + sealed[1:], pad=Pad.SHORT)
    with pytest.raises(UnsupportedFormat, match="algorithm 2"):
        crypto.open(session, NAME, owner, owner, sealed[:1] + b"\x02" + sealed[2:], pad=Pad.SHORT)


# Known-answer vector -----------------------------------------------------------------------

KAT_KEY = bytes(range(32))
KAT_KEY_ID = 0x01020304
KAT_NONCE = bytes.fromhex("000102030405060708090a0b")
KAT_ROW = uuid.UUID("00000000-0000-4000-8000-000000000001")
KAT_SUBJECT = uuid.UUID("00000000-0000-4000-8000-000000000002")
KAT_SLOT = FieldSlot("individual", "full_name")
KAT_VALUE = "Sok Dara"
KAT_PLAINTEXT = bytes.fromhex(  # str tag, "Sok Dara", 0x80, zeros to 32 bytes
    "01536f6b20446172618000000000000000000000000000000000000000000000"
)
KAT_SEALED = bytes.fromhex(
    "010101020304"  # format v1, AES-256-GCM, key id 0x01020304
    "000102030405060708090a0b"  # nonce
    "4651b970e5a1a369ecc1978bb1e9786d83d68734f07b5f7c3867e5851d6900b2"  # ciphertext
    "b1f665ab2cc21c3a05fdd177ff5be33d"  # tag
)


def _kat_context() -> bytes:
    """table, column, row and subject, each length-prefixed, after the format label."""
    parts = [b"haven-field-v1", b"individual", b"full_name", KAT_ROW.bytes, KAT_SUBJECT.bytes]
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def test_v1_known_answer_vector() -> None:
    key = DataKey.from_bytes(KAT_KEY_ID, KAT_SUBJECT, KAT_KEY)
    assert codec.pad(codec.encode(KAT_VALUE), Pad.SHORT) == KAT_PLAINTEXT
    assert KAT_SLOT.context(KAT_ROW, KAT_SUBJECT) == _kat_context()

    sealed = key.seal(KAT_SLOT.context(KAT_ROW, KAT_SUBJECT), KAT_PLAINTEXT, nonce=KAT_NONCE)
    assert sealed.hex() == KAT_SEALED.hex()
    assert key.open(KAT_SLOT.context(KAT_ROW, KAT_SUBJECT), KAT_SEALED) == KAT_PLAINTEXT

    # Header layout, byte by byte, and the 34 bytes of overhead.
    assert sealed[0] == 0x01  # format v1
    assert sealed[1] == 0x01  # AES-256-GCM
    assert sealed[2:6] == b"\x01\x02\x03\x04"  # key id, uint32 big-endian
    assert struct.unpack(">I", sealed[2:6])[0] == KAT_KEY_ID
    assert sealed[6:18] == KAT_NONCE
    assert OVERHEAD == 34
    assert len(sealed) - len(KAT_PLAINTEXT) == 34


def test_v1_vector_opens_with_plain_aes_gcm_and_the_documented_aad() -> None:
    """The format is exactly: AES-256-GCM, AAD = 6 header bytes + canonical context."""
    header, nonce, body = KAT_SEALED[:6], KAT_SEALED[6:18], KAT_SEALED[18:]
    plaintext = AESGCM(KAT_KEY).decrypt(nonce, body, header + _kat_context())
    assert plaintext == KAT_PLAINTEXT
    assert codec.decode(codec.unpad(plaintext, Pad.SHORT)) == KAT_VALUE
    with pytest.raises(InvalidTag):  # the header is part of the AAD
        AESGCM(KAT_KEY).decrypt(nonce, body, _kat_context())


def test_v1_vector_opens_through_crypto(session: Session) -> None:
    key = DataKey.from_bytes(KAT_KEY_ID, KAT_SUBJECT, KAT_KEY)
    opened = crypto_of(session).open_with(key, KAT_SLOT, KAT_ROW, KAT_SEALED, pad=Pad.SHORT)
    assert opened == KAT_VALUE
    assert type(opened) is str


# Padding -----------------------------------------------------------------------------------


def test_every_categorical_value_seals_to_one_length(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    status = FieldSlot("individual", "unhcr_status")
    lengths = set()
    for value in UNHCR_STATUSES:
        sealed = crypto.seal(key, status, owner, value, pad=Pad.CATEGORY)
        lengths.add(len(sealed))
        assert crypto.open(session, status, owner, owner, sealed, pad=Pad.CATEGORY) == value
    assert lengths == {OVERHEAD + 48}
    # Without padding the same values would give themselves away by length.
    unpadded = {len(crypto.seal(key, status, owner, v, pad=Pad.NONE)) for v in UNHCR_STATUSES}
    assert len(unpadded) > 1


def test_short_values_land_in_32_byte_buckets(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    for length in range(100):
        sealed = crypto.seal(key, NAME, owner, "x" * length, pad=Pad.SHORT)
        body = len(sealed) - OVERHEAD
        assert body % 32 == 0
        assert length + 1 < body <= length + 1 + 32  # tag byte + value, then 1 to 32 padding
    # All names up to 30 characters look alike.
    assert len({len(crypto.seal(key, NAME, owner, "x" * n, pad=Pad.SHORT)) for n in range(31)}) == 1
    text = {len(crypto.seal(key, NAME, owner, "y" * n, pad=Pad.TEXT)) for n in range(255)}
    assert text == {OVERHEAD + 256}


def test_too_long_categorical_value_is_refused(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    status = FieldSlot("individual", "unhcr_status")
    longest = "s" * 46  # tag byte + 46 + marker = 48
    assert len(crypto.seal(key, status, owner, longest, pad=Pad.CATEGORY)) == OVERHEAD + 48
    with pytest.raises(CryptoError, match="categorical"):
        crypto.seal(key, status, owner, longest + "s", pad=Pad.CATEGORY)
    with pytest.raises(CryptoError, match="categorical"):
        crypto.seal(key, status, owner, "resettlement_submitted" * 3, pad=Pad.CATEGORY)


def test_damaged_padding_is_refused(session: Session) -> None:
    crypto = crypto_of(session)
    owner = uuid.uuid4()
    key = crypto.keys.create(session, owner, "individual")
    context = NAME.context(owner, owner)
    for plaintext in (b"\x01abc", b"\x01abc\x80\x00\x01", b"\x01abc\x80\x00\x00\x80\x01"):
        sealed = key.seal(context, plaintext)
        with pytest.raises(CryptoError, match="bad padding"):
            crypto.open(session, NAME, owner, owner, sealed, pad=Pad.SHORT)
