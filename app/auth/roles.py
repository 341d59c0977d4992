"""Roles and what each may do, as data."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CASEWORKER = "caseworker"
    LAWYER = "lawyer"
    ANALYST = "analyst"
    AUDITOR = "auditor"
    SERVICE = "service"
