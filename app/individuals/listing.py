"""Finding people among many: any whole word of a name, filters, a sort, pages with a total.

Names, countries and numbers are sealed, so what SQL can do it does (scope, risk level, open
alerts, the blind indexes' candidates, sorting by risk or last change); what needs the
plaintext (comparing the words, the country, sorting by name) is done on the candidates,
opened in batches of a thousand with one key query each, and never on more than
``OPEN_MAX`` people in one request (422 asking for a narrower search beyond it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit
from app.auth.scope import OWN, visible_individuals
from app.crypto import crypto_of
from app.crypto.blind_index import PERSON_NAME, fold_name, name_tokens
from app.crypto.envelope import header_key_id
from app.errors import Unprocessable
from app.individuals.schemas import PersonView
from app.individuals.service import present_page
from app.models.alert import Alert
from app.models.individual import Individual, IndividualNameIndex
from app.records.documents import holders_of
from app.records.name_tokens import MAX_QUERY_WORDS, matching_all
from app.records.people import FIELDS, SLOTS

Sort = Literal["risk", "name", "updated"]
SORTS: tuple[Sort, ...] = ("risk", "name", "updated")
# People whose names are opened in one request at most (a name sort of everyone, a country
# filter alone): about 0.16 ms each with the rest of the request, measured at 100,000 people
# by bench/caseload.py (1.3 s for the 8,296 holding "Sok").
OPEN_MAX = 20_000
BATCH = 1000
OPEN_STATUSES = ("open", "acknowledged")


@dataclass(frozen=True)
class PeopleQuery:
    """``q``: words that must each be a whole word of one of the person's names (folded);
    ``name``: a whole name, exactly (folded); the rest as in GET /individuals."""

    q: str | None = None
    name: str | None = None
    document_number: str | None = None
    country: str | None = None
    risk_level: str | None = None
    open_alerts: bool | None = None
    sort: Sort = "risk"
    limit: int = 50
    offset: int = 0


class PeoplePage(TypedDict):
    items: list[PersonView]
    total: int
    offset: int
    next_cursor: str | None


def parse_cursor(cursor: str | None) -> int:
    """A page's cursor is the offset of its first person."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise Unprocessable("cursor: not a cursor this list gave", field="cursor")
    return int(cursor)


def find(session: Session, actor: Actor, query: PeopleQuery) -> PeoplePage:
    """One page of the people in scope that match ``query``, with the total; the search and
    each person shown are audited (``individual.search``, ``individual.read``)."""
    words = name_tokens(query.q) if query.q else []
    if query.q is not None and not words:
        raise Unprocessable("q: type a word of the person's name", field="q")
    if len(words) > MAX_QUERY_WORDS:
        raise Unprocessable(f"q: at most {MAX_QUERY_WORDS} words", field="q")
    # Through a referral: by name and country with identity; never by risk or alerts.
    own_only = bool(query.risk_level or query.open_alerts)
    section = OWN if own_only else "identity" if (words or query.name or query.country) else None
    # The scope's own select, narrowed: never "id IN (everyone in scope)", which SQLite would
    # materialise (100,000 ids) on every statement.
    ids = visible_individuals(actor, section).where(
        Individual.merged_into_id.is_(None), Individual.erased_at.is_(None)
    )
    if query.risk_level:
        ids = ids.where(Individual.risk_level == query.risk_level)
    if query.open_alerts is not None:
        alerting = exists().where(
            Alert.individual_id == Individual.id, Alert.status.in_(OPEN_STATUSES)
        )
        ids = ids.where(alerting if query.open_alerts else ~alerting)
    if words:
        ids = ids.where(Individual.id.in_(matching_all(session, words)))
    if query.name:
        token = crypto_of(session).blind_index(PERSON_NAME, query.name)
        ids = ids.where(
            Individual.id.in_(
                select(IndividualNameIndex.individual_id).where(IndividualNameIndex.value == token)
            )
        )
    if query.document_number:
        ids = ids.where(Individual.id.in_(holders_of(session, actor, query.document_number)))
    if words or query.name or query.country or query.sort == "name":
        total, page = _opened(session, actor, ids, words, query)
    else:
        total, page = _in_sql(session, actor, ids, query)
    found = present_page(session, actor, page)
    _audit(session, actor, query, total, found)
    end = query.offset + query.limit
    return {
        "items": found,
        "total": total,
        "offset": query.offset,
        "next_cursor": str(end) if end < total else None,
    }


