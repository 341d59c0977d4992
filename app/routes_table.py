"""Every HTTP route of the app with the action its role check requires (for tests and docs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.auth.deps import route_actions
from app.auth.roles import Action


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    endpoint: Callable[..., Any]
    actions: tuple[Action, ...]  # the role needs any one of these; empty means public


def _actions(dependant: Any) -> Iterator[Action]:
    for dep in getattr(dependant, "dependencies", []):
        if dep.call:
            yield from route_actions(dep.call)
        yield from _actions(dep)


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "effective_candidates"):  # routers included by newer FastAPI
            yield from _walk_effective(route.effective_candidates())


def _walk_effective(candidates: list[Any]) -> Iterator[tuple[str, APIRoute]]:
    for candidate in candidates:
        if hasattr(candidate, "effective_candidates"):
            yield from _walk_effective(candidate.effective_candidates())
        elif isinstance(getattr(candidate, "original_route", None), APIRoute):
            yield candidate.path, candidate.original_route


def api_routes(app: FastAPI) -> list[RouteInfo]:
    found = []
    for path, route in _walk(list(app.router.routes)):
        actions = tuple(dict.fromkeys(_actions(route.dependant)))
        found.append(RouteInfo(path, frozenset(route.methods or ()), route.endpoint, actions))
    return found
