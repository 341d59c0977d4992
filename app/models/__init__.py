"""Every table of Haven; importing this package gives Alembic its target metadata."""

from app.models.base import Base
from app.models.keys import KeyEncryptionKey, RecordKey
from app.models.organisation import Organisation
from app.models.user import User

__all__ = ["Base", "KeyEncryptionKey", "Organisation", "RecordKey", "User"]
