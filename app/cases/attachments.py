"""Encrypted attachments (being built)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session


def delete_files_of(session: Session, individual_id: uuid.UUID) -> None:
    """Delete every stored attachment file of the person's cases."""
