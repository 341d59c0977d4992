"""Hand-built facts for the policy tests: one person, one fixed day, the shipped reference."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from app.risk import reference
from app.risk.facts import DocumentFact, Facts, IncidentFact
from app.risk.policy import Assessment, assess

# A fixed day, so windows over the shipped data (the 24-month precedent) never drift.
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
REFERENCE = reference.build()
_ids = itertools.count(1)


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def incident(
    type: str,
    *,
    ago: int = 3,
    country: str = "THA",
    grade: str = "A1",
    recorded_ago: int | None = None,
    **fields: Any,
) -> IncidentFact:
    """An incident ``ago`` days back, recorded the day it happened unless told otherwise."""
    return IncidentFact(
        id=f"incident-{next(_ids)}",
        type=type,
        occurred_on=days_ago(ago),
        country=country,
        reliability=grade[0],
        credibility=int(grade[1]),
        recorded_on=days_ago(ago if recorded_ago is None else recorded_ago),
        **fields,
    )


def document(status: str) -> DocumentFact:
    return DocumentFact(id=f"document-{next(_ids)}", status=status)


def person(**fields: Any) -> Facts:
    """A Cambodian national in Thailand unless told otherwise."""
    values: dict[str, Any] = {"now": NOW, "nationalities": ("KHM",), "current_country": "THA"}
    values.update(fields)
    for name in ("incidents", "documents", "nationalities", "list_matches", "country_events"):
        if name in values:
            values[name] = tuple(values[name])
    return Facts(**values)


def run(**fields: Any) -> Assessment:
    return assess(person(**fields), REFERENCE)


def codes(result: Assessment) -> set[str]:
    return {f.code for f in result.factors}


def weight(result: Assessment, code: str) -> float:
    found = result.factor(code)
    return found.weight if found else 0.0
