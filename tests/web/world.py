"""A case as the browser tests find it: a person with a history, a team, a stranger.

Set up through the services, as the API would (setup is not what these tests test); the
people are fictional and the names fixed, so the screenshots read like the real thing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from fastapi import FastAPI

from app.auth.service import Actor
from app.cases import assignments, notes
from app.cases import service as cases
from app.db import transaction
from app.documents import service as documents
from app.incidents import service as incidents
from app.incidents.schemas import IncidentCreate
from app.individuals import service as individuals
from app.unhcr import service as unhcr
from tests.factories import UserHandle, make_organisation, make_user

TITLE = "Emergency injunction against deportation"


@dataclass(frozen=True)
class CaseWorld:
    supervisor: UserHandle
    caseworker: UserHandle
    lawyer: UserHandle
    stranger: UserHandle
    person_id: uuid.UUID
    case_id: uuid.UUID
    title: str = TITLE


def _actor(user: UserHandle) -> Actor:
    return Actor(user.id, user.username, user.role, user.organisation_id)


def build_case(app: FastAPI) -> CaseWorld:
    org = make_organisation(app, "Mekong Legal Aid")
    supervisor = make_user(app, "supervisor", organisation=org, username="chanthou")
    caseworker = make_user(app, "caseworker", organisation=org, username="bopha")
    lawyer = make_user(app, "lawyer", organisation=org, username="vannak.counsel")
    stranger = make_user(app, "lawyer", organisation=org, username="rithy.counsel")
    cw = _actor(caseworker)
    today = dt.date.today()
    with transaction(app.state.sessionmaker) as session:
        person = individuals.create(
            session,
            cw,
            {
                "full_name": "Chea Sopheap",
                "native_name": "ជា សុភាព",
                "aliases": ["Sopheap Chea"],
                "date_of_birth": dt.date(1986, 5, 2),
                "sex": "female",
                "nationalities": ["KHM"],
                "affiliation": "Cambodia National Rescue Party",
                "affiliation_role": "youth leader",
                "current_country": "THA",
                "current_location": "Bangkok, Bang Kapi district",
                "check_in_every_hours": 48,
            },
        )
        case = cases.open_case(
            session, cw, {"individual_id": person.id, "title": TITLE, "priority": "urgent"}
        )
        documents.add_document(
            session,
            cw,
            person,
            {
                "type": "passport",
                "number": "N01934821",
                "issuing_country": "KHM",
                "expires_on": today + dt.timedelta(days=900),
                "status": "valid",
            },
        )
        unhcr.add_status(
            session,
            cw,
            person,
            {
                "status": "person_of_concern",
                "effective_date": today - dt.timedelta(days=40),
                "unhcr_reference": "BKK-19-04122",
            },
        )
        for kind, days, text in (
            ("surveillance", 20, "Followed from her flat to the market by two men."),
            ("detention", 1, "Detained by immigration police; removal to Phnom Penh feared."),
        ):
            body = IncidentCreate.model_validate(
                {
                    "type": kind,
                    "occurred_on": (today - dt.timedelta(days=days)).isoformat(),
                    "country": "THA",
                    "description": text,
                    "individual_ids": [str(person.id)],
                    "source": {"name": "Her sister", "reliability": "B", "credibility": 2},
                }
            )
            incidents.record_incident(session, cw, body.model_dump())
        assignments.assign(session, cw, case["id"], lawyer.id, "lawyer")
        notes.add_note(session, cw, case["id"], "Family informed; lawyer briefed by phone.")
    return CaseWorld(supervisor, caseworker, lawyer, stranger, person.id, case["id"])
