"""Blind indexes: normalisation, separate subkeys, truncation and the planner rule."""

from __future__ import annotations

import math
import os
import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.crypto import Crypto
from app.crypto.blind_index import (
    DOCUMENT_NUMBER,
    INDEXES,
    PERSON_NAME,
    PROJECTED_PEOPLE,
    BlindIndexer,
    IndexSpec,
    fold_document_number,
    fold_name,
    planner_bounds,
)
from app.crypto.keyring import FileKeyProvider

ROOT = bytes.fromhex("8f" * 32)

SAME_NAME = [
    ("Sók  Dàra", "sok dara"),
    ("SOK DARA", "sok dara"),
    ("sok\u00a0\tdara\n", "sok dara"),  # no-break space, tab, newline
    ("\uff33\uff4f\uff4b \uff24\uff41\uff52\uff41", "sok dara"),  # full-width (NFKC)
    ("Sok-Dara", "sok dara"),
    ("  Sok, Dara. ", "sok dara"),
    ("Nguyễn Văn Thành", "nguyen van thanh"),
    ("Ñúñez Çelik", "nunez celik"),
    ("Straße", "strasse"),  # case folding, not just lower()
    ("ﬁona", "fiona"),  # ligature (NFKC)
    ("O'Brien", "o brien"),
    ("Sok\u0301 Dara", "sok dara"),  # a combining accent typed separately
]


# Normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "folded"), SAME_NAME)
def test_name_folding(raw: str, folded: str) -> None:
    assert fold_name(raw) == folded


def test_equivalent_names_share_an_index_value() -> None:
    indexer = BlindIndexer(ROOT)
    target = indexer.value(PERSON_NAME, "sok dara")
    assert target is not None
    for raw, folded in SAME_NAME:
        if folded == "sok dara":
            assert indexer.value(PERSON_NAME, raw) == target, raw


def test_khmer_is_kept_with_its_vowel_signs() -> None:
    khmer = "សុខ ដារ៉ា"
    assert fold_name(khmer) == khmer
    assert fold_name("  សុខ   ដារ៉ា ") == khmer
    assert fold_name("សខ ដារ") != fold_name(khmer)  # vowel signs are letters, not accents
    indexer = BlindIndexer(ROOT)
    assert indexer.value(PERSON_NAME, "សខ ដារ") != indexer.value(PERSON_NAME, khmer)


def test_different_names_stay_different() -> None:
    assert fold_name("Sok Dara") != fold_name("Sok Dora")
    assert fold_name("Sokdara") != fold_name("Sok Dara")


def test_nothing_left_after_folding_gives_no_index() -> None:
    indexer = BlindIndexer(ROOT)
    assert indexer.value(PERSON_NAME, " - . , ") is None
    assert indexer.value(PERSON_NAME, "") is None
    assert indexer.value(DOCUMENT_NUMBER, "n° -") is not None  # "N" is left
    assert indexer.value(DOCUMENT_NUMBER, "° - / ") is None


@pytest.mark.parametrize(
    "raw",
    [
        "n° 01-234 567",
        "N01234567",
        "n01234567",
        " N 01 234 567 ",
        "N/01.234.567",
        "\uff2e\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # full-width
    ],
)
def test_document_number_folding(raw: str) -> None:
    assert fold_document_number(raw) == "N01234567"
    indexer = BlindIndexer(ROOT)
    assert indexer.value(DOCUMENT_NUMBER, raw) == indexer.value(DOCUMENT_NUMBER, "N01234567")


def test_different_document_numbers_stay_different() -> None:
    assert fold_document_number("N01234567") != fold_document_number("N01234568")
    assert fold_document_number("AB123") != fold_document_number("A123")


# Keys and truncation -----------------------------------------------------------------------


