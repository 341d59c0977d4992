"""Template filters: dates, labels, country names, history changes, risk evidence (pure)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pycountry
from babel.dates import format_date, format_datetime, format_timedelta
from jinja2 import pass_context
from jinja2.runtime import Context

from app import i18n
from app.auth.profile import zone
from app.validation import country_name


def _moment(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def offset_label(tz: ZoneInfo, moment: dt.datetime) -> str:
    """``UTC``, ``UTC+7``, ``UTC+5:30``, ``UTC-3``: the offset in force at ``moment``."""
    offset = moment.astimezone(tz).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def in_zone(value: Any, zone_name: str | None = None) -> str:
    """A time in the reader's zone and language, with the offset said ("4 Dec 2026, 11:01
    UTC+7"); a date as a date ("4 Dec 2026")."""
    value = _moment(value)
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        tz = zone(zone_name)
        there = value.astimezone(tz)
        shown = format_datetime(there, "d MMM", locale=i18n.locale())
        clock = format_datetime(there, "HH:mm", locale=i18n.locale())
        return f"{shown} {_year(there)}, {clock} {offset_label(tz, value)}"
    if isinstance(value, dt.date):
        return f"{format_date(value, 'd MMM', locale=i18n.locale())} {_year(value)}"
    return str(value)


def _year(value: dt.date) -> int:
    """The year as the reader counts it: the Buddhist era's for a Thai reader who chose it."""
    return value.year + (i18n.BUDDHIST_OFFSET if i18n.buddhist_era() else 0)


@pass_context
def date(context: Context, value: Any) -> str:
    """``in_zone`` in the zone of the page's reader (``tz`` in the template's context)."""
    return in_zone(value, context.get("tz"))


def ago(value: Any, now: dt.datetime | None = None) -> str:
    """How long ago, in words and the reader's language: "just now", "23 minutes ago",
    "3 hours ago", "2 days ago"."""
    value = _moment(value)
    if not isinstance(value, dt.datetime):
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    seconds = int(((now or dt.datetime.now(dt.UTC)) - value).total_seconds())
    if abs(seconds) < 60:
        return i18n.gettext("just now")
    units: tuple[tuple[int, Literal["year", "day", "hour", "minute"]], ...] = (
        (86_400 * 365, "year"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
    )
    for size, unit in units:
        if abs(seconds) >= size:
            # Whole units, counted down (Babel would round 50 minutes up to "1 hour").
            whole = abs(seconds) // size * size
            return format_timedelta(
                dt.timedelta(seconds=-whole if seconds > 0 else whole),
                granularity=unit,
                threshold=10**9,
                add_direction=True,
                locale=i18n.locale(),
            )
    return i18n.gettext("just now")


def label(value: Any) -> str:
    """A value of a list (a rule, a status, a role) as words, in the reader's language when its
    catalogue names it (app/web/labels.py marks them)."""
    text = str(value or "").replace("_", " ")
    if not text:
        return ""  # gettext("") is the catalogue's header, not an empty label
    return i18n.gettext(text[:1].upper() + text[1:])


def country(code: Any) -> str:
    """A country's name (``KHM`` → "Cambodia") in the reader's language (Babel's names, by the
    two-letter code), in English where Babel has none."""
    if not (isinstance(code, str) and len(code) == 3):
        return str(code or "")
    found = pycountry.countries.get(alpha_3=code)
    if found is not None and i18n.current() != i18n.DEFAULT:
        named = i18n.locale().territories.get(found.alpha_2)
        if named:
            return str(named)
    return country_name(code)


def short(value: Any, limit: int = 160) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return i18n.gettext("yes") if value else i18n.gettext("no")
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
# The words for the kinds of evidence a risk factor names (app.risk.factors: ``key:value``).
EVIDENCE_KEYS = {
    "country": i18n.N_("country"),
    "targeted_by": i18n.N_("targeted by"),
    "role": i18n.N_("role"),
    "reports": i18n.N_("reports"),
    "precedent": i18n.N_("precedent"),
    "unhcr": i18n.N_("UNHCR status"),
    "nationality": i18n.N_("nationality"),
    "check_in_every_hours": i18n.N_("check-in every … hours"),
    "rule": i18n.N_("rule"),
    "level": i18n.N_("level"),
    "override": i18n.N_("override"),
}


def evidence(items: Any) -> str:
    """A factor's evidence for people: records by a short id, ``key:value`` as words (the value,
    a code or a number, as it is); the country data's version is left to the caption, which
    names it once."""
    shown = []
    for item in items or []:
        text = str(item)
        if UUID.match(text):
            shown.append(i18n.gettext("record %(id)s") % {"id": text[:8]})
        elif not text.startswith("countries-"):
            key, sep, value = text.partition(":")
            if not sep:
                shown.append(text.replace("_", " "))
                continue
            words = EVIDENCE_KEYS.get(key)
            name = i18n.gettext(words) if words else key.replace("_", " ")
            if key in ("unhcr", "level", "rule", "role"):
                value = label(value)
            shown.append(f"{name} {value}")
    return "; ".join(shown) or "—"
