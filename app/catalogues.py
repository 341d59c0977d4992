"""Keeping the translation catalogues in step with the code: ``python -m app.catalogues``.

``update`` (the default) extracts every marked message (``babel.cfg``) into
``app/locale/messages.pot`` and merges it into each language's ``messages.po``: new messages
appear untranslated, removed ones are dropped, translations kept. ``check`` fails (exit 1) when
a message has no translation in a complete language, a translation is marked fuzzy, or its
placeholders (``%(name)s``) differ from the English; CI runs it through tests/test_catalogues.py.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from app.i18n import CATALOGUES, LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
TEMPLATE = CATALOGUES / "messages.pot"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None}
# The languages every message must be translated into before it ships.
COMPLETE = ("km", "th")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")
# Each complete language's own script: a translation must use it, and no other's.
SCRIPTS = {"km": re.compile("[\u1780-\u17ff\u19e0-\u19ff]"), "th": re.compile("[\u0e00-\u0e7f]")}
WORDS = re.compile(r"[A-Za-z]{3,}")
DATED = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)  # fixed: no churn in the files on each run
HEADER = (
    "{name} translations of Haven: a machine-assisted draft that awaits review by a native\n"
    "speaker. The legal terms follow docs/glossary.md; change them there first."
)


def extract() -> Catalog:
    """Every message marked in ``app/`` (code and templates), as a template catalogue."""
    with MAPPING.open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    template = Catalog(
        project="Haven", version="2026.12", msgid_bugs_address="", fuzzy=False, creation_date=DATED
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _po(code: str, directory: Path = CATALOGUES) -> Path:
    return directory / code / "LC_MESSAGES" / "messages.po"


def _read(path: Path, code: str) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=code)


def _write(path: Path, catalog: Catalog, template: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, no_location=True, sort_output=True, omit_header=False)


def update() -> dict[str, int]:
    """Extract, and merge into every language's catalogue; the count of untranslated messages
    by language."""
    template = extract()
    _write(TEMPLATE, template)
    missing = {}
    for code in LANGUAGES:
        if code == "en":
            continue
        path = _po(code)
        catalog = _read(path, code) if path.exists() else Catalog(locale=code)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.version = "Haven", "2026.12"
        name = catalog.locale.english_name if catalog.locale else code
        catalog.header_comment = "# " + HEADER.format(name=name).replace("\n", "\n# ")
        _write(path, catalog)
        missing[code] = len([m for m in catalog if m.id and not _translated(m.string)])
    return missing


def _strings(value: object) -> tuple[str, ...]:
    """A message's id or translation as its forms (one, or one per plural form)."""
    if isinstance(value, list | tuple):
        return tuple(str(v or "") for v in value)
    return (str(value or ""),)


def _translated(string: object) -> bool:
    return all(_strings(string))


@dataclass
class Report:
    messages: int = 0
    problems: list[str] = field(default_factory=list)


def check(codes: tuple[str, ...] = COMPLETE, directory: Path = CATALOGUES) -> Report:
    """What stops the catalogues from shipping: messages in the code without a translation,
    fuzzy translations, placeholders that differ from the English."""
    template = extract()
    report = Report(messages=sum(1 for m in template if m.id))
    for code in codes:
        path = _po(code, directory)
        if not path.exists():
            report.problems.append(f"{code}: no catalogue at {path}")
            continue
        catalog = _read(path, code)
        for message in template:
            if not message.id:
                continue
            found = catalog.get(message.id, message.context)
            english = _strings(message.id)
            shown = english[0][:60]
            if found is None or not _translated(found.string):
                report.problems.append(f"{code}: not translated: {shown!r}")
                continue
            if found.fuzzy:
                report.problems.append(f"{code}: marked fuzzy: {shown!r}")
            wanted = _placeholders(english[-1])
            for string in _strings(found.string):
                problem = _script_problem(code, english[-1], string)
                if problem:
                    report.problems.append(f"{code}: {problem}: {shown!r}")
                if _placeholders(string) != wanted:
                    report.problems.append(
                        f"{code}: placeholders {sorted(_placeholders(string))} instead of "
                        f"{sorted(wanted)}: {shown!r}"
                    )
    return report


def _script_problem(code: str, english: str, string: str) -> str | None:
    """A translation written in another complete language's script, or a sentence left in
    English (names such as "UNHCR" or "MRZ" may stay as they are)."""
    for other, script in SCRIPTS.items():
        if other != code and script.search(string) and not script.search(english):
            return f"written in the script of {other}"
    own = SCRIPTS.get(code)
    if own and not own.search(string) and len(WORDS.findall(PLACEHOLDER.sub("", english))) > 1:
        return "left in English"
    return None


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "update"
    if command == "update":
        missing = update()
        total = sum(1 for m in _read(TEMPLATE, "en") if m.id)
        print(f"{total} messages in {TEMPLATE.relative_to(ROOT)}")
        for code, count in missing.items():
            print(f"  {code}: {total - count} translated, {count} to translate")
        return 0
    if command == "check":
        report = check()
        for problem in report.problems:
            print(problem)
        print(f"{report.messages} messages; {len(report.problems)} problems")
        return 1 if report.problems else 0
    print("usage: python -m app.catalogues [update|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
