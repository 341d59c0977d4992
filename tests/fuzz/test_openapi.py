"""Fuzzing the HTTP API against its own OpenAPI document, once per role.

Schemathesis loads /openapi.json from the app in-process and generates requests for every
operation, valid and invalid, half of them aimed at real records of the caller's organisation
(seeded afresh for each role) and the rest at unknown or malformed ids. Every answer must have
a documented status, never a 5xx, with a body that matches the schema declared for it.

The run is short by default (CI). ``HAVEN_FUZZ_EXAMPLES=N`` asks for N examples per operation
and role; under scripts/test, which passes on only ``HAVEN_TEST_*`` variables, it is
``HAVEN_TEST_FUZZ_EXAMPLES=N scripts/test tests/fuzz``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, configuration, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import CacheConfig
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth import roles
from app.auth.roles import Action, Role
from app.main import create_app
from app.routes_table import api_routes
from tests.conftest import database_url, fresh_address, make_settings
from tests.factories import API, Team, unique

ROLES = [r.value for r in Role]
EXAMPLES = int(
    os.environ.get("HAVEN_FUZZ_EXAMPLES") or os.environ.get("HAVEN_TEST_FUZZ_EXAMPLES") or 5
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The only operations left out, each for a reason of its own.
EXCLUDED = {
    ("POST", f"{API}/auth/logout"),  # ends the very session the rest of the run signs with
}
ERASURE = ("DELETE", f"{API}/individuals/{{individual_id}}")
# Fixed parameters per operation, on top of the generated ones.
FIXED_QUERY = {
    ("GET", f"{API}/alerts/stream"): {"once": True},  # a stream held open never answers
}


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis's caches go to a temporary folder, not into the work tree."""
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """An app on a database of its own: fuzzed reference data and accounts stay in it."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with database_url(tmp) as url:
        application = create_app(make_settings(tmp, url))
        yield application
        asgi.shutdown_lifespans()
        application.state.engine.dispose()


@pytest.fixture(scope="module")
def client(fuzz_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(fuzz_app, client=(fresh_address(), 50000)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def schema(fuzz_app: FastAPI) -> Any:
    config = schemathesis.Config(cache=CacheConfig(enabled=False))
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=config)


@pytest.fixture(scope="module")
def team(fuzz_app: FastAPI, client: TestClient) -> Team:
    """The shared team fixture's builder, on the fuzzed app, for the whole module."""
    return Team(fuzz_app, client)


@pytest.fixture(scope="module")
def headers(team: Team) -> dict[str, dict[str, str]]:
    """One signed-in caller per role in one organisation (an API key for the service role)."""
    signed_in = {role: team.signed_in(role).headers for role in ROLES if role != Role.SERVICE}
    signed_in["service"] = team.monitor
    return signed_in


def _created(response: Any) -> str:
    assert response.status_code == 201, response.text
    return response.json()["id"]


def seed(team: Team, headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """Fresh records for one role's run, by path parameter name."""
    client = team.client
    cw, sup, admin = headers["caseworker"], headers["supervisor"], headers["admin"]
    person = team.register(cw, full_name=unique("Fuzz Person"), current_country="THA")["id"]
    case = team.case(cw, person)["id"]
    lawyer = team.user("lawyer")
    assigned = team.assign(cw, case, lawyer)
    assert assigned.status_code in (200, 201), assigned.text
    document = team.document(cw, person, number=unique("N").upper().replace("-", ""))["id"]
    incident = team.incident(
        cw,
        person,
        occurred_on=dt.date.today().isoformat(),
        description="Held at the airport.",
        source={"name": "monitor", "reliability": "B", "credibility": 2},
    )["id"]
    attachment = _created(
        client.post(
            f"{API}/cases/{case}/attachments",
            files={"file": ("statement.txt", b"A witness statement.", "text/plain")},
            headers=cw,
        )
    )
    alerts = client.get(f"{API}/alerts", params={"individual_id": person}, headers=sup).json()
    webhook = _created(
        client.post(
            f"{API}/webhooks",
            json={"url": "https://hooks.example.org/haven", "events": ["*"]},
            headers=admin,
        )
    )
    key = _created(
        client.post(f"{API}/api-keys", json={"name": unique("k"), "role": "service"}, headers=admin)
    )
    return {
        "individual_id": person,
        "case_id": case,
        "document_id": document,
        "incident_id": incident,
        "attachment_id": attachment,
        "alert_id": alerts["items"][0]["id"],
        "webhook_id": webhook,
        "key_id": key,
        # The case's lawyer, and the account an administrator's run may change or disable.
        "user_id": str(lawyer.id),
        "code": "ISL",
    }


def _key(operation: Any) -> tuple[str, str]:
    return operation.method.upper(), operation.path


def _operations(schema: Any) -> list[Any]:
    found = [r.ok() for r in schema.get_all_operations() if _key(r.ok()) not in EXCLUDED]
    # Removals last and the erasure of the person very last, so the others find the records.
    return sorted(found, key=lambda op: (op.method.upper() == "DELETE", _key(op) == ERASURE))


def _actions(app: FastAPI) -> dict[tuple[str, str], tuple[Action, ...]]:
    """The actions each operation's role check asks for (none: a public route)."""
    return {
        (method, route.path): route.actions for route in api_routes(app) for method in route.methods
    }


def _strategy(operation: Any, ids: dict[str, str]) -> st.SearchStrategy[Any]:
    names = {p.name for p in operation.path_parameters}
    known = {name: ids[name] for name in names if name in ids}
    query = FIXED_QUERY.get(_key(operation))
    positive = schemathesis.GenerationMode.POSITIVE
    negative = schemathesis.GenerationMode.NEGATIVE
    kinds = [
        operation.as_strategy(positive, query=query),
        operation.as_strategy(negative, query=query),
    ]
    if known:
        # Half of the examples reach a real record; the rest try unknown and malformed ids.
        real = operation.as_strategy(positive, path_parameters=known, query=query)
        kinds = [real, kinds[0], real, kinds[1]]
    return st.one_of(kinds)


def fuzz(operation: Any, ids: dict[str, str], auth: dict[str, str], examples: int) -> list[str]:
    """Every distinct kind of failure of one operation, one line each."""
    failures: dict[str, str] = {}

    @given(case=_strategy(operation, ids))
    @settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=auth, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.setdefault(failure.title, f"{_one_line(failure.message)} [{_sent(case)}]")
        except Exception as exc:  # raised by the app: its client would have seen a 500
            failures.setdefault(type(exc).__name__, f"raised {exc!r} [{_sent(case)}]")

    run()
    return [f"{operation.label}: {line}" for line in failures.values()]


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:300]


