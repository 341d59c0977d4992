"""Alert rules: which threat raises which alert, how severe, its dedup key, what mutes it (pure).

Semantics copied from Alertmanager and PagerDuty (shared/reference/DOMAIN.md §4):

- an alert is identified by ``dedup_key`` = SHA-256 of ``rule|individual_id|subject_id``; a
  repeat while it is open or acknowledged updates it, after resolution a new one opens. The
  incident rules name the threat by person and rule only (not by incident), so the same
  detention reported twice, by two sources, updates the one open alert;
- inhibition: an active critical ``host_custody`` or ``forced_return`` alert mutes every
  lower-severity alert of the same person, and an active ``passport_revoked`` alert mutes the
  expiry alerts of the same document; muted alerts are stored (``inhibited_by``) but notify
  nobody. Security alerts about staff (``break_glass``) are never muted;
- custody, removal and forced-return alerts are never resolved by a machine, only by a person
  with a note; expiry and check-in alerts resolve themselves when their condition clears.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence

SEVERITIES = ("info", "medium", "high", "critical")
RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
STATUSES = ("open", "acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")

# Incident rules (about a person; dedup by person and rule).
HOST_CUSTODY = "host_custody"
REMOVAL_ORDER = "removal_order"
FORCED_RETURN = "forced_return"
ATTACK_OR_ABDUCTION = "attack_or_abduction"
MOBILITY_OR_WARRANT = "mobility_or_warrant"
PUBLICLY_NAMED = "publicly_named"
DISAPPEARANCE = "disappearance"
# Rules about a document, a certificate, a list or an event (dedup includes the subject).
PASSPORT_REVOKED = "passport_revoked"
DOCUMENT_EXPIRING = "document_expiring"
PASSPORT_EXPIRED = "passport_expired"
UNHCR_CERTIFICATE_EXPIRING = "unhcr_certificate_expiring"
LIST_MATCH = "list_match"
COUNTRY_EVENT = "country_event"
BREAK_GLASS = "break_glass"
# Rules about staff accounts and keys (no person): an account's two-factor reset by an
# administrator, a role (or new account) reaching case content, a service key made.
MFA_RESET = "mfa_reset"
ROLE_GRANTED = "role_granted"
API_KEY_CREATED = "api_key_created"
# A burst of lookups (searches, duplicate checks) by one account, past its per-minute limit.
LOOKUP_BURST = "lookup_burst"
# A supervisor took the organisation's whole caseload out in a file (``haven export people``).
BULK_EXPORT = "bulk_export"
# Lock-down (app.lockdown): the deployment stopped serving records, or started again.
DEPLOYMENT_LOCKED = "deployment_locked"
DEPLOYMENT_UNLOCKED = "deployment_unlocked"
STAFF_RULES = frozenset(
    {
        MFA_RESET,
        ROLE_GRANTED,
        API_KEY_CREATED,
        LOOKUP_BURST,
        BULK_EXPORT,
        DEPLOYMENT_LOCKED,
        DEPLOYMENT_UNLOCKED,
    }
)
# Rules about the person as a whole.
RISK_ESCALATED = "risk_escalated"
CHECK_IN_OVERDUE = "check_in_overdue"
# Referrals between organisations: to the receiving side thin (a case and a referral id, no
# person), to the sending side about its own person.
REFERRAL_RECEIVED = "referral_received"
REFERRAL_REVOKED = "referral_revoked"
REFERRAL_EXPIRED = "referral_expired"
REFERRAL_ACCEPTED = "referral_accepted"
REFERRAL_DECLINED = "referral_declined"
REFERRAL_RULES: dict[str, str] = {
    REFERRAL_RECEIVED: "info",
    REFERRAL_REVOKED: "medium",
    REFERRAL_EXPIRED: "info",
    REFERRAL_ACCEPTED: "info",
    REFERRAL_DECLINED: "medium",
}

INCIDENT_RULES: dict[str, tuple[str, str]] = {
    "deportation_order": (REMOVAL_ORDER, "critical"),
    "forced_return": (FORCED_RETURN, "critical"),
    "physical_attack": (ATTACK_OR_ABDUCTION, "critical"),
    "abduction_attempt": (ATTACK_OR_ABDUCTION, "critical"),
    "arrest_warrant": (MOBILITY_OR_WARRANT, "high"),
    "travel_ban": (MOBILITY_OR_WARRANT, "high"),
    "denial_of_entry": (MOBILITY_OR_WARRANT, "high"),
    "public_denunciation": (PUBLICLY_NAMED, "high"),
    "disappearance": (DISAPPEARANCE, "critical"),
}
CUSTODY_TYPES = frozenset({"arrest", "detention"})
BY_PERSON = frozenset(
    {
        HOST_CUSTODY,
        REMOVAL_ORDER,
        FORCED_RETURN,
        ATTACK_OR_ABDUCTION,
        MOBILITY_OR_WARRANT,
        PUBLICLY_NAMED,
        DISAPPEARANCE,
    }
)
INHIBITORS = frozenset({HOST_CUSTODY, FORCED_RETURN})
EXPIRY_RULES = frozenset({DOCUMENT_EXPIRING, PASSPORT_EXPIRED})
NEVER_INHIBITED = frozenset({BREAK_GLASS, *STAFF_RULES, *REFERRAL_RULES})
NEVER_AUTO_RESOLVE = frozenset({HOST_CUSTODY, REMOVAL_ORDER, FORCED_RETURN, DISAPPEARANCE})
AUTO_RESOLVE = frozenset(
    {DOCUMENT_EXPIRING, PASSPORT_EXPIRED, UNHCR_CERTIFICATE_EXPIRING, CHECK_IN_OVERDUE}
)
# Alerts about what staff did: only supervisors see and handle them, so nobody can
# acknowledge away the alert about their own emergency access.
SUPERVISOR_ONLY = frozenset({BREAK_GLASS, *STAFF_RULES})

# Expiry windows: within 90 days medium, within 30 days high.
EXPIRY_NOTICE = dt.timedelta(days=90)
EXPIRY_URGENT = dt.timedelta(days=30)
# Escalation: a critical alert nobody acknowledged within settings.escalation_minutes goes to
# the person on call (or the supervisors when nobody is), and after as long again to every
# supervisor (DOMAIN.md §4.2; who is told is decided by app.alerts.notifications.planner).
ESCALATES = frozenset({"critical"})

SUMMARIES = {
    HOST_CUSTODY: "Held in custody by a host state",
    REMOVAL_ORDER: "Removal (deportation) order",
    FORCED_RETURN: "Forcibly returned",
    ATTACK_OR_ABDUCTION: "Physical attack or abduction attempt",
    MOBILITY_OR_WARRANT: "Arrest warrant, travel ban or denial of entry",
    PUBLICLY_NAMED: "Publicly named or denounced",
    DISAPPEARANCE: "Disappeared",
    PASSPORT_REVOKED: "Travel document revoked",
    DOCUMENT_EXPIRING: "Travel document expiring while abroad",
    PASSPORT_EXPIRED: "Passport expired while abroad",
    UNHCR_CERTIFICATE_EXPIRING: "UNHCR certificate expiring",
    LIST_MATCH: "Matched on a published list",
    COUNTRY_EVENT: "Country event affecting this person",
    BREAK_GLASS: "Emergency access opened to a case",
    MFA_RESET: "An administrator reset a staff account's two-factor sign-in",
    ROLE_GRANTED: "A staff account was given access to case records",
    API_KEY_CREATED: "A service API key was created",
    BULK_EXPORT: "Every person's record was exported to a file",
    DEPLOYMENT_LOCKED: "Haven was locked down: sessions ended, records unavailable",
    DEPLOYMENT_UNLOCKED: "Haven was unlocked after a lock-down",
    LOOKUP_BURST: "A staff account searched for people faster than the lookup limit allows",
    RISK_ESCALATED: "Risk level rose",
    CHECK_IN_OVERDUE: "Welfare check-in overdue",
    REFERRAL_RECEIVED: "A case was referred to this organisation",
    REFERRAL_REVOKED: "A referral to this organisation was revoked",
    REFERRAL_EXPIRED: "A referral to this organisation expired",
    REFERRAL_ACCEPTED: "A referral was accepted",
    REFERRAL_DECLINED: "A referral was declined",
}


def dedup_key(rule: str, individual_id: uuid.UUID | None, subject_id: uuid.UUID | None) -> str:
    """The threat's identity: no name, number or place, only the rule and ids."""
    subject = None if rule in BY_PERSON else subject_id
    text = f"{rule}|{individual_id or ''}|{subject or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def higher(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def incident_rule(
    incident_type: str, country: str, nationalities: Sequence[str]
) -> tuple[str, str] | None:
    """(rule, severity) for one person named in an incident, or None.

    Custody counts as host custody when it is not by a state of the person's nationality;
    with no nationality recorded every state counts as a host (alert rather than miss).
    """
    if incident_type in CUSTODY_TYPES:
        return None if country in set(nationalities) else (HOST_CUSTODY, "critical")
    return INCIDENT_RULES.get(incident_type)


