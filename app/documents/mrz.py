"""ICAO Doc 9303 TD3 (passport) machine-readable zone: layout, check digits, ICAO codes.

Written here rather than installed: the one MRZ checker on our package index (``mrz`` 0.6.2)
has been unmaintained since 2020 and does not say which field's check digit failed, which is
what a caseworker copying an MRZ by hand needs to hear.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

LINE_LENGTH = 44
_CHARSET = re.compile(r"[A-Z0-9<]*")
_WEIGHTS = (7, 3, 1)

# ICAO codes that differ from ISO 3166-1 alpha-3, stored as their ISO equivalent.
ICAO_TO_ISO = {"D": "DEU"}
# Codes valid in an MRZ that ISO 3166-1 does not assign to a country (Doc 9303 Part 3).
ICAO_ONLY = frozenset(
    {
        "XXA",  # stateless person
        "XXB",  # refugee (1951 Convention)
        "XXC",  # refugee (other)
        "XXX",  # unspecified nationality
        "UNO",  # United Nations organisation
        "UNA",  # UN specialised agency
        "UNK",  # UN interim administration in Kosovo
        "EUE",  # European Union
        "RKS",  # Kosovo
        "GBD",  # British Overseas Territories citizen
        "GBN",  # British National (Overseas)
        "GBO",  # British Overseas citizen
        "GBP",  # British protected person
        "GBS",  # British subject
        "XBA",  # African Development Bank
        "XIM",  # African Export-Import Bank
        "XCC",  # Caribbean Community
        "XCE",  # Council of Europe
        "XCO",  # Common Market for Eastern and Southern Africa
        "XEC",  # Economic Community of West African States
        "XPO",  # Interpol
        "XES",  # Organisation of Eastern Caribbean States
        "XMP",  # Parliamentary Assembly of the Mediterranean
        "XOM",  # Sovereign Military Order of Malta
        "XDC",  # Southern African Development Community
    }
)


class MRZError(ValueError):
    """An MRZ that cannot be accepted; ``field`` names the part at fault (``mrz.…``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MRZ:
    """What a TD3 MRZ says, with ICAO codes mapped to ISO where they differ."""

    document_code: str
    document_number: str
    issuing_state: str
    nationality: str
    surname: str
    given_names: str
    date_of_birth: dt.date | None
    sex: str | None
    expires_on: dt.date
    personal_number: str | None
    text: str  # the two lines, normalised, joined by a newline


def check_digit(value: str) -> int:
    """Doc 9303 Part 3 §4.9: digits as is, A-Z as 10-35, ``<`` as 0; weights 7, 3, 1; mod 10."""
    total = 0
    for i, ch in enumerate(value):
        if ch.isdigit():
            n = int(ch)
        elif "A" <= ch <= "Z":
            n = ord(ch) - ord("A") + 10
        elif ch == "<":
            n = 0
        else:
            raise ValueError(f"not an MRZ character: {ch!r}")
        total += n * _WEIGHTS[i % 3]
    return total % 10


def to_iso(code: str) -> str:
    """An ICAO code as stored: ``D<<`` → ``DEU``; ISO and ICAO-only codes unchanged."""
    bare = code.rstrip("<")
    return ICAO_TO_ISO.get(bare, bare)


def is_icao_only(code: str) -> bool:
    return code in ICAO_ONLY


def split_lines(text: str) -> tuple[str, str]:
    """The two lines of a TD3 MRZ, upper-cased; surrounding whitespace and CRLF tolerated."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 2:
        raise MRZError("mrz", f"expected 2 lines of {LINE_LENGTH} characters, got {len(lines)}")
    for name, line in zip(("line1", "line2"), lines, strict=True):
        if len(line) != LINE_LENGTH:
            raise MRZError(
                f"mrz.{name}", f"{name} must be {LINE_LENGTH} characters, not {len(line)}"
            )
        if not _CHARSET.fullmatch(line.upper()):
            raise MRZError(f"mrz.{name}", f"{name} may hold only A-Z, 0-9 and <")
    return lines[0].upper(), lines[1].upper()


def parse(text: str, *, today: dt.date | None = None) -> MRZ:
    """Parse and check a TD3 MRZ; raises MRZError naming the first field at fault."""
    today = today or dt.date.today()
    line1, line2 = split_lines(text)
    if line1[0] != "P":
        raise MRZError("mrz.line1", "line1 must start with P (a TD3 passport MRZ)")
    number, nationality = line2[0:9], line2[10:13]
    birth, sex, expiry, personal = line2[13:19], line2[20], line2[21:27], line2[28:42]
    _check("document_number", line2[0:9], line2[9])
    _check("date_of_birth", birth, line2[19])
    _check("date_of_expiry", expiry, line2[27])
    if personal.strip("<") or line2[42] not in "<0":
        _check("personal_number", personal, line2[42])
    _check("composite", line2[0:10] + line2[13:20] + line2[21:43], line2[43])
    surname, given_names = _names(line1[5:])
    return MRZ(
        document_code=line1[0:2].rstrip("<"),
        document_number=_filled("document_number", number),
        issuing_state=_code("issuing_state", line1[2:5]),
        nationality=_code("nationality", nationality),
        surname=surname,
        given_names=given_names,
        date_of_birth=_birth_date(birth, today),
        sex=_sex(sex),
        expires_on=_expiry_date(expiry, today),
        personal_number=personal.strip("<") or None,
        text=f"{line1}\n{line2}",
    )


def _check(field: str, value: str, digit: str) -> None:
    if not digit.isdigit() or check_digit(value) != int(digit):
        raise MRZError(f"mrz.{field}", f"bad check digit in {field}")


def _filled(field: str, value: str) -> str:
    bare = value.rstrip("<")
    if not bare:
        raise MRZError(f"mrz.{field}", f"{field} is empty")
    return bare.replace("<", "")


def _code(field: str, value: str) -> str:
    code = to_iso(value)
    if not code.isalpha() or len(code) != 3:
        raise MRZError(f"mrz.{field}", f"{field} is not a country code")
    return code


def _names(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    surname = " ".join(part for part in primary.split("<") if part)
    given = " ".join(part for part in secondary.split("<") if part)
    if not surname:
        raise MRZError("mrz.line1", "line1 holds no surname")
    return surname, given


def _sex(value: str) -> str | None:
    if value == "<":
        return None
    if value not in "MFX":
        raise MRZError("mrz.sex", "sex must be M, F, X or <")
    return value


def _date(field: str, value: str, century: int) -> dt.date:
    try:
        return dt.date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        raise MRZError(f"mrz.{field}", f"{field} is not a date") from None


def _birth_date(value: str, today: dt.date) -> dt.date | None:
    """The most recent past date with these digits; unknown (``<``) parts give None."""
    if "<" in value:
        return None
    if not value.isdigit():
        raise MRZError("mrz.date_of_birth", "date_of_birth is not a date")
    born = _date("date_of_birth", value, today.year // 100 * 100)
    if born > today:
        born = _date("date_of_birth", value, today.year // 100 * 100 - 100)
    return born


def _expiry_date(value: str, today: dt.date) -> dt.date:
    """Sliding window: up to 20 years ahead, otherwise in the past century."""
    if not value.isdigit():
        raise MRZError("mrz.date_of_expiry", "date_of_expiry is not a date")
    century = today.year // 100 * 100
    if century + int(value[0:2]) > today.year + 20:
        century -= 100
    elif century + int(value[0:2]) < today.year - 80:
        century += 100
    return _date("date_of_expiry", value, century)


# Plain words for people typing an MRZ (the web form); the API keeps the short messages.
_FIELD_WORDS = {
    "document_number": "passport number",
    "date_of_birth": "date of birth",
    "date_of_expiry": "expiry date",
    "personal_number": "personal number",
    "issuing_state": "issuing country",
    "nationality": "nationality",
    "line1": "first line",
    "line2": "second line",
}
_PLAIN: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"bad check digit in composite", re.I),
        lambda m: (
            "The last check digit of the second line, which covers the whole line, does "
            "not match: one of its characters is probably mistyped."
        ),
    ),
    (
        re.compile(r"bad check digit in ([a-z_ ]*[a-z])", re.I),
        lambda m: (
            f"The {_words(m[1])}'s check digit does not match: "
            "check that part of the second line for a mistyped character."
        ),
    ),
    (
        re.compile(r"expected 2 lines of (\d+) characters, got (\d+)", re.I),
        lambda m: (
            "Paste both lines of the MRZ (the two rows of capital letters, digits and < "
            f"at the foot of the photo page, {m[1]} characters each); {m[2]} found."
        ),
    ),
    (
        re.compile(r"(line[12]) must be (\d+) characters, not (\d+)", re.I),
        lambda m: (
            f"The {_FIELD_WORDS[m[1].lower()]} must be {m[2]} characters long; it has "
            f"{m[3]}. Count the < signs."
        ),
    ),
    (
        re.compile(r"(line[12]) may hold only", re.I),
        lambda m: (
            f"The {_FIELD_WORDS[m[1].lower()]} may hold only capital letters A to Z, "
            "digits and the < sign."
        ),
    ),
    (
        re.compile(r"line1 must start with P", re.I),
        lambda m: "This is not a passport's MRZ: a passport's first line starts with P.",
    ),
    (
        re.compile(r"line1 holds no surname", re.I),
        lambda m: "The first line holds no surname (it comes after the country code).",
    ),
    (
        re.compile(r"([a-z_ ]+?) is empty", re.I),
        lambda m: f"The {_words(m[1])} is missing from the MRZ.",
    ),
    (
        re.compile(r"([a-z_ ]+?) is not a country code", re.I),
        lambda m: f"The {_words(m[1])} in the MRZ is not a country code.",
    ),
    (
        re.compile(r"([a-z_ ]+?) is not a date", re.I),
        lambda m: f"The {_words(m[1])} in the MRZ is not a real date.",
    ),
    (
        re.compile(r"sex must be", re.I),
        lambda m: "The sex in the MRZ must be M, F, X or <.",
    ),
)


def _words(field: str) -> str:
    """A field's name in words, whether given as ``date_of_birth`` or ``date of birth``."""
    key = field.strip().lower().replace(" ", "_")
    return _FIELD_WORDS.get(key, key.replace("_", " "))


def explain(message: str) -> str:
    """An MRZ error in plain words ("the passport number's check digit does not match"); any
    other message as it is."""
    for pattern, words in _PLAIN:
        found = pattern.search(message)
        if found:
            return words(found)
    return message
