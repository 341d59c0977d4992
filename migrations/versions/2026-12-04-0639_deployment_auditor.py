"""deployment auditor

An auditor reads its own organisation's audit trail; ``user.deployment_auditor`` is the
explicit, separate grant to read every organisation's (``haven users create
--deployment-auditor``). Existing auditors keep to their own organisation.

Revision ID: 3e7a9c1f5b82
Revises: 8b1f4c2d9e37
Create Date: 2026-12-04 06:39:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e7a9c1f5b82"
down_revision: str | Sequence[str] | None = "8b1f4c2d9e37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deployment_auditor", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("deployment_auditor")
