"""Blind indexes: keyed, truncated HMAC-SHA256 over normalised values (SECURITY.md §10.6).

Each index has its own subkey, derived with HKDF from the index root key (never stored in the
database) and the index's name and version. Truncation to a few bits makes every index value a
crowd: an exact-match search fetches the candidates in scope, decrypts them and compares.
The bit lengths follow the planner rule: at the projected row count R, the expected number of
rows per index value, C = R / 2**bits, stays within 2 <= C <= sqrt(R).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9A-Z]")


# ASCII punctuation and symbols (categories P* and S*) become spaces, as in the general path.
_ASCII_MARKS = str.maketrans(
    {ch: " " for ch in map(chr, range(128)) if unicodedata.category(ch)[0] in "PS"}
)


def fold_name(value: str) -> str:
    """NFKC, case-folded, accents stripped, punctuation dropped, whitespace collapsed."""
    if value.isascii():  # the same result without the per-character Unicode work
        return " ".join(value.lower().translate(_ASCII_MARKS).split())
    text = unicodedata.normalize("NFKC", value).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    for ch in decomposed:
        cat = unicodedata.category(ch)
        if cat == "Mn" and not _is_script_vowel_sign(ch):
            continue  # a combining accent on a Latin (or similar) letter
        if cat.startswith("P") or cat.startswith("S"):
            kept.append(" ")
            continue
        kept.append(ch)
    folded = unicodedata.normalize("NFC", "".join(kept))
    return _SPACES.sub(" ", folded).strip()


def _is_script_vowel_sign(ch: str) -> bool:
    # Khmer, Thai, Lao, Myanmar and Indic vowel signs are Mn but are letters, not accents.
    return not (
        "\u0300" <= ch <= "\u036f" or "\u1ab0" <= ch <= "\u1aff" or "\u1dc0" <= ch <= "\u1dff"
    )


def fold_document_number(value: str) -> str:
    """Uppercase alphanumerics only: 'n° 01-234 567' and 'N01234567' are one number."""
    return _NON_ALNUM.sub("", unicodedata.normalize("NFKC", value).upper())


@dataclass(frozen=True)
class IndexSpec:
    """One blind index: its name, version, bit length and normaliser."""

    name: str
    bits: int
    normalise: Callable[[str], str]
    version: int = 1
    rows_per_person: int = 1  # index rows each person adds (the planner's R is people times this)

    def coincidences(self, rows: int) -> float:
        return rows / 2.0**self.bits


# Projected rows for the planner rule: 100,000 people over five years, several names each.
PROJECTED_PEOPLE = 100_000
PERSON_NAME = IndexSpec("individual.name", bits=12, normalise=fold_name)
DOCUMENT_NUMBER = IndexSpec("travel_document.number", bits=14, normalise=fold_document_number)
# An organisation's own reference for a person (imports): folded like a document number.
EXTERNAL_REFERENCE = IndexSpec(
    "individual.external_reference", bits=14, normalise=fold_document_number
)
# Each whole word of a person's names (full, native, aliases), for "Sok" finding Sok Dara.
# Every person holds exactly TOKENS_PER_PERSON rows (padded with random values), so the row
# count says nothing about how many words their names have; see README "Security model".
TOKENS_PER_PERSON = 8
NAME_TOKEN = IndexSpec(
    "individual.name_token", bits=11, normalise=fold_name, rows_per_person=TOKENS_PER_PERSON
)
INDEXES = (PERSON_NAME, DOCUMENT_NUMBER, EXTERNAL_REFERENCE, NAME_TOKEN)


def name_tokens(*names: str | None) -> list[str]:
    """The distinct whole words of folded names that hold a letter (numbers are not names),
    in first-seen order."""
    seen: dict[str, None] = {}
    for name in names:
        for word in fold_name(name or "").split(" "):
            if any(ch.isalpha() for ch in word):
                seen.setdefault(word, None)
    return list(seen)


def planner_bounds(rows: int) -> tuple[int, int]:
    """Smallest and largest bit lengths with 2 <= rows / 2**bits <= sqrt(rows)."""
    low = math.ceil(math.log2(rows) / 2)
    high = math.floor(math.log2(rows / 2))
    return low, high


class BlindIndexer:
    """Computes index values; one HMAC subkey per (index, version)."""

    def __init__(self, root_key: bytes) -> None:
        self._subkeys: dict[tuple[str, int], bytes] = {}
        self._root = root_key

    def _subkey(self, spec: IndexSpec) -> bytes:
        return self._derive(spec.name, spec.version)

    def _derive(self, name: str, version: int) -> bytes:
        key = self._subkeys.get((name, version))
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=b"haven-blind-index-v1",
                info=f"{name}/v{version}".encode(),
            ).derive(self._root)
            self._subkeys[(name, version)] = key
        return key

    def tag(self, purpose: str, value: str) -> str:
        """A full-length keyed hash (hex, 128 bits) for linking without revealing."""
        return hmac.digest(self._derive(purpose, 1), value.encode(), hashlib.sha256)[:16].hex()

    def value(self, spec: IndexSpec, plaintext: str) -> int | None:
        """The truncated index value, or None when nothing is left after normalising."""
        normalised = spec.normalise(plaintext)
        if not normalised:
            return None
        digest = hmac.digest(self._subkey(spec), normalised.encode(), hashlib.sha256)
        return int.from_bytes(digest[:8], "big") >> (64 - spec.bits)
