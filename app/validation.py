"""Input types shared by every domain: bounded, control-character-free text, ISO codes."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_CONTROL_STRICT = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
EARLIEST = dt.date(1900, 1, 1)


def _line(value: str) -> str:
    if _CONTROL_STRICT.search(value):
        raise ValueError("control characters are not allowed")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


# Zero-width non-joiner and joiner: Persian, Urdu and the Indic scripts spell names with them.
_JOINERS = frozenset("\u200c\u200d")


def _name(value: str) -> str:
    """A name as people read it: no control or format character (zero-width spaces, direction
    overrides, isolates and marks, soft hyphens), joiners only between letters, and at least
    one letter or digit, so a name can neither look empty nor reorder the text around it."""
    value = _line(value)
    for i, ch in enumerate(value):
        if unicodedata.category(ch)[0] != "C":
            continue
        joins = 0 < i < len(value) - 1 and _letter(value[i - 1]) and _letter(value[i + 1])
        if not (ch in _JOINERS and joins):
            raise ValueError(
                "invisible characters (control, zero-width or direction) are not allowed"
            )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in value):
        raise ValueError("must contain a letter")
    return value


def _letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or pycountry.countries.get(alpha_3=code) is None:
        raise ValueError("not an ISO 3166-1 alpha-3 country code")
    return code


def _past_date(value: dt.date) -> dt.date:
    if value < EARLIEST or value > dt.date.today() + dt.timedelta(days=1):
        raise ValueError(f"must be between {EARLIEST.isoformat()} and today")
    return value


def _plausible_date(value: dt.date) -> dt.date:
    if value < EARLIEST or value > dt.date(2100, 12, 31):
        raise ValueError("must be between 1900-01-01 and 2100-12-31")
    return value


# For fields with limits of their own: one line, control characters refused (PostgreSQL
# cannot store NUL, and none of them belongs in a name, a label or an address).
SingleLine = AfterValidator(_line)
# For text taken as it is sent (a username, a channel): nothing trimmed, and tabs and line
# breaks let through, as in LongText.
NoControl = AfterValidator(_text)
# A query parameter's form of the same rule.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f]*$"

Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_name)]
ShortText = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_line)]
LongText = Annotated[str, Field(max_length=20_000), AfterValidator(_text)]
CountryCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_country)]
PastDate = Annotated[dt.date, AfterValidator(_past_date)]
PlausibleDate = Annotated[dt.date, AfterValidator(_plausible_date)]


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_3=code)
    return country.name if country else code
