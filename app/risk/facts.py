"""What the risk policy reads: facts about one person, and the country reference data.

Plain frozen dataclasses, built by ``app.risk.service`` from the database and by the tests by
hand. Ids are strings so evidence can quote them as they are.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IncidentFact:
    id: str
    type: str
    occurred_on: dt.date
    country: str
    reliability: str = "B"
    credibility: int = 2
    after_return: bool = False
    recorded_on: dt.date | None = None  # when it was entered: tells backfill from news


@dataclass(frozen=True)
class DocumentFact:
    id: str
    status: str  # valid | expired | revoked | lost | confiscated


@dataclass(frozen=True)
class ListMatchFact:
    list_id: str
    published_on: dt.date


@dataclass(frozen=True)
class EventFact:
    """A country event; ``affects`` says whether its profile matches this person."""

    id: str
    country: str
    kind: str
    occurred_on: dt.date
    affects: bool


@dataclass(frozen=True)
class OriginReport:
    """Another person's death in custody or coerced confession in an origin state (no id: it
    is not this person's record)."""

    type: str
    country: str
    occurred_on: dt.date


@dataclass(frozen=True)
class Facts:
    now: dt.datetime
    nationalities: tuple[str, ...] = ()
    current_country: str | None = None
    affiliation: str | None = None
    affiliation_role: str | None = None
    incidents: tuple[IncidentFact, ...] = ()
    documents: tuple[DocumentFact, ...] = ()
    unhcr_status: str | None = None
    unhcr_status_id: str | None = None
    list_matches: tuple[ListMatchFact, ...] = ()
    country_events: tuple[EventFact, ...] = ()
    origin_reports: tuple[OriginReport, ...] = ()
    check_in_every_hours: int | None = None
    last_check_in_at: dt.datetime | None = None

    @property
    def as_of(self) -> dt.date:
        return self.now.date()


@dataclass(frozen=True)
class Cooperation:
    """A host state's documented cooperation against one nationality's dissidents."""

    nationality: str
    pattern: str
    returns: tuple[dt.date, ...] = ()

    @property
    def last_return(self) -> dt.date | None:
        return max(self.returns) if self.returns else None


@dataclass(frozen=True)
class CountryProfile:
    code: str
    party_1951: bool = False
    party_1967: bool = False
    party_cat: bool = False
    cooperation: tuple[Cooperation, ...] = ()
    targeted_affiliations: tuple[str, ...] = ()
    known: bool = False
    ref: str = "unknown"  # which data row it came from: shipped data, an override, or unknown

    @property
    def refugee_law_party(self) -> bool:
        """Bound by the Convention's Art. 33, directly or through the 1967 Protocol."""
        return self.party_1951 or self.party_1967

    def evidence(self) -> list[str]:
        return [f"country:{self.code}", self.ref]


@dataclass(frozen=True)
class Reference:
    """Country profiles in force on one date, and the data version they come from."""

    version: str
    profiles: dict[str, CountryProfile] = field(default_factory=dict)

    def profile(self, code: str) -> CountryProfile:
        found = self.profiles.get(code)
        return found if found is not None else CountryProfile(code=code)

    def cooperating_states(self) -> frozenset[str]:
        """Hosts with a documented cooperation pattern, and the nationalities they target."""
        return self._cooperating

    @functools.cached_property
    def _cooperating(self) -> frozenset[str]:
        # Once per reference, not once per person assessed (a country event assesses thousands).
        hosts = {p.code for p in self.profiles.values() if p.cooperation}
        targets = {c.nationality for p in self.profiles.values() for c in p.cooperation}
        return frozenset(hosts | targets)
