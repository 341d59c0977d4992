"""Name folding for blind-index search (pure)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from app.crypto.blind_index import fold_name

LATIN = st.text(
    alphabet=st.characters(min_codepoint=0x41, max_codepoint=0x7A), min_size=1, max_size=30
)


def test_khmer_vowel_signs_are_kept() -> None:
    assert fold_name("សុខ") != fold_name("សខ")
    assert fold_name("សុខ  ដារ៉ា") == fold_name("សុខ ដារ៉ា")


@given(st.text(max_size=60))
def test_folding_is_idempotent(text: str) -> None:
    assert fold_name(fold_name(text)) == fold_name(text)


@given(LATIN)
def test_case_and_accents_do_not_matter(text: str) -> None:
    accented = unicodedata.normalize(
        "NFC", "".join(c + "\u0301" if c.isalpha() else c for c in text)
    )
    assert fold_name(accented.upper()) == fold_name(text.lower())


@given(st.lists(LATIN.filter(lambda s: s.strip()), min_size=1, max_size=4))
def test_spacing_does_not_matter(words: list[str]) -> None:
    assert fold_name("  ".join(words) + " ") == fold_name(" ".join(words))
