"""Timeline entries as sentences a judge reads without a glossary.

"Detention reported in Thailand on 29 Nov 2026 by Partner monitor (source B2)";
"Risk rose from high to critical: held in custody by a host state that is not party to the 1951
Convention". The machine detail (kinds, ids, factor codes and weights) goes to the PDF's
appendix; nothing here prints an id or a factor code. Written here: no library knows Haven's
vocabulary.

The sentences are in the language of the moment (``app.i18n``: the export's ``lang``); the
data inside them (names, places typed by users, document numbers) is never translated.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from babel.dates import format_date, format_datetime

from app import i18n
from app.i18n import N_, _
from app.validation import country_name

LEVELS = ("low", "medium", "high", "critical")

# Why the level is at least what it is (app/risk/policy.py, _floor and the recognition rule).
FLOOR_RULES = {
    "forced_return": N_("the person has been forcibly returned"),
    "custody_targeted_safe_nationality": N_(
        "held in custody while targeted by the state of origin (a second nationality in a "
        "safe state mitigates it)"
    ),
    "custody_targeted": N_("held in custody while targeted by the state of origin"),
    "custody_non_party_host": N_(
        "held in custody by a host state that is not party to the 1951 Convention"
    ),
    "custody_mitigation_cap": N_("held in custody by the host state"),
    "recognition_non_party_host": N_(
        "UNHCR recognition protects no one from removal where the host state is not party to "
        "the 1951 Convention"
    ),
}

# Each risk factor (app/risk/factors.py) in words.
FACTORS = {
    "REFOULED": N_("forcibly returned to the state of origin"),
    "HOST_CUSTODY": N_("held in custody by the host state"),
    "REMOVAL_ORDER": N_("a removal or deportation order"),
    "ORIGIN_WARRANT_ABROAD": N_("a warrant from the state of origin reaching abroad"),
    "DOC_REVOKED": N_("a travel document revoked"),
    "NO_VALID_DOC_IN_HOST": N_("no valid travel document in the host state"),
    "MOBILITY_CONTROL": N_("movements restricted"),
    "PUBLICLY_NAMED": N_("publicly named or denounced"),
    "POLITICAL_CHARGES": N_("political charges"),
    "PHYSICAL_ATTACK_HOST": N_("physically attacked in the host state"),
    "SURVEILLANCE_HOST": N_("under surveillance in the host state"),
    "HOST_NON_PARTY_1951": N_("the host state is not party to the 1951 Convention"),
    "HOST_NO_CAT": N_("the host state is not party to the Convention against Torture"),
    "HOST_PRECEDENT": N_("the host state has returned people before"),
    "AFFILIATION_TARGETED": N_("belongs to a targeted group"),
    "ORIGIN_SEVERITY": N_("the state of origin's record of persecution"),
    "COUNTRY_EVENT": N_("a recent event in the country"),
    "CHECK_IN_OVERDUE": N_("a welfare check-in is overdue"),
    "UNHCR_RECOGNISED": N_("recognised by UNHCR"),
    "SAFE_SECOND_NATIONALITY": N_("holds a second nationality of a safe state"),
    "IN_SAFE_STATE": N_("is in a safe state"),
}

FIELD_LABELS = {
    "full_name": N_("full name"),
    "native_name": N_("native name"),
    "date_of_birth": N_("date of birth"),
    "current_country": N_("current country"),
    "current_location": N_("current location"),
    "affiliation_role": N_("role in affiliation"),
    "check_in_every_hours": N_("check-in interval (hours)"),
    "unhcr_reference": N_("UNHCR reference"),
}
ROLES = {"caseworker": N_("caseworker"), "lawyer": N_("counsel"), "supervisor": N_("supervisor")}
# Fields whose values are Haven's codes (shown in the reader's words), not what someone typed.
CODED_FIELDS = frozenset({"status", "type", "sex", "priority", "level", "role", "method"})
_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def words(value: object) -> str:
    """A code (``asylum_seeker``) as words ("asylum seeker")."""
    return str(value).replace("_", " ")


def term(value: object) -> str:
    """A code (``asylum_seeker``) in the reader's words: the catalogue's translation of its
    label ("Asylum seeker", as app/web/labels.py lists it), else the code as English words."""
    plain = words(value)
    label = capital(plain)
    shown = _(label)
    return plain if shown == label else shown


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def day(value: object) -> str:
    """A date or timestamp as "29 Nov 2026" (the month in the reader's language)."""
    if value is None or value == "":
        return _("an unknown date")
    try:
        moment = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return format_date(moment, "d MMM y", locale=i18n.locale())


def moment(value: object) -> str:
    """A timestamp as "29 Nov 2026, 10:30 UTC"."""
    if value is None or value == "":
        return "—"
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    parsed = parsed.astimezone(dt.UTC)
    return format_datetime(parsed, "d MMM y, HH:mm", locale=i18n.locale()) + " UTC"


def country(code: object) -> str:
    return country_name(code) if isinstance(code, str) and len(code) == 3 else str(code or "")


def value_text(field: str, value: object) -> str:
    if value is None or value == "" or value == []:
        return _("none")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(value_text(field, v) for v in value)
    if field.endswith("country") or field in ("nationalities", "issuing_country"):
        return country(value)
    if field.endswith(("_on", "_date")) or field == "date_of_birth":
        return day(value)
    if isinstance(value, str) and (_CODE.fullmatch(value) or field in CODED_FIELDS):
        return term(value)
    return str(value)


def source_grade(source: dict[str, Any] | None) -> str:
    """ "Partner monitor (source B2)": the Admiralty grading of who reported it."""
    if not source:
        return _("an unnamed source")
    grade = f"{source.get('reliability') or ''}{source.get('credibility') or ''}"
    name = source.get("name") or _("an unnamed source")
    return _("%(name)s (source %(grade)s)") % {"name": name, "grade": grade} if grade else str(name)


def _list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(items)s and %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}


