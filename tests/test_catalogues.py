"""The translation catalogues ship complete: every message marked in the code has its Khmer and
Thai translation, none fuzzy, with the same placeholders as the English (app/catalogues.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from app import catalogues, i18n


def test_every_message_is_translated_into_khmer_and_thai() -> None:
    report = catalogues.check()
    assert report.messages > 0
    assert report.problems == []


def _tampered(tmp_path: Path, change: str) -> Path:
    shutil.copytree(i18n.CATALOGUES, tmp_path / "locale")
    path = tmp_path / "locale" / "th" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale="th")
    with_placeholder = next(m for m in catalog if m.id and "%(" in str(m.id))
    plain = next(m for m in catalog if m.id and "%(" not in str(m.id))
    if change == "placeholder":
        shown = str(with_placeholder.string)
        with_placeholder.string = shown.replace("%(", "%(x", 1)
    elif change == "missing":
        plain.string = ""
    else:
        plain.flags.add("fuzzy")
    with path.open("wb") as po:
        write_po(po, catalog)
    return tmp_path / "locale"


def test_a_broken_placeholder_is_found(tmp_path: Path) -> None:
    problems = catalogues.check(("th",), _tampered(tmp_path, "placeholder")).problems
    assert len(problems) == 1 and "placeholders" in problems[0]


def test_a_missing_translation_is_found(tmp_path: Path) -> None:
    problems = catalogues.check(("th",), _tampered(tmp_path, "missing")).problems
    assert len(problems) == 1 and "not translated" in problems[0]


def test_a_fuzzy_translation_is_found(tmp_path: Path) -> None:
    problems = catalogues.check(("th",), _tampered(tmp_path, "fuzzy")).problems
    assert len(problems) == 1 and "fuzzy" in problems[0]


def test_the_template_is_up_to_date() -> None:
    """``python -m app.catalogues`` was run after the last change to a message."""
    with i18n.CATALOGUES.joinpath("messages.pot").open("rb") as pot:
        shipped = {m.id for m in read_po(pot) if m.id}
    assert shipped == {m.id for m in catalogues.extract() if m.id}
