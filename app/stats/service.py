"""De-identified counts for analysts: small cells suppressed, never a name or a record.

Counts are of the analyst's organisation only. Any cell under five is withheld; when a table
would have exactly one withheld cell, the next smallest is withheld too, so that it cannot be
recovered from a total (secondary suppression, OCHA guidance note 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import uuid
from collections import Counter
from typing import TypedDict

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.crypto import Pad, crypto_of
from app.models.incident import Incident
from app.models.individual import Individual
from app.models.unhcr import UnhcrStatus
from app.records.people import SLOTS
from app.unhcr.service import STATUS

THRESHOLD = 5


class Dimension(enum.StrEnum):
    COUNTRY = "country"
    RISK_LEVEL = "risk_level"
    INCIDENT_TYPE = "incident_type"
    UNHCR_STATUS = "unhcr_status"


# (header row, HXL hashtag row) per dimension, DOMAIN.md §2.4.
COLUMNS = {
    Dimension.COUNTRY: (("Country", "Individuals"), ("#country+code+v_iso3", "#affected+ind+num")),
    Dimension.RISK_LEVEL: (("Risk level", "Individuals"), ("#severity+code", "#affected+ind+num")),
    Dimension.INCIDENT_TYPE: (("Incident type", "Incidents"), ("#event+type+code", "#event+num")),
    Dimension.UNHCR_STATUS: (
        ("UNHCR status", "Individuals"),
        ("#status+code", "#affected+ind+num"),
    ),
}


class Cell(TypedDict):
    key: str
    count: int | None  # None when suppressed
    suppressed: bool


class StatsTable(TypedDict):
    by: str
    threshold: int
    generated_at: dt.datetime
    cells: list[Cell]


def _people(organisation_id: uuid.UUID) -> ColumnElement[bool]:
    # A record merged into another is the same person: counted once, as the survivor.
    return (
        (Individual.organisation_id == organisation_id)
        & Individual.erased_at.is_(None)
        & Individual.merged_into_id.is_(None)
    )


def _count(session: Session, actor: Actor, by: Dimension) -> Counter[str]:
    org = actor.organisation_id
    if by is Dimension.RISK_LEVEL:
        rows = session.execute(
            select(Individual.risk_level, func.count())
            .where(_people(org))
            .group_by(Individual.risk_level)
        )
        return Counter({level or "unassessed": n for level, n in rows})
    if by is Dimension.INCIDENT_TYPE:
        types = session.execute(
            select(Incident.type, func.count())
            .where(Incident.organisation_id == org)
            .group_by(Incident.type)
        )
        return Counter(dict(types.tuples().all()))
    crypto = crypto_of(session)
    counts: Counter[str] = Counter()
    if by is Dimension.COUNTRY:
        # Countries are sealed: open each person's, count in memory, keep nothing.
        query = select(Individual.id, Individual.current_country_ct).where(_people(org))
        for person_id, sealed in session.execute(query.execution_options(yield_per=1000)):
            value = None
            if sealed is not None:
                value = crypto.open(
                    session,
                    SLOTS["current_country"],
                    person_id,
                    person_id,
                    sealed,
                    pad=Pad.CATEGORY,
                )
            counts[value or "unknown"] += 1
        return counts
    latest = (
        select(UnhcrStatus.individual_id, UnhcrStatus.id, UnhcrStatus.status_ct)
        .join(Individual, Individual.id == UnhcrStatus.individual_id)
        .where(_people(org))
        .order_by(
            UnhcrStatus.individual_id,
            UnhcrStatus.effective_date.desc(),
            UnhcrStatus.recorded_at.desc(),
        )
    )
    seen: set[uuid.UUID] = set()
    for person_id, row_id, sealed in session.execute(latest.execution_options(yield_per=1000)):
        if person_id in seen:
            continue
        seen.add(person_id)
        counts[crypto.open(session, STATUS, row_id, person_id, sealed, pad=Pad.CATEGORY)] += 1
    without = session.scalar(select(func.count()).select_from(Individual).where(_people(org))) or 0
    if without - len(seen) > 0:
        counts["none_recorded"] += without - len(seen)
    return counts


def suppress(counts: Counter[str]) -> list[Cell]:
    items = sorted(counts.items())
    withheld = {k for k, n in items if n < THRESHOLD}
    if len(withheld) == 1 and len(items) > 1:
        rest = sorted(((k, n) for k, n in items if k not in withheld), key=lambda kn: kn[1])
        withheld.add(rest[0][0])
    return [
        {"key": k, "count": None if k in withheld else n, "suppressed": k in withheld}
        for k, n in items
    ]


def statistics(session: Session, actor: Actor, by: Dimension) -> StatsTable:
    cells = suppress(_count(session, actor, by))
    audit.record(session, actor=actor, action="stats.read", details={"by": by.value})
    return {
        "by": by.value,
        "threshold": THRESHOLD,
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
        "cells": cells,
    }


def as_csv(table: StatsTable, *, hxl: bool) -> str:
    header, tags = COLUMNS[Dimension(table["by"])]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, "Suppressed", "Generated at"])
    if hxl:
        writer.writerow([*tags, "#meta+suppressed", "#date+reported"])
    stamp = table["generated_at"].date().isoformat()
    for cell in table["cells"]:
        count = "" if cell["suppressed"] else cell["count"]
        writer.writerow([cell["key"], count, "true" if cell["suppressed"] else "false", stamp])
    return out.getvalue()