def risk_reason(changes: dict[str, Any]) -> str:
    """Why the level is what it is: the floor rule if one set it, else the weightiest factors."""
    factors = [f for f in changes.get("factors") or [] if isinstance(f, dict)]
    for factor in factors:
        if factor.get("code") == "FLOOR":
            for item in factor.get("evidence") or []:
                rule = str(item).removeprefix("rule:")
                if str(item).startswith("rule:") and rule in FLOOR_RULES:
                    return _(FLOOR_RULES[rule])
    raising = sorted(
        (f for f in factors if f.get("code") in FACTORS and float(f.get("weight") or 0) > 0),
        key=lambda f: -float(f.get("weight") or 0),
    )
    named = [_(FACTORS[str(f["code"])]) for f in raising[:3]]
    if not named:
        return _("no factor raises it")
    return _list(named)


def _level_change(changes: dict[str, Any]) -> str:
    level = changes.get("level")
    before, after = (
        (level.get("from"), level.get("to")) if isinstance(level, dict) else (None, level)
    )
    if before is None:
        return _("Risk first assessed as %(level)s") % {"level": term(after)}
    if before == after:
        return _("Risk reassessed, unchanged at %(level)s") % {"level": term(after)}
    rank = {name: i for i, name in enumerate(LEVELS)}
    values = {"before": term(before), "after": term(after)}
    if rank.get(str(after), 0) > rank.get(str(before), 0):
        return _("Risk rose from %(before)s to %(after)s") % values
    return _("Risk fell from %(before)s to %(after)s") % values


def _field_changes(changes: dict[str, Any]) -> str:
    parts = []
    for field, change in sorted(changes.items()):
        label = FIELD_LABELS.get(field)
        name = _(label) if label else words(field)
        if isinstance(change, dict) and set(change) == {"from", "to"}:
            before, after = value_text(field, change["from"]), value_text(field, change["to"])
            parts.append(
                _("%(field)s from %(before)s to %(after)s")
                % {"field": name, "before": before, "after": after}
            )
        else:
            parts.append(
                _("%(field)s set to %(value)s")
                % {"field": name, "value": value_text(field, change)}
            )
    return "; ".join(parts)


def _incident(changes: dict[str, Any]) -> str:
    kind = capital(term(changes.get("type") or "incident"))
    values = {
        "kind": kind,
        "country": country(changes.get("country")),
        "date": day(changes.get("occurred_on")),
        "source": source_grade(changes.get("source")),
    }
    text = _("%(kind)s reported in %(country)s on %(date)s by %(source)s") % values
    if changes.get("perpetrator"):
        text += "; " + _("perpetrator: %(name)s") % {"name": changes["perpetrator"]}
    if changes.get("after_return"):
        text += "; " + _("dated after the person's recorded forced return")
    return text


def _document(changes: dict[str, Any], added: bool) -> str:
    kind = capital(term(changes.get("type") or "travel_document"))
    number = f" {changes['number']}" if changes.get("number") else ""
    issuer = f" ({country(changes['issuing_country'])})" if changes.get("issuing_country") else ""
    status = changes.get("status")
    values = {"document": f"{kind}{number}{issuer}", "status": term(status)}
    if isinstance(status, str):
        return _("%(document)s added, %(status)s") % values
    return _("%(document)s added") % values


