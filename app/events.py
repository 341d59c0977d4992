"""Domain events: the one seam for what follows a change.

A service states a fact with ``publish(session, DocumentRevoked(...))``; the reactions listed in
``app.reactions`` (risk reassessment, alerts, ending referrals …) run at once, in order, in the
same session and transaction. So the risk rows, alerts and outbox rows a change causes commit or
roll back with it, and the response already shows the new risk level. Delivery after commit
(webhooks, e-mail) stays with the outbox engine (``app.alerts.engine``).

The table of reactions travels with the session (``session.info``), like the keyring: the
composition roots (``app.main.create_app``, the ``haven`` command) attach ``app.reactions.TABLE``
with ``attach``. Publishing an event that has no reaction, or on a session with no table, is an
error: a fact nobody acts on is a bug, and it must not pass silently.

Events carry ids, never values: they are facts about records, not copies of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.actor import Actor

REACTIONS = "haven_reactions"


class UnhandledEvent(RuntimeError):
    """An event was published that no reaction is listed for."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact about a change, stated by the service that made it. ``actor`` is who made it
    (None for the engine's own work: expiry, time decay)."""

    actor: Actor | None


# People ----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PersonRegistered(Event):
    individual_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class ProfileChanged(Event):
    """Fields of a person's record changed (their names, not their values)."""

    individual_id: uuid.UUID
    fields: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class PersonErased(Event):
    """A person's record was erased (its keys destroyed): what else describes them goes too."""

    individual_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class UnhcrStatusChanged(Event):
    individual_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class CheckInRecorded(Event):
    individual_id: uuid.UUID
    at: dt.datetime


# Documents -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DocumentAdded(Event):
    individual_id: uuid.UUID
    document_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class DocumentStatusChanged(Event):
    """A document's status changed by hand (``revoked``, ``seized``, ``valid`` …)."""

    individual_id: uuid.UUID
    document_id: uuid.UUID
    organisation_id: uuid.UUID
    status: str


@dataclass(frozen=True, kw_only=True)
class RevocationListApplied(Event):
    """A government revocation list revoked documents of these people."""

    list_id: uuid.UUID
    individual_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, kw_only=True)
class PeopleImported(Event):
    """A spreadsheet import wrote these people and incidents (``app.imports``). The facts of
    each row (registered, document added, incident recorded) were held back while it ran: risk
    and alerts react once, here, for all of them, announced as one group (``import_id``)."""

    import_id: uuid.UUID
    individual_ids: tuple[uuid.UUID, ...]
    incident_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PeopleExported(Event):
    """A supervisor wrote every person of the organisation to a file (``haven export``)."""

    export_id: uuid.UUID
    organisation_id: uuid.UUID
    user_id: uuid.UUID


# The deployment -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DeploymentLockChanged(Event):
    """Haven was locked down (a raid) or unlocked; ``generation`` names this change."""

    locked: bool
    generation: int
    keyring_destroyed: bool = False


# Incidents and monitoring ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class IncidentRecorded(Event):
    incident_id: uuid.UUID
    individual_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, kw_only=True)
class ListMatched(Event):
    """Names on a published list (of arrests, of wanted people) matched these people."""

    list_id: uuid.UUID
    individual_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, kw_only=True)
class CountryEventRecorded(Event):
    """A country event (a crackdown, a new agreement) that affects these people."""

    event_id: uuid.UUID
    kind: str
    organisation_id: uuid.UUID
    individual_ids: tuple[uuid.UUID, ...]
    at: dt.datetime


# Risk ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Escalation:
    """One person's risk level rose into high or critical."""

    individual_id: uuid.UUID
    organisation_id: uuid.UUID
    level: str


@dataclass(frozen=True, kw_only=True)
class RiskEscalated(Event):
    """Reassessment raised these people's risk into high or critical (one event per run)."""

    escalations: tuple[Escalation, ...]
    at: dt.datetime
    group_key: str | None = None  # their alerts announced as one group (an import's id)


# Cases, consent and referrals ------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BreakGlassGranted(Event):
    case_id: uuid.UUID
    individual_id: uuid.UUID
    organisation_id: uuid.UUID
    grant_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class ConsentRecorded(Event):
    individual_id: uuid.UUID
    sharing_withdrawn: bool


@dataclass(frozen=True, kw_only=True)
class ReferralStepped(Event):
    """A referral was created, accepted, declined, revoked or expired."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    individual_id: uuid.UUID
    step: str
    from_organisation_id: uuid.UUID
    to_organisation_id: uuid.UUID


# Staff accounts and keys ----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TwoFactorReset(Event):
    """An administrator turned a user's two-factor sign-in off (their tokens are revoked)."""

    user_id: uuid.UUID
    organisation_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class CaseAccessGranted(Event):
    """A staff account was given (or created with) a role that reaches case content."""

    user_id: uuid.UUID
    organisation_id: uuid.UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class ApiKeyCreated(Event):
    """An automated system's key was made for this organisation."""

    api_key_id: uuid.UUID
    organisation_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class LookupBurst(Event):
    """A user passed the per-minute limit of lookups (searches by name or document number,
    duplicate checks): told once per minute of refusals, with the account as its subject."""

    user_id: uuid.UUID
    organisation_id: uuid.UUID


# Publishing ------------------------------------------------------------------------------------
E = TypeVar("E", bound=Event)
Reaction = Callable[[Session, Any], None]
Table = Mapping[type[Event], Sequence[Reaction]]


@dataclass(frozen=True)
class Reactions:
    """Who reacts to what, in order (see ``app.reactions``)."""

    table: Table

    def for_event(self, event: Event) -> Sequence[Reaction]:
        reactions = self.table.get(type(event))
        if not reactions:
            raise UnhandledEvent(f"no reaction is listed for {type(event).__name__}")
        return reactions


def attach(factory: sessionmaker[Session], table: Table) -> sessionmaker[Session]:
    """Sessions from ``factory`` publish to ``table``."""
    info = dict(factory.kw.get("info") or {})
    info[REACTIONS] = Reactions(table)
    factory.configure(info=info)
    return factory


def publish(session: Session, event: Event) -> None:
    """Run every reaction to ``event`` now, in order, in the caller's transaction."""
    reactions = session.info.get(REACTIONS)
    if not isinstance(reactions, Reactions):
        raise UnhandledEvent(f"{type(event).__name__}: this session has no reactions attached")
    for react in reactions.for_event(event):
        react(session, event)


def kinds() -> list[type[Event]]:
    """Every kind of event there is (a reaction table must list each)."""
    found: list[type[Event]] = []
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop(0)
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found
