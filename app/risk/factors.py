"""The factors of refoulement-v1: one small function each, over the facts, returning evidence.

A factor function answers "does this apply, and on what evidence?" and nothing else: its base
weight, whether it decays and every window it uses live in ``app.risk.policy.POLICY``; the
``Context`` applies them (confidence from source grading, recency) the same way for all.
Evidence is ids of records and codes, never names or free text.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.risk.facts import CountryProfile, Facts, IncidentFact, Reference

CUSTODY = frozenset({"arrest", "detention"})
ENDS_CUSTODY = frozenset({"release", "forced_return"})
RECOGNISED = frozenset({"refugee", "person_of_concern"})


@dataclass(frozen=True)
class Evidence:
    items: tuple[str, ...]
    strength: float = 1.0  # confidence x recency of the strongest item
    weights: tuple[str, ...] = ("weight",)  # entries of the factor's row that make its weight


def fold(text: str) -> str:
    """Case, accents and spacing folded, for matching affiliations and roles."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def mentions(text: str | None, names: Iterable[str]) -> bool:
    """Whether any of ``names`` occurs in ``text`` as whole words."""
    if not text:
        return False
    folded = fold(text)
    return any(re.search(rf"\b{re.escape(fold(n))}\b", folded) for n in names if n.strip())


@dataclass
class Context:
    """The facts with what every factor needs derived once: origin, host, open custody."""

    facts: Facts
    reference: Reference
    table: dict[str, Any]
    news_only: bool = False  # the alert view: backfilled past events left out

    def __post_init__(self) -> None:
        facts = self.facts
        self.safe = frozenset(n for n in facts.nationalities if self.safe_state(n))
        self.origin = frozenset(facts.nationalities) - self.safe
        current = facts.current_country
        self.host: CountryProfile | None = (
            self.reference.profile(current) if current and current not in self.origin else None
        )
        ordered = sorted(facts.incidents, key=lambda i: (i.occurred_on, i.id))
        self.open_custody = tuple(self._still_open(ordered, CUSTODY))
        self.open_orders = tuple(self._still_open(ordered, {"deportation_order"}))

    def safe_state(self, code: str) -> bool:
        """Party to the refugee treaties and CAT, and on no cooperation list either way."""
        profile = self.reference.profile(code)
        return (
            profile.known
            and profile.refugee_law_party
            and profile.party_cat
            and code not in self.reference.cooperating_states()
        )

    def _still_open(self, ordered: list[IncidentFact], types: Iterable[str]) -> list[IncidentFact]:
        """Custody (or an order) abroad with no release or return on or after its date."""
        wanted = frozenset(types)
        found = []
        for incident in ordered:
            if incident.type not in wanted or incident.after_return:
                continue
            if not self.abroad(incident.country):
                continue
            ended = any(
                other.type in ENDS_CUSTODY and other.occurred_on >= incident.occurred_on
                for other in ordered
            )
            if not ended:
                found.append(incident)
        return found

    # -- modifiers, all read from the policy table --------------------------------------------

    def row(self, code: str) -> dict[str, Any]:
        factor: dict[str, Any] = self.table["factors"][code]
        return factor

    def age_days(self, day: dt.date) -> int:
        return (self.facts.as_of - day).days

    def recency(self, day: dt.date) -> float:
        """1.0 for the first days, then halving every half-life."""
        rule = self.table["recency"]
        age = self.age_days(day)
        if age <= rule["full_days"]:
            return 1.0
        return float(0.5 ** ((age - rule["full_days"]) / rule["half_life_days"]))

    def confidence(self, reliability: str, credibility: int) -> float:
        rule = self.table["confidence"]
        value: float = rule["reliability"].get(reliability, rule["reliability"]["F"]) * rule[
            "credibility"
        ].get(credibility, rule["credibility"][6])
        floor: float = rule["floor"]
        return max(floor, value)

    def backfilled(self, incident: IncidentFact) -> bool:
        recorded = incident.recorded_on
        return (
            recorded is not None
            and (recorded - incident.occurred_on).days > self.table["backfill"]["days"]
        )

    def abroad(self, country: str) -> bool:
        return country not in self.origin

    def incidents(self, code: str, types: Iterable[str]) -> list[IncidentFact]:
        """This person's incidents of these types that may feed the factor ``code``."""
        wanted = frozenset(types)
        keep_backfill = code in self.table["backfill"]["alerts_keep"]
        return [
            i
            for i in self.facts.incidents
            if i.type in wanted
            and not (self.news_only and not keep_backfill and self.backfilled(i))
        ]

    def strongest(
        self, code: str, graded: Iterable[tuple[str, float, dt.date]], extra: Iterable[str] = ()
    ) -> Evidence | None:
        """Evidence from (id, confidence, date) items: the factor takes its strongest item;
        every item that would still count on its own is cited."""
        row = self.row(code)
        scored = []
        for item_id, confidence, day in graded:
            strength = confidence * (self.recency(day) if row["decays"] else 1.0)
            scored.append((strength, item_id))
        if not scored:
            return None
        scored.sort(key=lambda s: (-s[0], s[1]))
        cut = self.table["min_weight"] / abs(row["weight"])
        cited = [item_id for strength, item_id in scored if strength >= cut] or [scored[0][1]]
        return Evidence((*cited, *extra), strength=scored[0][0])

    def graded(self, incidents: Iterable[IncidentFact]) -> list[tuple[str, float, dt.date]]:
        return [
            (i.id, self.confidence(i.reliability, i.credibility), i.occurred_on) for i in incidents
        ]


