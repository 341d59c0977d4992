"""Which characters the fonts shipped in ``fonts/`` can show, and what to print instead.

DejaVu Sans covers Latin, Greek, Cyrillic, Arabic, Hebrew and many symbols; Noto Sans Khmer,
Thai and Lao are its fallbacks. Text in a script none of them covers is not dropped silently:
each run of it becomes a visible marker such as ``[Myanmar text not shown]``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont

FONT_DIR = Path(__file__).parent / "fonts"
MAIN = "DejaVuSans"
FONTS: dict[str, dict[str, str]] = {
    MAIN: {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"},
    "NotoSansKhmer": {"": "NotoSansKhmer-Regular.ttf", "B": "NotoSansKhmer-Bold.ttf"},
    "NotoSansThai": {"": "NotoSansThai-Regular.ttf"},
    "NotoSansLao": {"": "NotoSansLao-Regular.ttf"},
}
FALLBACKS = ("NotoSansKhmer", "NotoSansThai", "NotoSansLao")


@lru_cache(maxsize=1)
def covered() -> frozenset[int]:
    """Every code point some embedded font has a glyph for."""
    points: set[int] = set()
    for styles in FONTS.values():
        with TTFont(FONT_DIR / styles[""], lazy=True) as font:
            points.update(font.getBestCmap())
    return frozenset(points)


def script_of(ch: str) -> str:
    """A readable name for the script of a character ("Myanmar", "CJK"), or "Symbol"."""
    name = unicodedata.name(ch, "")
    if unicodedata.category(ch)[0] in "LMN" and name:
        word = name.split()[0]
        return word if word == "CJK" else word.title()
    return "Symbol"


def visible(text: str) -> tuple[str, list[str]]:
    """The text with each run the fonts cannot show replaced by a marker; the scripts found.

    A run is one script's characters and the spaces between them; invisible format
    characters without a glyph (zero-width joiners and the like) are dropped.
    """
    points = covered()
    if all(ord(ch) in points for ch in text):
        return text, []
    out: list[str] = []
    scripts: list[str] = []
    run: str | None = None  # the script of the run being replaced
    spaces: list[str] = []  # spaces after the run: inside it, or after it

    def end_run() -> None:
        nonlocal run
        if run is not None:
            out.append(f"[{run} text not shown]")
            run = None
        out.extend(spaces)
        spaces.clear()

    for ch in text:
        if ch.isspace():
            (spaces if run is not None else out).append(ch if ord(ch) in points else " ")
        elif ord(ch) in points:
            end_run()
            out.append(ch)
        elif unicodedata.category(ch) == "Cf":
            continue
        else:
            script = run if run and unicodedata.category(ch)[0] == "M" else script_of(ch)
            if script != run:
                end_run()
                run = script
                scripts.append(script)
            spaces.clear()  # spaces between two characters of one run belong to it
    end_run()
    return "".join(out), scripts


def needs_shaping(text: str) -> bool:
    """Whether the text holds a script whose glyphs combine or reorder (Hebrew onwards)."""
    return any(0x0590 <= ord(ch) < 0x2000 or 0xFB1D <= ord(ch) <= 0xFEFF for ch in text)


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{where} > {key}")
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, where)


def unshown(bundle: dict[str, Any], sections: dict[str, str]) -> list[str]:
    """Where text could not be shown, as "Myanmar script in Person > native_name"."""
    found: dict[str, None] = {}
    for key, title in sections.items():
        for where, text in _strings(bundle.get(key), title):
            for script in visible(text)[1]:
                found[f"{script} script in {where}"] = None
    return list(found)
