"""Field encryption through Haven's API against raw AES-GCM, and blind-index computation."""

from __future__ import annotations

import hashlib
import hmac
import os
import timeit
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto import Crypto, DataKey, FieldSlot, Pad
from app.crypto.blind_index import DOCUMENT_NUMBER, PERSON_NAME, BlindIndexer
from app.crypto.keyring import FileKeyProvider
from bench.common import Figure, Loops, time_interleaved

# Exactly 64 bytes of UTF-8: the "64-byte field" of SECURITY.md §9.
FIELD_VALUE = "Sok Dara, 12 Street 271, Sangkat Tuol Tumpung, Phnom Penh, KH 01"
RAW_AAD_BYTES = 80
SLOT = FieldSlot("individual", "address_ct")
TYPICAL_NAME = "Nguyễn Thị Minh-Khai"
TYPICAL_PASSPORT = "N° 01-234 567"
RATIO_GOAL = 3.0

assert len(FIELD_VALUE.encode()) == 64


def field_figures(tmp: Path, loops: Loops) -> list[Figure]:
    """µs per field seal and open with a cached DataKey, and the same against raw AESGCM."""
    provider = FileKeyProvider.create(tmp / "micro" / "master.key", development=True)
    crypto = Crypto(provider)
    subject = uuid.uuid4()
    row_id = uuid.uuid4()
    material = os.urandom(32)
    key = DataKey.from_bytes(1, subject, material)  # what DataKeys hands out from its cache
    sealed = crypto.seal(key, SLOT, row_id, FIELD_VALUE, pad=Pad.SHORT)
    if crypto.open_with(key, SLOT, row_id, sealed, pad=Pad.SHORT) != FIELD_VALUE:
        raise AssertionError("Haven's seal/open round trip failed")

    aead = AESGCM(material)
    plaintext = FIELD_VALUE.encode()
    aad = os.urandom(RAW_AAD_BYTES)
    nonce = os.urandom(12)
    raw_ct = aead.encrypt(nonce, plaintext, aad)

    # Haven without the codec (tagging, padding) and context building: the envelope alone.
    context = SLOT.context(row_id, subject)
    padded = b"\x01" + plaintext + b"\x80" + b"\x00" * 31  # Pad.SHORT of a 65-byte encoding
    haven_aad_bytes = 6 + len(context)

    names = {
        "crypto": crypto,
        "key": key,
        "slot": SLOT,
        "row_id": row_id,
        "value": FIELD_VALUE,
        "pad": Pad.SHORT,
        "sealed": sealed,
        "enc": aead.encrypt,
        "dec": aead.decrypt,
        "urandom": os.urandom,
        "pt": plaintext,
        "aad": aad,
        "nonce": nonce,
        "raw_ct": raw_ct,
        "context": context,
        "padded": padded,
    }

    def timer(stmt: str) -> timeit.Timer:
        return timeit.Timer(stmt, globals=names)

    enc = time_interleaved(
        {
            "haven": timer("crypto.seal(key, slot, row_id, value, pad=pad)"),
            "raw": timer("enc(urandom(12), pt, aad)"),
            "envelope": timer("key.seal(context, padded)"),
        },
        loops,
    )
    dec = time_interleaved(
        {
            "haven": timer("crypto.open_with(key, slot, row_id, sealed, pad=pad)"),
            "raw": timer("dec(nonce, raw_ct, aad)"),
            "envelope": timer("key.open(context, sealed)"),
        },
        loops,
    )
    common = {
        "field_bytes": 64,
        "haven_plaintext_bytes": len(padded),
        "haven_ciphertext_bytes": len(sealed),
        "haven_aad_bytes": haven_aad_bytes,
        "raw_aad_bytes": RAW_AAD_BYTES,
        "raw_ciphertext_bytes": 12 + len(raw_ct),
    }
    figures: list[Figure] = []
    for op, runs in (("encrypt", enc), ("decrypt", dec)):
        haven, raw = runs["haven"]["median_us"], runs["raw"]["median_us"]
        ratio = haven / raw
        verb = "seal" if op == "encrypt" else "open_with"
        figures += [
            Figure(
                f"field_{op}_haven_us",
                f"{op}: Haven Crypto.{verb}",
                haven,
                "µs",
                details={**runs["haven"], **common, "envelope_only": runs["envelope"]},
            ),
            Figure(
                f"field_{op}_raw_us",
                f"{op}: raw AESGCM (floor)",
                raw,
                "µs",
                details={**runs["raw"], **common},
            ),
            Figure(
                f"field_{op}_ratio",
                f"{op}: Haven / raw",
                ratio,
                "x",
                goal=f"≤ {RATIO_GOAL:g}x",
                verdict="within goal" if ratio <= RATIO_GOAL else "OVER GOAL",
                ok=ratio <= RATIO_GOAL,
                details={"envelope_only_ratio": runs["envelope"]["median_us"] / raw},
            ),
        ]
    return figures


def blind_index_figures(loops: Loops) -> list[Figure]:
    """µs per BlindIndexer.value, with the bare HMAC-SHA256 of the normalised value as floor."""
    indexer = BlindIndexer(os.urandom(32))
    figures: list[Figure] = []
    for key, label, spec, value in (
        ("blind_index_person_name_us", "blind index: person name", PERSON_NAME, TYPICAL_NAME),
        (
            "blind_index_document_number_us",
            "blind index: passport no.",
            DOCUMENT_NUMBER,
            TYPICAL_PASSPORT,
        ),
    ):
        indexer.value(spec, value)  # derive and cache the subkey outside the timing
        subkey = indexer._subkey(spec)
        normalised = spec.normalise(value).encode()
        names = {
            "indexer": indexer,
            "spec": spec,
            "value": value,
            "digest": hmac.digest,
            "subkey": subkey,
            "normalised": normalised,
            "sha256": hashlib.sha256,
        }
        runs = time_interleaved(
            {
                "haven": timeit.Timer("indexer.value(spec, value)", globals=names),
                "hmac": timeit.Timer("digest(subkey, normalised, sha256)", globals=names),
            },
            loops,
        )
        haven, floor = runs["haven"]["median_us"], runs["hmac"]["median_us"]
        figures.append(
            Figure(
                key,
                label,
                haven,
                "µs",
                goal="— (§9 HMAC ≈ 2-3.7)",
                verdict=f"{haven / floor:.1f}x bare HMAC {floor:.2f} µs",
                details={
                    **runs["haven"],
                    "index": spec.name,
                    "input": value,
                    "bits": spec.bits,
                    "normalised": normalised.decode(),
                    "hmac_floor_us": floor,
                },
            )
        )
    return figures
