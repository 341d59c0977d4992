"""ICAO 9303 TD3 parsing and check digits (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.documents import mrz
from app.documents.mrz import MRZError, check_digit, parse
from tests.documents.support import HAVEN_VECTOR, SPECIMEN, td3

TODAY = dt.date(2025, 6, 1)
# Check-digit positions of line 2 (0-based) and the field each protects.
CHECKS = {
    9: "document_number",
    19: "date_of_birth",
    27: "date_of_expiry",
    42: "personal_number",
    43: "composite",
}


def corrupt(text: str, position: int, char: str) -> str:
    line1, line2 = text.split("\n")
    return f"{line1}\n{line2[:position]}{char}{line2[position + 1 :]}"


class TestCheckDigit:
    def test_icao_specimen_digits(self) -> None:
        assert check_digit("L898902C3") == 6
        assert check_digit("740812") == 2
        assert check_digit("120415") == 9
        assert check_digit("ZE184226B<<<<<") == 1
        assert check_digit("L898902C36" + "7408122" + "120415" + "9ZE184226B<<<<<1") == 0

    def test_filler_is_worth_zero(self) -> None:
        assert check_digit("<<<<") == 0
        assert check_digit("A<") == check_digit("A0")


class TestParse:
    def test_icao_specimen(self) -> None:
        parsed = parse(SPECIMEN, today=TODAY)
        assert parsed.document_number == "L898902C3"
        assert parsed.issuing_state == parsed.nationality == "UTO"
        assert (parsed.surname, parsed.given_names) == ("ERIKSSON", "ANNA MARIA")
        assert parsed.date_of_birth == dt.date(1974, 8, 12)
        assert parsed.sex == "F"
        assert parsed.expires_on == dt.date(2012, 4, 15)
        assert parsed.personal_number == "ZE184226B"

    def test_haven_vector(self) -> None:
        parsed = parse(HAVEN_VECTOR, today=TODAY)
        assert parsed.document_number == "N01234567"
        assert parsed.issuing_state == parsed.nationality == "KHM"
        assert (parsed.surname, parsed.given_names) == ("DARA", "RATANAK")
        assert parsed.date_of_birth == dt.date(1985, 3, 15)
        assert parsed.sex == "M"
        assert parsed.expires_on == dt.date(2028, 1, 1)
        assert parsed.personal_number is None
        assert parsed.text == HAVEN_VECTOR

    def test_support_builder_reproduces_the_vector(self) -> None:
        assert td3("N01234567") == HAVEN_VECTOR

    def test_zero_instead_of_filler_for_unused_personal_number(self) -> None:
        assert parse(corrupt(HAVEN_VECTOR, 42, "0"), today=TODAY).personal_number is None

    def test_surrounding_whitespace_and_crlf(self) -> None:
        text = "  \n" + HAVEN_VECTOR.replace("\n", " \r\n") + "\r\n\t"
        assert parse(text, today=TODAY).document_number == "N01234567"

    def test_lower_case_typed_by_hand(self) -> None:
        assert parse(HAVEN_VECTOR.lower(), today=TODAY).text == HAVEN_VECTOR

    def test_germany_d_is_deu(self) -> None:
        parsed = parse(td3("C01X00T47", issuer="D"), today=TODAY)
        assert parsed.issuing_state == parsed.nationality == "DEU"

    @pytest.mark.parametrize("code", ["XXA", "XXB", "XXC", "XXX", "UNO", "EUE", "RKS", "GBD"])
    def test_icao_only_codes_kept(self, code: str) -> None:
        parsed = parse(td3("AB1234567", issuer=code), today=TODAY)
        assert parsed.issuing_state == parsed.nationality == code
        assert mrz.is_icao_only(code)

    def test_unspecified_sex(self) -> None:
        assert parse(td3("AB1234567", sex="<"), today=TODAY).sex is None

    def test_two_digit_years(self) -> None:
        parsed = parse(td3("AB1234567", born="250531", expiry="450101"), today=TODAY)
        assert parsed.date_of_birth == dt.date(2025, 5, 31)
        assert parsed.expires_on == dt.date(2045, 1, 1)
        parsed = parse(td3("AB1234567", born="250602", expiry="460101"), today=TODAY)
        assert parsed.date_of_birth == dt.date(1925, 6, 2)
        assert parsed.expires_on == dt.date(1946, 1, 1)


class TestRejected:
    @pytest.mark.parametrize(("position", "field"), sorted(CHECKS.items()))
    @pytest.mark.parametrize("text", [SPECIMEN, HAVEN_VECTOR], ids=["specimen", "haven"])
    def test_each_check_digit_names_its_field(self, text: str, position: int, field: str) -> None:
        line2 = text.split("\n")[1]
        wrong = str((int(line2[position]) + 1) % 10) if line2[position].isdigit() else "7"
        with pytest.raises(MRZError) as caught:
            parse(corrupt(text, position, wrong), today=TODAY)
        assert caught.value.field == f"mrz.{field}"
        assert str(caught.value) == f"bad check digit in {field}"

    def test_letter_in_a_check_digit_position(self) -> None:
        with pytest.raises(MRZError) as caught:
            parse(corrupt(HAVEN_VECTOR, 19, "A"), today=TODAY)
        assert caught.value.field == "mrz.date_of_birth"

    def test_corrupted_data_is_caught_by_its_check_digit(self) -> None:
        with pytest.raises(MRZError) as caught:
            parse(corrupt(HAVEN_VECTOR, 14, "6"), today=TODAY)  # 850315 → 860315
        assert caught.value.field == "mrz.date_of_birth"

    @pytest.mark.parametrize(
        ("text", "field"),
        [
            (HAVEN_VECTOR[:-1], "mrz.line2"),
            (HAVEN_VECTOR + "<", "mrz.line2"),
            ("P<KHM" + HAVEN_VECTOR[6:], "mrz.line1"),
            (HAVEN_VECTOR.replace("RATANAK<", "RATANAK-"), "mrz.line1"),
            (HAVEN_VECTOR.replace("M2801016", "M 801016"), "mrz.line2"),
            (HAVEN_VECTOR.split("\n")[0], "mrz"),
            (HAVEN_VECTOR + "\n" + HAVEN_VECTOR.split("\n")[1], "mrz"),
            (HAVEN_VECTOR.replace("\n", ""), "mrz"),
            ("I" + HAVEN_VECTOR[1:], "mrz.line1"),
        ],
        ids=[
            "short",
            "long",
            "line1-short",
            "line1-charset",
            "line2-charset",
            "one-line",
            "three-lines",
            "no-newline",
            "not-a-passport",
        ],
    )
    def test_length_charset_and_shape(self, text: str, field: str) -> None:
        with pytest.raises(MRZError) as caught:
            parse(text, today=TODAY)
        assert caught.value.field == field

    def test_impossible_date_with_right_check_digit(self) -> None:
        with pytest.raises(MRZError) as caught:
            parse(td3("AB1234567", expiry="281301"), today=TODAY)
        assert caught.value.field == "mrz.date_of_expiry"

    def test_unknown_sex(self) -> None:
        with pytest.raises(MRZError) as caught:
            parse(td3("AB1234567", sex="Q"), today=TODAY)
        assert caught.value.field == "mrz.sex"


# --- properties: any valid MRZ round-trips; any wrong check digit is caught -------------

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@st.composite
def documents(draw: st.DrawFn) -> dict[str, object]:
    surname = draw(st.text(LETTERS, min_size=1, max_size=16))
    given_names = draw(st.lists(st.text(LETTERS, min_size=1, max_size=8), max_size=2))
    personal = draw(st.text(ALNUM, max_size=14))
    return {
        "number": draw(st.text(ALNUM, min_size=1, max_size=9)),
        "issuer": draw(st.sampled_from(["KHM", "THA", "MYS", "USA", "XXA", "XXB", "UNO", "D"])),
        "nationality": draw(st.sampled_from(["KHM", "THA", "FRA", "XXA", "XXC", "D"])),
        "surname": surname,
        "given": " ".join(given_names),
        "born": draw(st.dates(dt.date(1925, 6, 2), TODAY)),
        "sex": draw(st.sampled_from("MFX<")),
        "expiry": draw(st.dates(dt.date(1946, 1, 1), dt.date(2045, 12, 31))),
        "personal": personal,
        "personal_check": None if personal else draw(st.sampled_from("<0")),
    }


def build(doc: dict[str, object]) -> str:
    born, expiry = doc["born"], doc["expiry"]
    assert isinstance(born, dt.date) and isinstance(expiry, dt.date)
    return td3(
        str(doc["number"]),
        issuer=str(doc["issuer"]),
        nationality=str(doc["nationality"]),
        surname=str(doc["surname"]),
        given=str(doc["given"]),
        born=born.strftime("%y%m%d"),
        sex=str(doc["sex"]),
        expiry=expiry.strftime("%y%m%d"),
        personal=str(doc["personal"]),
        personal_check=doc["personal_check"],  # type: ignore[arg-type]
    )


@given(documents())
def test_any_valid_mrz_round_trips(doc: dict[str, object]) -> None:
    parsed = parse(build(doc), today=TODAY)
    assert parsed.document_number == doc["number"]
    assert parsed.issuing_state == mrz.to_iso(str(doc["issuer"]))
    assert parsed.nationality == mrz.to_iso(str(doc["nationality"]))
    assert parsed.surname == doc["surname"]
    assert parsed.given_names == doc["given"]
    assert parsed.date_of_birth == doc["born"]
    assert parsed.sex == (None if doc["sex"] == "<" else doc["sex"])
    assert parsed.expires_on == doc["expiry"]
    assert parsed.personal_number == (doc["personal"] or None)


@given(documents(), st.sampled_from(sorted(CHECKS)), st.sampled_from("0123456789"))
def test_any_changed_check_digit_is_caught(
    doc: dict[str, object], position: int, digit: str
) -> None:
    text = build(doc)
    current = text.split("\n")[1][position]
    unused_personal = position == 42 and not doc["personal"]
    # Not a change, or the other spelling of "unused".
    assume(digit != current and not (unused_personal and digit == "0"))
    with pytest.raises(MRZError) as caught:
        parse(corrupt(text, position, digit), today=TODAY)
    assert caught.value.field == f"mrz.{CHECKS[position]}"


def test_errors_read_in_plain_words_for_the_web_form() -> None:
    from app.documents.mrz import explain

    assert explain("Bad check digit in document number.") == (
        "The passport number's check digit does not match: check that part of the second line "
        "for a mistyped character."
    )
    assert explain("bad check digit in date_of_expiry").startswith("The expiry date's check digit")
    assert explain("Bad check digit in composite.").startswith("The last check digit")
    assert "2 rows" not in explain("expected 2 lines of 44 characters, got 1")
    assert explain("expected 2 lines of 44 characters, got 1").endswith("1 found.")
    assert explain("line2 must be 44 characters, not 43") == (
        "The second line must be 44 characters long; it has 43. Count the < signs."
    )
    assert explain("Issuing state is not a country code.") == (
        "The issuing country in the MRZ is not a country code."
    )
    assert explain("something else entirely") == "something else entirely"
