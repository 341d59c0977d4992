"""The one builder of the test world: organisations and users with sensible defaults, sign-in
through the real /auth/login, and people, cases, documents and incidents made through the API.

``Team`` is the builder: an organisation of its own, a signed-in member per role (made on first
use), and the steps that register a person, open a case, add a document or record an incident,
each asserting the 201 and returning the answer. The ``team`` fixture (tests/conftest.py) is one
on the session's app and the test's client; a test with an app of its own builds
``Team(app, client)``.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from fastapi import FastAPI
from sqlalchemy.orm import Session

from app import organisations
from app.auth.users import create_user
from app.db import transaction
from app.models.organisation import Organisation

API = "/api/v1"
PASSWORD = "a long enough test passphrase"


class Client(Protocol):
    """What the builder needs of a client: a TestClient, or an httpx.Client with a base_url."""

    def post(self, url: str, **kwargs: Any) -> Any: ...


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def passport_number(prefix: str = "N") -> str:
    """A random nine-character number (letter + eight digits), unlikely to exist already."""
    return prefix + "".join(random.choices("0123456789", k=8))


@contextmanager
def db(app: FastAPI) -> Iterator[Session]:
    """A committed transaction on the app's database, as the app itself opens them."""
    with transaction(app.state.sessionmaker) as session:
        yield session


@dataclass
class UserHandle:
    id: uuid.UUID
    username: str
    role: str
    organisation_id: uuid.UUID
    password: str = PASSWORD


def make_organisation(app: FastAPI, name: str | None = None) -> Organisation:
    with transaction(app.state.sessionmaker) as session:
        org, _ = organisations.resolve(session, name or unique("org"), create=True)
        return org


def make_user(
    app: FastAPI,
    role: str,
    *,
    organisation: Organisation | None = None,
    username: str | None = None,
    password: str = PASSWORD,
    **fields: str,
) -> UserHandle:
    with transaction(app.state.sessionmaker) as session:
        org = organisation or organisations.default_organisation(session)
        user = create_user(
            session,
            username=username or unique(role),
            role=role,
            password=password,
            organisation=org,
            **fields,
        )
        return UserHandle(user.id, user.username, user.role, org.id, password)


