"""Roles and what each may do, as data: one table from role to actions.

A route declares the one action it performs with ``require(Action.X)``; whether the caller's
role includes it is decided here and nowhere else (403). Which records the caller may touch is
a separate question, answered by ``app.auth.scope`` inside every query (404).
"""

from __future__ import annotations

import enum

from app.actor import Role as Role  # the roles themselves sit with the Actor type


class Action(enum.StrEnum):
    # Every signed-in caller
    SESSION = "session"  # sign out, two-factor enrolment, password
    WHOAMI = "whoami"  # /auth/me: every caller, API keys included
    # Administration: no case content
    USERS_MANAGE = "users.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    ORGANISATIONS_MANAGE = "organisations.manage"
    ORGANISATIONS_READ = "organisations.read"  # names only: to pick a referral's target
    WEBHOOKS_MANAGE = "webhooks.manage"
    REFERENCE_MANAGE = "reference.manage"
    # People and cases
    INDIVIDUALS_READ = "individuals.read"
    INDIVIDUALS_WRITE = "individuals.write"
    INDIVIDUALS_ERASE = "individuals.erase"
    INDIVIDUALS_MERGE = "individuals.merge"
    DUPLICATES_READ = "duplicates.read"
    DOCUMENTS_WRITE = "documents.write"
    REVOCATIONS_APPLY = "revocations.apply"
    UNHCR_WRITE = "unhcr.write"
    INCIDENTS_READ = "incidents.read"
    INCIDENTS_WRITE = "incidents.write"
    CASES_READ = "cases.read"
    CASES_WRITE = "cases.write"
    CASES_ASSIGN = "cases.assign"
    NOTES_WRITE = "notes.write"
    LEGAL_NOTES_WRITE = "legal_notes.write"
    ATTACHMENTS_WRITE = "attachments.write"
    HISTORY_READ = "history.read"
    EXPORT = "export"
    BREAK_GLASS = "break_glass"
    CONSENT_WRITE = "consent.write"
    REFERRALS_WRITE = "referrals.write"
    REFERRALS_DECIDE = "referrals.decide"
    REFERRALS_READ = "referrals.read"
    LISTS_MATCH = "lists.match"
    CHECK_INS_WRITE = "check_ins.write"
    # Risk and alerts
    RISK_READ = "risk.read"
    RISK_OVERRIDE = "risk.override"
    COUNTRY_EVENTS_WRITE = "country_events.write"
    ALERTS_READ = "alerts.read"
    ALERTS_HANDLE = "alerts.handle"
    # Notifications: one's own preferences and browsers; the on-call rota; who cannot be reached
    NOTIFICATIONS_OWN = "notifications.own"
    ON_CALL_READ = "on_call.read"
    ON_CALL_MANAGE = "on_call.manage"
    REACH_READ = "reach.read"
    # Oversight
    STATS_READ = "stats.read"
    AUDIT_READ = "audit.read"
    # Lock-down for a raid: every process stops serving records (app.lockdown)
    LOCKDOWN = "lockdown"


_CASE_WORK = {
    Action.INDIVIDUALS_READ,
    Action.INDIVIDUALS_WRITE,
    Action.DOCUMENTS_WRITE,
    Action.UNHCR_WRITE,
    Action.INCIDENTS_READ,
    Action.INCIDENTS_WRITE,
    Action.CASES_READ,
    Action.CASES_WRITE,
    Action.CASES_ASSIGN,
    Action.NOTES_WRITE,
    Action.ATTACHMENTS_WRITE,
    Action.HISTORY_READ,
    Action.EXPORT,
    Action.BREAK_GLASS,
    Action.CONSENT_WRITE,
    Action.DUPLICATES_READ,
    Action.ORGANISATIONS_READ,
    Action.REFERRALS_WRITE,
    Action.REFERRALS_READ,
    Action.LISTS_MATCH,
    Action.CHECK_INS_WRITE,
    Action.RISK_READ,
    Action.ALERTS_READ,
    Action.ALERTS_HANDLE,
    Action.NOTIFICATIONS_OWN,
    Action.ON_CALL_READ,
}

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(
        {
            Action.SESSION,
            Action.WHOAMI,
            Action.USERS_MANAGE,
            Action.API_KEYS_MANAGE,
            Action.ORGANISATIONS_MANAGE,
            Action.ORGANISATIONS_READ,
            Action.WEBHOOKS_MANAGE,
            Action.REFERENCE_MANAGE,
            Action.NOTIFICATIONS_OWN,
            Action.REACH_READ,
            Action.LOCKDOWN,
        }
    ),
    Role.SUPERVISOR: frozenset(
        _CASE_WORK
        | {
            Action.SESSION,
            Action.WHOAMI,
            Action.INDIVIDUALS_ERASE,
            Action.INDIVIDUALS_MERGE,
            Action.REVOCATIONS_APPLY,
            Action.RISK_OVERRIDE,
            Action.COUNTRY_EVENTS_WRITE,
            Action.REFERRALS_DECIDE,
            Action.ON_CALL_MANAGE,
            Action.REACH_READ,
            Action.LOCKDOWN,
        }
    ),
    Role.CASEWORKER: frozenset(_CASE_WORK | {Action.SESSION, Action.WHOAMI}),
    Role.LAWYER: frozenset(
        {
            Action.SESSION,
            Action.WHOAMI,
            Action.INDIVIDUALS_READ,
            Action.INCIDENTS_READ,
            Action.CASES_READ,
            Action.HISTORY_READ,
            Action.EXPORT,
            Action.LEGAL_NOTES_WRITE,
            Action.RISK_READ,
            Action.ALERTS_READ,
            Action.NOTIFICATIONS_OWN,
        }
    ),
    Role.ANALYST: frozenset(
        {Action.SESSION, Action.WHOAMI, Action.STATS_READ, Action.NOTIFICATIONS_OWN}
    ),
    Role.AUDITOR: frozenset(
        {Action.SESSION, Action.WHOAMI, Action.AUDIT_READ, Action.NOTIFICATIONS_OWN}
    ),
    Role.SERVICE: frozenset({Action.WHOAMI, Action.INCIDENTS_WRITE, Action.ALERTS_READ}),
}

# Roles an API key may carry: automated systems never act as a person.
API_KEY_ROLES = frozenset({Role.SERVICE})


def allows(role: str, action: Action) -> bool:
    try:
        return action in ROLE_ACTIONS[Role(role)]
    except ValueError:
        return False
