"""A case as the browser tests find it: a person with a history, a team, a stranger.

Set up through the live server's API with the builder of tests/factories.py, as a client would;
the people are fictional and the names fixed, so the screenshots read like the real thing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from tests.factories import Team, UserHandle, make_organisation

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


def build_case(app: FastAPI, url: str) -> CaseWorld:
    """The world on ``app``, served at ``url``."""
    today = dt.date.today()
    with httpx.Client(base_url=url, timeout=30) as client:
        team = Team(app, client, make_organisation(app, "Mekong Legal Aid"))
        supervisor = team.user("supervisor", username="chanthou")
        cw = team.member("caseworker", username="bopha")
        lawyer = team.user("lawyer", username="vannak.counsel")
        stranger = team.user("lawyer", username="rithy.counsel")
        person = team.person(
            cw,
            full_name="Chea Sopheap",
            native_name="ជា សុភាព",
            aliases=["Sopheap Chea"],
            date_of_birth="1986-05-02",
            sex="female",
            nationalities=["KHM"],
            affiliation="Cambodia National Rescue Party",
            affiliation_role="youth leader",
            current_country="THA",
            current_location="Bangkok, Bang Kapi district",
            check_in_every_hours=48,
        )
        case = team.case(cw, person, title=TITLE, priority="urgent")
        team.document(
            cw,
            person,
            number="N01934821",
            expires_on=(today + dt.timedelta(days=900)).isoformat(),
        )
        team.unhcr_status(
            cw,
            person,
            status="person_of_concern",
            effective_date=(today - dt.timedelta(days=40)).isoformat(),
            unhcr_reference="BKK-19-04122",
        )
        for kind, days, text in (
            ("surveillance", 20, "Followed from her flat to the market by two men."),
            ("detention", 1, "Detained by immigration police; removal to Phnom Penh feared."),
        ):
            team.incident(
                cw,
                person,
                type=kind,
                occurred_on=(today - dt.timedelta(days=days)).isoformat(),
                location=None,
                perpetrator=None,
                description=text,
                source={"name": "Her sister", "reliability": "B", "credibility": 2},
            )
        assigned = team.assign(cw, case["id"], lawyer, "lawyer")
        assert assigned.status_code == 201, assigned.text
        team.note(cw, case["id"], "Family informed; lawyer briefed by phone.")
    return CaseWorld(supervisor, cw.user, lawyer, stranger, person, uuid.UUID(case["id"]))
