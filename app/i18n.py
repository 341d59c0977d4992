"""The languages of what people read: gettext catalogues (Babel) and the reader's locale.

Messages are marked in code with ``_("...")`` (``ngettext`` for plurals, ``N_`` for text
translated later, such as the values of a module-level dict) and in templates with ``_()`` or
``{% trans %}``. ``pybabel extract`` (``babel.cfg``) collects them into
``app/locale/messages.pot``; each language's ``app/locale/<code>/LC_MESSAGES/messages.po`` is the
translators' file, read here as text (no compiled ``.mo`` to keep in step).

The locale of the message being written lives in a context variable: the web client sets it per
request (``activate``), e-mail and push notices per recipient (``using``). The API stays English.
"""

from __future__ import annotations

import contextvars
import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

CATALOGUES = Path(__file__).parent / "locale"
DEFAULT = "en"
# The interface languages, by code, each named in itself (the switch on the sign-in page).
LANGUAGES: dict[str, str] = {"en": "English", "km": "ខ្មែរ", "th": "ไทย"}

# Thai with the years of the Buddhist era (2026 is 2569), a choice of Thai readers: the BCP 47
# calendar extension, stored as the user's locale and read as Thai everywhere else.
BUDDHIST_ERA = "th-u-ca-buddhist"
BUDDHIST_OFFSET = 543
# What a user may choose as their locale (the profile page and PATCH /auth/me).
CHOICES: dict[str, str] = {**LANGUAGES, BUDDHIST_ERA: "ไทย (พ.ศ.)"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("haven_locale", default=DEFAULT)
_buddhist: contextvars.ContextVar[bool] = contextvars.ContextVar("haven_buddhist", default=False)


@functools.cache
def translations(code: str) -> NullTranslations:
    """The catalogue of ``code``, compiled in memory from its ``.po`` file (English: none)."""
    path = CATALOGUES / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT or not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: an unchecked guess reads as English
    compiled.seek(0)
    return Translations(compiled)


def current() -> str:
    return _current.get()


def buddhist_era() -> bool:
    """Whether years are shown in the Buddhist era (a Thai reader who chose it)."""
    return _buddhist.get()


def activate(code: str | None) -> contextvars.Token[str]:
    """Write in ``code`` from now on in this context (an unknown code: English;
    ``th-u-ca-buddhist``: Thai, years of the Buddhist era)."""
    language = choose(code) or DEFAULT
    _buddhist.set(language == "th" and (code or "").lower() == BUDDHIST_ERA)
    return _current.set(language)


@contextmanager
def using(code: str | None) -> Iterator[str]:
    """Write in ``code`` inside the block (a notice to one recipient), then as before."""
    era = _buddhist.get()
    token = activate(code)
    try:
        yield current()
    finally:
        _current.reset(token)
        _buddhist.set(era)


def gettext(message: str) -> str:
    return str(translations(current()).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(translations(current()).ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    return str(translations(current()).pgettext(context, message))


def N_(message: str) -> str:
    return message


_ = gettext


def choose(code: str | None) -> str | None:
    """``code`` if it is one of the interface languages (``km``, ``th-TH`` → ``th``)."""
    if not code:
        return None
    code = code.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The interface language a browser's ``Accept-Language`` prefers, if Haven has one."""
    if not header:
        return None
    preferred = []
    for part in header.split(","):
        name, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if name and quality > 0:
            preferred.append((quality, name.strip().replace("-", "_")))
    preferred.sort(key=lambda item: -item[0])  # stable: equal weights keep the browser's order
    return choose(negotiate_locale([name for _q, name in preferred], list(LANGUAGES), sep="_"))


def locale(code: str | None = None) -> Locale:
    try:
        return Locale.parse(code or current())
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT)


def direction(code: str | None = None) -> str:
    """``ltr`` or ``rtl``: the ``dir`` of a page in ``code``."""
    return "rtl" if locale(code).character_order == "right-to-left" else "ltr"
