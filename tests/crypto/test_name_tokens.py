"""The name-token index: its words, its budget under the planner rule, its padding, and the
rows written at start-up for people registered before it existed."""

from __future__ import annotations

import math

from fastapi import FastAPI
from sqlalchemy import delete, func, select

from app.crypto.blind_index import (
    NAME_TOKEN,
    PROJECTED_PEOPLE,
    TOKENS_PER_PERSON,
    name_tokens,
    planner_bounds,
)
from app.individuals import reindex
from app.models.individual import IndividualNameToken
from app.records import name_tokens as tokens
from tests.factories import Team, db


def test_words_are_folded_whole_words_with_a_letter() -> None:
    assert name_tokens("Sok  DARA", "Dara-Sok", None, "N° 001234") == ["sok", "dara", "n"]
    assert name_tokens("Nguyễn Văn Thành") == ["nguyen", "van", "thanh"]
    assert name_tokens("សុខ ដារ៉ា") == ["សុខ", "ដារ៉ា"]
    assert name_tokens("", "123 456") == []


def test_the_token_index_keeps_within_the_planner_rule_at_its_row_count() -> None:
    rows = PROJECTED_PEOPLE * TOKENS_PER_PERSON  # 800,000 rows at 100,000 people
    low, high = planner_bounds(rows)
    assert low <= NAME_TOKEN.bits <= high
    crowd = NAME_TOKEN.coincidences(rows)
    assert 2 <= crowd <= math.sqrt(rows)
    assert round(crowd) == 391  # the figure the README's budget states


def test_padding_makes_every_person_the_same_number_of_values(app: FastAPI) -> None:
    with db(app) as session:
        from app.crypto import crypto_of

        crypto = crypto_of(session)
        one = tokens.token_values(crypto, ["Sok"])
        many = tokens.token_values(crypto, ["Sok Dara Vannak", "Bopha Chan Kim"])
        nine_words = "a b c d e f g h i"
        nine = tokens.token_values(crypto, [nine_words])
        # 11-bit values: two of nine words share one by chance about once in sixty keyrings
        distinct = {crypto.blind_index(NAME_TOKEN, word) for word in nine_words.split()}
    assert len(one) == len(many) == TOKENS_PER_PERSON
    assert sorted(distinct) == nine[: len(distinct)]  # the words' own values come first
    assert len(nine) == max(len(distinct), TOKENS_PER_PERSON)  # one value a word, no padding
    assert all(0 <= v < 2**NAME_TOKEN.bits for v in one + many + nine)


def test_people_registered_before_the_index_get_their_rows(app: FastAPI, team: Team) -> None:
    person = team.person(team.caseworker, full_name="Backfill Sokunthea")
    with db(app) as session:
        session.execute(
            delete(IndividualNameToken).where(IndividualNameToken.individual_id == person)
        )
    with db(app) as session:
        assert reindex.backfill(session) >= 1
    with db(app) as session:
        count = select(func.count()).where(IndividualNameToken.individual_id == person)
        assert session.scalar(count) == TOKENS_PER_PERSON
        assert reindex.backfill(session) == 0


def test_the_ascii_fast_path_folds_exactly_as_the_general_one() -> None:
    import random
    import unicodedata

    from app.crypto import blind_index

    def general(value: str) -> str:  # fold_name without its ASCII shortcut
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", value).casefold())
        kept = []
        for ch in text:
            category = unicodedata.category(ch)
            if category == "Mn" and not blind_index._is_script_vowel_sign(ch):
                continue
            kept.append(" " if category[0] in "PS" else ch)
        folded = unicodedata.normalize("NFC", "".join(kept))
        return blind_index._SPACES.sub(" ", folded).strip()

    ascii_chars = [chr(i) for i in range(128)]
    samples = [c + s for c in ascii_chars for s in ("", "a", " Q-r ")]
    rng = random.Random(15)
    samples += ["".join(rng.choices(ascii_chars, k=rng.randint(0, 24))) for _ in range(5000)]
    for sample in samples:
        assert blind_index.fold_name(sample) == general(sample), repr(sample)
