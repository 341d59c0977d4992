"""Template filters: dates, labels, country names, history changes, risk evidence (pure)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app.validation import country_name


def date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text: str = value
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%-d %b %Y, %H:%M UTC")
    if isinstance(value, dt.date):
        return value.strftime("%-d %b %Y")
    return str(value)


def label(value: Any) -> str:
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def country(code: Any) -> str:
    return country_name(code) if isinstance(code, str) and len(code) == 3 else str(code or "")


def short(value: Any, limit: int = 160) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "code" in v for v in value)
    ):
        # risk factors: their names and weights (the evidence is on the person's page)
        text = ", ".join(
            f"{label(str(v['code']).lower())} ({v.get('weight', 0):+g})" for v in value
        )
    elif isinstance(value, list):
        text = ", ".join(short(v, limit) for v in value)
    elif isinstance(value, dict):
        text = "; ".join(f"{label(k)}: {short(v, limit)}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changes(entry_changes: Any) -> list[tuple[str, str]]:
    """A history entry's changes as (label, text) pairs, each kept short."""
    if not isinstance(entry_changes, dict):
        return []
    pairs = []
    for key, value in entry_changes.items():
        if isinstance(value, dict) and set(value) == {"from", "to"}:
            text = f"{short(value['from'])} → {short(value['to'])}"
        elif value is None or value == [] or value == "":
            continue
        else:
            text = short(value)
        pairs.append((label(key), text))
    return pairs


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def evidence(items: Any) -> str:
    """A factor's evidence for people: records by a short id, ``key:value`` as words; the
    country data's version is left to the caption, which names it once."""
    shown = []
    for item in items or []:
        text = str(item)
        if UUID.match(text):
            shown.append(f"record {text[:8]}")
        elif not text.startswith("countries-"):
            key, sep, value = text.partition(":")
            shown.append(f"{key.replace('_', ' ')} {value}" if sep else text.replace("_", " "))
    return "; ".join(shown) or "—"