def sentence(entry: dict[str, Any]) -> str:
    """One timeline entry (as the exports carry it) as a sentence, without ids or codes."""
    kind = str(entry.get("kind") or "")
    changes: dict[str, Any] = entry.get("changes") or {}
    summary = str(entry.get("summary") or "")
    if not changes:
        return _plain_summary(summary)
    if kind == "incident.recorded":
        return _incident(changes)
    if kind == "risk.reassessed":
        return f"{_level_change(changes)}: {risk_reason(changes)}"
    if kind == "individual.created":
        return _("Person registered")
    if kind == "individual.updated":
        return _("Person's record changed: %(changes)s") % {"changes": _field_changes(changes)}
    if kind == "document.added":
        return _document(changes, True)
    if kind in ("document.status_changed", "document.revoked"):
        detail = _field_changes(changes)
        return f"{_plain_summary(summary)}: {detail}" if detail else _plain_summary(summary)
    if kind == "unhcr_status.added":
        status = changes.get("status")
        after = term((status.get("to") if isinstance(status, dict) else status) or "unknown")
        if changes.get("effective_date"):
            return _("UNHCR status recorded: %(status)s, effective %(date)s") % {
                "status": after,
                "date": day(changes["effective_date"]),
            }
        return _("UNHCR status recorded: %(status)s") % {"status": after}
    if kind == "case.opened":
        priority = term(changes.get("priority") or "normal")
        if changes.get("title"):
            return _("Case “%(title)s” opened, %(priority)s priority") % {
                "title": changes["title"],
                "priority": priority,
            }
        return _("Case opened, %(priority)s priority") % {"priority": priority}
    if kind == "case.updated":
        return _("Case changed: %(changes)s") % {"changes": _field_changes(changes)}
    if kind in ("case.assigned", "case.unassigned"):
        code = str(changes.get("role"))
        role = _(ROLES[code]) if code in ROLES else words(changes.get("role") or "member")
        values = {"user": changes.get("user") or _("Someone"), "role": role}
        if kind == "case.assigned":
            return _("%(user)s assigned as %(role)s") % values
        return _("%(user)s removed as %(role)s") % values
    if kind == "case.legal_note_added":
        return _("Legal note added (see Notes)")
    if kind == "case.note_added":
        return _("Note added (see Notes)")
    if kind == "case.exported":
        return _exported(changes)
    if kind == "case.break_glass":
        return _("Emergency access to the case opened until %(until)s; reason: %(reason)s") % {
            "until": moment(changes.get("expires_at")),
            "reason": changes.get("reason"),
        }
    if kind == "attachment.added":
        name = changes.get("filename")
        return _("File “%(name)s” attached") % {"name": name} if name else _("A file attached")
    if kind == "list.matched":
        return _("Name found on a published list (%(source)s, published %(date)s)") % {
            "source": changes.get("source") or _("unnamed"),
            "date": day(changes.get("published_on")),
        }
    return _plain_summary(summary)


EXPORT_KINDS = {
    "pdf": N_("Signed PDF export generated"),
    "json": N_("JSON export generated"),
    "bag": N_("Evidence bundle export generated"),
}
ANY_EXPORT = N_("An export generated")
ANY_EXPORT_AS_OF = N_("An export generated as of %(as_of)s")
EXPORT_KINDS_AS_OF = {
    "pdf": N_("Signed PDF export generated as of %(as_of)s"),
    "json": N_("JSON export generated as of %(as_of)s"),
    "bag": N_("Evidence bundle export generated as of %(as_of)s"),
}


def _exported(changes: dict[str, Any]) -> str:
    digest = str(changes.get("sha256") or "")
    fmt = str(changes.get("format"))
    if changes.get("as_of"):
        message = EXPORT_KINDS_AS_OF.get(fmt, ANY_EXPORT_AS_OF)
        text = _(message) % {"as_of": moment(changes["as_of"])}
    else:
        text = _(EXPORT_KINDS.get(fmt, ANY_EXPORT))
    return f"{text} (SHA-256 {digest[:16]}…)"


def _plain_summary(summary: str) -> str:
    """Haven's own summary in the reader's language when the catalogue has it (the alert
    summaries, app/web/labels.py), else its codes as words ("Alert raised: host custody
    (critical)")."""
    translated = _(summary) if summary else summary
    if translated != summary:
        return translated
    return _CODE.sub(lambda m: words(m.group(0)), summary)
