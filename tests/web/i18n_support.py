"""Is a page still in English? The interface text of a page written in Khmer or Thai.

``english_left(html)`` returns the pieces of interface text on a page (text nodes, and the
``title``, ``aria-label``, ``placeholder`` and ``alt`` that a reader or a screen reader meets)
that still hold an English word: two or more Latin letters in a row. What is data is left out:

- the contents of ``<script>``, ``<style>`` and ``<bdi>`` (names, usernames, free text typed by
  users are isolated in ``<bdi>`` on Haven's pages), and of any element marked ``translate="no"``
  or with the class ``data`` (document numbers, references, country codes, notes);
- the values of form fields (``<input value>``, the text of a ``<textarea>``), ``<option>``'s
  values, hidden inputs;
- words with digits (document numbers, grades like ``B2``), records' short ids (eight hex
  digits), country codes (three capitals);
- brand and standard tokens: Haven, UNHCR, MRZ, ISO, UTC, PDF, JSON, CSV, TOTP, API; the legal
  term of art "refoulement", which the glossary keeps in brackets after its translation; and any
  word given in ``allowed`` (the test's own data: a name, a place).

Deliberately simple: it reads the HTML as written, not as styled (text hidden by CSS counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

TOKENS = frozenset(
    {"Haven", "UNHCR", "MRZ", "ISO", "UTC", "PDF", "JSON", "CSV", "TOTP", "API", "refoulement"}
)
SKIPPED = frozenset({"script", "style", "bdi", "textarea", "template"})
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
LATIN = re.compile(r"[A-Za-z]{2,}")
WORD = re.compile("[A-Za-z0-9][A-Za-z0-9'\u2019.-]*")
SHORT_ID = re.compile(r"[0-9a-f]{8}")
COUNTRY_CODE = re.compile(r"[A-Z]{3}")


def _is_data(tag: str, attrs: dict[str, str | None]) -> bool:
    classes = (attrs.get("class") or "").split()
    return tag in SKIPPED or attrs.get("translate") == "no" or "data" in classes


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, is data)
        self.found: list[str] = []

    @property
    def in_data(self) -> bool:
        return any(data for _tag, data in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        data = _is_data(tag, named)
        if not (self.in_data or data):
            for attribute in READ_ATTRIBUTES:
                if named.get(attribute) and not (tag == "time" and attribute == "title"):
                    self.found.append(str(named[attribute]))
        if tag not in VOID:
            self.stack.append((tag, data))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed <p>, <li>
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if not self.in_data and data.strip():
            self.found.append(" ".join(data.split()))


def text_nodes(html: str) -> list[str]:
    """The interface text of a page (data left out as described above)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.found


def _english(word: str) -> bool:
    """A word of two or more Latin letters that is not a token, a code or a number: no digits
    (a document number, a grade like ``B2``, a date), not a record's short id (eight hex
    digits), not a country code (three capitals)."""
    return bool(
        LATIN.search(word)
        and word not in TOKENS
        and not any(c.isdigit() for c in word)
        and not SHORT_ID.fullmatch(word)
        and not COUNTRY_CODE.fullmatch(word)
    )


def english_left(html: str, allowed: Iterable[str] = ()) -> list[str]:
    """The pieces of interface text that still hold an English word (``allowed``: words and
    phrases of the test's own data, such as a person's name, left out before looking)."""
    phrases = sorted({a for a in allowed if a}, key=len, reverse=True)
    left = []
    for text in text_nodes(html):
        rest = text
        for phrase in phrases:
            rest = rest.replace(phrase, " ")
        words = [w.strip(".-'\u2019") for w in WORD.findall(rest)]
        if any(_english(word) for word in words):
            left.append(text)
    return left
