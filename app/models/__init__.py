"""Every table of Haven; importing this package gives Alembic its target metadata."""

from app.models.audit import AuditCheckpoint, AuditEntry, AuditHead
from app.models.base import Base
from app.models.keys import KeyEncryptionKey, RecordKey
from app.models.organisation import Organisation
from app.models.user import ApiKey, AuthToken, LoginThrottle, RecoveryCode, User

__all__ = [
    "ApiKey",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuthToken",
    "Base",
    "KeyEncryptionKey",
    "LoginThrottle",
    "Organisation",
    "RecordKey",
    "RecoveryCode",
    "User",
]
