"""What the case and incident tests read back: the audit entries about a subject. Teams,
people, cases and incidents come from the builder in tests/factories.py."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from app.models.audit import AuditEntry
from tests.factories import db


def audit_actions(app: FastAPI, subject_id: uuid.UUID | str) -> list[AuditEntry]:
    with db(app) as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == uuid.UUID(str(subject_id)))
                .order_by(AuditEntry.seq)
            )
        )
