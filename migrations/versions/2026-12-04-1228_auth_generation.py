"""auth generation

Each API process keeps the tokens it has checked in memory, so a request no longer reads its
token and user rows. A single counter row, raised in the same transaction as any change that
can end a sign-in (logout, revocation, disabling, a role, password or two-factor change, an
API key revoked), is read at the start of every request: a process trusts its memory only
while the counter is unchanged, so every process refuses a revoked token at once.

Revision ID: 9d41c7e2b6a3
Revises: 5c2d8e4a7f10
Create Date: 2026-12-04 12:28:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d41c7e2b6a3"
down_revision: str | Sequence[str] | None = "5c2d8e4a7f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "auth_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_generation")),
    )
    op.bulk_insert(table, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("auth_generation")