def test_each_index_has_its_own_subkey() -> None:
    indexer = BlindIndexer(ROOT)
    # Digits fold to the same text under both normalisers, so only the subkey differs. With one
    # shared key the 12-bit name value would equal the top 12 bits of the 14-bit document value.
    inputs = [f"{i:09d}" for i in range(0, 2_000_000_000, 997_331)]
    assert len(inputs) > 2000
    assert all(fold_name(x) == fold_document_number(x) for x in inputs)
    shared = sum(
        indexer.value(PERSON_NAME, x) == indexer.value(DOCUMENT_NUMBER, x) >> 2  # type: ignore[operator]
        for x in inputs
    )
    assert shared < len(inputs) / 50  # chance alone gives about 1 in 4096

    same_shape = IndexSpec("travel_document.number.copy", bits=14, normalise=fold_document_number)
    next_version = IndexSpec(
        "travel_document.number", bits=14, normalise=fold_document_number, version=2
    )
    for other in (same_shape, next_version):
        agree = sum(indexer.value(DOCUMENT_NUMBER, x) == indexer.value(other, x) for x in inputs)
        assert agree < len(inputs) / 50


def test_index_values_depend_on_the_root_key() -> None:
    one, two = BlindIndexer(ROOT), BlindIndexer(os.urandom(32))
    names = [f"Sok Dara {i}" for i in range(500)]
    agree = sum(one.value(PERSON_NAME, n) == two.value(PERSON_NAME, n) for n in names)
    assert agree < 10


def test_index_values_are_stable_across_restarts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "master.key"
    first = Crypto(FileKeyProvider.create(path, development=True))
    second = Crypto(FileKeyProvider(path))
    for name in ("Sok Dara", "សុខ ដារ៉ា", "Nguyễn Văn Thành"):
        assert first.blind_index(PERSON_NAME, name) == second.blind_index(PERSON_NAME, name)
    assert first.blind_index(DOCUMENT_NUMBER, "N01234567") == second.blind_index(
        DOCUMENT_NUMBER, "n° 01-234 567"
    )


@pytest.mark.parametrize("spec", INDEXES, ids=[s.name for s in INDEXES])
def test_index_values_fit_in_their_bits_and_use_the_whole_range(spec: IndexSpec) -> None:
    indexer = BlindIndexer(ROOT)
    values = [indexer.value(spec, f"A{i:07d} name {i}") for i in range(5000)]
    assert all(v is not None and 0 <= v < 2**spec.bits for v in values)
    assert max(values) >= 2 ** (spec.bits - 1)  # type: ignore[type-var]
    buckets = 2**spec.bits
    expected_distinct = buckets * (1 - math.exp(-5000 / buckets))
    assert len(set(values)) > 0.9 * expected_distinct


# Planner -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", INDEXES, ids=[s.name for s in INDEXES])
def test_configured_indexes_satisfy_the_planner_rule(spec: IndexSpec) -> None:
    coincidences = PROJECTED_PEOPLE / 2**spec.bits
    assert 2 <= coincidences <= math.sqrt(PROJECTED_PEOPLE), spec.name
    assert spec.coincidences(PROJECTED_PEOPLE) == coincidences


@pytest.mark.parametrize("rows", [1_000, 10_000, 100_000, 250_000, 1_000_000, 10**7])
def test_planner_bounds_are_exactly_the_lengths_the_rule_allows(rows: int) -> None:
    allowed = [b for b in range(1, 64) if 2 <= rows / 2**b <= math.sqrt(rows)]
    low, high = planner_bounds(rows)
    assert list(range(low, high + 1)) == allowed


# Properties --------------------------------------------------------------------------------

ACCENTS = "\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b\u030c\u0323\u0327\u0328"
LATIN = string.ascii_letters + " "


@given(st.text())
def test_fold_name_is_idempotent(text: str) -> None:
    once = fold_name(text)
    assert fold_name(once) == once


@given(
    st.lists(
        st.tuples(st.sampled_from(LATIN), st.sampled_from(["", *ACCENTS]), st.booleans()),
        max_size=30,
    )
)
def test_fold_name_ignores_case_and_accents_on_latin_letters(
    letters: list[tuple[str, str, bool]],
) -> None:
    plain = "".join(ch for ch, _, _ in letters)
    typed = "".join(
        (ch.upper() if upper else ch.lower()) + (accent if ch != " " else "")
        for ch, accent, upper in letters
    )
    typed = unicodedata.normalize("NFC", typed)  # precomposed, as a keyboard produces them
    expected = " ".join(plain.lower().split())
    assert fold_name(typed) == expected
    assert fold_name(plain.upper()) == expected