Factor = Callable[[Context], Evidence | None]

# -- host-state action -------------------------------------------------------------------------


def host_custody(ctx: Context) -> Evidence | None:
    return ctx.strongest("HOST_CUSTODY", ctx.graded(ctx.open_custody))


def removal_order(ctx: Context) -> Evidence | None:
    return ctx.strongest("REMOVAL_ORDER", ctx.graded(ctx.open_orders))


def physical_attack_host(ctx: Context) -> Evidence | None:
    found = ctx.incidents("PHYSICAL_ATTACK_HOST", {"physical_attack", "abduction_attempt"})
    abroad = [i for i in found if ctx.abroad(i.country) and not i.after_return]
    return ctx.strongest("PHYSICAL_ATTACK_HOST", ctx.graded(abroad))


def surveillance_host(ctx: Context) -> Evidence | None:
    window = ctx.table["windows"]["surveillance_days"]
    found = ctx.incidents("SURVEILLANCE_HOST", {"surveillance", "threat"})
    recent = [
        i
        for i in found
        if ctx.abroad(i.country) and not i.after_return and ctx.age_days(i.occurred_on) <= window
    ]
    return ctx.strongest("SURVEILLANCE_HOST", ctx.graded(recent))


# -- origin-state targeting --------------------------------------------------------------------


def origin_warrant_abroad(ctx: Context) -> Evidence | None:
    found = ctx.incidents("ORIGIN_WARRANT_ABROAD", {"arrest_warrant"})
    return ctx.strongest("ORIGIN_WARRANT_ABROAD", ctx.graded(found))


def publicly_named(ctx: Context) -> Evidence | None:
    found = ctx.incidents("PUBLICLY_NAMED", {"public_denunciation"})
    reliability, credibility = ctx.table["list_match_grade"]
    lists = [
        (m.list_id, ctx.confidence(reliability, credibility), m.published_on)
        for m in ctx.facts.list_matches
    ]
    return ctx.strongest("PUBLICLY_NAMED", [*ctx.graded(found), *lists])


def political_charges(ctx: Context) -> Evidence | None:
    found = ctx.incidents("POLITICAL_CHARGES", {"criminal_charge"})
    in_origin = [i for i in found if not ctx.origin or i.country in ctx.origin]
    return ctx.strongest("POLITICAL_CHARGES", ctx.graded(in_origin))


def affiliation_targeted(ctx: Context) -> Evidence | None:
    for code in sorted(ctx.origin):
        profile = ctx.reference.profile(code)
        if mentions(ctx.facts.affiliation, profile.targeted_affiliations):
            senior = bool(
                ctx.facts.affiliation_role
                and re.search(ctx.table["senior_role_pattern"], fold(ctx.facts.affiliation_role))
            )
            items = (f"targeted_by:{code}", profile.ref, *(["role:senior"] if senior else []))
            return Evidence(items, weights=("weight", "senior") if senior else ("weight",))
    return None


def doc_revoked(ctx: Context) -> Evidence | None:
    documents = [(d.id, 1.0, ctx.facts.as_of) for d in ctx.facts.documents if d.status == "revoked"]
    reported = ctx.graded(ctx.incidents("DOC_REVOKED", {"passport_revoked"}))
    return ctx.strongest("DOC_REVOKED", [*documents, *reported])


def mobility_control(ctx: Context) -> Evidence | None:
    found = ctx.incidents("MOBILITY_CONTROL", {"travel_ban", "denial_of_entry"})
    return ctx.strongest("MOBILITY_CONTROL", ctx.graded(found))


def origin_severity(ctx: Context) -> Evidence | None:
    """Deaths in custody and coerced confessions in an origin state within the window: they set
    how grave a return would be, not how likely it is."""
    if not ctx.origin:
        return None
    kinds = frozenset(ctx.table["severity_kinds"])
    window = ctx.table["windows"]["origin_severity_days"]
    own = [
        i.id
        for i in ctx.incidents("ORIGIN_SEVERITY", kinds)
        if i.country in ctx.origin and ctx.age_days(i.occurred_on) <= window
    ]
    events = [
        e.id
        for e in ctx.facts.country_events
        if e.kind in kinds and e.country in ctx.origin and ctx.age_days(e.occurred_on) <= window
    ]
    others = sum(
        1
        for r in ctx.facts.origin_reports
        if r.type in kinds and r.country in ctx.origin and ctx.age_days(r.occurred_on) <= window
    )
    if not (own or events or others):
        return None
    return Evidence((*own, *events, *([f"reports:{others}"] if others else [])))


