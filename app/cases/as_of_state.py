"""The export as it stood at a past moment: "what did the organisation know on the day of the
deportation order?"

Records are kept as they are now, and the timeline keeps every change with its values (sealed
with the person's key). So the state at ``as_of`` is: what had been recorded by then (incidents,
documents, statuses, notes, attachments and timeline entries recorded at or before it), with the
person's and the case's fields wound back through the changes recorded after it, and the risk
level the last assessment before it gave. Written here: it is Haven's own history format.

What cannot be wound back: a change whose values were erased with the person's key, and an
assignment removed since (the case lists current assignments; the timeline shows the removal).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from app.cases.export import Bundle
    from app.individuals.schemas import PersonView


def _at(value: object) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _before(value: object, as_of: dt.datetime) -> bool:
    return value is not None and _at(value) <= as_of


def _wind(record: dict[str, Any], entries: list[dict[str, Any]], kinds: tuple[str, ...]) -> None:
    """Undo, newest first, the ``{"from", "to"}`` changes the entries recorded on ``record``."""
    for entry in reversed(entries):
        if entry.get("kind") not in kinds or entry.get("subject_id") != record.get("id"):
            continue
        for field, change in (entry.get("changes") or {}).items():
            if isinstance(change, dict) and set(change) == {"from", "to"} and field in record:
                record[field] = change["from"]


def _risk(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The level and score the last assessment (or override) recorded by then gave."""
    for entry in reversed(entries):
        changes = entry.get("changes") or {}
        if entry.get("kind") == "risk.reassessed" and isinstance(changes.get("level"), dict):
            score = changes.get("score")
            return {
                "level": changes["level"].get("to"),
                "score": score.get("to") if isinstance(score, dict) else score,
            }
        if entry.get("kind") == "risk.overridden" and changes.get("level"):
            level = changes["level"]
            return {"level": level.get("to") if isinstance(level, dict) else level, "score": None}
    return {"level": None, "score": None}


def wind_back(bundle: Bundle, as_of: dt.datetime) -> None:
    """Turn the bundle (read as it is now) into the bundle as it stood at ``as_of``."""
    entries = bundle.get("timeline")
    if entries is not None:
        later = [e for e in entries if not _before(e["at"], as_of)]
        bundle["timeline"] = [e for e in entries if _before(e["at"], as_of)]
    else:
        later = []
    person = cast("dict[str, Any]", dict(bundle["person"]))
    _wind(person, later, ("individual.updated",))
    if entries is not None:
        person["risk"] = _risk(bundle["timeline"])
    case = dict(bundle["case"])
    _wind(case, later, ("case.updated",))
    case["assignments"] = [
        a
        for a in cast("list[dict[str, Any]]", case["assignments"])
        if _before(a["assigned_at"], as_of)
    ]
    if not _before(case.get("closed_at"), as_of):
        case["closed_at"] = None
    bundle["case"] = case
    if "documents" in bundle:
        documents = []
        for document in bundle["documents"]:
            if not _before(document["created_at"], as_of):
                continue
            changes = [
                c for c in document.get("status_history", []) if _before(c["changed_at"], as_of)
            ]
            document = {**document, "status_history": changes}
            if changes:
                last = changes[-1]
                document["status"] = last["status"]
                document["status_date"] = last["status_date"]
                document["status_source"] = last["status_source"]
            documents.append(document)
        bundle["documents"] = documents
    if "unhcr_status_history" in bundle:
        statuses = [s for s in bundle["unhcr_status_history"] if _before(s["recorded_at"], as_of)]
        bundle["unhcr_status_history"] = statuses
        if "unhcr_status" in person:
            person["unhcr_status"] = statuses[-1] if statuses else None
    if "incidents" in bundle:
        bundle["incidents"] = [i for i in bundle["incidents"] if _before(i["created_at"], as_of)]
    if "notes" in bundle:
        bundle["notes"] = [n for n in bundle["notes"] if _before(n["created_at"], as_of)]
    if "attachments" in bundle:
        bundle["attachments"] = [
            a for a in bundle["attachments"] if _before(a["created_at"], as_of)
        ]
    bundle["person"] = cast("PersonView", person)
