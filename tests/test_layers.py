"""Routes and web pages parse HTTP, call a service and shape the response; what is audited and
what is in the caller's scope is decided in the services, once for the API and the web client.

A route or page that writes an audit entry itself (``audit.record``) or picks the records in
scope itself (``get_visible``, ``visible_cases`` …) is a second copy of a service's decision,
which the next change to the service leaves behind.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# The scope helpers of app.auth.scope, app.records.people and app.records.cases; and any
# ``get_visible…`` of a service module (an alert, a document, an attachment in scope).
SCOPE = frozenset(
    {"get_visible", "get_visible_case", "visible_cases", "visible_individuals", "hidden_fields"}
)
AUDIT_MODULE = "app.audit.service"


def http_modules(app: Path = APP) -> list[Path]:
    """The API's routes modules and the web client's pages."""
    found = {*app.glob("**/routes.py"), *app.glob("**/*_routes.py"), *app.glob("web/*.py")}
    return sorted(found)


def _is_scope(name: str) -> bool:
    return name in SCOPE or name.startswith("get_visible")


def forbidden_calls(source: str) -> list[tuple[int, str]]:
    """(line, call) for each call of ``audit.record`` or of a scope helper in ``source``,
    under whatever name it was imported."""
    tree = ast.parse(source)
    audit_modules: set[str] = set()  # names bound to app.audit.service
    audit_records: set[str] = set()  # names bound to app.audit.service.record
    scope_names: set[str] = set()  # names bound to a scope helper
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                if f"{node.module}.{alias.name}" == AUDIT_MODULE:
                    audit_modules.add(local)
                elif node.module == AUDIT_MODULE and alias.name == "record":
                    audit_records.add(local)
                elif _is_scope(alias.name):
                    scope_names.add(local)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == AUDIT_MODULE and alias.asname:
                    audit_modules.add(alias.asname)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in audit_records or func.id in scope_names or _is_scope(func.id):
                found.append((node.lineno, func.id))
        elif isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            if func.attr == "record" and (
                owner in audit_modules or owner == AUDIT_MODULE or owner == "audit"
            ):
                found.append((node.lineno, f"{owner}.record"))
            elif _is_scope(func.attr):
                found.append((node.lineno, f"{owner}.{func.attr}"))
    return sorted(found)


def test_routes_and_pages_leave_audit_and_scope_to_services() -> None:
    found = [
        f"{path.relative_to(APP.parent)}:{line}: {call}(...)"
        for path in http_modules()
        for line, call in forbidden_calls(path.read_text())
    ]
    assert not found, (
        "Routes and web pages call a service that audits and checks scope itself "
        "(add one to the domain's service module):\n" + "\n".join(found)
    )


def test_every_routes_module_and_page_is_checked() -> None:
    checked = {str(path.relative_to(APP)) for path in http_modules()}
    assert {
        "alerts/routes.py",
        "alerts/webhook_routes.py",
        "auth/routes.py",
        "cases/attachment_routes.py",
        "organisations_routes.py",
        "web/cases.py",
        "web/records.py",
    } <= checked


def test_the_check_finds_each_call_under_any_name() -> None:
    source = """
import app.audit.service as trail
from app.audit import service as audit
from app.audit.service import record as write_down
from app.alerts import queries
from app.auth import scope
from app.auth.scope import visible_cases as cases_in_scope
from app.records import people
from app.records.cases import get_visible_case
from app.records.people import get_visible as get_visible_person, hidden_fields

def route(session, actor, thing_id):
    audit.record(session, actor=actor, action="thing.read")
    trail.record(session, actor=actor, action="thing.read")
    write_down(session, actor=actor, action="thing.read")
    queries.get_visible(session, actor, thing_id)
    people.get_visible(session, actor, thing_id)
    get_visible_person(session, actor, thing_id)
    get_visible_case(session, actor, thing_id)
    hidden_fields(session, actor, None)
    scope.visible_individuals(actor)
    cases_in_scope(actor)
    attachments.get_visible_attachment(session, actor, thing_id)
    history.record(session, actor=actor)  # the timeline, not the audit trail
    return service.read(session, actor, thing_id)
"""
    assert [call for _, call in forbidden_calls(source)] == [
        "audit.record",
        "trail.record",
        "write_down",
        "queries.get_visible",
        "people.get_visible",
        "get_visible_person",
        "get_visible_case",
        "hidden_fields",
        "scope.visible_individuals",
        "cases_in_scope",
        "attachments.get_visible_attachment",
    ]
