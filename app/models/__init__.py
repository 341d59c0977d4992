"""Every table of Haven; importing this package gives Alembic its target metadata."""

from app.models.alert import (
    Alert,
    CheckIn,
    CountryEvent,
    ListMatch,
    OutboxMessage,
    PublishedList,
    Webhook,
)
from app.models.audit import AuditCheckpoint, AuditEntry, AuditHead
from app.models.base import Base
from app.models.case import Attachment, BreakGlassGrant, Case, CaseAssignment, CaseNote
from app.models.consent import Consent
from app.models.document import DocumentStatusChange, TravelDocument
from app.models.history import HistoryEntry
from app.models.incident import Incident, IncidentSubject
from app.models.individual import Individual, IndividualNameIndex, IndividualReferenceIndex
from app.models.keys import KeyEncryptionKey, KeyErasure, RecordKey
from app.models.lockdown import DeploymentLock
from app.models.notification import (
    AlertEscalation,
    NotificationPreference,
    OnCallShift,
    PushServerKey,
    PushSubscription,
)
from app.models.organisation import Organisation
from app.models.passkey import OidcLink, Passkey, WebAuthnChallenge
from app.models.referral import Referral
from app.models.risk import CountryProfileOverride, RiskAssessment, RiskOverride
from app.models.unhcr import UnhcrStatus
from app.models.user import ApiKey, AuthToken, LoginThrottle, RecoveryCode, User

__all__ = [
    "Alert",
    "AlertEscalation",
    "ApiKey",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuthToken",
    "Base",
    "BreakGlassGrant",
    "Case",
    "CaseAssignment",
    "CaseNote",
    "CheckIn",
    "Consent",
    "CountryEvent",
    "CountryProfileOverride",
    "DeploymentLock",
    "DocumentStatusChange",
    "HistoryEntry",
    "Incident",
    "IncidentSubject",
    "Individual",
    "IndividualNameIndex",
    "IndividualReferenceIndex",
    "KeyEncryptionKey",
    "KeyErasure",
    "ListMatch",
    "LoginThrottle",
    "NotificationPreference",
    "OidcLink",
    "OnCallShift",
    "Organisation",
    "OutboxMessage",
    "Passkey",
    "PublishedList",
    "PushServerKey",
    "PushSubscription",
    "RecordKey",
    "RecoveryCode",
    "Referral",
    "RiskAssessment",
    "RiskOverride",
    "TravelDocument",
    "UnhcrStatus",
    "User",
    "WebAuthnChallenge",
    "Webhook",
]