def backfilled(text: str) -> tuple[str, str]:
    """A backfilled incident opens no urgent alert: (severity info, the summary marked)."""
    return "info", f"{text} (backfilled)"


def summary(rule: str) -> str:
    return SUMMARIES.get(rule, rule.replace("_", " ").capitalize())


def expiry_severity(expires_on: dt.date, today: dt.date) -> str | None:
    """medium within 90 days, high within 30 days (or expired), None otherwise."""
    left = expires_on - today
    if left <= EXPIRY_URGENT:
        return "high"
    if left <= EXPIRY_NOTICE:
        return "medium"
    return None


def expiry_onset(expires_on: dt.date, severity: str) -> dt.date:
    """The day the expiry rule started firing at this severity."""
    return expires_on - (EXPIRY_URGENT if severity == "high" else EXPIRY_NOTICE)


def inhibits(
    source_rule: str,
    source_severity: str,
    source_subject: uuid.UUID | None,
    target_rule: str,
    target_severity: str,
    target_subject: uuid.UUID | None,
) -> bool:
    """Whether an active source alert mutes a target alert of the same person."""
    if target_rule in NEVER_INHIBITED or source_rule == target_rule:
        return False
    if source_rule in INHIBITORS and source_severity == "critical":
        return RANK[target_severity] < RANK["critical"]
    if source_rule == PASSPORT_REVOKED and target_rule in EXPIRY_RULES:
        return source_subject is not None and source_subject == target_subject
    return False


def may_inhibit(rule: str, severity: str) -> bool:
    return (rule in INHIBITORS and severity == "critical") or rule == PASSPORT_REVOKED


def subscribed(events: Sequence[str], names: Sequence[str]) -> bool:
    """Whether a webhook subscribed to ``events`` wants a notice sent as any of ``names``."""
    return "*" in events or any(name in events for name in names)