def _sent(case: Any) -> str:
    body = "" if case.body is None or isinstance(case.body, type(NOT_SET)) else case.body
    return _one_line(f"{case.formatted_path} query={case.query} body={body!r}")


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_keeps_its_contract(
    fuzz_app: FastAPI,
    client: TestClient,
    schema: Any,
    team: Team,
    headers: dict[str, dict[str, str]],
    role: str,
) -> None:
    """Each role, with records of its own: every operation it may perform gets the full run;
    one its role may not perform gets a single example, since the role check answers (403)
    before the input is read (tests/auth/test_matrix.py holds every such refusal)."""
    ids = seed(team, headers)
    actions = _actions(fuzz_app)
    failures: list[str] = []
    for operation in _operations(schema):
        required = actions[_key(operation)]
        if not required:
            continue  # public: test_public_operations_keep_their_contract
        allowed = any(roles.allows(role, action) for action in required)
        examples = EXAMPLES if allowed else max(1, EXAMPLES // 5)
        failures.extend(fuzz(operation, ids, headers[role], examples))
    if failures:
        pytest.fail(f"{len(failures)} contract failures as {role}:\n" + "\n".join(failures))


def test_public_operations_keep_their_contract(fuzz_app: FastAPI, schema: Any) -> None:
    """Sign-in and the operations endpoints, without credentials."""
    actions = _actions(fuzz_app)
    failures: list[str] = []
    for operation in _operations(schema):
        if not actions[_key(operation)]:
            failures.extend(fuzz(operation, {}, {}, EXAMPLES))
    if failures:
        pytest.fail(f"{len(failures)} contract failures:\n" + "\n".join(failures))


# Found by fuzzing: each reached the database, where PostgreSQL refuses NUL (a 500 there).
NUL = "a\x00b"
REFUSED = [
    ("public", "POST", "/auth/login", {"json": {"username": NUL, "password": "p"}}),
    ("admin", "POST", "/api-keys", {"json": {"name": NUL, "role": "service"}}),
    ("admin", "POST", "/webhooks", {"json": {"url": f"https://{NUL}.example.org/"}}),
    ("caseworker", "POST", "/individuals/{individual_id}/check-ins", {"json": {"channel": NUL}}),
    ("auditor", "GET", "/audit", {"params": {"action": NUL}}),
]


@pytest.mark.parametrize(("role", "method", "path", "request_"), REFUSED)
def test_control_characters_are_refused_before_the_database(
    fuzz_app: FastAPI,
    client: TestClient,
    team: Team,
    headers: dict[str, dict[str, str]],
    role: str,
    method: str,
    path: str,
    request_: dict[str, Any],
) -> None:
    ids = seed(team, headers)
    response = client.request(
        method, API + path.format(**ids), headers=headers.get(role), **request_
    )
    assert response.status_code == 422, response.text


def test_exclusions_name_real_operations(fuzz_app: FastAPI, schema: Any) -> None:
    """Every operation is fuzzed but those named above, and those names are not stale."""
    every = {_key(r.ok()) for r in schema.get_all_operations()}
    fuzzed = {_key(op) for op in _operations(schema)}
    assert every >= EXCLUDED and FIXED_QUERY.keys() <= every
    assert every - fuzzed == EXCLUDED
    assert every <= _actions(fuzz_app).keys()
