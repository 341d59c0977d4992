"""Refoulement risk, policy ``refoulement-v1`` (DOMAIN.md §3.5): facts in, explained score out.

Pure: no session, no I/O. ``POLICY`` below is the whole policy as one reviewable table —
weights, what decays, windows, confidence grades, level thresholds; the factor functions in
``app.risk.factors`` only say whether a factor applies and on what evidence.

    score = clamp(0, 100, sum of weight * confidence * recency), then floors and caps

- confidence: the product of the source's reliability (A..F) and credibility (1..6) grades,
  at least 0.1; records held in Haven (document status, a list match) have their own grade;
- recency: 1.0 up to 30 days, then halving every 90 days, for factors built on incidents;
  factors describing a state that persists (custody with no release, an open removal order,
  a revoked document, a forced return) do not decay;
- floors: host custody in a state not party to the refugee treaties ⇒ at least high; host
  custody with a removal order or any origin-targeting factor ⇒ critical, unless the person
  holds a safe second nationality (then high); a forced return ⇒ critical (REFOULED);
- cap: mitigating factors cannot bring a person in host custody below high, and UNHCR
  recognition never lowers the level in a host state not party to the refugee treaties;
- a floor raises the score to the lowest score of its level and shows as a ``FLOOR`` factor,
  so the factor weights always add up to the score (before clamping).

**Backfill rule** (MISSION.md, "Time matters"). An incident is *backfilled* when it was
recorded more than ``POLICY["backfill"]["days"]`` (30) days after it happened
(``is_backfill``). Backfilled incidents count in the score like any other, with the weight
their age leaves them: an attack five years ago adds almost nothing, and a detention followed
by a recorded release adds nothing at all. They do not, however, raise alerts about the past:
every assessment also carries ``alert_level``, the level computed with backfilled incidents
left out — except those feeding the factors in ``POLICY["backfill"]["alerts_keep"]``, which
describe the present (custody with no release recorded is acute however old, and however late
it was entered). A rise of the risk level alerts only as far as ``alert_level`` rises too.
The alert rules apply ``is_backfill`` to the incidents they alert on in the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.crypto.blind_index import fold_name
from app.risk.factors import FACTORS, Context
from app.risk.facts import (
    CountryProfile,
    DocumentFact,
    EventFact,
    Facts,
    IncidentFact,
    ListMatchFact,
    OriginReport,
    Reference,
)

__all__ = [
    "POLICY",
    "Assessment",
    "CountryProfile",
    "DocumentFact",
    "EventFact",
    "Factor",
    "Facts",
    "IncidentFact",
    "ListMatchFact",
    "OriginReport",
    "Reference",
    "assess",
    "event_affects",
    "is_backfill",
    "level_of",
]

POLICY: dict[str, Any] = {
    "name": "refoulement-v1",
    # Lowest score of each level: low < 25 <= medium < 50 <= high < 75 <= critical.
    "levels": {"low": 0, "medium": 25, "high": 50, "critical": 75},
    "recency": {"full_days": 30, "half_life_days": 90},
    "confidence": {
        "reliability": {"A": 1.0, "B": 0.9, "C": 0.7, "D": 0.4, "E": 0.2, "F": 0.6},
        "credibility": {1: 1.0, 2: 0.85, 3: 0.6, 4: 0.35, 5: 0.15, 6: 0.6},
        "floor": 0.1,
    },
    # A name matched on a published list: the list is public, the match is by name only.
    "list_match_grade": ("B", 2),
    "min_weight": 0.5,  # a factor weighing less than this after modifiers is left out
    "windows": {
        "surveillance_days": 90,
        "origin_severity_days": 365,
        "precedent_days": 730,
        "country_event_horizon_days": 730,
    },
    "backfill": {
        "days": 30,
        "alerts_keep": ["HOST_CUSTODY", "REMOVAL_ORDER", "DOC_REVOKED", "NO_VALID_DOC_IN_HOST"],
    },
    "severity_kinds": ["death_in_custody", "coerced_confession"],
    "senior_role_pattern": (
        r"\b(leader|deputy|president|vice|secretary|chair\w*|spokes\w*|founder|director|head"
        r"|senior|lawmaker|parliament\w*|mp|senator|minister|governor)\b"
    ),
    "factors": {
        "REFOULED": {"weight": 50, "decays": False},
        "HOST_CUSTODY": {"weight": 35, "decays": False},
        "REMOVAL_ORDER": {"weight": 30, "decays": False},
        "ORIGIN_WARRANT_ABROAD": {"weight": 15, "decays": True},
        "DOC_REVOKED": {"weight": 15, "decays": False},
        "NO_VALID_DOC_IN_HOST": {"weight": 10, "decays": False},
        "MOBILITY_CONTROL": {"weight": 10, "decays": True},
        "PUBLICLY_NAMED": {"weight": 15, "decays": True},
        "POLITICAL_CHARGES": {"weight": 15, "decays": True},
        "PHYSICAL_ATTACK_HOST": {"weight": 25, "decays": True},
        "SURVEILLANCE_HOST": {"weight": 8, "decays": True},
        "HOST_NON_PARTY_1951": {"weight": 8, "decays": False},
        "HOST_NO_CAT": {"weight": 5, "decays": False},
        "HOST_PRECEDENT": {"weight": 10, "decays": False},
        "AFFILIATION_TARGETED": {"weight": 8, "senior": 5, "decays": False},
        "ORIGIN_SEVERITY": {"weight": 5, "decays": False},
        "COUNTRY_EVENT": {"weight": 10, "decays": True},
        "CHECK_IN_OVERDUE": {"weight": 10, "decays": False},
        "UNHCR_RECOGNISED": {"weight": -5, "party_host": -15, "decays": False},
        "SAFE_SECOND_NATIONALITY": {"weight": -20, "decays": False},
        "IN_SAFE_STATE": {"weight": -25, "decays": False},
    },
    # Factors that target the person from the origin state: with host custody, critical.
    "origin_targeting": [
        "REMOVAL_ORDER",
        "ORIGIN_WARRANT_ABROAD",
        "PUBLICLY_NAMED",
        "POLITICAL_CHARGES",
        "AFFILIATION_TARGETED",
    ],
}

LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Factor:
    code: str
    weight: float
    evidence: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "weight": self.weight, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class Assessment:
    score: int
    level: str
    factors: tuple[Factor, ...]
    policy_version: str
    alert_level: str = "low"  # the level without backfilled past events (see module docstring)

    def factor(self, code: str) -> Factor | None:
        return next((f for f in self.factors if f.code == code), None)


def policy_version(reference: Reference, table: Mapping[str, Any] = POLICY) -> str:
    """The policy and the country data it ran on, e.g. ``refoulement-v1+countries-2026.11``."""
    return f"{table['name']}+countries-{reference.version}"


def is_backfill(occurred_on: dt.date, recorded_at: dt.datetime | dt.date) -> bool:
    """Whether something was recorded long after it happened: history, not news."""
    recorded = recorded_at.date() if isinstance(recorded_at, dt.datetime) else recorded_at
    days: int = POLICY["backfill"]["days"]
    return (recorded - occurred_on).days > days


def level_of(score: float, table: Mapping[str, Any] = POLICY) -> str:
    found = LEVELS[0]
    for level in LEVELS:
        if score >= table["levels"][level]:
            found = level
    return found


def rank(level: str | None) -> int:
    """Order of levels; no level at all ranks below low."""
    return LEVELS.index(level) if level in LEVELS else -1


def event_affects(
    affects: Mapping[str, Any],
    *,
    nationalities: tuple[str, ...] | list[str],
    current_country: str | None,
    affiliation: str | None,
) -> bool:
    """Whether a country event's profile (``{"nationality", "affiliation", "current_country"}``)
    matches a person: every criterion given must match (the affiliation as a folded substring
    of the person's); an event naming no criterion matches nobody in particular. The same
    rule ``app.monitoring.service`` uses to choose whom to reassess."""
    given = {k: v for k, v in affects.items() if v}
    if not given:
        return False
    if "nationality" in given and given["nationality"] not in nationalities:
        return False
    if "current_country" in given and given["current_country"] != current_country:
        return False
    if "affiliation" in given:
        return bool(affiliation) and fold_name(given["affiliation"]) in fold_name(affiliation or "")
    return True


def assess(facts: Facts, reference: Reference, table: Mapping[str, Any] = POLICY) -> Assessment:
    """Score the facts; ``alert_level`` is the same policy over the facts without backfill."""
    context = Context(facts, reference, dict(table))
    full = _score(context, table)
    news = full
    # The alert view differs only by leaving backfilled incidents out: most people have none.
    if any(context.backfilled(i) for i in facts.incidents):
        news = _score(Context(facts, reference, dict(table), news_only=True), table)
    return Assessment(
        score=full.score,
        level=full.level,
        factors=full.factors,
        policy_version=policy_version(reference, table),
        alert_level=news.level,
    )


@dataclass(frozen=True)
class _Scored:
    score: int
    level: str
    factors: tuple[Factor, ...]
    codes: frozenset[str]


def _score(ctx: Context, table: Mapping[str, Any]) -> _Scored:
    factors: list[Factor] = []
    raw = positive = 0.0
    for code, applies in FACTORS.items():
        evidence = applies(ctx)
        if evidence is None:
            continue
        row = table["factors"][code]
        weight = sum(row[key] for key in evidence.weights) * evidence.strength
        if abs(weight) < table["min_weight"]:
            continue
        raw += weight
        positive += max(weight, 0.0)
        factors.append(Factor(code, round(weight, 1), evidence.items))
    codes = frozenset(f.code for f in factors)
    score = max(0, min(100, round(raw)))
    level = level_of(score, table)
    floor, rule = _floor(ctx, codes, level_of(round(positive), table))
    # MISSION.md scenario 4: where the host state is not party to the refugee treaties,
    # recognition by UNHCR protects no one from removal, so it never lowers the level.
    recognition = next((f.weight for f in factors if f.code == "UNHCR_RECOGNISED"), 0.0)
    if recognition < 0 and ctx.host is not None and not ctx.host.refugee_law_party:
        kept = level_of(max(0, min(100, round(raw - recognition))), table)
        if rank(kept) > rank(floor):
            floor, rule = kept, "recognition_non_party_host"
    if rank(floor) > rank(level):
        lifted = table["levels"][floor]
        factors.append(Factor("FLOOR", round(lifted - raw, 1), (f"rule:{rule}", f"level:{floor}")))
        score, level = lifted, floor
    return _Scored(score, level, tuple(factors), codes)


def _floor(ctx: Context, codes: frozenset[str], unmitigated: str) -> tuple[str, str]:
    """The lowest level the facts allow, and the rule that sets it."""
    if "REFOULED" in codes:
        return "critical", "forced_return"
    if "HOST_CUSTODY" not in codes:
        return "low", ""
    if codes & set(ctx.table["origin_targeting"]):
        if "SAFE_SECOND_NATIONALITY" in codes:
            return "high", "custody_targeted_safe_nationality"
        return "critical", "custody_targeted"
    if any(not ctx.reference.profile(i.country).refugee_law_party for i in ctx.open_custody):
        return "high", "custody_non_party_host"
    if rank(unmitigated) >= rank("high"):
        return "high", "custody_mitigation_cap"
    return "low", ""
