"""Timeline entries as sentences a judge reads without a glossary.

"Detention reported in Thailand on 29 Nov 2026 by Partner monitor (source B2)";
"Risk rose from high to critical: held in custody by a host state that is not party to the 1951
Convention". The machine detail (kinds, ids, factor codes and weights) goes to the PDF's
appendix; nothing here prints an id or a factor code. Written here: no library knows Haven's
vocabulary.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app.validation import country_name

LEVELS = ("low", "medium", "high", "critical")

# Why the level is at least what it is (app/risk/policy.py, _floor and the recognition rule).
FLOOR_RULES = {
    "forced_return": "the person has been forcibly returned",
    "custody_targeted_safe_nationality": (
        "held in custody while targeted by the state of origin (a second nationality in a "
        "safe state mitigates it)"
    ),
    "custody_targeted": "held in custody while targeted by the state of origin",
    "custody_non_party_host": (
        "held in custody by a host state that is not party to the 1951 Convention"
    ),
    "custody_mitigation_cap": "held in custody by the host state",
    "recognition_non_party_host": (
        "UNHCR recognition protects no one from removal where the host state is not party to "
        "the 1951 Convention"
    ),
}

# Each risk factor (app/risk/factors.py) in words.
FACTORS = {
    "REFOULED": "forcibly returned to the state of origin",
    "HOST_CUSTODY": "held in custody by the host state",
    "REMOVAL_ORDER": "a removal or deportation order",
    "ORIGIN_WARRANT_ABROAD": "a warrant from the state of origin reaching abroad",
    "DOC_REVOKED": "a travel document revoked",
    "NO_VALID_DOC_IN_HOST": "no valid travel document in the host state",
    "MOBILITY_CONTROL": "movements restricted",
    "PUBLICLY_NAMED": "publicly named or denounced",
    "POLITICAL_CHARGES": "political charges",
    "PHYSICAL_ATTACK_HOST": "physically attacked in the host state",
    "SURVEILLANCE_HOST": "under surveillance in the host state",
    "HOST_NON_PARTY_1951": "the host state is not party to the 1951 Convention",
    "HOST_NO_CAT": "the host state is not party to the Convention against Torture",
    "HOST_PRECEDENT": "the host state has returned people before",
    "AFFILIATION_TARGETED": "belongs to a targeted group",
    "ORIGIN_SEVERITY": "the state of origin's record of persecution",
    "COUNTRY_EVENT": "a recent event in the country",
    "CHECK_IN_OVERDUE": "a welfare check-in is overdue",
    "UNHCR_RECOGNISED": "recognised by UNHCR",
    "SAFE_SECOND_NATIONALITY": "holds a second nationality of a safe state",
    "IN_SAFE_STATE": "is in a safe state",
}

FIELD_LABELS = {
    "full_name": "full name",
    "native_name": "native name",
    "date_of_birth": "date of birth",
    "current_country": "current country",
    "current_location": "current location",
    "affiliation_role": "role in affiliation",
    "check_in_every_hours": "check-in interval (hours)",
    "unhcr_reference": "UNHCR reference",
}
ROLES = {"caseworker": "caseworker", "lawyer": "counsel", "supervisor": "supervisor"}
_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def words(value: object) -> str:
    """A code (``asylum_seeker``) as words ("asylum seeker")."""
    return str(value).replace("_", " ")


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def day(value: object) -> str:
    """A date or timestamp as "29 Nov 2026"."""
    if value is None or value == "":
        return "an unknown date"
    try:
        moment = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{moment.day} {moment:%b %Y}"


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
    return f"{parsed.day} {parsed:%b %Y, %H:%M} UTC"


def country(code: object) -> str:
    return country_name(code) if isinstance(code, str) and len(code) == 3 else str(code or "")


def value_text(field: str, value: object) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(field, v) for v in value)
    if field.endswith("country") or field in ("nationalities", "issuing_country"):
        return country(value)
    if field.endswith(("_on", "_date")) or field == "date_of_birth":
        return day(value)
    if isinstance(value, str) and _CODE.fullmatch(value):
        return words(value)
    return str(value)


def source_grade(source: dict[str, Any] | None) -> str:
    """ "Partner monitor (source B2)": the Admiralty grading of who reported it."""
    if not source:
        return "an unnamed source"
    grade = f"{source.get('reliability') or ''}{source.get('credibility') or ''}"
    name = source.get("name") or "an unnamed source"
    return f"{name} (source {grade})" if grade else str(name)


def risk_reason(changes: dict[str, Any]) -> str:
    """Why the level is what it is: the floor rule if one set it, else the weightiest factors."""
    factors = [f for f in changes.get("factors") or [] if isinstance(f, dict)]
    for factor in factors:
        if factor.get("code") == "FLOOR":
            for item in factor.get("evidence") or []:
                rule = str(item).removeprefix("rule:")
                if str(item).startswith("rule:") and rule in FLOOR_RULES:
                    return FLOOR_RULES[rule]
    raising = sorted(
        (f for f in factors if f.get("code") in FACTORS and float(f.get("weight") or 0) > 0),
        key=lambda f: -float(f.get("weight") or 0),
    )
    named = [FACTORS[str(f["code"])] for f in raising[:3]]
    if not named:
        return "no factor raises it"
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _level_change(changes: dict[str, Any]) -> str:
    level = changes.get("level")
    before, after = (
        (level.get("from"), level.get("to")) if isinstance(level, dict) else (None, level)
    )
    if before is None:
        return f"Risk first assessed as {after}"
    if before == after:
        return f"Risk reassessed, unchanged at {after}"
    rank = {name: i for i, name in enumerate(LEVELS)}
    verb = "rose" if rank.get(str(after), 0) > rank.get(str(before), 0) else "fell"
    return f"Risk {verb} from {before} to {after}"


def _field_changes(changes: dict[str, Any]) -> str:
    parts = []
    for field, change in sorted(changes.items()):
        name = FIELD_LABELS.get(field, words(field))
        if isinstance(change, dict) and set(change) == {"from", "to"}:
            before, after = value_text(field, change["from"]), value_text(field, change["to"])
            parts.append(f"{name} from {before} to {after}")
        else:
            parts.append(f"{name} set to {value_text(field, change)}")
    return "; ".join(parts)


def _incident(changes: dict[str, Any]) -> str:
    kind = capital(words(changes.get("type") or "incident"))
    where = country(changes.get("country"))
    text = f"{kind} reported in {where} on {day(changes.get('occurred_on'))}"
    text += f" by {source_grade(changes.get('source'))}"
    if changes.get("perpetrator"):
        text += f"; perpetrator: {changes['perpetrator']}"
    if changes.get("after_return"):
        text += "; dated after the person's recorded forced return"
    return text


def _document(changes: dict[str, Any], verb: str) -> str:
    kind = capital(words(changes.get("type") or "travel document"))
    number = f" {changes['number']}" if changes.get("number") else ""
    issuer = f" ({country(changes['issuing_country'])})" if changes.get("issuing_country") else ""
    status = changes.get("status")
    status_text = f", {words(status)}" if isinstance(status, str) else ""
    return f"{kind}{number}{issuer} {verb}{status_text}"


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
        return "Person registered"
    if kind == "individual.updated":
        return f"Person's record changed: {_field_changes(changes)}"
    if kind == "document.added":
        return _document(changes, "added")
    if kind in ("document.status_changed", "document.revoked"):
        detail = _field_changes(changes)
        return f"{_plain_summary(summary)}: {detail}" if detail else _plain_summary(summary)
    if kind == "unhcr_status.added":
        status = changes.get("status")
        after = status.get("to") if isinstance(status, dict) else status
        text = f"UNHCR status recorded: {words(after or 'unknown')}"
        if changes.get("effective_date"):
            text += f", effective {day(changes['effective_date'])}"
        return text
    if kind == "case.opened":
        title = f" “{changes['title']}”" if changes.get("title") else ""
        return f"Case{title} opened, {changes.get('priority') or 'normal'} priority"
    if kind == "case.updated":
        return f"Case changed: {_field_changes(changes)}"
    if kind in ("case.assigned", "case.unassigned"):
        role = ROLES.get(str(changes.get("role")), words(changes.get("role") or "member"))
        verb = "assigned as" if kind == "case.assigned" else "removed as"
        return f"{changes.get('user') or 'Someone'} {verb} {role}"
    if kind in ("case.note_added", "case.legal_note_added"):
        return ("Legal note" if "legal" in kind else "Note") + " added (see Notes)"
    if kind == "case.exported":
        digest = str(changes.get("sha256") or "")
        kind = {"pdf": "Signed PDF", "json": "JSON", "bag": "Evidence bundle"}.get(
            str(changes.get("format")), "An"
        )
        moment_of = f" as of {moment(changes['as_of'])}" if changes.get("as_of") else ""
        return f"{kind} export generated{moment_of} (SHA-256 {digest[:16]}…)"
    if kind == "case.break_glass":
        until = moment(changes.get("expires_at"))
        return f"Emergency access to the case opened until {until}; reason: {changes.get('reason')}"
    if kind == "attachment.added":
        name = changes.get("filename") or "a file"
        return f"File “{name}” attached"
    if kind == "list.matched":
        return (
            f"Name found on a published list ({changes.get('source') or 'unnamed'}, "
            f"published {day(changes.get('published_on'))})"
        )
    return _plain_summary(summary)


def _plain_summary(summary: str) -> str:
    """Haven's own summary, its codes as words ("Alert raised: host custody (critical)")."""
    return _CODE.sub(lambda m: words(m.group(0)), summary)
