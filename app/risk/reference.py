"""Country reference data: the shipped, versioned ``countries.json``, corrected by administrators.

The file travels with the package (no network). An administrator's correction is a
``CountryProfileOverride`` row: some of a country's fields, effective from a date, with a
reason. The profile in force on a date is the shipped row with every override effective by
then applied in order (effective date, then entry time), so an assessment can be reproduced
with the framework of its day.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Iterable
from importlib import resources
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.models.base import utcnow
from app.models.risk import CountryProfileOverride
from app.risk.facts import Cooperation, CountryProfile, Reference
from app.risk.policy import policy_version

DATA_FILE = "countries.json"
# The fields an override may set (the schema in app.risk.schemas checks their types).
FIELDS = (
    "name",
    "party_1951",
    "party_1951_year",
    "party_1967",
    "party_1967_year",
    "party_cat",
    "party_cat_year",
    "cooperation",
    "targeted_affiliations",
    "note",
    "sources",
)


@functools.cache
def shipped() -> dict[str, Any]:
    """The reference file as shipped with this version of Haven."""
    text = resources.files("app.risk").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def data_version() -> str:
    return str(shipped()["version"])


def _day(value: str) -> dt.date:
    """A date, or a month (``2025-01``: its first day) where only the month is documented."""
    return dt.date.fromisoformat(value if len(value) > 7 else f"{value}-01")


def merged(
    overrides: Iterable[tuple[str, dict[str, Any], str]],
) -> dict[str, dict[str, Any]]:
    """Every known country's fields: shipped rows, then ``(code, fields, ref)`` overrides in
    order. ``ref`` names the last source of each row (``countries-<version>`` or an override)."""
    data = shipped()
    default = data["default"]
    rows = {
        code: {**default, **row, "code": code, "ref": f"countries-{data['version']}"}
        for code, row in data["countries"].items()
    }
    for code, fields, ref in overrides:
        base = rows.get(code) or {**default, "code": code}
        rows[code] = {**base, **fields, "ref": ref}
    return rows


def profile_of(row: dict[str, Any]) -> CountryProfile:
    return CountryProfile(
        code=row["code"],
        party_1951=bool(row.get("party_1951")),
        party_1967=bool(row.get("party_1967")),
        party_cat=bool(row.get("party_cat")),
        cooperation=tuple(
            Cooperation(
                nationality=c["nationality"],
                pattern=c.get("pattern") or "unspecified",
                returns=tuple(_day(r["on"]) for r in c.get("returns") or []),
            )
            for c in row.get("cooperation") or []
        ),
        targeted_affiliations=tuple(row.get("targeted_affiliations") or ()),
        known=True,
        ref=row["ref"],
    )


def build(overrides: Iterable[tuple[str, dict[str, Any], str]] = ()) -> Reference:
    """The reference the policy reads (pure: the tests build one without a database)."""
    rows = merged(overrides)
    return Reference(
        version=data_version(), profiles={code: profile_of(row) for code, row in rows.items()}
    )


def _in_force(session: Session, as_of: dt.date) -> list[CountryProfileOverride]:
    return list(
        session.scalars(
            select(CountryProfileOverride)
            .where(CountryProfileOverride.effective_on <= as_of)
            .order_by(
                CountryProfileOverride.effective_on,
                CountryProfileOverride.created_at,
                CountryProfileOverride.id,
            )
        )
    )


def _triples(rows: list[CountryProfileOverride]) -> list[tuple[str, dict[str, Any], str]]:
    return [(r.country, json.loads(r.fields), f"override:{r.id}") for r in rows]


def load(session: Session, as_of: dt.date) -> Reference:
    """The reference in force on ``as_of``."""
    return build(_triples(_in_force(session, as_of)))


def changed_at(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the reference in force last changed: the latest override already in effect (its
    entry time, or the start of its effective day if that came later)."""
    latest = session.execute(
        select(
            func.max(CountryProfileOverride.created_at),
            func.max(CountryProfileOverride.effective_on),
        ).where(CountryProfileOverride.effective_on <= now.date())
    ).one()
    entered, effective = latest
    if entered is None:
        return None
    start = dt.datetime.combine(effective, dt.time(), tzinfo=dt.UTC)
    return max(entered, start)


def listing(session: Session, as_of: dt.date) -> dict[str, Any]:
    """The reference in force on ``as_of``, every override (past and scheduled) beside it."""
    rows = merged(_triples(_in_force(session, as_of)))
    data = shipped()
    every = session.scalars(
        select(CountryProfileOverride).order_by(
            CountryProfileOverride.country,
            CountryProfileOverride.effective_on,
            CountryProfileOverride.created_at,
        )
    )
    return {
        "version": data["version"],
        "data_as_of": data["as_of"],
        "policy_version": policy_version(build()),
        "as_of": as_of,
        "sources": data["sources"],
        "default": data["default"],
        "countries": [rows[code] for code in sorted(rows)],
        "overrides": [present_override(row) for row in every],
    }


class CountryOverrideView(TypedDict):
    """An administrator's correction of the shipped country reference."""

    id: uuid.UUID
    country: str
    effective_on: dt.date
    fields: dict[str, Any]  # the corrected reference fields, as the reference file has them
    reason: str
    created_at: dt.datetime


class CountryOverrideResult(CountryOverrideView):
    """The correction, and the country's profile as it stands from its effective day."""

    profile: dict[str, Any]


def present_override(row: CountryProfileOverride) -> CountryOverrideView:
    return {
        "id": row.id,
        "country": row.country,
        "effective_on": row.effective_on,
        "fields": json.loads(row.fields),
        "reason": row.reason,
        "created_at": row.created_at,
    }


def override(
    session: Session,
    actor: Actor,
    *,
    country: str,
    fields: dict[str, Any],
    reason: str,
    effective_on: dt.date | None,
) -> CountryOverrideResult:
    """Record an administrator's correction; people are reassessed by the next sweep."""
    row = CountryProfileOverride(
        id=uuid.uuid4(),
        country=country,
        effective_on=effective_on or utcnow().date(),
        fields=json.dumps(fields, sort_keys=True, default=str),
        reason=reason,
        created_by=actor.id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="reference.country.override",
        subject_type="country_profile_override",
        subject_id=row.id,
        details={
            "country": country,
            "fields": sorted(fields),
            "effective_on": row.effective_on.isoformat(),
        },
    )
    profile = merged(_triples(_in_force(session, row.effective_on)))[country]
    return {**present_override(row), "profile": profile}