def _risk_order(actor: Actor) -> Any:
    # Another organisation's risk is not shared through a referral: those people sort last.
    return case((Individual.organisation_id == actor.organisation_id, Individual.risk_score))


def _in_sql(
    session: Session, actor: Actor, ids: Select[uuid.UUID], query: PeopleQuery
) -> tuple[int, list[uuid.UUID]]:
    order: list[Any] = [Individual.updated_at.desc()]
    if query.sort == "risk":
        order.insert(0, _risk_order(actor).desc().nulls_last())
    if query.document_number:  # a number's holders, a handful: counted as they are read
        held = list(session.scalars(ids.order_by(*order, Individual.id)))
        return len(held), held[query.offset : query.offset + query.limit]
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    rows = session.scalars(
        ids.order_by(*order, Individual.id).offset(query.offset).limit(query.limit)
    )
    return total, list(rows)


def _opened(
    session: Session,
    actor: Actor,
    ids: Select[uuid.UUID],
    words: list[str],
    query: PeopleQuery,
) -> tuple[int, list[uuid.UUID]]:
    candidates = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    if candidates > OPEN_MAX:
        raise Unprocessable(
            f"q: more than {OPEN_MAX:,} people to compare; add a word of the name or another "
            "filter, or sort by risk or last change",
            field="q",
        )
    wanted = set(words)
    exact = fold_name(query.name) if query.name else None
    crypto = crypto_of(session)
    columns = (
        Individual.id,
        (Individual.organisation_id == actor.organisation_id).label("own"),
        Individual.risk_score,
        Individual.updated_at,
        Individual.full_name_ct,
        Individual.native_name_ct,
        Individual.aliases_ct,
        Individual.current_country_ct,
    )
    rows = list(session.execute(ids.with_only_columns(*columns)))
    kept: list[tuple[Any, uuid.UUID]] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        owners = {
            header_key_id(ct): row.id for row in chunk if (ct := row.full_name_ct) is not None
        }
        crypto.keys.load_many(session, owners)
        for row in chunk:
            opened = _open(session, row)
            if opened is None:
                continue
            full, others, country = opened
            if wanted and not wanted <= set(name_tokens(full, *others)):
                continue  # a coincidence of the truncated index, or a padding row
            if exact and exact not in {fold_name(n) for n in (full, *others) if n}:
                continue
            if query.country and country != query.country:
                continue
            kept.append((_sort_key(actor, query.sort, row, full), row.id))
    kept.sort(key=lambda item: item[0])
    return len(kept), [pid for _, pid in kept[query.offset : query.offset + query.limit]]


def _open(session: Session, row: Any) -> tuple[str, list[str], str | None] | None:
    """(full name, other names, current country) of a candidate row, or None if it no
    longer opens (erased meanwhile)."""
    crypto = crypto_of(session)
    values: dict[str, Any] = {}
    for name in ("full_name", "native_name", "aliases", "current_country"):
        sealed = getattr(row, f"{name}_ct")
        if sealed is None:
            values[name] = None
            continue
        key = crypto.keys.by_id(session, header_key_id(sealed), row.id)
        values[name] = crypto.open_with(key, SLOTS[name], row.id, sealed, pad=FIELDS[name])
    if values["full_name"] is None:
        return None
    others = [n for n in [values["native_name"], *(values["aliases"] or [])] if n]
    return values["full_name"], others, values["current_country"]


def _sort_key(actor: Actor, sort: Sort, row: Any, full_name: str) -> tuple[Any, ...]:
    if sort == "name":
        return (fold_name(full_name), str(row.id))
    changed = -row.updated_at.timestamp()
    if sort == "updated":
        return (changed, str(row.id))
    score = row.risk_score if row.own and row.risk_score is not None else None
    return (score is None, -(score or 0), changed, str(row.id))


def _audit(
    session: Session, actor: Actor, query: PeopleQuery, total: int, found: list[PersonView]
) -> None:
    by = sorted(
        k
        for k, v in (
            ("q", query.q),
            ("name", query.name),
            ("document_number", query.document_number),
            ("country", query.country),
            ("risk_level", query.risk_level),
            ("open_alerts", query.open_alerts),
        )
        if v is not None and v != ""
    )
    audit.record(
        session,
        actor=actor,
        action="individual.search",
        details={"by": by, "sort": query.sort, "results": len(found), "total": total},
    )
    for item in found:
        audit.record(
            session,
            actor=actor,
            action="individual.read",
            subject_type="individual",
            subject_id=item["id"],
            details={"via": "search"},
        )