def login(client: Client, user: UserHandle, **extra: str) -> dict[str, str]:
    """Sign in through the real endpoint; returns the Authorization header."""
    response = client.post(
        f"{API}/auth/login", json={"username": user.username, "password": user.password, **extra}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Member:
    """A user signed in through /auth/login, and the headers their requests carry."""

    user: UserHandle
    headers: dict[str, str]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


# Who sends a request: a member, or the Authorization headers of a user or an API key.
Who = Member | Mapping[str, str]


def headers_of(who: Who) -> dict[str, str]:
    return who.headers if isinstance(who, Member) else dict(who)


def incident_body(*people: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
    """A detention in Thailand three days ago naming ``people``, graded B2; ``fields`` win."""
    body: dict[str, Any] = {
        "type": "detention",
        "occurred_on": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
        "country": "THA",
        "location": "Immigration detention centre, Suan Phlu",
        "description": "Held by immigration police after a raid on the flat.",
        "perpetrator": "Immigration police",
        "individual_ids": [str(p) for p in people],
        "source": {"name": "Family member", "reliability": "B", "credibility": 2},
    }
    body.update(fields)
    return body


class Team:
    """An organisation of its own on ``app``, and the builder of everything a test puts in it.

    ``team.caseworker`` (likewise supervisor, lawyer, admin, analyst, auditor; any role by
    ``team.signed_in(role)``) is the team's one member of that role, made and signed in on first
    use; ``team.member(role)`` makes another each call;
    ``team.monitor`` is a service API key of the organisation. The steps take who sends them
    (a member or headers) and go through the API the way a client would."""

    def __init__(
        self, app: FastAPI, client: Client, organisation: Organisation | None = None
    ) -> None:
        self.app, self.client = app, client
        self._organisation = organisation
        self._members: dict[str, Member] = {}

    @property
    def organisation(self) -> Organisation:
        """The team's organisation (made on first use unless one was given)."""
        if self._organisation is None:
            self._organisation = make_organisation(self.app)
        return self._organisation

    # -- organisations and users -------------------------------------------------------------

    def elsewhere(self) -> Team:
        """Another organisation on the same app, sent to through the same client."""
        return Team(self.app, self.client)

    def user(self, role: str, **fields: Any) -> UserHandle:
        """A new user of this organisation (username, password, email … as given)."""
        return make_user(self.app, role, organisation=self.organisation, **fields)

    def login(self, user: UserHandle, **extra: str) -> dict[str, str]:
        return login(self.client, user, **extra)

    def member(self, role: str, **fields: Any) -> Member:
        """A new user of this organisation, signed in."""
        user = self.user(role, **fields)
        return Member(user, self.login(user))

    def signed_in(self, role: str) -> Member:
        """The team's one member of ``role``, made and signed in on first use."""
        if role not in self._members:
            self._members[role] = self.member(role)
        return self._members[role]

    @property
    def supervisor(self) -> Member:
        return self.signed_in("supervisor")

    @property
    def caseworker(self) -> Member:
        return self.signed_in("caseworker")

    @property
    def lawyer(self) -> Member:
        return self.signed_in("lawyer")

    @property
    def admin(self) -> Member:
        return self.signed_in("admin")

    @property
    def analyst(self) -> Member:
        return self.signed_in("analyst")

    @property
    def auditor(self) -> Member:
        return self.signed_in("auditor")

    @cached_property
    def monitor(self) -> dict[str, str]:
        """The headers of a service API key of this organisation, made by its admin."""
        response = self.client.post(
            f"{API}/api-keys",
            json={"name": unique("monitor"), "role": "service"},
            headers=self.admin.headers,
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['key']}"}

    # -- records, through the API -------------------------------------------------------------

    def _created(self, who: Who, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"{API}{path}", json=dict(body), headers=headers_of(who))
        assert response.status_code == 201, response.text
        return response.json()

    def register(self, who: Who, **fields: Any) -> dict[str, Any]:
        """POST /individuals: a Cambodian national unless told otherwise; the answer."""
        body = {"full_name": f"Person {uuid.uuid4().hex[:8]}", "nationalities": ["KHM"]}
        return self._created(who, "/individuals", body | fields)

    def person(self, who: Who, **fields: Any) -> uuid.UUID:
        """As ``register``; the new person's id."""
        return uuid.UUID(self.register(who, **fields)["id"])

    def case(self, who: Who, person: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
        """POST /cases for ``person``; the answer."""
        return self._created(who, "/cases", {"individual_id": str(person), **fields})

    def document(self, who: Who, person: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
        """A valid Cambodian passport with a fresh number (none when an MRZ is given)."""
        body: dict[str, Any] = {"type": "passport", "issuing_country": "KHM", "status": "valid"}
        if "mrz" not in fields:
            body["number"] = passport_number()
        return self._created(who, f"/individuals/{person}/documents", body | fields)

    def incident(self, who: Who, *people: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
        """POST /incidents with ``incident_body``; the answer."""
        return self._created(who, "/incidents", incident_body(*people, **fields))

    def unhcr_status(self, who: Who, person: uuid.UUID | str, **fields: Any) -> dict[str, Any]:
        """POST /individuals/{person}/unhcr-status: an asylum seeker since today unless told."""
        body = {"status": "asylum_seeker", "effective_date": dt.date.today().isoformat()}
        return self._created(who, f"/individuals/{person}/unhcr-status", body | fields)

    def note(self, who: Who, case: uuid.UUID | str, body: str) -> dict[str, Any]:
        """POST /cases/{case}/notes; the answer."""
        return self._created(who, f"/cases/{case}/notes", {"body": body})

    def assign(
        self, who: Who, case: uuid.UUID | str, user: Member | UserHandle, role: str | None = None
    ) -> Any:
        """POST /cases/{case}/assignments (``role`` defaults to the user's); the response."""
        handle = user.user if isinstance(user, Member) else user
        return self.client.post(
            f"{API}/cases/{case}/assignments",
            json={"user_id": str(handle.id), "role": role or handle.role},
            headers=headers_of(who),
        )
