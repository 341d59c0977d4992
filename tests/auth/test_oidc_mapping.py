"""Single sign-on's account rules against the loopback provider (tests/auth/oidc_provider.py):
HAVEN_OIDC_ROLE_CLAIM/HAVEN_OIDC_ROLE_MAP (the provider's groups decide role and
organisation), HAVEN_OIDC_LINK_BY_EMAIL (first sign-in by a verified e-mail address) and the
passkey policy (HAVEN_REQUIRE_PASSKEY_ROLES), which single sign-on does not get around."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from app.auth import oidc
from app.db import transaction
from app.main import create_app
from app.models.audit import AuditEntry
from app.models.passkey import OidcLink
from app.models.user import User
from app.oidc_roles import RoleRule, claim_values, mapped, parse_role_map
from tests.auth.authenticator import register
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running
from tests.auth.test_oidc import HAVEN, _client, _sso
from tests.conftest import database_url, make_settings
from tests.factories import API, UserHandle, login, make_organisation, make_user, unique

NORTH, SOUTH = "Haven Aid North", "Haven Aid South"
ROLE_MAP = (
    f"haven-supervisors=supervisor@{NORTH}; haven-caseworkers=caseworker@{NORTH};"
    f" cn=legal,ou=groups,dc=example,dc=org=lawyer@{SOUTH}; haven-ghosts=caseworker@Nowhere"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Provider]]:
    tmp = tmp_path_factory.mktemp("oidc-mapping")
    with running(f"{HAVEN}/auth/oidc/callback") as provider, database_url(tmp) as url:
        app = create_app(
            make_settings(
                tmp,
                url,
                public_url=HAVEN,
                oidc_issuer=provider.issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
                oidc_role_claim="groups",
                oidc_role_map=ROLE_MAP,
                oidc_link_by_email="true",
                require_passkey_roles="supervisor",
            )
        )
        make_organisation(app, NORTH)
        make_organisation(app, SOUTH)
        try:
            yield app, provider
        finally:
            app.state.engine.dispose()


def _org(app: FastAPI, name: str) -> Any:
    return make_organisation(app, name)  # resolves the existing one by name


def _user(app: FastAPI, role: str, org: str = NORTH, **fields: str) -> UserHandle:
    return make_user(app, role, organisation=_org(app, org), **fields)


def _link(app: FastAPI, provider: Provider, user: UserHandle, subject: str) -> None:
    with transaction(app.state.sessionmaker) as session:
        oidc.link(session, None, user.id, provider.issuer, subject)


def _account(app: FastAPI, user_id: uuid.UUID) -> tuple[str, uuid.UUID, bool]:
    with transaction(app.state.sessionmaker) as session:
        row = session.get(User, user_id)
        assert row is not None
        return row.role, row.organisation_id, row.disabled


def _audit(app: FastAPI, action: str, user_id: uuid.UUID | None = None) -> list[str]:
    with transaction(app.state.sessionmaker) as session:
        query = select(AuditEntry.details).where(AuditEntry.action == action)
        if user_id is not None:
            query = query.where(AuditEntry.subject_id == user_id)
        return [d or "" for d in session.scalars(query.order_by(AuditEntry.seq))]


def _last_refusal(app: FastAPI) -> str:
    return _audit(app, "auth.login_failed")[-1]


# HAVEN_OIDC_ROLE_CLAIM and HAVEN_OIDC_ROLE_MAP --------------------------------------------------
def test_the_groups_change_role_and_organisation_and_end_the_sessions(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    user = _user(app, "caseworker")
    _link(app, provider, user, "staff-promoted")
    with _client(app) as client:
        old = login(client, user)  # a session from before the change
        provider.claims = {"groups": ["staff", "haven-supervisors", "haven-caseworkers"]}
        answer = _sso(client, provider, "staff-promoted")
        assert answer.status_code == 303, answer.text
        me = client.get(f"{API}/auth/me").json()
        assert me["role"] == "supervisor"  # the first entry of the map that matches wins
        assert client.get(f"{API}/auth/me", headers=old).status_code == 401  # ended
    assert _account(app, user.id)[:2] == ("supervisor", _org(app, NORTH).id)
    assert '"role"' in _audit(app, "user.update", user.id)[-1]

    # One LDAP-style group (with its own "=" signs) moves the account to another organisation.
    with _client(app) as client:
        provider.claims = {"groups": "cn=legal,ou=groups,dc=example,dc=org"}  # one string
        assert _sso(client, provider, "staff-promoted").status_code == 303
        assert client.get(f"{API}/auth/me").json()["role"] == "lawyer"
    assert _account(app, user.id)[:2] == ("lawyer", _org(app, SOUTH).id)
    assert "organisation" in _audit(app, "user.update", user.id)[-1]

    # The same groups again: nothing to change, nothing audited, the session stays.
    with _client(app) as client:
        kept = login(client, user)
        changes = len(_audit(app, "user.update", user.id))
        assert _sso(client, provider, "staff-promoted").status_code == 303
        assert client.get(f"{API}/auth/me", headers=kept).status_code == 200
    assert len(_audit(app, "user.update", user.id)) == changes


def test_no_mapped_group_is_refused_and_never_grants_admin(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    user = _user(app, "caseworker")
    _link(app, provider, user, "staff-unmapped")
    # "admin" and near-misses of a mapped group are not in the map: no role at all.
    for claims in (
        {"groups": ["admin", "haven-admins", "Haven-Supervisors", "haven-supervisors "]},
        {"groups": []},
        {},  # the provider did not send the claim
        {"groups": {"haven-supervisors": True}},  # not a list of names
    ):
        provider.claims = claims
        with _client(app) as client:
            answer = _sso(client, provider, "staff-unmapped")
            assert answer.status_code == 401
            assert "in no group that has a Haven role" in answer.text
            assert client.get(f"{API}/auth/me").status_code == 401
        assert "no role for the groups" in _last_refusal(app)
    assert _account(app, user.id)[:2] == ("caseworker", _org(app, NORTH).id)


def test_a_mapped_organisation_that_does_not_exist_is_refused(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    user = _user(app, "caseworker")
    _link(app, provider, user, "staff-ghost")
    provider.claims = {"groups": ["haven-ghosts"]}
    with _client(app) as client:
        answer = _sso(client, provider, "staff-ghost")
        assert answer.status_code == 401 and "Nowhere" in answer.text
    assert "mapped organisation does not exist" in _last_refusal(app)
    assert _account(app, user.id)[:2] == ("caseworker", _org(app, NORTH).id)


def test_a_disabled_account_stays_out_whatever_the_groups_say(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    user = _user(app, "caseworker")
    _link(app, provider, user, "staff-gone")
    with _client(app) as client:
        admin = login(client, make_user(app, "admin"))
        assert client.delete(f"{API}/users/{user.id}", headers=admin).status_code in (200, 204)
        provider.claims = {"groups": ["haven-supervisors"]}
        assert _sso(client, provider, "staff-gone").status_code == 401
        assert client.get(f"{API}/auth/me").status_code == 401
    assert "account disabled" in _last_refusal(app)
    assert _account(app, user.id) == ("caseworker", _org(app, NORTH).id, True)  # unchanged


# HAVEN_REQUIRE_PASSKEY_ROLES ---------------------------------------------------------------------
def test_a_role_that_must_use_its_passkey_is_refused_single_sign_on(
    world: tuple[FastAPI, Provider],
) -> None:
    app, provider = world
    supervisor = _user(app, "supervisor")
    caseworker = _user(app, "caseworker")
    _link(app, provider, supervisor, "staff-passkey-supervisor")
    _link(app, provider, caseworker, "staff-passkey-caseworker")
    with _client(app) as client:
        register(client, login(client, supervisor))
        register(client, login(client, caseworker))
    with _client(app) as client:
        provider.claims = {"groups": ["haven-supervisors"]}
        answer = _sso(client, provider, "staff-passkey-supervisor")
        assert answer.status_code == 401
        assert "signs in with a passkey, not single sign-on" in answer.text
        assert client.get(f"{API}/auth/me").status_code == 401
    refused = _audit(app, "auth.login_refused", supervisor.id)
    assert refused and "passkey required" in refused[-1] and "oidc" in refused[-1]

    # A caseworker with a passkey is not bound by it (not a role of the policy) ...
    with _client(app) as client:
        provider.claims = {"groups": ["haven-caseworkers"]}
        assert _sso(client, provider, "staff-passkey-caseworker").status_code == 303
    # ... but becomes so when the groups make it a supervisor: refused, and the role is not
    # changed by a sign-in that did not happen.
    with _client(app) as client:
        provider.claims = {"groups": ["haven-supervisors"]}
        assert _sso(client, provider, "staff-passkey-caseworker").status_code == 401
    assert _account(app, caseworker.id)[0] == "caseworker"


def test_a_supervisor_without_a_passkey_still_signs_in(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    supervisor = _user(app, "supervisor")
    _link(app, provider, supervisor, "staff-no-passkey-yet")
    provider.claims = {"groups": ["haven-supervisors"]}
    with _client(app) as client:
        assert _sso(client, provider, "staff-no-passkey-yet").status_code == 303
        assert client.get(f"{API}/auth/me").json()["username"] == supervisor.username


# HAVEN_OIDC_LINK_BY_EMAIL ------------------------------------------------------------------------
def _links(app: FastAPI, user_id: uuid.UUID) -> list[str]:
    with transaction(app.state.sessionmaker) as session:
        return list(session.scalars(select(OidcLink.subject).where(OidcLink.user_id == user_id)))


def test_first_sign_in_links_by_a_verified_email(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    address = f"{unique('amina')}@example.org"
    user = _user(app, "caseworker", email=address)
    _user(app, "caseworker", email=f"other-{address}")  # a near miss is not a match
    provider.claims = {
        "email": address.upper(),  # providers differ in case
        "email_verified": True,
        "groups": ["haven-caseworkers"],
    }
    with _client(app) as client:
        start = client.get("/auth/oidc/login", follow_redirects=False)
        assert "scope=openid+email" in start.headers["location"]  # the address is asked for
        answer = _sso(client, provider, "staff-by-email")
        assert answer.status_code == 303, answer.text
        assert client.get(f"{API}/auth/me").json()["username"] == user.username
    assert _links(app, user.id) == ["staff-by-email"]
    linked = _audit(app, "user.oidc_linked", user.id)
    assert len(linked) == 1 and "verified e-mail" in linked[0]
    # Linked once: from now on the subject alone signs in, whatever the address says.
    provider.claims = {"groups": ["haven-caseworkers"]}
    with _client(app) as client:
        assert _sso(client, provider, "staff-by-email").status_code == 303
    assert len(_audit(app, "user.oidc_linked", user.id)) == 1


def test_an_unverified_or_shared_email_links_nothing(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    address = f"{unique('unverified')}@example.org"
    user = _user(app, "caseworker", email=address)
    for verified in (False, "true", None):  # only the JSON true is verified
        provider.claims = {"email": address, "groups": ["haven-caseworkers"]}
        if verified is not None:
            provider.claims["email_verified"] = verified
        with _client(app) as client:
            answer = _sso(client, provider, "staff-unverified")
            assert answer.status_code == 401
            assert "Haven account is linked to this sign-in" in answer.text
    assert _links(app, user.id) == []

    shared = f"{unique('shared')}@example.org"
    first = _user(app, "caseworker", email=shared)
    second = _user(app, "caseworker", org=SOUTH, email=shared)
    provider.claims = {"email": shared, "email_verified": True, "groups": ["haven-caseworkers"]}
    with _client(app) as client:
        assert _sso(client, provider, "staff-shared").status_code == 401
    assert "e-mail ambiguous" in _audit(app, "auth.login_failed")[-2]
    assert _links(app, first.id) == [] and _links(app, second.id) == []


def test_an_existing_link_is_never_replaced_by_email(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    address = f"{unique('linked')}@example.org"
    user = _user(app, "caseworker", email=address)
    _link(app, provider, user, "staff-original")
    provider.claims = {"email": address, "email_verified": True, "groups": ["haven-caseworkers"]}
    with _client(app) as client:
        assert _sso(client, provider, "staff-impostor").status_code == 401
        assert client.get(f"{API}/auth/me").status_code == 401
    assert "account linked to another identity" in _audit(app, "auth.login_failed")[-2]
    assert _links(app, user.id) == ["staff-original"]


def test_a_disabled_account_is_not_linked_by_email(world: tuple[FastAPI, Provider]) -> None:
    app, provider = world
    address = f"{unique('disabled')}@example.org"
    user = _user(app, "caseworker", email=address)
    with _client(app) as client:
        admin = login(client, make_user(app, "admin"))
        assert client.delete(f"{API}/users/{user.id}", headers=admin).status_code in (200, 204)
        provider.claims = {"email": address, "email_verified": True, "groups": ["x"]}
        assert _sso(client, provider, "staff-disabled-email").status_code == 401
    assert _links(app, user.id) == []


# The settings, checked at start-up ---------------------------------------------------------------
def test_the_role_map_is_parsed_in_order() -> None:
    rules = parse_role_map(ROLE_MAP + ";")
    assert rules[0] == RoleRule("haven-supervisors", "supervisor", NORTH)
    assert rules[2] == RoleRule("cn=legal,ou=groups,dc=example,dc=org", "lawyer", SOUTH)
    assert parse_role_map("Staff=ADMIN@Org @ Bangkok") == (
        RoleRule("Staff", "admin", "Org @ Bangkok"),
    )
    assert mapped(rules, ["haven-caseworkers", "haven-supervisors"]) == rules[0]
    assert mapped(rules, ["nothing"]) is None
    nested = {"realm_access": {"roles": ["a", 3, "b"]}, "https://x.org/groups": ["c"]}
    assert claim_values(nested, "realm_access.roles") == ["a", "b"]
    assert claim_values(nested, "https://x.org/groups") == ["c"]
    assert claim_values(nested, "missing.path") == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"oidc_role_map": "staff=caseworker"}, "is not GROUP=ROLE@ORGANISATION"),
        ({"oidc_role_map": "staff@Org"}, "is not GROUP=ROLE@ORGANISATION"),
        ({"oidc_role_map": "=caseworker@Org"}, "is not GROUP=ROLE@ORGANISATION"),
        ({"oidc_role_map": "staff=boss@Org"}, "names the role 'boss'"),
        ({"oidc_role_map": "bots=service@Org"}, "names the role 'service'"),
        ({"oidc_role_map": "a=caseworker@O;a=admin@O"}, "the group 'a' is mapped twice"),
        ({"oidc_role_map": " ; "}, "no GROUP=ROLE@ORGANISATION entry"),
    ],
)
def test_a_bad_role_map_stops_the_start(
    tmp_path: Any, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        make_settings(tmp_path, "sqlite://", oidc_role_claim="groups", **values)
    assert "HAVEN_OIDC_ROLE_MAP" in str(raised.value) and message in str(raised.value)


@pytest.mark.parametrize(
    "values", [{"oidc_role_claim": "groups"}, {"oidc_role_map": "a=caseworker@O"}]
)
def test_the_role_claim_and_map_come_together(tmp_path: Any, values: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="set together or not at all"):
        make_settings(tmp_path, "sqlite://", **values)
    assert make_settings(tmp_path, "sqlite://", oidc_role_claim="", oidc_role_map="")
