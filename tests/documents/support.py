"""MRZ lines for the travel-document tests (people and documents come from the builder in
tests/factories.py)."""

from __future__ import annotations

from app.documents.mrz import check_digit

SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
HAVEN_VECTOR = (
    "P<KHMDARA<<RATANAK<<<<<<<<<<<<<<<<<<<<<<<<<<\nN012345679KHM8503150M2801016<<<<<<<<<<<<<<<4"
)


def td3(
    number: str,
    *,
    issuer: str = "KHM",
    nationality: str | None = None,
    surname: str = "DARA",
    given: str = "RATANAK",
    born: str = "850315",
    sex: str = "M",
    expiry: str = "280101",
    personal: str = "",
    personal_check: str | None = None,
) -> str:
    """A TD3 MRZ with correct check digits for the given fields."""
    name = f"{surname}<<{given.replace(' ', '<')}"
    line1 = f"P<{issuer:<<3}{name}".ljust(44, "<")[:44]
    number_field = number.ljust(9, "<")
    personal_field = personal.ljust(14, "<")
    if personal_check is None:
        personal_check = str(check_digit(personal_field)) if personal else "<"
    line2 = (
        f"{number_field}{check_digit(number_field)}{(nationality or issuer):<<3}"
        f"{born}{check_digit(born)}{sex}{expiry}{check_digit(expiry)}"
        f"{personal_field}{personal_check}"
    )
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    return f"{line1}\n{line2}{check_digit(composite)}"
