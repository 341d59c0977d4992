"""api keys expire

Revision ID: 5d3c1e9a7b20
Revises: 370eaca558ba
Create Date: 2026-12-04 06:14:00.000000+00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d3c1e9a7b20"
down_revision: str | Sequence[str] | None = "370eaca558ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keys made before expiry existed get the default lifetime from the day of the upgrade.
DEFAULT_LIFETIME = dt.timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    api_key = sa.table("api_key", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(
        api_key.update()
        .where(api_key.c.expires_at.is_(None))
        .values(expires_at=dt.datetime.now(dt.UTC) + DEFAULT_LIFETIME)
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
