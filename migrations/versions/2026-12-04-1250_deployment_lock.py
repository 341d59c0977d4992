"""deployment lock

Lock-down for a raid: `haven lock` or POST /api/v1/lock stops every process from serving record
data within two seconds. The state lives in the database, one row every process reads at most
once a second (app.lockdown), so it reaches every `haven serve` process on the same database,
not only the one that was asked.

Revision ID: b361a16c7d58
Revises: 5e0b7d1f3a92
Create Date: 2026-12-04 12:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b361a16c7d58"
down_revision: str | Sequence[str] | None = "5e0b7d1f3a92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "deployment_lock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column(
            "generation", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_lock")),
    )
    op.bulk_insert(table, [{"id": 1, "locked": False, "generation": 0, "changed_at": None}])


def downgrade() -> None:
    op.drop_table("deployment_lock")
