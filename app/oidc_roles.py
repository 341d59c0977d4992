"""HAVEN_OIDC_ROLE_CLAIM and HAVEN_OIDC_ROLE_MAP: the identity provider's groups decide a
single sign-on user's Haven role and organisation.

``HAVEN_OIDC_ROLE_CLAIM`` names the ID token's claim that lists the user's groups (``groups``;
a nested claim by dots, ``realm_access.roles``); ``HAVEN_OIDC_ROLE_MAP`` maps group names to a
role and an organisation, entries separated by ``;``::

    HAVEN_OIDC_ROLE_CLAIM=groups
    HAVEN_OIDC_ROLE_MAP="haven-supervisors=supervisor@Org Name;haven-staff=caseworker@Org Name"

Each entry is ``GROUP=ROLE@ORGANISATION``: the group as the provider names it (the last ``=``
ends it, so an LDAP name such as ``cn=x,ou=groups`` works), a Haven role, and an organisation
by its name. When a user is in several mapped groups, the first entry of the map wins. Nothing
here grants a role the map does not name: no entry, no role (the sign-in is refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.actor import Role

# The roles of people: ``service`` belongs to API keys only.
PERSON_ROLES = tuple(r.value for r in Role if r is not Role.SERVICE)


@dataclass(frozen=True)
class RoleRule:
    group: str
    role: str
    organisation: str


def parse_role_map(text: str) -> tuple[RoleRule, ...]:
    """The entries of HAVEN_OIDC_ROLE_MAP, in order; ``ValueError`` naming the bad entry."""
    rules: list[RoleRule] = []
    seen: set[str] = set()
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        group, equals, target = entry.rpartition("=")
        role, at, organisation = target.partition("@")
        group, role, organisation = group.strip(), role.strip().lower(), organisation.strip()
        if not equals or not at or not group or not organisation:
            raise ValueError(
                f"HAVEN_OIDC_ROLE_MAP: {entry!r} is not GROUP=ROLE@ORGANISATION "
                "(entries separated by ;)"
            )
        if role not in PERSON_ROLES:
            raise ValueError(
                f"HAVEN_OIDC_ROLE_MAP: {entry!r} names the role {role!r}; "
                f"one of: {', '.join(PERSON_ROLES)}"
            )
        if group in seen:
            raise ValueError(f"HAVEN_OIDC_ROLE_MAP: the group {group!r} is mapped twice")
        seen.add(group)
        rules.append(RoleRule(group, role, organisation))
    if not rules:
        raise ValueError("HAVEN_OIDC_ROLE_MAP: no GROUP=ROLE@ORGANISATION entry")
    return tuple(rules)


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The groups the claim ``name`` lists (a list of strings, or one string); a name with
    dots that is not itself a claim is a path into nested claims."""
    value: Any = claims.get(name)
    if name not in claims and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v for v in value if isinstance(v, str)]
    return []


def mapped(rules: Sequence[RoleRule], groups: Sequence[str]) -> RoleRule | None:
    """The first rule whose group the user is in; None when no group is mapped."""
    present = set(groups)
    return next((rule for rule in rules if rule.group in present), None)