def country_event(ctx: Context) -> Evidence | None:
    found = [(e.id, 1.0, e.occurred_on) for e in ctx.facts.country_events if e.affects]
    return ctx.strongest("COUNTRY_EVENT", found)


def refouled(ctx: Context) -> Evidence | None:
    found = ctx.incidents("REFOULED", {"forced_return"})
    return ctx.strongest("REFOULED", ctx.graded(found))


# -- the host state and its record -------------------------------------------------------------


def host_non_party_1951(ctx: Context) -> Evidence | None:
    if ctx.host is None or ctx.host.refugee_law_party:
        return None
    return Evidence(tuple(ctx.host.evidence()))


def host_no_cat(ctx: Context) -> Evidence | None:
    if ctx.host is None or ctx.host.party_cat:
        return None
    return Evidence(tuple(ctx.host.evidence()))


def host_precedent(ctx: Context) -> Evidence | None:
    """A documented return of the same nationality from this host within the window."""
    if ctx.host is None:
        return None
    window = ctx.table["windows"]["precedent_days"]
    for pattern in ctx.host.cooperation:
        last = pattern.last_return
        if pattern.nationality in ctx.origin and last and ctx.age_days(last) <= window:
            return Evidence(
                (*ctx.host.evidence(), f"precedent:{pattern.nationality}:{last.isoformat()}")
            )
    return None


def no_valid_doc_in_host(ctx: Context) -> Evidence | None:
    if ctx.host is None or ctx.host.refugee_law_party:
        return None
    documents = ctx.facts.documents
    reported = ctx.incidents("NO_VALID_DOC_IN_HOST", {"passport_revoked"})
    if not (documents or reported) or any(d.status == "valid" for d in documents):
        return None
    return Evidence((*(d.id for d in documents), *(i.id for i in reported), *ctx.host.evidence()))


# -- protection --------------------------------------------------------------------------------


def unhcr_recognised(ctx: Context) -> Evidence | None:
    if ctx.facts.unhcr_status not in RECOGNISED:
        return None
    party_host = ctx.host is not None and ctx.host.refugee_law_party
    items = tuple(x for x in (ctx.facts.unhcr_status_id, f"unhcr:{ctx.facts.unhcr_status}") if x)
    return Evidence(items, weights=("party_host",) if party_host else ("weight",))


def safe_second_nationality(ctx: Context) -> Evidence | None:
    if not (ctx.safe and ctx.origin):
        return None
    return Evidence(tuple(f"nationality:{code}" for code in sorted(ctx.safe)))


def in_safe_state(ctx: Context) -> Evidence | None:
    host = ctx.facts.current_country
    if host is None or host in ctx.origin or not ctx.safe_state(host):
        return None
    return Evidence(tuple(ctx.reference.profile(host).evidence()))


def check_in_overdue(ctx: Context) -> Evidence | None:
    every, last = ctx.facts.check_in_every_hours, ctx.facts.last_check_in_at
    if not every or last is None or ctx.facts.now - last <= dt.timedelta(hours=every):
        return None
    return Evidence((f"check_in_every_hours:{every}",))


# The order is the order of the factor list in every assessment.
FACTORS: dict[str, Factor] = {
    "REFOULED": refouled,
    "HOST_CUSTODY": host_custody,
    "REMOVAL_ORDER": removal_order,
    "ORIGIN_WARRANT_ABROAD": origin_warrant_abroad,
    "DOC_REVOKED": doc_revoked,
    "NO_VALID_DOC_IN_HOST": no_valid_doc_in_host,
    "MOBILITY_CONTROL": mobility_control,
    "PUBLICLY_NAMED": publicly_named,
    "POLITICAL_CHARGES": political_charges,
    "PHYSICAL_ATTACK_HOST": physical_attack_host,
    "SURVEILLANCE_HOST": surveillance_host,
    "HOST_NON_PARTY_1951": host_non_party_1951,
    "HOST_NO_CAT": host_no_cat,
    "HOST_PRECEDENT": host_precedent,
    "AFFILIATION_TARGETED": affiliation_targeted,
    "ORIGIN_SEVERITY": origin_severity,
    "COUNTRY_EVENT": country_event,
    "CHECK_IN_OVERDUE": check_in_overdue,
    "UNHCR_RECOGNISED": unhcr_recognised,
    "SAFE_SECOND_NATIONALITY": safe_second_nationality,
    "IN_SAFE_STATE": in_safe_state,
}
